"""Aids for weak models, behind one switch (``generation.assist`` / ``rolecall run --assist``).

:class:`AssistPolicy` says which aids are on for which role; :class:`UserAids` holds every aid for
the simulated user; the heuristics they use are exported for tests and the embedded client.
With ``assist: none`` (or ``auto`` on a model that is not the embedded one) nothing here changes
a message: the dialogue is what the models wrote.
"""

from rolecall.assist._heuristics import (
    asks_leave,
    asks_something,
    confirms,
    gives_new_value,
    in_first_person,
    is_closing,
    names_all_words,
)
from rolecall.assist._policy import AIDED_ROLES, AssistPolicy
from rolecall.assist._user import GOAL_REMINDERS, Detail, TurnState, TurnUser, UserAids, UserTurn
from rolecall.text import sounds_like_agent

__all__ = [
    "AIDED_ROLES",
    "GOAL_REMINDERS",
    "AssistPolicy",
    "Detail",
    "TurnState",
    "TurnUser",
    "UserAids",
    "UserTurn",
    "asks_leave",
    "asks_something",
    "confirms",
    "gives_new_value",
    "in_first_person",
    "is_closing",
    "names_all_words",
    "sounds_like_agent",
]
