def cycle_start_value(head):
    """Value of the node where a linked list's cycle begins, or None when the list ends.
    Floyd: find a meeting point of a slow and a fast pointer, then walk one pointer from the
    head and one from the meeting point in step; they meet at the cycle's first node."""
    slow = fast = head
    while fast is not None:
        slow = slow.successor
        fast = fast.successor.successor
        if slow is fast:
            slow = head
            while slow is not fast:
                slow = slow.successor
                fast = fast.successor
            return slow.value
    return None
