def farewell(name):
    print("bye", name)
