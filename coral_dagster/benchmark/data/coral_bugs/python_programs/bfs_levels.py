def bfs_levels(start):
    """Values of the nodes reachable from start through successors, grouped by distance:
    levels[d] lists the nodes first reached after d edges, in discovery order."""
    levels = []
    frontier = [start]
    seen = {start}
    while frontier:
        levels.append([node.value for node in frontier])
        next_frontier = []
        for node in frontier:
            for child in node.successors:
                if child not in seen:
                    seen.add(node)
                    next_frontier.append(child)
        frontier = next_frontier
    return levels
