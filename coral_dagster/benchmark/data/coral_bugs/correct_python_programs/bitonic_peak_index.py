def bitonic_peak_index(values):
    """Index of the maximum of a list that strictly rises then strictly falls (binary search)."""
    lo, hi = 0, len(values) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < values[mid + 1]:
            lo = mid + 1
        else:
            hi = mid
    return lo
