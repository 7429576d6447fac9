def zigzag_convert(text, rows):
    """Write text down and up a zigzag over rows lines, then read the lines top to bottom:
    ("PAYPALISHIRING", 3) -> "PAHNAPLSIIGYIR"."""
    if rows == 1 or rows >= len(text):
        return text
    lines = [""] * rows
    row, step = 0, 1
    for char in text:
        lines[row] += char
        if row == 0:
            step = 1
        elif row == rows - 1:
            step = -1
        row += step
    return "".join(lines)
