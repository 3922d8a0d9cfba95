def print_report(items):
    for item in items:
        print(item)
