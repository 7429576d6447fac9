def divisors_list(n):
    """All positive divisors of n >= 1 in increasing order, pairing d with n // d up to sqrt(n)."""
    small, large = [], []
    d = 1
    while d * d <= n:
        if n % d == 0:
            small.append(d)
            if d * d != n:
                large.append(n // d)
        d += 1
    return small + large[::-1]
