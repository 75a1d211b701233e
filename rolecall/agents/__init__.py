"""The language-model roles: our own small interfaces, and their autogen-agentchat implementation.

Importing this package does not import AutoGen; ``AutogenBackend`` is loaded on first use.
"""

from typing import TYPE_CHECKING, Any

from rolecall.agents._protocols import (
    AssistantSession,
    AssistantStep,
    ExecutedCall,
    RoleBackend,
    RoleError,
    StructuredRole,
    ToolExecutor,
    Usage,
)
from rolecall.agents._provenance import INJECTED_CALL_PREFIX, Origin, provenance
from rolecall.agents._replies import (
    HumanUserReply,
    JudgeReply,
    PlanReply,
    UserReply,
    json_object_reply,
    plan_reply_for,
)
from rolecall.agents._retry import Failure, RetryPolicy, RunAborted, classify

if TYPE_CHECKING:
    from rolecall.agents._autogen import AutogenBackend, AutogenRecipe


def __getattr__(name: str) -> Any:
    if name in ("AutogenBackend", "AutogenRecipe"):
        from rolecall.agents import _autogen

        return getattr(_autogen, name)
    raise AttributeError(name)


__all__ = [
    "INJECTED_CALL_PREFIX",
    "AssistantSession",
    "AssistantStep",
    "AutogenBackend",
    "AutogenRecipe",
    "ExecutedCall",
    "Failure",
    "HumanUserReply",
    "JudgeReply",
    "Origin",
    "PlanReply",
    "RetryPolicy",
    "RoleBackend",
    "RoleError",
    "RunAborted",
    "StructuredRole",
    "ToolExecutor",
    "Usage",
    "UserReply",
    "classify",
    "json_object_reply",
    "plan_reply_for",
    "provenance",
]
