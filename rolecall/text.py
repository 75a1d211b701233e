"""Comparing chat messages: is a reply a repeat of something already said, or in the wrong voice.

Small models copy. The 1.5B model, as the assistant, repeats its own earlier answer or the
customer's request word for word; as the customer it repeats the agent or itself, or answers as
the agent. Both the session (for the user) and the embedded client (for the assistant) use these
tests to redraft such replies instead of letting the dialogue loop.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

# Replies this short ("Thank you!", "You're welcome.") are fine to say twice.
MAX_FREE_REPEAT_WORDS = 2
# Near-copies are only judged on messages at least this long: in short ones one word matters.
MIN_NEAR_REPEAT_WORDS = 6
# Word-level similarity at or above which a reply counts as a repeat: a copy with a few words
# changed ("I found the order ..." twice with one id different) is still a copy.
REPEAT_SIMILARITY = 0.85

# Phrases only the support side says. A customer message that contains one is the model
# answering as the agent it was tuned to be.
_AGENT_VOICE = re.compile(
    r"\b(?:how (?:can|may) i (?:help|assist)"
    r"|i(?:'|\u2019)?d be (?:happy|glad) to (?:help|assist)"
    r"|i(?:'|\u2019)?ll do my best to (?:help|assist)"
    r"|thanks? (?:you )?for contacting"
    r"|(?:can|could) you (?:please )?provide (?:me with )?your"
    r"|please provide (?:me with )?your"
    # The customer's own details are "my email"; "your email" is the agent's view of them.
    r"|i (?:cannot|can't|can\u2019t|can not|don't|don\u2019t|do not) (?:provide|give|share|have) (?:access to )?your)\b"
    # Asking for "more details" with nothing after it: the agent's question to a vague request.
    r"|\b(?:can|could) you (?:please )?provide (?:me with )?(?:more|further) (?:details|information)\s*[?.!]",
    re.IGNORECASE,
)


# How a customer's message starts when it closes the conversation rather than asking for more.
_CLOSING = re.compile(r"^\W*(?:thanks?|thank you|great|perfect|wonderful|awesome|excellent|got it)\b", re.IGNORECASE)


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


def sounds_like_agent(text: str) -> bool:
    """Whether a customer's message contains a phrase only the support agent would say."""
    return _AGENT_VOICE.search(text) is not None


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


def is_closing(text: str) -> bool:
    """Whether a customer's message is a thank-you that asks nothing more (no question in it)."""
    return _CLOSING.search(text) is not None and "?" not in text


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
