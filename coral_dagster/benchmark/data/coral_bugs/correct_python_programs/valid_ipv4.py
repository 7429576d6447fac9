def valid_ipv4(address):
    """True for dotted-quad IPv4 text: four ASCII decimal parts 0-255 without leading zeros."""
    parts = address.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not (part.isascii() and part.isdigit()) or int(part) > 255:
            return False
        if len(part) > 1 and part[0] == "0":
            return False
    return True
