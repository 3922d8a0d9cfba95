def first(d, k):
    if k not in d:
        return None
    return d[k]


def second(d, k):
    if k not in d:
        return None
    return d[k]
