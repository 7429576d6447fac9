def run_length_encode(text):
    """Collapse runs of equal characters: "aaab" -> [["a", 3], ["b", 1]]."""
    runs = []
    for char in text:
        if runs and runs[-1][0] == char:
            runs[-1][1] += 1
        else:
            runs.append([char, 1])
    return runs
