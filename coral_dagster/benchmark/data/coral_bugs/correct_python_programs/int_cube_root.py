def int_cube_root(n):
    """Largest integer r >= 0 with r ** 3 <= n, for n >= 0 (binary search)."""
    lo, hi = 0, n
    answer = 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if mid * mid * mid <= n:
            answer = mid
            lo = mid + 1
        else:
            hi = mid - 1
    return answer
