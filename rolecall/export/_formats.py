"""One record in the layout a trainer reads: OpenAI/TRL messages, ShareGPT, Hermes.

Each converter takes a rolecall record (``messages`` in OpenAI chat format, ``tools`` as OpenAI
tool entries) and returns one output row. None of them drops or rewrites a message's text.
"""

from __future__ import annotations

import json
from typing import Any

from rolecall.prompts import render
from rolecall.text import json_or_text

# Origins of conversation text (user or assistant) that code wrote rather than a model: what a
# trainer would learn from without knowing it. Tool results that code wrote (an injected fault)
# or edited (a planned value kept) are not counted: they are inputs, and meant to be there.
CODE_WRITTEN_ORIGINS = ("scripted", "appended")


def code_written(record: dict[str, Any]) -> list[str]:
    """``"origin:role:index"`` for every user or assistant message that code wrote or extended."""
    provenance = (record.get("metadata") or {}).get("provenance") or []
    found = []
    for index, (message, entry) in enumerate(zip(record.get("messages") or [], provenance, strict=False)):
        if message.get("role") in ("user", "assistant") and entry.get("origin") in CODE_WRITTEN_ORIGINS:
            found.append(f"{entry['origin']}:{message['role']}:{index}")
    return found


def _arguments(call: dict[str, Any]) -> Any:
    """A call's arguments as an object (chat templates expect one); unparsable text stays text."""
    return json_or_text(call.get("function", {}).get("arguments"))


def _functions(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry.get("function", entry) for entry in record.get("tools") or []]


def _call_names(record: dict[str, Any]) -> dict[str, str]:
    return {
        call.get("id", ""): call.get("function", {}).get("name", "")
        for message in record.get("messages") or []
        for call in message.get("tool_calls") or []
    }


def to_openai(record: dict[str, Any]) -> dict[str, Any]:
    """``messages`` + ``tools`` as TRL's SFT trainer and Hugging Face chat templates read them:
    tool-call arguments as objects, ``content: null`` beside tool calls, ``tool_call_id`` and
    the function's ``name`` on every tool message; parallel calls stay in one message."""
    names = _call_names(record)
    messages = []
    for message in record.get("messages") or []:
        out: dict[str, Any] = {"role": message["role"], "content": message.get("content")}
        if message.get("tool_calls"):
            out["tool_calls"] = [
                {
                    "id": call.get("id"),
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": _arguments(call)},
                }
                for call in message["tool_calls"]
            ]
        if message["role"] == "tool":
            out["tool_call_id"] = message.get("tool_call_id")
            out["name"] = names.get(message.get("tool_call_id") or "", "")
        messages.append(out)
    return {"messages": messages, "tools": record.get("tools") or []}


def _call_json(call: dict[str, Any]) -> str:
    return json.dumps({"name": call["function"]["name"], "arguments": _arguments(call)}, ensure_ascii=False)


def to_sharegpt(record: dict[str, Any]) -> dict[str, Any]:
    """LLaMA-Factory's ShareGPT layout: ``conversations`` of human / gpt / function_call /
    observation turns, the system message apart, ``tools`` as a JSON string. Parallel calls are one
    ``function_call`` turn holding a JSON list, their results one ``observation`` holding a list;
    an assistant message with both text and calls keeps the calls (the layout has no room for both)."""
    system, turns = "", []
    messages = record.get("messages") or []
    index = 0
    while index < len(messages):
        message = messages[index]
        role = message["role"]
        if role == "system":
            system = message.get("content") or ""
        elif role == "user":
            turns.append({"from": "human", "value": message.get("content") or ""})
        elif role == "assistant" and message.get("tool_calls"):
            calls = message["tool_calls"]
            value = _call_json(calls[0]) if len(calls) == 1 else "[" + ", ".join(map(_call_json, calls)) + "]"
            turns.append({"from": "function_call", "value": value})
        elif role == "assistant":
            turns.append({"from": "gpt", "value": message.get("content") or ""})
        elif role == "tool":
            results = [message.get("content") or ""]
            while index + 1 < len(messages) and messages[index + 1]["role"] == "tool":
                index += 1
                results.append(messages[index].get("content") or "")
            turns.append({"from": "observation", "value": results[0] if len(results) == 1 else _json_list(results)})
        index += 1
    return {"conversations": turns, "system": system, "tools": json.dumps(_functions(record), ensure_ascii=False)}


def _json_list(texts: list[str]) -> str:
    """Tool results as one JSON list (each result parsed where it is JSON)."""
    return json.dumps([json_or_text(text) for text in texts], ensure_ascii=False)


def to_hermes(record: dict[str, Any]) -> dict[str, Any]:
    """The Hermes function-calling text format: a system turn listing the tools in ``<tools>``,
    calls as ``<tool_call>{"name": ..., "arguments": ...}</tool_call>`` in the gpt turn, results as
    ``<tool_response>`` blocks in a ``tool`` turn (ShareGPT ``conversations``)."""
    messages = record.get("messages") or []
    policy = next((m.get("content") or "" for m in messages if m["role"] == "system"), "")
    tools = "\n".join(json.dumps({"type": "function", "function": f}, ensure_ascii=False) for f in _functions(record))
    turns = [{"from": "system", "value": render("export/hermes_system", tools=tools, policy=policy).strip()}]
    names = _call_names(record)
    for message in messages:
        role = message["role"]
        if role == "user":
            turns.append({"from": "human", "value": message.get("content") or ""})
        elif role == "assistant":
            parts = [message["content"]] if message.get("content") else []
            parts += [f"<tool_call>\n{_call_json(call)}\n</tool_call>" for call in message.get("tool_calls") or []]
            turns.append({"from": "gpt", "value": "\n".join(parts)})
        elif role == "tool":
            body = json.dumps(
                {
                    "name": names.get(message.get("tool_call_id") or "", ""),
                    "content": json_or_text(message.get("content")),
                },
                ensure_ascii=False,
            )
            block = f"<tool_response>\n{body}\n</tool_response>"
            if turns[-1]["from"] == "tool":  # results of parallel calls share one turn
                turns[-1]["value"] += "\n" + block
            else:
                turns.append({"from": "tool", "value": block})
    return {"conversations": turns}


CONVERTERS = {"openai": to_openai, "sharegpt": to_sharegpt, "hermes": to_hermes}
