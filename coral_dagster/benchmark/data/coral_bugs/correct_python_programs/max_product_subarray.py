def max_product_subarray(nums):
    """Largest product of a non-empty contiguous slice of nums (tracks max and min endings)."""
    best = high = low = nums[0]
    for x in nums[1:]:
        candidates = (x, high * x, low * x)
        high = max(candidates)
        low = min(candidates)
        best = max(best, high)
    return best
