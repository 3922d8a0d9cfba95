import logging


def farewell(name):
    logging.info("bye %s", name)
# the user's unsaved thought
