def unique_grid_paths(grid):
    """Number of right/down paths from the top-left to the bottom-right cell of grid that avoid
    cells equal to 1 (blocked)."""
    cols = len(grid[0])
    ways = [0] * cols
    ways[0] = 1
    for row in grid:
        for j in range(cols):
            if row[j] == 1:
                ways[j] = 0
            elif j > 0:
                ways[j] += ways[j - 1]
    return ways[-1]
