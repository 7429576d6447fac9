def excel_column_name(number):
    """Spreadsheet column label for number >= 1: 1 -> "A", 26 -> "Z", 27 -> "AA"."""
    letters = []
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters.append(chr(ord("A") + remainder))
    return "".join(reversed(letters))
