"""The mock's role logic, apart from HTTP so it can be reasoned about (and tested) on its own.

- planner: chains the suggested tools, wiring each required parameter to an earlier call's
  output where the prompt lists a connection, else a literal made from the parameter's schema;
  a follow-up turn starts at the first tool an earlier turn's output feeds, taking that output;
  it remembers each plan under its goal, which is how the assistant finds it later;
- user: opens with the goal and (by default) every value it knows; under on-request disclosure
  with the goal alone, then answers the agent's questions from its facts; confirms when asked
  to; says "done" once the agent has answered;
- assistant: an oracle that replays the plan whose goal the customer stated, resolving
  references against the real tool results; it asks for literal values no customer message
  has given yet, (``confirm``) asks before the goal call, and says it cannot make a call whose
  tool the request does not offer;
- tool simulator: a result generated from the output schema, echoing the call's arguments;
- output schema inference: an id per entity word of the tool's name, and a status;
- judge: votes "yes".

Every choice is a digest of the request's content, so answers do not depend on request order.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from rolecall.agents import INJECTED_CALL_PREFIX
from rolecall.mock._reading import (
    PlannerTask,
    ToolCallView,
    UserView,
    read_planner,
    read_schema_request,
    read_tool_call,
    read_user,
)
from rolecall.mock._roles import response_schema, system_text
from rolecall.mock._settings import MockSettings
from rolecall.mock._values import digest, object_for, value_for
from rolecall.scenario import READ_VERBS, name_words, value_validator

# The customer's replies. Confirmations are picked by digest, so runs stay reproducible.
DONE = "Thank you, that is everything."
CONFIRMATIONS = ("Perfect, please go ahead.", "Great, yes do it.", "Thanks, go ahead.")
# The assistant's own questions start so; it reads them back to know it has asked already.
ASK_PREFIX = "Could you tell me your "
CONFIRM_PREFIX = "I can do that now: "
DECLINE_PREFIX = "I'm sorry, I cannot "
CHANGE_PREFIX = "Actually, I changed my mind: make the "
FALLBACK_GREETING = "How can I help you today?"

_REFERENCE = re.compile(r"(\$\d+)\.([\w.]+)")
# A question asking for the go-ahead, as opposed to one asking for a detail.
_CONFIRMATION_QUESTION = re.compile(
    r"\b(?:shall|should|can|may) i (?:go ahead|proceed|continue|do (?:it|that|this))\b"
    r"|\bwant me to (?:go ahead|proceed|continue)\b"
    r"|\b(?:go ahead|proceed)\s*\?"
    r"|\bconfirm (?:that|this)\b"
    r"|\bok(?:ay)? to (?:go ahead|proceed)\b",
    re.IGNORECASE,
)


class MockBrain:
    """Answers one request of any role. Shared by all requests of a server (thread-safe)."""

    def __init__(self, settings: MockSettings | None = None):
        self.settings = settings or MockSettings()
        self.plans: dict[str, dict[str, Any]] = {}  # goal -> {"calls": [...], "prior": {id: output}}
        self.lock = threading.Lock()

    @property
    def sloppy_every(self) -> int:
        return self.settings.sloppy_every

    def reply(self, role: str, body: dict[str, Any]) -> dict[str, Any]:
        """The assistant message (``content`` and maybe ``tool_calls``) answering ``body`` as ``role``."""
        messages: list[dict[str, Any]] = body["messages"]
        system = system_text(body)
        prompt = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
        if role == "planner":
            return _json_reply(self.plan(read_planner(system, prompt)))
        if role == "user":
            return _json_reply(self.user(read_user(system, messages)))
        if role == "tool_simulator":
            return _json_reply(self.tool_result(read_tool_call(prompt), response_schema(body)))
        if role == "judge":
            return _json_reply({"reasoning": "The calls use stated values.", "consistent": "yes"})
        if role == "output_schema":
            return _json_reply(self.output_schema(read_schema_request(prompt)))
        return self.assistant(messages, _tool_parameters(body))

    # planner ------------------------------------------------------------------------------------

    def plan(self, task: PlannerTask) -> dict[str, Any]:
        # A follow-up turn starts at the first tool an earlier turn's output feeds, if that still
        # leaves a long enough plan.
        suggested = task.suggested
        fed = [position for position, name in enumerate(suggested) if any(f[2] == name for f in task.follow_ups)]
        calls = self._chain(task, suggested[fed[0] :], follow_up=True) if fed else []
        if len(calls) < max(task.min_calls, 1):
            calls = self._chain(task, suggested, follow_up=False)
        # The goal asks for every state change the calls make, as a planner's must (the plan checks
        # send back one it does not ask for), in a customer's words: "reset my password".
        changes = [name_words(call["name"]) for call in calls if name_words(call["name"])[0] not in READ_VERBS]
        asked = " and ".join(" ".join([words[0], "my", *words[1:]]) for words in changes)
        case = f"I need help with case {digest(task.prompt) % 100000:05d}"
        goal = f"{case}: please {asked}." if asked else f"{case}."
        with self.lock:
            self.plans[goal] = {"calls": calls, "prior": task.prior}
        return {"goal": goal, "calls": calls}

    @staticmethod
    def _chain(task: PlannerTask, suggested: list[str], follow_up: bool) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []
        ids: dict[str, str] = {}
        for name in suggested:
            schema = task.parameters[name]
            arguments: dict[str, Any] = {}
            for parameter in schema.get("properties", {}):
                source = next((c for c in task.connections if c[2] == name and c[3] == parameter and c[0] in ids), None)
                earlier = next((f for f in task.follow_ups if f[2] == name and f[3] == parameter), None)
                if source is not None:
                    arguments[parameter] = f"{ids[source[0]]}.{source[1]}"
                elif follow_up and earlier is not None and not calls:
                    arguments[parameter] = f"{earlier[0]}.{earlier[1]}"
                elif parameter in schema.get("required", []):
                    sub = schema["properties"][parameter]
                    arguments[parameter] = value_for(parameter, sub, digest(task.prompt, name, parameter), task.date)
            linked = any(isinstance(v, str) and v.startswith("$") for v in arguments.values())
            if calls and not linked:
                continue  # not connected to the calls so far: a plan is one task
            call_id = f"${task.first_id + len(calls)}"
            ids[name] = call_id
            calls.append({"id": call_id, "name": name, "arguments": arguments})
        return calls

    # user ---------------------------------------------------------------------------------------

    def user(self, view: UserView) -> dict[str, Any]:
        stated = any(view.goal in text for text in view.said)
        if not stated or view.agent_text is None:
            return {"message": self._opening(view), "status": "continue"}
        if view.change is not None:
            label, value = view.change
            return {"message": f"{CHANGE_PREFIX}{label} {value} instead.", "status": "continue"}
        text = view.agent_text
        if _asks(text) and _CONFIRMATION_QUESTION.search(text):
            return {"message": CONFIRMATIONS[digest(view.goal, text) % len(CONFIRMATIONS)], "status": "continue"}
        asked = _asked_facts(text, view.facts) if _asks(text) else []
        if asked:
            return {"message": _stating(asked), "status": "continue"}
        return {"message": DONE, "status": "done"}

    @staticmethod
    def _opening(view: UserView) -> str:
        if view.on_request:  # the goal only: details wait for the agent's questions
            return f"Hello. {view.goal}"
        details = ", ".join(
            f"my {key.replace('_', ' ')} is {value}"
            for key, value in view.facts
            # "items 1 item id" is how a nested value is listed: the rule names "item id".
            if key != "from before" and not (view.withheld and key.replace("_", " ").endswith(view.withheld))
        )
        message = f"Hello. {view.goal} For reference, {details}." if details else f"Hello. {view.goal}"
        return message[:590]

    # assistant ----------------------------------------------------------------------------------

    def assistant(self, messages: list[dict[str, Any]], tools: dict[str, dict[str, Any]]) -> dict[str, Any]:
        with self.lock:
            plans = dict(self.plans)
        goal, start = None, 0
        for position, message in enumerate(messages):
            if message["role"] == "user":
                for candidate in plans:
                    if candidate in (message.get("content") or ""):
                        goal, start = candidate, position
        if goal is None:
            return {"content": FALLBACK_GREETING}
        plan = plans[goal]
        calls = _to_make(plan["calls"], messages, start)
        made = [position for position in range(start, len(messages)) if _answers_own_call(messages[position])]
        if made:
            error = _error_of(messages[made[-1]].get("content"))
            if error is not None:
                return {"content": f"Sorry, that did not work: {error}"}
        if len(made) >= len(calls):
            return {"content": f"Done. Here is the result: {messages[made[-1]]['content'] if made else ''}"}
        call = calls[len(made)]
        if tools and call["name"] not in tools:  # not offered this turn (missing_function)
            return {
                "content": f"{DECLINE_PREFIX}{call['name'].replace('_', ' ')} in this chat: it is not among my tools."
            }
        since_result = messages[made[-1] if made else start :]
        missing = _unstated(call, tools.get(call["name"], {}), messages)
        if missing and not _said_by_assistant(since_result, ASK_PREFIX):
            return {"content": f"{ASK_PREFIX}{_listed(missing)}?"}
        is_goal_call = len(made) == len(calls) - 1
        if self.settings.confirm and is_goal_call and not _said_by_assistant(messages[start:], CONFIRM_PREFIX):
            return {"content": f"{CONFIRM_PREFIX}{_described(goal)}. Shall I go ahead?"}
        try:
            arguments = {key: self._resolve(value, messages, start, plans) for key, value in call["arguments"].items()}
        except LookupError:  # it builds on an earlier call that never succeeded
            return {"content": "Sorry, I cannot do that: I have no result to build it on."}
        arguments.update(_changed(messages[start:], arguments))
        if self.sloppy_every and digest(goal) % self.sloppy_every == 0 and arguments:
            first = sorted(arguments)[0]
            if isinstance(arguments[first], str):
                arguments[first] = "INVENTED-VALUE-42"
        call_number = sum(1 for m in messages if m["role"] == "tool") + 1
        return {
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{call_number}",
                    "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(arguments)},
                }
            ],
        }

    def _resolve(self, value: Any, messages: list[dict[str, Any]], start: int, plans: dict[str, Any]) -> Any:
        match = _REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            return value
        call_id, path = match.group(1), match.group(2).split(".")
        stated = _stated(messages[start : start + 1], path[-1]) if _first_turn(messages, start) else None
        if stated is not None:  # the customer knows it (prior state): no lookup needed
            return stated
        output = self._output_of(call_id, messages, plans)
        for part in path:
            output = output[int(part)] if isinstance(output, list) else output[part]
        return output

    @staticmethod
    def _output_of(call_id: str, messages: list[dict[str, Any]], plans: dict[str, Any]) -> Any:
        # Only this dialogue's plans: those whose goal a customer message states.
        for goal, plan in plans.items():
            start = next(
                (i for i, m in enumerate(messages) if m["role"] == "user" and goal in (m.get("content") or "")), None
            )
            if start is None:
                continue
            if call_id in plan["prior"]:
                return plan["prior"][call_id]
            ids = [c["id"] for c in _to_make(plan["calls"], messages, start)]
            if call_id not in ids:
                continue
            # A failed call was made again: only answers that are not errors line up with the plan.
            results = [m for m in messages[start:] if _answers_own_call(m) and _error_of(m.get("content")) is None]
            return json.loads(results[ids.index(call_id)]["content"])
        raise KeyError(call_id)

    # tool simulator and output schemas ----------------------------------------------------------

    @staticmethod
    def tool_result(view: ToolCallView, schema: dict[str, Any] | None) -> dict[str, Any]:
        """A result for the call; ``schema`` is the response format's (the one to satisfy), else the prompt's."""
        schema = schema if schema is not None else view.prompt_schema
        if schema is None:
            raise ValueError(f"no output schema for {view.name}: neither a response format nor one in the prompt")
        # A backend keeps state: an entity seen before (same id) keeps the values it had.
        known = {**_entity_fields(view.earlier, view.arguments, schema), **view.arguments}
        return object_for(schema, digest(view.arguments, schema), view.date, known=known)

    @staticmethod
    def output_schema(tool_name: str) -> dict[str, Any]:
        """An inferred output schema: an id per entity word of the tool's name, and a status."""
        verbs = {"get", "find", "list", "search", "by", "send", "enable", "disable", "create", "update"}
        words = [w for w in tool_name.split("_") if w not in verbs]
        properties = {f"{word}_id": {"type": "string"} for word in words[:2]}
        properties["status"] = {"type": "string"}
        return {"type": "object", "properties": properties, "required": sorted(properties)}


