def modular_power(base, exponent, modulus):
    """base ** exponent % modulus by square-and-multiply, for exponent >= 0 and modulus >= 1."""
    result = 1 % modulus
    base %= modulus
    while exponent > 0:
        if exponent % 2 == 1:
            result = result * base
        base = base * base % modulus
        exponent //= 2
    return result
