def matrix_transpose(matrix):
    """Transpose of a rectangular list-of-rows matrix: result[j][i] == matrix[i][j]."""
    if not matrix:
        return []
    rows, cols = len(matrix), len(matrix)
    return [[matrix[i][j] for i in range(rows)] for j in range(cols)]
