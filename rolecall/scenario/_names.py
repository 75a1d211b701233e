"""What names of tools, parameters and fields say: their words, a tool's verb, a field's kind.

Shared by the planner (which wires outputs into parameters) and the validator (which asks where
an argument's value came from, and whether a change was asked for), so both read names the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache


def name_words(name: str) -> list[str]:
    """A tool name's words, lower-cased, split at ``_``, ``-``, ``.`` and camelCase humps
    ("issue_refund", "issueRefund" -> ["issue", "refund"]); a leading separator gives a first ""."""
    return list(_name_words(name))


@lru_cache(maxsize=4096)  # a scenario has a few hundred names; the planner and the rules ask per call
def _name_words(name: str) -> tuple[str, ...]:
    return tuple(word.lower() for word in _NAME_SEPARATOR.split(name))


_NAME_SEPARATOR = re.compile(r"[_\-.]|(?<=[a-z])(?=[A-Z])")


# First words of a tool name that read state without changing it.
READ_VERBS = frozenset(
    [
        *("get", "find", "list", "search", "lookup", "look", "check", "view", "show", "read", "query"),
        *("fetch", "track", "verify", "validate", "count", "describe", "estimate", "calculate"),
        *("compute", "quote", "preview", "browse", "retrieve", "inspect", "status"),
        "think",  # a scratchpad tool (tau-bench's ``think``): it records a thought, nothing else
    ]
)


# Verbs too general to say what a write does ("add_store_credit" is about store credit).
_GENERIC_VERBS = frozenset({"add", "create", "update", "issue", "set", "make", "send", "do", "apply", "submit", "post"})


def action_stems(tool: str) -> set[str]:
    """Stems of the words that say what a state-changing tool does: "issue_refund" -> {"refun"}."""
    words = [word for word in name_words(tool) if word]
    if words and words[0] in _GENERIC_VERBS:
        words = words[1:]
    return {word[:5] for word in words if len(word) >= 4} or {word[:5] for word in words}


def word_stems(text: str) -> set[str]:
    """Stems of ``text``'s words of four letters or more, as :func:`action_stems` cuts them."""
    return {word[:5] for word in re.findall(r"[a-z]+", text.lower()) if len(word) >= 4}


def unasked_write(tool: str, writes: Mapping[str, set[str]], asked: set[str]) -> str | None:
    """Why the user's words (their stems, ``asked``) do not ask for the state-changing ``tool``,
    one of ``writes`` (every state-changing tool -> its :func:`action_stems`); None when they do.

    They ask for it when they name what it does, including the words that set it apart from the
    other state-changing tools when it has any, and no other state-changing tool fits them better
    (see :func:`_fits_better`). "Change the address of my pending order" asks for
    ``modify_pending_order_address``, not for ``modify_pending_order_payment``, though the second
    shares three of its four words; "store credit for my late order" does not ask for
    ``add_order_note``, whose own word is "note". The reason is "" when no word of it was said."""
    stems = writes[tool]
    if not stems & asked:
        return ""
    better = next((other for other, its in writes.items() if other != tool and _fits_better(its, stems, asked)), None)
    if better is not None:
        return f"the user's words ask for {better}"
    own = stems - {stem for name, its in writes.items() if name != tool for stem in its}
    if own and not own & asked:
        return f"the user never said what sets it apart: {', '.join(w for w in name_words(tool) if w[:5] in own)}"
    return None


def _fits_better(other: set[str], stems: set[str], asked: set[str]) -> bool:
    """Whether the user's words (``asked``) name the tool with stems ``other`` better than the one
    with ``stems``: every stem they share with the second they share with the first, and either
    more of them, or all of the first's and not all of the second's ("my ticket id" names
    ``create_ticket`` whole, and ``add_ticket_comment`` without its comment)."""
    named, named_other = stems & asked, other & asked
    if not named <= named_other:
        return False
    return named < named_other or (other <= asked and not stems <= asked)


def _singular_words(name: str) -> set[str]:
    """A name's words, singular (``item_ids`` -> item, id)."""
    return {word[:-1] if len(word) > 2 and word.endswith("s") else word for word in name_words(name) if word}


def names_other_thing(field: str, parameter: str) -> bool:
    """Whether an output field (or a fact) plainly holds something else than the parameter wants.

    Either another kind of id (order_id -> item_id), or a name with no word in common
    (destination_city -> last_name). Every dataflow-graph edge shares a word: it matches names,
    or feeds a bare ``id`` into ``<entity>_id``.
    """
    field, parameter = field.lower(), parameter.lower()
    other_id = field.endswith("_id") and parameter.endswith("_id") and field != parameter
    return other_id or not _singular_words(field) & _singular_words(parameter)
