def circle_area(r):
    """Return the area of a circle."""
    return 3.14159 * r * r
