def count_inversions(values):
    """Number of pairs i < j with values[i] > values[j], counted while merge-sorting."""

    def sort_and_count(seq):
        if len(seq) <= 1:
            return seq, 0
        mid = len(seq) // 2
        left, left_count = sort_and_count(seq[:mid])
        right, right_count = sort_and_count(seq[mid:])
        merged, count = [], left_count + right_count
        i = j = 0
        while i < len(left) and j < len(right):
            if left[i] <= right[j]:
                merged.append(left[i])
                i += 1
            else:
                merged.append(right[j])
                j += 1
                count += len(left) - i
        merged += left[i:] + right[j:]
        return merged, count

    return sort_and_count(list(values))[1]
