def roman_to_int(numeral):
    """Value of a Roman numeral such as "MCMXCIV"; a symbol before a larger one is subtracted."""
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for i, symbol in enumerate(numeral):
        value = values[symbol]
        if i + 1 < len(numeral) and value <= values[numeral[i + 1]]:
            total -= value
        else:
            total += value
    return total
