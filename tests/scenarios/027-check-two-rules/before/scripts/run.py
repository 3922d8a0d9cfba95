import sys


def main():
    print("area:", sys.argv[1])
