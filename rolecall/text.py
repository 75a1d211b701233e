"""Comparing texts: is a reply a repeat of something already said, what is a text about, does a
customer's message speak as the agent.

Small models copy. The 1.5B model, as the assistant, repeats its own earlier answer or the
customer's request word for word; as the customer it repeats the agent or itself. The aids for
the user (``rolecall.assist``) and the embedded client (for the assistant) use these tests to
redraft such replies; the planner uses the topic stems to draw chains of tools.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

# Replies this short ("Thank you!", "You're welcome.") are fine to say twice.
MAX_FREE_REPEAT_WORDS = 2
# Near-copies are only judged on messages at least this long: in short ones one word matters.
MIN_NEAR_REPEAT_WORDS = 6
# Word-level similarity at or above which a reply counts as a repeat: a copy with a few words
# changed ("I found the order ..." twice with one id different) is still a copy.
REPEAT_SIMILARITY = 0.85

# Words too common in personas and tool descriptions to say what either is about.
_COMMON_WORDS = frozenset(
    [
        "about",
        "after",
        "also",
        "been",
        "before",
        "does",
        "each",
        "either",
        "every",
        "from",
        "have",
        "into",
        "just",
        "more",
        "most",
        "only",
        "other",
        "over",
        "same",
        "some",
        "such",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "used",
        "uses",
        "using",
        "very",
        "wants",
        "what",
        "when",
        "where",
        "which",
        "while",
        "will",
        "with",
        "would",
        "your",
    ]
)
# Words are compared on their first letters, so "refund", "refunds" and "refunded" meet.
_STEM_LETTERS = 5


def topic_stems(text: str) -> set[str]:
    """The stems of the content words of ``text`` (4 or more letters, ``snake_case`` split), for
    a rough measure of how much two texts are about the same thing."""
    words = re.findall(r"[a-z]+", text.lower())
    return {word[:_STEM_LETTERS] for word in words if len(word) >= 4 and word not in _COMMON_WORDS}


def plain_words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, without punctuation."""
    return re.findall(r"\w+", text.lower())


def repeats(text: str, earlier: Iterable[str]) -> bool:
    """Whether ``text`` says again (nearly word for word, or as a cut-out piece) one of the
    ``earlier`` messages."""
    words = plain_words(text)
    if len(words) <= MAX_FREE_REPEAT_WORDS:
        return False
    for other in earlier:
        other_words = plain_words(other)
        if other_words == words:
            return True
        if len(words) < MIN_NEAR_REPEAT_WORDS:
            continue
        if f" {' '.join(words)} " in f" {' '.join(other_words)} ":  # a piece cut out of it
            return True
        # ratio() is 2*matches/total: cheap upper bound first, messages differ a lot in length.
        if 2 * min(len(words), len(other_words)) / (len(words) + len(other_words)) < REPEAT_SIMILARITY:
            continue
        if difflib.SequenceMatcher(None, words, other_words, autojunk=False).ratio() >= REPEAT_SIMILARITY:
            return True
    return False


# What a customer has and an agent asks for: "your email", "your order number".
_OWN_DETAILS = (
    r"(?:full name|name|e-?mail(?: address)?|phone(?: number)?|address|order|account|booking|reservation"
    r"|ticket|date of birth|birthday|customer|member|employee|user ?name|details|information|id|number)"
)

# Phrases only the support side says. A customer message that contains one is the model
# answering as the agent it was tuned to be.
_AGENT_VOICE = re.compile(
    r"\b(?:how (?:can|may) i (?:help|assist)"
    r"|i(?:'|\u2019)?d be (?:happy|glad) to (?:help|assist)"
    r"|i(?:'|\u2019)?ll do my best to (?:help|assist)"
    r"|thanks? (?:you )?for contacting"
    # The customer's own details are "my email"; "your email" is the agent's view of them. Only
    # a customer's own details count: "could you provide your supervisor's name?" is a customer's.
    r"|(?:(?:can|could) you (?:please )?|please )provide (?:me with )?your (?:\w+ )?"
    + _OWN_DETAILS
    + r"|i (?:cannot|can't|can\u2019t|can not|don't|don\u2019t|do not) (?:provide|give|share|have) (?:access to )?"
    r"your (?:\w+ )?" + _OWN_DETAILS + r")\b"
    # Asking for "more details" with nothing after it: the agent's question to a vague request.
    r"|\b(?:can|could) you (?:please )?provide (?:me with )?(?:more|further) (?:details|information)\s*[?.!]"
    # The assistant model's stock refusal; customers ask for help, they do not "assist".
    r"|\b(?:cannot|can't|can\u2019t|can not|unable to|not able to) assist(?: you)? with (?:that|this|your)\b"
    r"|\bclarify your (?:request|question|issue)\b",
    re.IGNORECASE,
)


def agent_phrase(text: str) -> str | None:
    """The first phrase of a customer's message that only the support agent would say, if any."""
    match = _AGENT_VOICE.search(text)
    return match.group() if match else None


def sounds_like_agent(text: str) -> bool:
    """Whether a customer's message contains a phrase only the support agent would say."""
    return _AGENT_VOICE.search(text) is not None


# An agent saying it cannot do something: "I can't change the address", "I'm unable to issue refunds".
_CANNOT = re.compile(
    r"\b(?:can ?not|can(?:'|\u2019)?t|unable to|not able to|no (?:way|means) to|not (?:possible|something i can)"
    r"|(?:don(?:'|\u2019)?t|do not) have (?:a way|the (?:ability|means|tools?|access)|access)"
    r"|(?:isn(?:'|\u2019)?t|is not) (?:possible|available|supported))\b",
    re.IGNORECASE,
)


def says_cannot(text: str) -> bool:
    """Whether ``text`` says something cannot be done ("I can't", "I'm unable to", "not possible")."""
    return _CANNOT.search(text) is not None


def json_or_text(value: Any) -> Any:
    """A message's content or a call's arguments as JSON where they are JSON, else as given."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def json_bytes(value: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None) -> bytes:
    """``value`` as compact UTF-8 JSON, written by orjson (request bodies and cache keys: about
    15x less CPU than ``json``); what orjson refuses (an integer beyond 64 bits, a key it cannot
    write) is written by ``json`` instead, which raises where ``json`` always did."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(value, default=default, option=option)
    except TypeError:
        text = json.dumps(value, default=default, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"))
        return text.encode()
