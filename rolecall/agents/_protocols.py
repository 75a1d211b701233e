"""The engine's own interfaces to language-model roles.

The session and validator only talk to these protocols; ``_autogen.py`` implements them with
autogen-agentchat agents. Swapping AutoGen out means writing another implementation of
:class:`RoleBackend`, nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from rolecall.scenario import Tool

ReplyT = TypeVar("ReplyT", bound=BaseModel)


@dataclass
class Usage:
    """Tokens and model calls; ``estimated`` when a server reported none and tiktoken counted."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    estimated: bool = False

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls
        self.estimated = self.estimated or other.estimated

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "calls": self.calls,
            "estimated": self.estimated,
        }


class RoleError(Exception):
    """A role could not produce a usable answer within its bounded retries."""

    def __init__(self, role: str, reason: str, cause: str = ""):
        self.role = role
        self.reason = reason
        self.cause = cause  # the underlying error's class ("APITimeoutError", "MalformedReply")
        super().__init__(f"{role}: {reason}")


# Earlier turns of a role's own conversation: ("user" | "assistant", text), oldest first.
History = Sequence[tuple[str, str]]


class StructuredRole(Protocol):
    """A role that answers a prompt with a JSON object of a given shape.

    ``history`` puts earlier turns before the prompt; the user simulator uses it to play the
    customer as the model's own side of the chat (small models then stay in role).
    """

    usage: Usage

    async def ask(self, system: str, prompt: str, reply_type: type[ReplyT], history: History = ()) -> ReplyT: ...


@dataclass(frozen=True)
class ExecutedCall:
    """A tool call the assistant made and the result text it got back."""

    call_id: str
    name: str
    arguments: str  # exactly as the model wrote it (a JSON string)
    result: str


@dataclass
class AssistantStep:
    """One assistant inference: either tool calls (already executed) or a text reply."""

    calls: list[ExecutedCall] = field(default_factory=list)
    text: str | None = None
    author: str = "model"  # "human" when a person played the assistant (rolecall play)


# Runs one tool call: (tool name, parsed arguments, call id) -> result text.
ToolExecutor = Callable[[str, dict, str], Awaitable[str]]


class AssistantSession(Protocol):
    """The assistant under simulation, holding its own conversation state."""

    usage: Usage

    async def step(self, user_message: str | None) -> AssistantStep:
        """Add ``user_message`` (if any) and run one inference, executing any tool calls."""
        ...

    async def insert_failed_call(self, name: str, arguments: str, result: str) -> None:
        """Put a call written by code (an injected mistake) and its error result into the
        assistant's memory just before its latest step, so later steps see what the record shows."""
        ...

    def withhold(self, names: frozenset[str]) -> None:
        """Offer every tool but ``names`` from the next step on (missing_function); an empty set
        offers them all again. The conversation so far is kept."""
        ...


class RoleBackend(Protocol):
    """Makes the roles of one dialogue."""

    def structured(self, role: str) -> StructuredRole: ...

    def assistant(
        self, system_message: str | None, tools: Sequence[Tool], execute: ToolExecutor
    ) -> AssistantSession: ...

    def describe(self) -> dict[str, object]: ...

    def model_time(self) -> dict[str, dict[str, Any]]:
        """Role -> its model calls, seconds and tokens (prompt, reused from cache, completion)
        in this process so far; empty where nothing is measured."""
        ...

    async def close(self) -> None: ...
