"""What the mock reads from prompt text: every dependence on prompt wording, one reader per role.

The role itself is recognised from the request's structure (see ``_roles``); what a role must
answer about (the tools to plan with, the customer's goal and facts, the call to simulate)
only exists as prompt text, rendered from ``rolecall/prompts/<role>/*.md``. Keeping each
role's parsing in one function here means a reworded template breaks one obvious place.
Where the engine's own templates can be read instead of copied (the disclosure rule, the
reminder), they are read through ``rolecall.prompts.template_text``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from rolecall.prompts import template_text


def _section(text: str, header: str) -> str:
    """The text after ``header`` up to the next blank line ("" when the header is absent)."""
    start = text.find(header)
    if start < 0:
        return ""
    rest = text[start + len(header) :]
    end = rest.find("\n\n")
    return rest if end < 0 else rest[:end]


def _today(prompt: str, default: str = "2026-01-01") -> str:
    """The date a prompt gives (``Today is 2026-03-04.``), for date-formatted values."""
    match = re.search(r"Today is (\S+)\.", prompt)
    return match.group(1).rstrip(".") if match else default


def _squashed(text: str) -> str:
    """``text`` with runs of whitespace as one space: template text survives re-wrapping."""
    return " ".join(text.split())


# -- planner (rolecall/prompts/planner/system.md, task.md) ------------------------------------------


@dataclass
class PlannerTask:
    """What the planner prompt offers: the suggested chain, each tool's parameters and how they connect."""

    prompt: str
    first_id: int
    date: str
    suggested: list[str]
    parameters: dict[str, dict[str, Any]]  # tool -> parameters schema
    connections: list[tuple[str, str, str, str]]  # (source tool, output path, target tool, parameter)
    prior: dict[str, Any] = field(default_factory=dict)  # "$k" -> output of a call made before the dialogue
    # An earlier turn's outputs the plan must build on (planner/follow_up): (call id, path, tool, parameter).
    follow_ups: list[tuple[str, str, str, str]] = field(default_factory=list)
    min_calls: int = 1


def read_planner(system: str, prompt: str) -> PlannerTask:
    first = re.search(r"id: \$(\d+)", system)
    suggested_section = _section(prompt, "Suggested order")
    suggested_line = suggested_section.split("\n", 1)[1] if "\n" in suggested_section else ""
    parameters = {
        match.group(1): json.loads(match.group(2))
        for match in re.finditer(r"^- (\w+): .*?\n  parameters: (.*)$", prompt, re.MULTILINE)
    }
    connections = re.findall(r"- (\w+)\.([\w.]+) -> (\w+)\((\w+)\)", _section(prompt, "Ways these tools connect"))
    minimum = re.search(r"Plan between (\d+) and", prompt)
    follow_ups = re.findall(r"^- (\$\d+)\.([\w.]+) -> (\w+)\((\w+)\)$", prompt, re.MULTILINE)
    prior = {
        match.group(1): json.loads(match.group(2))
        for match in re.finditer(r"(\$\d+) = \w+\(.*?\) -> (.*?)  \[before the conversation\]", prompt)
    }
    return PlannerTask(
        prompt=prompt,
        # The engine renumbers plans anyway; $1 keeps an unreadable prompt answerable.
        first_id=int(first.group(1)) if first else 1,
        date=_today(prompt),
        suggested=[name.strip() for name in suggested_line.split(",") if name.strip()],
        parameters=parameters,
        connections=connections,
        prior=prior,
        follow_ups=follow_ups,
        min_calls=int(minimum.group(1)) if minimum else 1,
    )


# -- user (rolecall/prompts/user/system.md, reminder.md) ---------------------------------------------


@dataclass
class UserView:
    """The customer's side of the chat: what it wants, what it knows, what was said."""

    goal: str
    facts: list[tuple[str, str]]  # (label as the prompt words it, value)
    on_request: bool  # give facts only when asked (user/disclosure_on_request) rather than upfront
    said: list[str]  # the customer's own earlier messages, oldest first
    agent_text: str | None  # the agent's last message without the engine's reminder; None if the customer spoke last
    withheld: str | None = None  # the one fact to leave out until asked (user/disclosure_missing_parameter)
    change: tuple[str, str] | None = None  # (label, new value) to change its mind to now (user/change_of_mind)


