"""Which role a chat-completion request is for, read from the request's structure.

rolecall's structured roles ask for JSON through a ``response_format`` of type ``json_schema``
whose name is the reply type's class name (AutoGen's OpenAI client sends ``__name__``):
``plan``, ``UserReply``, ``JudgeReply``, ``output_schema`` and ``<tool>_result``. The assistant
under simulation is the only role that sends ``tools``. Both are part of the engine's contract
with any model server, so rewording a prompt cannot change what the mock thinks it is answering.

Fallback: a model configured without ``structured_output`` gets its schema in the prompt and
sends neither, so then (and only then) the role is read from markers in the system prompt
(a ``json_object`` or ``text`` response format names no schema and counts as none). A schema
name the mock does not know is refused (HTTP 400) rather than guessed at.
"""

from __future__ import annotations

from typing import Any

# response_format json_schema names -> role; a name ending in TOOL_RESULT_SUFFIX is the tool simulator.
SCHEMA_NAMES = {
    "plan": "planner",
    "UserReply": "user",
    "JudgeReply": "judge",
    "output_schema": "output_schema",
}
TOOL_RESULT_SUFFIX = "_result"

# The fallback: phrases of each role's system prompt (rolecall/prompts/<role>/system.md).
SYSTEM_MARKERS = {
    "You are the planner": "planner",
    "You are a customer chatting": "user",
    "You simulate a backend system": "tool_simulator",
    "You review a simulated conversation": "judge",
    "You write JSON Schemas": "output_schema",
}


def schema_name(body: dict[str, Any]) -> str | None:
    """The ``json_schema`` name of the request's ``response_format``, if it asks for one."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    name = (response_format.get("json_schema") or {}).get("name")
    return name if isinstance(name, str) else None


def response_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema the reply must satisfy, where the request sends one."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    schema = (response_format.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else None


def system_text(body: dict[str, Any]) -> str:
    """The request's first system message ("" when there is none)."""
    return next((m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "system"), "")


class UnknownRole(ValueError):
    """A ``json_schema`` response format the mock has no role for (answered with HTTP 400)."""


def role_of(body: dict[str, Any]) -> str:
    """The role a request is for: by its response format's name, by its tools, or (fallback,
    neither sent) by its system prompt; a request matching no marker is the assistant's."""
    name = schema_name(body)
    if name is not None:
        if name in SCHEMA_NAMES:
            return SCHEMA_NAMES[name]
        if name.endswith(TOOL_RESULT_SUFFIX):
            return "tool_simulator"
        raise UnknownRole(f"no mock role replies with a schema named {name!r}")
    if body.get("tools"):
        return "assistant"
    system = system_text(body)
    return next((role for marker, role in SYSTEM_MARKERS.items() if marker in system), "assistant")
