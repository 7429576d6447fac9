def linked_list_middle(head):
    """Middle node of a singly linked list (the second of the two middles for an even length);
    None for an empty list. A fast pointer moves two successors per step of the slow one."""
    slow = fast = head
    while fast.successor is not None and fast.successor.successor is not None:
        slow = slow.successor
        fast = fast.successor.successor
    return slow
