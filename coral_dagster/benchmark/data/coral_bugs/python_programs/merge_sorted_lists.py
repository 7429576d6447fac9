def merge_sorted_lists(first, second):
    """Merge two ascending singly linked lists into one ascending list by relinking their
    nodes; returns the merged head."""
    if first is None:
        return second
    if second is None:
        return first
    if second.value < first.value:
        first, second = second, first
    head = tail = first
    first = first.successor
    while first is not None and second is not None:
        if first.value <= second.value:
            tail.successor, first = first, first.successor
        else:
            tail.successor, second = second, second.successor
        tail = tail.successor
    tail.successor = first
    return head
