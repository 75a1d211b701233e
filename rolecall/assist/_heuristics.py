"""Heuristics about what a simulated customer's message is, for the aids only.

(``sounds_like_agent`` lives in ``rolecall.text``: the validator's ``user_text_clean`` uses it too.)

None of these decides anything when the aids are off: they tell the aids whether a user reply
speaks as the agent, closes the conversation, confirms a proposal, or answers a question. They
are small regular expressions tuned on the 1.5B model's habits, not English at large.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# How a customer's message starts when it closes the conversation rather than asking for more.
_CLOSING = re.compile(r"^\W*(?:thanks?|thank you|great|perfect|wonderful|awesome|excellent|got it)\b", re.IGNORECASE)


# An agent's message that asks the customer for something, as opposed to one that tells.
_REQUEST = re.compile(
    r"\?|\b(?:please (?:provide|share|give|tell|confirm|send|enter)|(?:can|could|would) you)\b", re.IGNORECASE
)


def asks_something(text: str) -> bool:
    """Whether a message asks a question or makes a request."""
    return _REQUEST.search(text) is not None


def names_all_words(text: str, label: str) -> bool:
    """Whether every word of ``label`` ("order number") starts a word of ``text``."""
    lowered = text.lower()
    words = label.lower().split()
    return bool(words) and all(re.search(rf"\b{re.escape(word)}", lowered) for word in words)


# A customer saying yes to what the agent proposed: "Perfect, please go ahead and close it."
_CONFIRMS = re.compile(
    r"\b(?:go ahead|proceed|please do|do it|do that|yes|yeah|yep|confirm(?:ed)?"
    r"|please (?:close|cancel|change|update|book|issue|send|reset|process|make|apply|add))\b",
    re.IGNORECASE,
)
# An agent's message that asks leave to act, rather than for a detail or whether there is more.
_ASKS_LEAVE = re.compile(
    r"\b(?:shall i|should i|do you want me to|would you like me to|may i|can i go ahead|want me to"
    r"|(?:please )?confirm|proceed|go ahead)\b[^.!]*\?|\bconfirm\b",
    re.IGNORECASE,
)


def is_closing(text: str) -> bool:
    """Whether a customer's message is a thank-you that asks nothing more: no question, and no
    go-ahead ("Perfect, please go ahead" confirms; it does not close)."""
    return _CLOSING.search(text) is not None and "?" not in text and not confirms(text)


def confirms(text: str) -> bool:
    """Whether a customer's message agrees to, or asks for, what the agent proposed."""
    return _CONFIRMS.search(text) is not None


# A value a customer gives: a token with a digit or an @ ("W-48213", "ann@example.com", "2026-03-14").
_VALUE = re.compile(r"[\w.+-]*[\d@][\w.@+-]*")


def gives_new_value(text: str, earlier: Iterable[str]) -> bool:
    """Whether ``text`` states a value (a token with a digit or an @) that none of ``earlier``
    holds: such a message says something new, however much its wording repeats ("Hello. I need
    help with case 33636." after "... case 56334.")."""
    said = " ".join(earlier).lower()
    return any(value.strip(".-").lower() not in said for value in _VALUE.findall(text) if value.strip(".-"))


def asks_leave(text: str) -> bool:
    """Whether an agent's message asks the customer's leave to act ("Shall I close it now?")."""
    return _ASKS_LEAVE.search(text) is not None


# Third-person verbs that do not follow the "drop the s" rule.
_FIRST_PERSON_VERBS = {"is": "am", "has": "have", "was": "was", "does": "do", "goes": "go"}
_POSSESSIVES = re.compile(r"\b(?:her|his|their)\b", re.IGNORECASE)
_SUBJECT_PRONOUNS = re.compile(r"\b(?:she|he|they)\b", re.IGNORECASE)


def in_first_person(goal: str, names: Iterable[str]) -> str:
    """A planner's goal ("Hannah Okoro wants her account unlocked") as the customer would say
    it ("I want my account unlocked"). Goals that do not start with one of ``names`` (or "the
    user"/"the customer") are returned as a request for help with them.

    A heuristic for a scripted fallback: it handles the planner's usual sentence shape
    (subject, present-tense verb, possessive pronouns), not English at large.
    """
    text = goal.strip().rstrip(".")
    subjects = sorted({*(n for n in names if n), "the user", "the customer"}, key=len, reverse=True)
    for subject in subjects:
        if text.lower().startswith(subject.lower() + " "):
            verb, _, rest = text[len(subject) + 1 :].partition(" ")
            lowered = verb.lower()
            if lowered in _FIRST_PERSON_VERBS:
                verb = _FIRST_PERSON_VERBS[lowered]
            elif lowered.endswith(("shes", "ches", "sses", "xes")):
                verb = verb[:-2]
            elif lowered.endswith("ies"):
                verb = verb[:-3] + "y"
            elif lowered.endswith("s") and not lowered.endswith("ss"):
                verb = verb[:-1]
            rest = _POSSESSIVES.sub("my", rest)
            rest = _SUBJECT_PRONOUNS.sub("I", rest)
            for name in names:  # "... so Hannah can work" -> "... so I can work"
                if name:
                    rest = re.sub(rf"\b{re.escape(name)}'s\b", "my", rest)
                    rest = re.sub(rf"\b{re.escape(name)}\b", "I", rest)
            return f"I {verb} {rest}".rstrip() + "."
    return f"I need help with this: {text[:1].lower()}{text[1:]}."
