import math


def area(radius):
    """Return the area of a circle of the given radius."""
    return math.pi * radius ** 2


def perimeter(radius):
    return 2 * math.pi * radius
