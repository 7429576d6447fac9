def digit_sum(n):
    """Sum of the decimal digits of |n|: digit_sum(-472) == 4 + 7 + 2 == 13."""
    n = abs(n)
    total = 0
    while n > 0:
        total += n % 10
        n //= 10
    return total
