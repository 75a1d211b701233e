"""rolecall: multi-agent role-play simulation of multi-turn tool-calling conversations."""

__version__ = "0.1.0"
