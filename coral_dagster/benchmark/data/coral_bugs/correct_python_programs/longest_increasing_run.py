def longest_increasing_run(nums):
    """Length of the longest strictly increasing run of adjacent elements (0 for [])."""
    if not nums:
        return 0
    best = current = 1
    for previous, value in zip(nums, nums[1:]):
        current = current + 1 if value > previous else 1
        best = max(best, current)
    return best
