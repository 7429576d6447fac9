def remove_value(head, value):
    """Unlink every node holding value from a singly linked list; returns the new head."""
    if head is not None and head.value == value:
        head = head.successor
    node = head
    while node is not None and node.successor is not None:
        if node.successor.value == value:
            node.successor = node.successor.successor
        else:
            node = node.successor
    return head
