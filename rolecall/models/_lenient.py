"""AutoGen's OpenAI client, made to cope with OpenAI-compatible servers that bend the protocol.

Seen with ``llama_cpp.server`` (llama-cpp-python 0.3.36):

- it rejects assistant messages whose ``content`` is ``null`` (what a tool-call turn has);
- with ``tool_choice: auto`` the call comes back as JSON text in ``content``, not ``tool_calls``;
- it may add the legacy ``function_call`` field next to ``tool_calls``, which AutoGen refuses;
- it knows ``response_format`` ``json_object`` with a ``schema`` extension, not ``json_schema``.

The fixes are two hooks of the lean client, around AutoGen's own conversion: request bodies get
``""`` for ``null`` content and a ``json_object`` schema, replies get their tool call moved into
``tool_calls`` and ``function_call`` dropped.
"""

from __future__ import annotations

import json
from typing import Any

from rolecall.models._direct import DirectOpenAIChatCompletionClient
from rolecall.models._grammar import grammar_safe, json_text


def _tool_call_in_text(text: str, tool_names: set[str]) -> dict[str, Any] | None:
    """``{"name": ..., "arguments": {...}}`` written as the message text, for a tool we offered."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(stripped, strict=False)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("name") not in tool_names:
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    return {"name": value["name"], "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)}


def fix_request(body: dict[str, Any]) -> dict[str, Any]:
    for message in body.get("messages", []):
        if message.get("role") == "assistant" and message.get("content") is None:
            message["content"] = ""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        # llama_cpp.server knows only json_object, with its own "schema" extension (a grammar).
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        body["response_format"] = {"type": "json_object", "schema": grammar_safe(schema)}
    return body


def fix_response(data: dict[str, Any], tool_names: set[str]) -> dict[str, Any]:
    for index, choice in enumerate(data.get("choices") or []):
        message = choice.get("message") or {}
        legacy = message.pop("function_call", None)
        if not message.get("tool_calls"):
            call = legacy if isinstance(legacy, dict) and legacy.get("name") in tool_names else None
            call = call or _tool_call_in_text(message.get("content") or "", tool_names)
            if call is not None:
                message["tool_calls"] = [
                    {"id": f"call_{data.get('id', 'x')}_{index}", "type": "function", "function": call}
                ]
                message["content"] = None
                choice["finish_reason"] = "tool_calls"
        if isinstance(message.get("content"), str):
            message["content"] = json_text(message["content"])
    return data


class LenientOpenAIChatCompletionClient(DirectOpenAIChatCompletionClient):
    """``OpenAIChatCompletionClient`` for servers such as ``llama_cpp.server`` (same config keys, lean path)."""

    component_provider_override = "rolecall.models.LenientOpenAIChatCompletionClient"

    def _request_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return fix_request(body)

    def _reply_data(self, data: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return fix_response(data, {t.get("function", {}).get("name") for t in body.get("tools") or []})
