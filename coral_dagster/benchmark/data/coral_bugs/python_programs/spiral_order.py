def spiral_order(matrix):
    """Elements of a rectangular matrix in clockwise spiral order from the top-left corner."""
    result = []
    top, bottom = 0, len(matrix) - 1
    left, right = 0, (len(matrix[0]) - 1 if matrix else -1)
    while top <= bottom and left <= right:
        for j in range(left, right + 1):
            result.append(matrix[top][j])
        for i in range(top + 1, bottom + 1):
            result.append(matrix[i][right])
        if top <= bottom and left <= right:
            for j in range(right - 1, left - 1, -1):
                result.append(matrix[bottom][j])
            for i in range(bottom - 1, top, -1):
                result.append(matrix[i][left])
        top, bottom, left, right = top + 1, bottom - 1, left + 1, right - 1
    return result
