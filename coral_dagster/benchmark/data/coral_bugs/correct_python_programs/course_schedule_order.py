from collections import deque


def course_schedule_order(nodes):
    """Values of nodes in a topological order of their outgoing_nodes edges (Kahn's algorithm:
    nodes without pending prerequisites leave a FIFO queue seeded in input order); None when
    the edges contain a cycle."""
    indegree = {node: 0 for node in nodes}
    for node in nodes:
        for target in node.outgoing_nodes:
            indegree[target] += 1
    ready = deque(node for node in nodes if indegree[node] == 0)
    order = []
    while ready:
        node = ready.popleft()
        order.append(node.value)
        for target in node.outgoing_nodes:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return order if len(order) == len(nodes) else None
