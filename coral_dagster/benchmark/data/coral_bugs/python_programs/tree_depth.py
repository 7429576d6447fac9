def tree_depth(root):
    """Number of nodes on the longest path from root down to a leaf of a tree whose children
    are each node's successors; 0 for an empty tree (root is None)."""
    if root is None:
        return 0
    return 1 + min((tree_depth(child) for child in root.successors), default=0)
