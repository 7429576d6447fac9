def dutch_flag_partition(colors):
    """Sort a list of 0s, 1s and 2s in place in one pass with three pointers; returns the list."""
    low, mid, high = 0, 0, len(colors) - 1
    while mid < high:
        if colors[mid] == 0:
            colors[low], colors[mid] = colors[mid], colors[low]
            low += 1
            mid += 1
        elif colors[mid] == 1:
            mid += 1
        else:
            colors[mid], colors[high] = colors[high], colors[mid]
            high -= 1
    return colors
