def longest_palindromic_substring(text):
    """Longest palindromic substring of text (the leftmost one on ties), by expanding centers."""
    best_start, best_len = 0, 0
    for center in range(2 * len(text) - 1):
        lo, hi = center // 2, (center + 1) // 2
        while lo >= 0 and hi < len(text) and text[lo] == text[hi]:
            lo, hi = lo - 1, hi + 1
        if hi - lo - 1 > best_len:
            best_start, best_len = lo + 1, hi - lo - 1
    return text[best_start : best_start + best_len]
