def farewell(name):
    print("bye", name)
# the user's unsaved thought
