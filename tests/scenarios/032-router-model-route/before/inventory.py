def find_duplicates(names):
    duplicates = []
    for i, name in enumerate(names):
        if name in names[:i] and name not in duplicates:
            duplicates.append(name)
    return duplicates
