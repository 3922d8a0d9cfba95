def add(a, b):
    """Return a + b."""
    return a + b


def sub(a, b):
    return a - b