def _json_reply(value: dict[str, Any]) -> dict[str, Any]:
    return {"content": json.dumps(value)}


def _entity_fields(earlier: list[Any], arguments: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Scalar fields of earlier results about an entity ``arguments`` name (the result's first
    field is an ``*_id`` argument with its value) that ``schema`` admits, so a lookup agrees with what
    was seen before."""
    ids = {(k, v) for k, v in arguments.items() if k.endswith("_id") and isinstance(v, str | int)}
    properties = schema.get("properties") or {}
    fields: dict[str, Any] = {}
    for result in earlier:
        if not isinstance(result, dict):
            continue
        scalars = {k: v for k, v in result.items() if isinstance(v, str | int | float | bool)}
        own = next(iter(scalars.items()), None)  # an entity's first field is its id
        if own is not None and own == next(iter(result.items())) and own in ids:
            fields.update(
                {
                    k: v
                    for k, v in scalars.items()
                    if isinstance(properties.get(k), dict) and value_validator(properties[k]).is_valid(v)
                }
            )
    return fields


def _stated(messages: list[dict[str, Any]], field: str) -> str | None:
    """The value a customer message states for ``field`` ("my order id is W-1"), if any."""
    label = re.escape(field.replace("_", " "))
    for message in messages:
        if message["role"] == "user":
            found = re.search(rf"\bmy {label} is ([^\s,]+?)[.,]?(?:\s|$)", message.get("content") or "")
            if found:
                return found.group(1)
    return None


def _changed(messages: list[dict[str, Any]], arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments the customer changed its mind about ("make the reason other instead")."""
    changed: dict[str, Any] = {}
    for message in messages:
        content = message.get("content") or ""
        if message["role"] != "user" or not content.startswith(CHANGE_PREFIX):
            continue
        for key in arguments:
            label = key.replace("_", " ") + " "
            if content.startswith(CHANGE_PREFIX + label):
                text = content[len(CHANGE_PREFIX + label) :].removesuffix(" instead.")
                try:
                    changed[key] = json.loads(text)
                except ValueError:
                    changed[key] = text
    return changed


def _answers_own_call(message: dict[str, Any]) -> bool:
    """A tool message answering one of the assistant's own calls (not an injected mistake)."""
    return message["role"] == "tool" and not str(message.get("tool_call_id", "")).startswith(INJECTED_CALL_PREFIX)


def _first_turn(messages: list[dict[str, Any]], start: int) -> bool:
    return next((i for i, m in enumerate(messages) if m["role"] == "user"), None) == start


def _to_make(calls: list[dict[str, Any]], messages: list[dict[str, Any]], start: int) -> list[dict[str, Any]]:
    """The calls of the plan whose goal message is at ``start`` that the assistant has to make.
    The engine moves calls before the dialogue (prior state) only from the first turn's plan: there,
    a lookup whose every output a later call uses the customer has stated already is not made."""
    if not _first_turn(messages, start):
        return calls
    messages = messages[start : start + 1]  # what the opening states, not what later turns say
    needed = []
    for position, call in enumerate(calls):
        uses = [
            match.group(2).split(".")[-1]
            for later in calls[position + 1 :]
            for value in later["arguments"].values()
            if isinstance(value, str)
            for match in [_REFERENCE.fullmatch(value)]
            if match and match.group(1) == call["id"]
        ]
        if not uses or any(_stated(messages, field) is None for field in uses):
            needed.append(call)
    return needed


def _tool_parameters(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Tool name -> parameters schema, from the request's OpenAI ``tools``."""
    tools: dict[str, dict[str, Any]] = {}
    for tool in body.get("tools") or []:
        function = tool.get("function") or {}
        if isinstance(function.get("name"), str):
            tools[function["name"]] = function.get("parameters") or {}
    return tools


def _error_of(content: Any) -> str | None:
    """The message of an error result (``{"error": {"message": ...}}``), None for a good one."""
    try:
        result = json.loads(content or "{}")
    except (TypeError, ValueError):
        return None
    if not isinstance(result, dict) or "error" not in result:
        return None
    error = result["error"]
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)


# -- what the customer has said, and what is still missing ------------------------------------------


def _asks(text: str) -> bool:
    return text.rstrip().endswith("?")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _asked_facts(question: str, facts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The facts ``question`` asks for: those whose every label word it contains ("order id");
    failing that, those whose label starts with a word it contains ("address" for "address city",
    how nested values are listed)."""
    words = set(_words(question))
    candidates = [(label.replace("_", " "), value) for label, value in facts if label != "from before"]
    named = [pair for pair in candidates if _words(pair[0]) and set(_words(pair[0])) <= words]
    return named or [pair for pair in candidates if _words(pair[0]) and _words(pair[0])[0] in words]


def _stating(facts: list[tuple[str, str]]) -> str:
    return f"Sure, {_listed([f'my {label} is {value}' for label, value in facts])}."


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _described(goal: str) -> str:
    """The goal as the agent would restate it: "help with case 01234"."""
    return re.sub(r"^I (?:need|want|would like)(?: to)? ", "", goal.strip().rstrip("."))


def _said_by_assistant(messages: list[dict[str, Any]], prefix: str) -> bool:
    return any(m["role"] == "assistant" and (m.get("content") or "").startswith(prefix) for m in messages)


def _unstated(call: dict[str, Any], parameters: dict[str, Any], messages: list[dict[str, Any]]) -> list[str]:
    """Labels of the call's parameters whose literal values no user message states yet.

    Only what a customer could know counts: references to earlier results (``$k.field``) do not,
    nor flags, enum members, constants or defaults, which no customer is asked to spell out.
    """
    said = "\n".join(m.get("content") or "" for m in messages if m["role"] == "user")
    properties = parameters.get("properties") or {}
    labels = []
    for name, value in call["arguments"].items():
        leaves = _literal_leaves(value, properties.get(name) if isinstance(properties.get(name), dict) else {})
        if any(not _states(said, leaf) for leaf in leaves):
            labels.append(name.replace("_", " "))
    return labels


def _states(text: str, value: str) -> bool:
    """Whether ``text`` holds ``value`` as a whole token: amount 2 is not stated by "W-12509"."""
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", text, re.IGNORECASE) is not None


def _literal_leaves(value: Any, schema: dict[str, Any]) -> list[str]:
    """The leaf values of an argument as a customer would write them (the way the engine lists facts)."""
    if isinstance(value, str) and _REFERENCE.fullmatch(value):
        return []
    if value is None or isinstance(value, bool):
        return []
    if value in (schema.get("enum") or []) or ("const" in schema and value == schema["const"]):
        return []
    if "default" in schema and value == schema["default"]:
        return []
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        return [leaf for key, item in value.items() for leaf in _literal_leaves(item, properties.get(key) or {})]
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [leaf for item in value for leaf in _literal_leaves(item, items)]
    return [value if isinstance(value, str) else json.dumps(value)]
