def balanced_brackets(text):
    """True when every (, [ and { in text is closed in the right order; other characters ignored."""
    closers = {")": "(", "]": "[", "}": "{"}
    stack = []
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in closers:
            if not stack or stack.pop() != closers[char]:
                return False
    return True
