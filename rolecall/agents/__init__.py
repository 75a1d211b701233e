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
from rolecall.agents._provenance import Origin, provenance
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
    from rolecall.agents._autogen import AutogenBackend


def __getattr__(name: str) -> Any:
    if name == "AutogenBackend":
        from rolecall.agents._autogen import AutogenBackend

        return AutogenBackend
    raise AttributeError(name)


__all__ = [
    "AssistantSession",
    "AssistantStep",
    "AutogenBackend",
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
