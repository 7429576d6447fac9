class Node:
    """A list/graph node in the QuixBugs shape: a value plus link attributes.

    successor: the next node of a singly linked list; successors / predecessors: a graph's
    out- and in-neighbours; outgoing_nodes / incoming_nodes: the edge lists topological
    orderings use. Omitted lists start empty (a fresh list per node).
    """

    def __init__(
        self,
        value=None,
        successor=None,
        successors=None,
        predecessors=None,
        incoming_nodes=None,
        outgoing_nodes=None,
    ):
        self.value = value
        self.successor = successor
        self.successors = [] if successors is None else successors
        self.predecessors = [] if predecessors is None else predecessors
        self.incoming_nodes = [] if incoming_nodes is None else incoming_nodes
        self.outgoing_nodes = [] if outgoing_nodes is None else outgoing_nodes

    def get_successor(self):
        return self.successor

    def get_successors(self):
        return self.successors

    def get_predecessors(self):
        return self.predecessors

    def __repr__(self):
        return f"Node({self.value!r})"
