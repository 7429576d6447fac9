def look_and_say(n):
    """n-th term (n >= 1) of the look-and-say sequence 1, 11, 21, 1211, 111221, ..."""
    term = "1"
    for _ in range(n - 1):
        parts = []
        i = 0
        while i < len(term):
            j = i
            while j < len(term) and term[j] == term[i]:
                j += 1
            parts.append(str(j - i) + term[i])
            i += 1
        term = "".join(parts)
    return term
