def square_area(side):
    """Return the area of a square."""
    return side * side
