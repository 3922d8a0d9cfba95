# Circle helpers
import math


def area(radius):
    return math.pi * radius ** 2


def perimeter(radius):
    return 2 * math.pi * radius


def diameter(radius):
    """Return the diameter of a circle of the given radius."""
    return 2 * radius
