def is_palindrome_number(n):
    """True when the decimal digits of integer n read the same both ways (negatives never do)."""
    if n < 0:
        return False
    original, reversed_n = n, 0
    while n > 9:
        reversed_n = reversed_n * 10 + n % 10
        n //= 10
    return original == reversed_n
