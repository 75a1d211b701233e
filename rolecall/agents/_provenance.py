"""Where each message of a record comes from.

Trainers read ``messages``; ``metadata.provenance`` (one entry per message, same order) says who
wrote each one, so code-written text is never mistaken for a model's.
"""

from __future__ import annotations

import enum
from typing import Any


class Origin(enum.StrEnum):
    """Who wrote a message of the record (``metadata.provenance``, index-aligned with ``messages``)."""

    MODEL = "model"  # a model's reply, as it wrote it
    REDRAFTED = "redrafted"  # a model's reply after correction prompts ("drafts": how many)
    SCRIPTED = "scripted"  # written by code ("template": which one; "fault": an injected tool error)
    APPENDED = "appended"  # a model's reply with code-written text after it ("template")
    EDITED = "edited"  # a tool result changed by code after the model wrote it ("edits")
    HUMAN = "human"  # a person, playing a role
    INJECTED = "injected"  # a deliberate mistake, for error-recovery data
    SCENARIO = "scenario"  # the scenario's own text (the policy as system message)


def provenance(origin: Origin, **detail: Any) -> dict[str, Any]:
    """One provenance entry: ``{"origin": ..., **detail}`` with empty details left out."""
    return {"origin": str(origin), **{key: value for key, value in detail.items() if value not in (None, [], "")}}


# The call id an injected mistake has in the assistant's own memory (the record numbers calls
# itself): how a model server, such as the mock, can tell it from the model's own calls.
INJECTED_CALL_PREFIX = "injected_"
