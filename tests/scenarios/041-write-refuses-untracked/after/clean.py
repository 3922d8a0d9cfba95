import logging


def greet(name):
    logging.info("hello %s", name)
