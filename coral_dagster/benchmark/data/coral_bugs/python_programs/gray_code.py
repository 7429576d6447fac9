def gray_code(bits):
    """Reflected binary Gray code: all 2 ** bits integers, neighbours differing in one bit,
    built by appending the reversed sequence with the next bit set."""
    codes = [0]
    for bit in range(bits):
        codes += [code | (1 << bit) for code in codes]
    return codes
