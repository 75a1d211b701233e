"""Errors of model replies that every client may raise."""


class NotAChatCompletion(ValueError):
    """The server answered 200 with something that is not a chat completion (an HTML login page,
    a proxy's error text): retried like a server error, and named for what it is."""
