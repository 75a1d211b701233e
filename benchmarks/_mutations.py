"""Known defects, applied by code to clean dialogues, for the validator benchmark.

Each mutation takes a deep copy of a rolecall record and a :class:`Context` (the scenario's tools
and output schemas) and returns the record with exactly one defect of its kind, or None when the
dialogue has nothing to apply it to. Each clean variant makes a harmless change that the
validator must accept. Every edit keeps ``metadata.provenance`` index-aligned with ``messages``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rolecall.scenario import Tool, name_words, names_other_thing

Record = dict[str, Any]


@dataclass(frozen=True)
class Context:
    tools: dict[str, Tool]
    output_schemas: dict[str, dict[str, Any]]


# -- reading and editing records ------------------------------------------------------------------


def _calls(record: Record) -> list[tuple[int, dict[str, Any]]]:
    """(index of the assistant message, call) for every tool call, in order."""
    return [
        (index, call)
        for index, message in enumerate(record["messages"])
        if message.get("role") == "assistant"
        for call in message.get("tool_calls") or []
    ]


def _answer_index(record: Record, call_id: str) -> int | None:
    for index, message in enumerate(record["messages"]):
        if message.get("role") == "tool" and message.get("tool_call_id") == call_id:
            return index
    return None


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    return json.loads(call["function"]["arguments"])


def _set_arguments(call: dict[str, Any], arguments: dict[str, Any]) -> None:
    call["function"]["arguments"] = json.dumps(arguments)


def _insert(record: Record, at: int, *messages: dict[str, Any]) -> None:
    record["messages"][at:at] = list(messages)
    provenance = record["metadata"].get("provenance")
    if provenance is not None:
        provenance[at:at] = [{"origin": "model"} for _ in messages]


def _delete(record: Record, *indexes: int) -> None:
    provenance = record["metadata"].get("provenance")
    for index in sorted(set(indexes), reverse=True):
        del record["messages"][index]
        if provenance is not None:
            del provenance[index]


def _last_text(record: Record) -> int | None:
    for index in range(len(record["messages"]) - 1, -1, -1):
        message = record["messages"][index]
        if message.get("role") == "assistant" and isinstance(message.get("content"), str) and message["content"]:
            return index
    return None


def _user_indexes(record: Record) -> list[int]:
    return [i for i, m in enumerate(record["messages"]) if m.get("role") == "user"]


def _planned(record: Record) -> list[dict[str, Any]]:
    return [call for turn in record["metadata"]["plan"]["turns"] for call in turn["calls"]]


def _hidden_names(record: Record) -> list[str]:
    by_id = {call["id"]: call["name"] for call in _planned(record)}
    return [by_id[h] for turn in record["metadata"]["plan"]["turns"] for h in turn.get("hidden", []) if h in by_id]


def _result(record: Record, call_id: str) -> Any:
    index = _answer_index(record, call_id)
    if index is None:
        return None
    try:
        return json.loads(record["messages"][index]["content"])
    except (TypeError, ValueError):
        return None


def _string_leaves(value: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for name, item in value.items() for pair in _string_leaves(item, str(name))]
    if isinstance(value, list):
        return [pair for item in value for pair in _string_leaves(item, key)]
    return [(key, value)] if isinstance(value, str) else []


def _is_identifier(name: str) -> bool:
    words = [w for w in name_words(name) if w]
    return bool(words) and words[-1] in ("id", "number", "locator", "code")


# -- clean prose for the assistant (the mock answers "Done. Here is the result: {json}") ----------

_IRREGULAR = {"send": "sent", "reset": "reset", "set": "set", "make": "made", "pay": "paid"}
_DOUBLED = {"cancel", "submit", "transfer", "ship"}


def _past(verb: str) -> str:
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb in _DOUBLED:
        return verb + verb[-1] + "ed"
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def _label(key: str) -> str:
    return " ".join(word for word in name_words(key) if word and word != "cents")


def prose(tool: Tool, result: dict[str, Any]) -> str:
    """What a careful assistant says about a result: the action, then ids, amounts, statuses."""
    words = [w for w in name_words(tool.name) if w]
    if tool.effect[0] == "write" and len(words) >= 2:
        head = f"I've {_past(words[0])} the {' '.join(words[1:])} for you."
    else:
        head = "Here is what I found."
    parts = []
    for key, value in result.items():
        label = _label(key)
        if isinstance(value, bool) or value is None or isinstance(value, dict | list):
            continue
        last = (name_words(key) or [""])[-1]
        if isinstance(value, int | float) and "cents" in key:
            parts.append(f"the {label} is ${value / 100:,.2f}")
        elif isinstance(value, int | float) and last in ("price", "total", "amount", "cost", "balance"):
            parts.append(f"the {label} is ${value:,.2f}")
        elif isinstance(value, str) and last in ("status", "state"):
            parts.append(f"the {label} is {value.replace('_', ' ')}")
        elif isinstance(value, str) and (_is_identifier(key) or last in ("on", "at", "date")):
            parts.append(f"the {label} is {value}")
    details = f" For your records: {'; '.join(parts)}." if parts else ""
    return head + details + " Is there anything else I can help you with?"


def naturalise(record: Record, context: Context) -> Record | None:
    """Clean variant: every "Done. Here is the result" reply becomes prose about that result
    (and prose written before is written again, after a mutation changed the result)."""
    changed = False
    for index, message in enumerate(record["messages"]):
        text = message.get("content")
        if message.get("role") != "assistant" or not isinstance(text, str):
            continue
        if not text.startswith(("Done.", "I've ", "Here is what I found.")):  # the mock's, or ours
            continue
        calls = [(i, c) for i, c in _calls(record) if i < index]
        if not calls:
            continue
        call = calls[-1][1]
        result = _result(record, call["id"])
        tool = context.tools.get(call["function"]["name"])
        if isinstance(result, dict) and "error" not in result and tool is not None:
            message["content"] = prose(tool, result)
            changed = True
    return record if changed else None


# -- clean variants ---------------------------------------------------------------------------------


def free_text_case(record: Record, context: Context) -> Record | None:
    """A free-text argument (not an id, enum or format) typed in capitals with a full stop."""
    for _, call in _calls(record):
        tool = context.tools.get(call["function"]["name"])
        properties = (tool.parameters.get("properties") or {}) if tool else {}
        arguments = _arguments(call)
        for name, value in arguments.items():
            schema = properties.get(name) or {}
            if (
                isinstance(value, str)
                and re.search(r"[a-z]{3}", value)
                and not _is_identifier(name)
                and not {"enum", "format", "pattern", "const"} & schema.keys()
            ):
                arguments[name] = value.upper() + "."
                _set_arguments(call, arguments)
                return record
    return None


_AMOUNT_SAID = re.compile(r"amount[ _]cents(?: is|:)? (\d+)\b", re.IGNORECASE)


def _cents_literal(record: Record) -> tuple[int, int] | None:
    """(user message index, value) of an amount in cents the user stated as a bare number
    ("my amount cents is 4", as the mock's user says it) that a call passes."""
    passed = {v for _, call in _calls(record) for k, v in _arguments(call).items() if "cents" in k}
    for index in _user_indexes(record):
        match = _AMOUNT_SAID.search(record["messages"][index]["content"])
        if match and int(match.group(1)) in passed and int(match.group(1)) > 0:
            return index, int(match.group(1))
    return None


def _set_amount(record: Record, old: int, new: int) -> None:
    """Every amount in cents equal to ``old`` (in calls, results and the plan) becomes ``new``."""

    def replace(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (new if "cents" in k and v == old else replace(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [replace(item) for item in value]
        return value

    for index, message in enumerate(record["messages"]):
        if message.get("role") == "tool":
            result = _result(record, message["tool_call_id"])
            if result is not None:
                record["messages"][index]["content"] = json.dumps(replace(result))
    for _, call in _calls(record):
        _set_arguments(call, replace(_arguments(call)))
    for turn in record["metadata"]["plan"]["turns"]:
        turn["calls"] = replace(turn["calls"])


def _restate_amount(record: Record, context: Context, dollars_said: str, cents: int) -> Record | None:
    """The user states an amount as ``dollars_said``; calls, results and plan hold ``cents``."""
    found = _cents_literal(record)
    if found is None:
        return None
    index, value = found
    _set_amount(record, value, cents)
    message = record["messages"][index]
    message["content"] = _AMOUNT_SAID.sub(f"amount is {dollars_said}", message["content"], count=1)
    return naturalise(record, context) or record


def _dollars_for(record: Record, context: Context) -> int:
    """A whole-dollar amount that the cents parameter accepts (the mock's amounts are a few cents),
    varied by dialogue, at least 10 where the bounds allow (small numbers collide with others)."""
    low, high = 1, 199
    for _, call in _calls(record):
        tool = context.tools.get(call["function"]["name"])
        for name, schema in ((tool.parameters.get("properties") or {}) if tool else {}).items():
            if "cents" in name and name in _arguments(call):
                low = max(low, -(-int(schema.get("minimum", 100)) // 100))
                high = min(high, int(schema.get("maximum", high * 100)) // 100)
    low = max(low, min(10, high))
    return low + sum(map(ord, record["id"])) % max(1, high - low + 1)


def dollars(record: Record, context: Context) -> Record | None:
    """The user states the amount in dollars; the call passes it in cents (correct)."""
    amount = _dollars_for(record, context)
    return _restate_amount(record, context, f"${amount}.00", amount * 100)


# -- defects ---------------------------------------------------------------------------------------


def unit_mismatch(record: Record, context: Context) -> Record | None:
    """The user says "$N" and the call passes N where the tool wants cents (N x 100)."""
    amount = _dollars_for(record, context)
    return _restate_amount(record, context, f"${amount}", amount)


def _stems(tool: str) -> set[str]:
    return {w[:5] for w in name_words(tool)[1:] if len(w) >= 4}


def _unplanned_write(record: Record, context: Context, sibling: bool) -> Record | None:
    """A state-changing call nobody planned or asked for, just before the last reply: a tool none
    of whose words the user said, or (``sibling``) one that shares a word with a planned write
    and whose other words the user never said (``add_order_note`` beside ``cancel_order``)."""
    planned = {call["name"] for call in _planned(record)}
    planned_writes = [name for name in planned if name in context.tools and context.tools[name].effect[0] == "write"]
    users = " ".join(record["messages"][i]["content"] for i in _user_indexes(record)).lower()
    known: dict[str, str] = {}
    for _, call in _calls(record):
        for key, value in _string_leaves(_result(record, call["id"])):
            known.setdefault(key, value)
    at = _last_text(record)
    if at is None:
        return None
    for tool in context.tools.values():
        stems = _stems(tool.name)
        if tool.effect[0] != "write" or tool.name in planned:
            continue
        if sibling:
            shared = [stems & _stems(name) for name in planned_writes]
            own = stems - set().union(*shared) if shared else stems
            if not any(s and all(w in users for w in s) for s in shared) or not own or any(w in users for w in own):
                continue
        elif any(s in users for s in stems):
            continue
        # Free text in the user's own words, so that only the call's being unasked is wrong with it.
        prose = " ".join(record["messages"][_user_indexes(record)[0]]["content"].split()[:8])
        arguments = _instance(tool.parameters, "", known, prose)
        result = _instance(context.output_schemas.get(tool.name) or {"type": "object"}, "", known, prose)
        if arguments is None or result is None:
            continue
        call = {"id": "call_w1", "type": "function", "function": {"name": tool.name, "arguments": "{}"}}
        _set_arguments(call, arguments)
        _insert(
            record,
            at,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_w1", "content": json.dumps(result)},
        )
        return record
    return None


def _instance(schema: Any, key: str, known: dict[str, str], prose: str) -> Any:
    """A small value that ``schema`` accepts, with the dialogue's own values for keys it returned
    (an ``order_id`` from a result); None when one cannot be made (a pattern with no such value)."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if key in known:
        return known[key]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        value = {}
        for name in schema.get("required") or []:
            value[name] = _instance(properties.get(name) or {}, name, known, prose)
            if value[name] is None:
                return None
        return value
    if kind == "array":
        return [] if not schema.get("minItems") else None
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "string" and "pattern" not in schema:
        return {"date": "2026-03-14", "date-time": "2026-03-14T10:00:00Z"}.get(schema.get("format", ""), prose)
    return None


def unplanned_write(record: Record, context: Context) -> Record | None:
    return _unplanned_write(record, context, sibling=False)


def unplanned_sibling_write(record: Record, context: Context) -> Record | None:
    return _unplanned_write(record, context, sibling=True)


def wrong_entity(record: Record, context: Context) -> Record | None:
    """An id argument replaced by an id of another kind that an earlier result returned."""
    calls = _calls(record)
    for number, (_, call) in enumerate(calls):
        arguments = _arguments(call)
        earlier = [pair for _, c in calls[:number] for pair in _string_leaves(_result(record, c["id"]))]
        users = " ".join(record["messages"][i]["content"] for i in _user_indexes(record))
        for name, value in arguments.items():
            if not isinstance(value, str) or not _is_identifier(name):
                continue
            for key, other in earlier:
                if other != value and names_other_thing(key, name) and _is_identifier(key) and other not in users:
                    arguments[name] = other
                    _set_arguments(call, arguments)
                    return record
    return None


def _first_hidden_call(record: Record) -> tuple[int, dict[str, Any]] | None:
    hidden = _hidden_names(record)
    for index, call in _calls(record):
        if hidden and call["function"]["name"] == hidden[0]:
            return index, call
    return None


def hidden_dropped(record: Record, context: Context) -> Record | None:
    """The hidden lookup is left out; the call that needed it still uses its output."""
    found = _first_hidden_call(record)
    if found is None or len(record["messages"][found[0]]["tool_calls"]) != 1:
        return None
    answer = _answer_index(record, found[1]["id"])
    _delete(record, found[0], *([answer] if answer is not None else []))
    return record


def hidden_late(record: Record, context: Context) -> Record | None:
    """The hidden lookup is made only after the call that used its output."""
    found = _first_hidden_call(record)
    if found is None or len(record["messages"][found[0]]["tool_calls"]) != 1:
        return None
    index, call = found
    answer = _answer_index(record, call["id"])
    outputs = {value for _, value in _string_leaves(_result(record, call["id"])) if len(value) >= 4}
    consumers = [(i, c) for i, c in _calls(record) if i > index and outputs & set(map(str, _arguments(c).values()))]
    if answer != index + 1 or not consumers:
        return None
    consumer_answer = _answer_index(record, consumers[0][1]["id"])
    if consumer_answer is None:
        return None
    pair = record["messages"][index : index + 2]
    provenance = record["metadata"]["provenance"][index : index + 2]
    _delete(record, index, index + 1)
    at = consumer_answer - 1  # just after the consumer's answer, whose index moved back by 2
    record["messages"][at:at] = pair
    record["metadata"]["provenance"][at:at] = provenance
    return record


def _final_text(record: Record) -> tuple[int, str] | None:
    at = _last_text(record)
    return (at, record["messages"][at]["content"]) if at is not None else None


def contradict_amount(record: Record, context: Context) -> Record | None:
    """The last reply states an amount that differs from the result's."""
    final = _final_text(record)
    match = re.search(r"\$([\d,]+\.\d\d)", final[1]) if final else None
    if final is None or match is None:
        return None
    value = float(match.group(1).replace(",", ""))
    wrong = f"${value * 1.37 + 3.11:,.2f}"
    record["messages"][final[0]]["content"] = final[1][: match.start()] + wrong + final[1][match.end() :]
    return record


def contradict_id(record: Record, context: Context) -> Record | None:
    """The last reply names an id one digit off the result's."""
    final = _final_text(record)
    if final is None:
        return None
    whole = json.dumps(record["messages"], ensure_ascii=False)
    for match in re.finditer(r"(?<![\w-])[A-Za-z]+[-_][A-Za-z0-9_-]*\d[A-Za-z0-9_-]*", final[1]):
        token = match.group()
        digit = next(i for i in range(len(token) - 1, -1, -1) if token[i].isdigit())
        wrong = token[:digit] + str((int(token[digit]) + 3) % 10) + token[digit + 1 :]
        if wrong not in whole:
            record["messages"][final[0]]["content"] = final[1].replace(token, wrong)
            return record
    return None


def _status_members(context: Context, field: str) -> list[str]:
    members: list[str] = []

    def walk(schema: Any, name: str) -> None:
        if isinstance(schema, dict):
            if name == field and isinstance(schema.get("enum"), list):
                members.extend(str(m) for m in schema["enum"])
            for key, child in (schema.get("properties") or {}).items():
                walk(child, key)
            walk(schema.get("items"), name)

    for schema in context.output_schemas.values():
        walk(schema, "")
    return members


def contradict_status(record: Record, context: Context) -> Record | None:
    """The last reply states a status the results never showed."""
    final = _final_text(record)
    if final is None:
        return None
    seen = {v for _, v in _string_leaves([_result(record, c["id"]) for _, c in _calls(record)])}
    for match in re.finditer(r"the (\w[\w ]*?) is ([a-z][a-z ]+?)(?=[;.])", final[1]):
        field = match.group(1).replace(" ", "_")
        if field.split("_")[-1] not in ("status", "state"):
            continue
        options = [m for m in _status_members(context, field) if m not in seen and len(m) >= 4]
        if options:
            wrong = options[0].replace("_", " ")
            record["messages"][final[0]]["content"] = final[1][: match.start(2)] + wrong + final[1][match.end(2) :]
            return record
    return None


def false_success(record: Record, context: Context) -> Record | None:
    """The last call failed, and the reply after it still reports the action as done."""
    calls = _calls(record)
    final = _final_text(record)
    if not calls or final is None or final[0] < calls[-1][0]:
        return None
    call = calls[-1][1]
    answer = _answer_index(record, call["id"])
    tool = context.tools.get(call["function"]["name"])
    if answer is None or tool is None or tool.effect[0] != "write" or not final[1].startswith("I've"):
        return None  # the reply must report the action as done
    error = {"error": {"code": "internal_error", "message": "The service failed; nothing was changed."}}
    record["messages"][answer]["content"] = json.dumps(error)
    record["metadata"].setdefault("faults", {})[call["id"]] = "server_error"
    return record


def narration_step(record: Record, context: Context) -> Record | None:
    """The user tells the assistant which hidden lookup to run."""
    hidden = _hidden_names(record)
    users = _user_indexes(record)
    if not hidden or not users:
        return None
    words = " ".join(w for w in name_words(hidden[0]) if w)
    record["messages"][users[0]]["content"] += f" You will need to {words} first."
    return record


def narration_value(record: Record, context: Context) -> Record | None:
    """The user states a value only the hidden lookup returns, as if they had run it."""
    found = _first_hidden_call(record)
    users = _user_indexes(record)
    if found is None or not users:
        return None
    for key, value in _string_leaves(_result(record, found[1]["id"])):
        if _is_identifier(key) and value not in record["messages"][users[0]]["content"]:
            record["messages"][users[0]]["content"] += f" I looked it up already: the {_label(key)} is {value}."
            return record
    return None


def duplicate(record: Record, context: Context) -> Record | None:
    """A call made twice with the same arguments, for no reason."""
    calls = _calls(record)
    if not calls:
        return None
    call = calls[-1][1]
    answer = _answer_index(record, call["id"])
    if answer is None:
        return None
    again = copy.deepcopy(call)
    again["id"] = "call_dup"
    result = copy.deepcopy(record["messages"][answer])
    result["tool_call_id"] = "call_dup"
    _insert(record, answer + 1, {"role": "assistant", "content": None, "tool_calls": [again]}, result)
    return record


def repeated_write(record: Record, context: Context) -> Record | None:
    """A state-changing call made again on the same entity right after it succeeded, with one
    other argument changed to a value nobody said (a second cancellation with another reason)."""
    for _, call in reversed(_calls(record)):
        tool = context.tools.get(call["function"]["name"])
        answer = _answer_index(record, call["id"])
        if tool is None or tool.effect[0] != "write" or answer is None:
            continue
        if "error" in (_result(record, call["id"]) or {}):
            continue
        arguments = _arguments(call)
        properties = tool.parameters.get("properties") or {}
        if not any(_is_identifier(key) for key in arguments):
            continue
        for key, value in arguments.items():
            schema = properties.get(key) or {}
            if _is_identifier(key) or not isinstance(value, str):
                continue
            others = [m for m in schema.get("enum") or [] if m != value]
            if schema.get("enum") and not others:
                continue
            arguments[key] = others[0] if others else "as agreed earlier"
            again = copy.deepcopy(call)
            again["id"] = "call_again"
            _set_arguments(again, arguments)
            result = copy.deepcopy(record["messages"][answer])
            result["tool_call_id"] = "call_again"
            _insert(record, answer + 1, {"role": "assistant", "content": None, "tool_calls": [again]}, result)
            return record
    return None


def unanswered(record: Record, context: Context) -> Record | None:
    """A call whose result is missing."""
    calls = _calls(record)
    answer = _answer_index(record, calls[0][1]["id"]) if calls else None
    if answer is None:
        return None
    _delete(record, answer)
    return record


def agent_voice(record: Record, context: Context) -> Record | None:
    """The user opens as if they were the agent."""
    users = _user_indexes(record)
    if not users:
        return None
    message = record["messages"][users[0]]
    message["content"] = "Hello! How can I help you today? " + message["content"]
    return record


Mutation = Callable[[Record, Context], Record | None]

CLEAN_VARIANTS: dict[str, Mutation] = {
    "clean_natural": lambda record, context: record,  # the naturalised original itself
    "clean_free_text_case": free_text_case,
    "clean_dollars": dollars,
}
DEFECTS: dict[str, Mutation] = {
    "unplanned_write": unplanned_write,
    "unplanned_sibling_write": unplanned_sibling_write,
    "wrong_entity": wrong_entity,
    "unit_mismatch": unit_mismatch,
    "hidden_dropped": hidden_dropped,
    "hidden_late": hidden_late,
    "contradict_amount": contradict_amount,
    "contradict_id": contradict_id,
    "contradict_status": contradict_status,
    "false_success": false_success,
    "narration_step": narration_step,
    "narration_value": narration_value,
    "duplicate": duplicate,
    "repeated_write": repeated_write,
    "unanswered": unanswered,
    "agent_voice": agent_voice,
}
# Kinds that rules must catch (the target: recall >= 0.95 each); the rest are semantic.
STRUCTURAL = (
    "unplanned_write",
    "unplanned_sibling_write",
    "hidden_dropped",
    "hidden_late",
    "duplicate",
    "repeated_write",
    "unanswered",
    "unit_mismatch",
    "contradict_amount",
    "contradict_id",
)
