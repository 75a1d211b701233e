"""Chat-completion bodies shaped like the engine's, built from the real prompt templates, and a poster.

Two tools, the smallest chain with a reference: ``find_order(order_number)`` returns an
``order_id`` that ``cancel_order(order_id, reason)`` takes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from rolecall.mock import MODEL
from rolecall.prompts import render

DATE = "2026-03-04"
POLICY = "You are the support assistant of a small shop. Confirm before cancelling."
TOOLS: dict[str, dict[str, Any]] = {
    "find_order": {
        "description": "Find an order by the number on the customer's receipt.",
        "parameters": {
            "type": "object",
            "properties": {"order_number": {"type": "string", "pattern": "^W-[0-9]{5}$"}},
            "required": ["order_number"],
        },
        "output": {
            "type": "object",
            "properties": {
                "order_id": {"type": "string", "pattern": "^ord_[a-z0-9]{8}$"},
                "status": {"type": "string"},
            },
            "required": ["order_id", "status"],
        },
    },
    "cancel_order": {
        "description": "Cancel an order that has not shipped.",
        "parameters": {
            "type": "object",
            "properties": {
                "order_id": {"type": "string"},
                "reason": {"type": "string", "enum": ["changed_mind", "found_cheaper"]},
            },
            "required": ["order_id", "reason"],
        },
        "output": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}, "status": {"type": "string", "enum": ["cancelled"]}},
            "required": ["order_id", "status"],
        },
    },
}
CHAIN = ["find_order", "cancel_order"]


def post(base_url: str, body: dict[str, Any], timeout: float = 10) -> tuple[int, dict[str, Any]]:
    """POST ``body`` to ``{base_url}/chat/completions``: (HTTP status, parsed JSON reply)."""
    request = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer mock"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def message_of(base_url: str, body: dict[str, Any]) -> dict[str, Any]:
    """The reply's assistant message (``content``, maybe ``tool_calls``); fails on a non-200 answer."""
    status, reply = post(base_url, body)
    assert status == 200, reply
    return reply["choices"][0]["message"]


def structured(base_url: str, body: dict[str, Any]) -> dict[str, Any]:
    """The JSON object a structured role replied with."""
    return json.loads(message_of(base_url, body)["content"])


def response_format(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """What AutoGen's OpenAI client sends for a pydantic reply type named ``name``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": schema or {"type": "object"}, "strict": True},
    }


def _chat(system: str, prompt: str, name: str | None, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
    }
    if name is not None:
        body["response_format"] = response_format(name, schema)
    return body


# -- planner ----------------------------------------------------------------------------------------


def planner_body(name: str | None = "plan", system: str | None = None) -> dict[str, Any]:
    listing = "\n".join(
        f"- {tool}: {TOOLS[tool]['description']}\n"
        f"  parameters: {json.dumps(TOOLS[tool]['parameters'])}\n"
        f"  output fields: {', '.join(TOOLS[tool]['output']['properties'])}"
        for tool in CHAIN
    )
    prompt = render(
        "planner/task",
        date=DATE,
        persona="Ada: a customer who ordered a lamp.",
        tools=listing,
        history="No calls have been made yet.",
        suggested=", ".join(CHAIN),
        connections="- find_order.order_id -> cancel_order(order_id)",
        min_calls=2,
        max_calls=3,
        follow_up="",
        feedback="",
    )
    return _chat(system if system is not None else render("planner/system", first_id="$1"), prompt, name)


# -- user -------------------------------------------------------------------------------------------

OPENING = "Hello, thanks for contacting support. How can I help you today?"


def user_system(goal: str, facts: dict[str, str], disclosure: str = "upfront") -> str:
    return render(
        "user/system",
        persona="Ada: a customer who ordered a lamp.",
        date=DATE,
        goal=goal,
        earlier_goals="",
        known_values="\n".join(f"- {label}: {value}" for label, value in facts.items()),
        disclosure=render(f"user/disclosure_{disclosure}").strip(),
        memory="",
        behaviour="",
        changed="",
    )


def user_body(system: str, chat: list[tuple[str, str]], name: str | None = "UserReply") -> dict[str, Any]:
    """``chat`` as (speaker, text) with speaker "agent" or "customer", the agent's opening first
    implied; sent role-reversed as the engine does, with its reminder after the agent's last message."""
    reminder = render("user/reminder", who="Ada, the customer", task="")
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    turns = [("agent", OPENING), *chat]
    for position, (speaker, text) in enumerate(turns):
        if speaker == "customer":
            messages.append({"role": "assistant", "content": json.dumps({"message": text, "status": "continue"})})
        else:
            last = position == len(turns) - 1
            messages.append({"role": "user", "content": f"{text}\n\n{reminder.strip()}" if last else text})
    body: dict[str, Any] = {"model": MODEL, "messages": messages}
    if name is not None:
        body["response_format"] = response_format(name)
    return body


# -- assistant --------------------------------------------------------------------------------------


def openai_tools() -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": name, "description": tool["description"], "parameters": tool["parameters"]},
        }
        for name, tool in TOOLS.items()
    ]


def assistant_body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "system", "content": POLICY}, *messages], "tools": openai_tools()}


# -- tool simulator ---------------------------------------------------------------------------------


def tool_body(tool: str, arguments: dict[str, Any], name: str | None = None, in_prompt: bool = True) -> dict[str, Any]:
    schema = TOOLS[tool]["output"]
    prompt = render(
        "tool_simulator/call",
        date=DATE,
        tool_name=tool,
        tool_description=TOOLS[tool]["description"],
        parameters=json.dumps(TOOLS[tool]["parameters"]),
        output_schema=json.dumps(schema if in_prompt else {"type": "object"}),
        facts="(none)",
        history="(none)",
        arguments=json.dumps(arguments),
        feedback="",
    )
    return _chat(render("tool_simulator/system"), prompt, name if name is not None else f"{tool}_result", schema)


def judge_body() -> dict[str, Any]:
    prompt = render("judge/dialogue", policy=POLICY, goals="cancel an order", transcript="user: hi", review="1 of 1")
    return _chat(render("judge/system"), prompt, "JudgeReply")
