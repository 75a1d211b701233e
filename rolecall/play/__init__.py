"""A person plays one role (``rolecall play``): the customer or the assistant, at the terminal."""

from rolecall.play._human import HumanAssistant, HumanBackend, HumanUser, Terminal

__all__ = ["HumanAssistant", "HumanBackend", "HumanUser", "Terminal"]
