def int_to_roman(number):
    """Roman numeral for 1 <= number <= 3999, greedy over (value, symbol) pairs."""
    pairs = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ]
    parts = []
    for value, symbol in pairs:
        while number >= value:
            parts.append(symbol)
            number -= value
    return "".join(parts)
