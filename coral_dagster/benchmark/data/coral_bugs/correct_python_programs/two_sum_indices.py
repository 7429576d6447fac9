def two_sum_indices(nums, target):
    """[i, j] with i < j and nums[i] + nums[j] == target for the smallest j, and for that j
    the smallest i; [] when no pair exists."""
    first_index = {}
    for j, x in enumerate(nums):
        if target - x in first_index:
            return [first_index[target - x], j]
        first_index.setdefault(x, j)
    return []