@functools.cache
def _on_request_rule() -> str:
    return _squashed(template_text("user/disclosure_on_request"))


@functools.cache
def _withheld_rule() -> re.Pattern[str]:
    """The missing-parameter rule as a pattern that captures the fact's label."""
    before, after = _squashed(template_text("user/disclosure_missing_parameter")).split("{{label}}")
    return re.compile(re.escape(before) + r"(.+?)" + re.escape(after))


@functools.cache
def _change_rule() -> re.Pattern[str]:
    """The change-of-mind instruction as a pattern that captures the label and the new value."""
    text = _squashed(template_text("user/change_of_mind"))
    pattern = re.escape(text).replace(r"\{\{label\}\}", "(.+?)").replace(r"\{\{after\}\}", "(.+?)")
    return re.compile(pattern.replace(r"\{\{before\}\}", ".+?"))


def _change(prompt: str) -> tuple[str, str] | None:
    found = _change_rule().search(_squashed(prompt))
    return (found.group(1), found.group(2)) if found else None


def _withheld_label(system: str) -> str | None:
    found = _withheld_rule().search(_squashed(system))
    return found.group(1) if found else None


@functools.cache
def _reminder_start() -> str:
    """How the engine's reminder after the agent's message begins ("(You are "), from its template."""
    return template_text("user/reminder").split("{{", 1)[0]


def read_user(system: str, messages: list[dict[str, Any]]) -> UserView:
    """The chat arrives role-reversed: the customer's own turns are the assistant messages
    (JSON replies), the agent's are user messages with a reminder of who is speaking appended."""
    goal_section = _section(system, "What you want the agent to do for you now:").strip()
    said = [_customer_message(m.get("content") or "") for m in messages if m.get("role") == "assistant"]
    agent_text = None
    if messages and messages[-1].get("role") == "user":
        agent_text = messages[-1].get("content") or ""
        start = _reminder_start()
        cut = agent_text.rfind("\n\n" + start) if start else -1
        if cut >= 0:
            agent_text = agent_text[:cut]
    return UserView(
        goal=goal_section.split("\n", 1)[0].strip(),
        facts=re.findall(r"^- ([\w ]+): (.*)$", _section(system, "Facts you know"), re.MULTILINE),
        on_request=_on_request_rule() in _squashed(system),
        withheld=_withheld_label(system),
        change=_change(messages[-1].get("content") or "") if messages else None,
        said=said,
        agent_text=agent_text,
    )


def _customer_message(content: str) -> str:
    try:
        reply = json.loads(content)
    except ValueError:
        return content
    return str(reply.get("message", content)) if isinstance(reply, dict) else content


# -- tool simulator (rolecall/prompts/tool_simulator/call.md) ----------------------------------------


@dataclass
class ToolCallView:
    """The call the tool simulator must answer."""

    name: str
    arguments: dict[str, Any]
    date: str
    prompt_schema: dict[str, Any] | None  # the output schema as the prompt states it
    earlier: list[Any] = field(default_factory=list)  # results of earlier calls, prior ones included


def read_tool_call(prompt: str) -> ToolCallView:
    call = re.search(r"The call to answer now:\n(\w+)\((.*)\)", prompt)
    if call is None:
        raise ValueError("the tool simulator prompt names no call to answer")
    schema = re.search(r"^Output schema \(.*?\): (.*)$", prompt, re.MULTILINE)
    earlier = []
    for line in _section(prompt, "Earlier calls").split("\n")[1:]:
        found = re.match(r"\w+\(.*?\) -> (\{.*\})(?:  \[.*\])?$", line)
        if found:
            with contextlib.suppress(ValueError):
                earlier.append(json.loads(found.group(1)))
    return ToolCallView(
        name=call.group(1),
        arguments=json.loads(call.group(2)),
        date=_today(prompt),
        prompt_schema=json.loads(schema.group(1)) if schema else None,
        earlier=earlier,
    )


# -- output schema inference (rolecall/prompts/output_schema/system.md) ------------------------------


def read_schema_request(prompt: str) -> str:
    """The name of the tool whose output schema is asked for (the prompt is the tool as JSON)."""
    return str(json.loads(prompt)["name"])
