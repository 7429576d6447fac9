def binomial_coefficient(n, k):
    """C(n, k) by the exact multiplicative formula; 0 when k < 0 or k > n."""
    if k < 0 or k >= n:
        return 0
    k = min(k, n - k)
    result = 1
    for i in range(1, k + 1):
        result = result * (n - k + i) // i
    return result
