def longest_common_prefix(words):
    """Longest string that starts every word in words ("" for an empty list)."""
    if not words:
        return ""
    prefix = words[0]
    for word in words[1:]:
        length = 0
        while length < min(len(prefix), len(word)) and prefix[length] == word[length]:
            length += 1
        prefix = prefix[:length]
    return prefix
