def rotate_list(items, k):
    """items rotated right by k places (k may exceed the length or be negative)."""
    if not items:
        return []
    cut = len(items) - k % len(items)
    return items[cut:] + items[:cut]
