from collections import deque


def shortest_hops(start, goal):
    """Fewest successor edges leading from start to goal (0 when they are the same node), or -1
    when goal is unreachable; breadth-first search, each node queued at most once."""
    queue = deque([(start, 0)])
    seen = {start}
    while queue:
        node, hops = queue.pop()
        if node is goal:
            return hops
        for child in node.successors:
            if child not in seen:
                seen.add(child)
                queue.append((child, hops + 1))
    return -1
