def trailing_zeros_factorial(n):
    """Number of trailing zeros of n!, the sum over powers p = 5, 25, 125, ... of n // p."""
    zeros = 0
    power = 5
    while power < n:
        zeros += n // power
        power *= 5
    return zeros
