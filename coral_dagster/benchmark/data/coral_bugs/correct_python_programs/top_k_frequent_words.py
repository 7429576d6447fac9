def top_k_frequent_words(words, k):
    """The k most frequent words, by descending count and then alphabetically."""
    counts = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts, key=lambda word: (-counts[word], word))
    return ranked[:k]
