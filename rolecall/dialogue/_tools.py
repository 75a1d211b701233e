"""The tool simulator of one dialogue.

Everything that can be decided by code is: arguments that break the tool's schema get an
``invalid_argument`` error, and faults are drawn from the dialogue's seeded RNG, never left to
the LLM. Only successful results are invented by the model, which sees the call, the tool's
output schema, every earlier call and result of this dialogue, and the scenario's facts. Its
result must validate against the output schema: invalid results are sent back with the
validator's complaint, then repaired where possible, and only then is the dialogue failed.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rolecall.agents import Origin, RoleError, RunAborted, StructuredRole, json_object_reply, provenance
from rolecall.prompts import render
from rolecall.scenario import FaultSettings, Tool, value_validator
from rolecall.validators import INVALID_ARGUMENTS

_FAULT_MESSAGES = {
    "not_found": "No matching record was found.",
    "rate_limited": "Too many requests. Retry after a short wait.",
    "invalid_argument": "The request was rejected: an argument is not acceptable.",
    "permission_denied": "The caller is not allowed to perform this operation.",
    "timeout": "The backend did not answer in time.",
    "server_error": "The backend failed while handling the request.",
    "conflict": "The request conflicts with the current state of the record.",
}


def error_result(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **details}}


def _unknown_tool(name: str) -> dict[str, Any]:
    """What a call of a tool the assistant does not have gets, whoever answers it."""
    return error_result("not_found", f"Unknown operation {name!r}.")


def schema_errors(value: Any, schema: Mapping[str, Any]) -> list[str]:
    messages = []
    for error in value_validator(schema).iter_errors(value):
        path = "/".join(str(p) for p in error.absolute_path)
        messages.append(f"{path or '(root)'}: {error.message}")
    return messages


_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _real_date(text: str) -> str:
    """``text`` with an impossible day of its month ("2026-02-29", "2026-04-31") moved to the
    month's last day: small models write such dates, and a date-time format check refuses them."""
    match = _DAY.match(text)
    if not match:
        return text
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12 or day <= calendar.monthrange(year, month)[1]:
        return text
    return f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}{text[10:]}"


def repair(value: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Cheap fixes for near-misses: drop undeclared keys where they are forbidden, coerce
    numbers written as strings (and back), move an impossible day of a date or date-time to the
    month's last. Anything deeper is left to the retry."""
    properties = schema.get("properties") or {}
    fixed = dict(value)
    if schema.get("additionalProperties") is False:
        fixed = {k: v for k, v in fixed.items() if k in properties}
    for key, sub in properties.items():
        if key not in fixed or not isinstance(sub, Mapping):
            continue
        expected, item = sub.get("type"), fixed[key]
        if expected == "integer" and isinstance(item, str) and item.strip().lstrip("-").isdigit():
            fixed[key] = int(item)
        elif expected == "number" and isinstance(item, str):
            with contextlib.suppress(ValueError):
                fixed[key] = float(item)
        elif expected == "string" and isinstance(item, int | float) and not isinstance(item, bool):
            fixed[key] = str(item)
        elif expected == "object" and isinstance(item, dict):
            fixed[key] = repair(item, sub)
        elif sub.get("format") in ("date", "date-time") and isinstance(item, str):
            fixed[key] = _real_date(item)
    return fixed


@dataclass(frozen=True)
class SimulatedCall:
    """One call the simulator answered, in order: the "state" later calls must agree with."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    result: Any
    fault: str | None
    origin: dict[str, Any]


class ToolSimulationFailed(Exception):
    """The model could not produce a valid result for a call."""


class ToolSimulator:
    """Answers the tool calls of one dialogue, statelessly apart from the dialogue itself."""

    def __init__(
        self,
        tools: Mapping[str, Tool],
        output_schemas: Mapping[str, Mapping[str, Any]],
        role: StructuredRole,
        rng: random.Random,
        faults: FaultSettings,
        facts: Mapping[str, Any],
        date: str,
        attempts: int = 3,
    ):
        self.tools = tools
        self.output_schemas = output_schemas
        self.role = role
        self.rng = rng
        self.fault_settings = faults
        # The persona's facts as every tool prompt shows them: written once per dialogue, not per call.
        self._facts_text = json.dumps(facts, ensure_ascii=False, indent=1) if facts else "(none)"
        self.date = date
        self.attempts = attempts
        self.calls: list[SimulatedCall] = []
        # Calls made before the dialogue, (name, arguments, output): shared state every later
        # result must agree with, shown to the model but never part of the dialogue's calls.
        self.prior: list[tuple[str, dict[str, Any], Any]] = []
        self.failure: str | None = None
        self.failure_cause = ""
        # A model error that stops the run: the agent framework would turn an exception raised
        # inside a tool into an error result, so it is kept here for the session to raise.
        self.aborted: RunAborted | None = None
        # Tool name -> output paths a planned call takes a value from ("services.0.ticket_id"):
        # results of that tool must hold a value there, or the plan cannot be carried out.
        self.needed_fields: dict[str, list[tuple[str, ...]]] = {}
        # Tool name -> (output path, value) for values a planned call passes as literals that
        # this tool's results would list ("items.0.item_id" -> "LI-20931"). Without them the
        # simulated order lists other items, and the assistant rightly acts on one of those.
        self.needed_values: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
        # Parallel calls of one assistant message arrive concurrently; answering them one at
        # a time, in arrival order, keeps results deterministic and mutually consistent.
        self._lock = asyncio.Lock()

    @property
    def faults(self) -> dict[str, str]:
        return {call.call_id: call.fault for call in self.calls if call.fault}

    async def execute(self, name: str, arguments: dict[str, Any], call_id: str) -> str:
        """Result text for one call. Never raises: a failure is recorded and returned as an error."""
        async with self._lock:
            edits: list[str] = []
            try:
                result, fault = await self._answer(name, arguments, edits)
            except (ToolSimulationFailed, RoleError) as error:
                self.failure = f"{name}: {error}"
                self.failure_cause = getattr(error, "cause", "") or type(error).__name__
                result, fault = error_result("server_error", "The backend failed."), "simulation_failed"
            except RunAborted as error:
                self.aborted = error
                result, fault = error_result("server_error", "The backend failed."), "simulation_failed"
            if fault:  # every error result is written by code, never by the model
                origin = provenance(Origin.SCRIPTED, fault=fault)
            else:
                origin = provenance(Origin.EDITED, edits=edits) if edits else provenance(Origin.MODEL)
            self.calls.append(SimulatedCall(call_id, name, arguments, result, fault, origin))
            return json.dumps(result, ensure_ascii=False)

    def answered(self, call_id: str) -> bool:
        return any(call.call_id == call_id for call in self.calls)

    def reject_unrun(self, call_id: str, name: str, raw_arguments: str, offered: bool = True) -> str:
        """The result of a call the agent framework never passed to :meth:`execute`: a tool it
        was not offered (fault ``unknown_tool``), else arguments that are not a JSON object
        (``invalid_argument``). An error as JSON, like every other result, recorded as written by code."""
        if not offered or name not in self.tools:
            result, fault = _unknown_tool(name), "unknown_tool"
        else:
            result = error_result("invalid_argument", "The arguments are not a valid JSON object.")
            fault = INVALID_ARGUMENTS
        origin = provenance(Origin.SCRIPTED, fault=fault)
        self.calls.append(SimulatedCall(call_id, name, {"raw": raw_arguments}, result, fault, origin))
        return json.dumps(result, ensure_ascii=False)

    def origin_of(self, call_id: str) -> dict[str, Any]:
        """Who wrote the result of call ``call_id`` (the model, or code: a fault, an edit)."""
        return next((call.origin for call in self.calls if call.call_id == call_id), provenance(Origin.MODEL))

    async def simulate(self, name: str, arguments: dict[str, Any]) -> Any:
        """A successful result for a call made outside the dialogue (prior calls)."""
        async with self._lock:
            return await self._invent(self.tools[name], arguments, [])

    def remember_prior(self, name: str, arguments: dict[str, Any], output: Any) -> None:
        """A call made before the dialogue: its output is state later results must agree with."""
        self.prior.append((name, arguments, output))

    async def _answer(self, name: str, arguments: dict[str, Any], edits: list[str]) -> tuple[Any, str | None]:
        # One draw per call whatever happens next, so the fault sequence depends only on the
        # seed and the number of calls.
        draw = self.rng.random()
        tool = self.tools.get(name)
        if tool is None:
            return _unknown_tool(name), "unknown_tool"
        problems = schema_errors(arguments, tool.parameters)
        if problems:
            return error_result("invalid_argument", "; ".join(problems[:3])), INVALID_ARGUMENTS
        if draw < self.fault_settings.rate:
            kind = self.fault_settings.kinds[int(draw / self.fault_settings.rate * len(self.fault_settings.kinds))]
            return error_result(kind, _FAULT_MESSAGES[kind]), kind
        before = self._prior_output(tool, arguments)
        if before is not None:
            edits.append("the output of the same call made before the conversation")
            return json.loads(json.dumps(before)), None
        return await self._invent(tool, arguments, edits), None

    def _prior_output(self, tool: Tool, arguments: dict[str, Any]) -> Any:
        """The output of a prior call that this reading call repeats, while nothing has been
        written since: the same query against the same state has the same answer (a model asked
        again draws another one). None otherwise."""
        if tool.effect[0] == "write":
            return None
        if any(self.tools[call.name].effect[0] == "write" for call in self.calls if call.name in self.tools):
            return None
        return next((output for name, args, output in self.prior if name == tool.name and args == arguments), None)

    async def _invent(self, tool: Tool, arguments: dict[str, Any], edits: list[str]) -> Any:
        """A valid result from the model; ``edits`` gets a line for each change code made to it."""
        schema = self.output_schemas.get(tool.name) or {"type": "object"}
        # A value the plan needs listed needs a place to go: the object holding it (at least
        # one item, in a list); the value itself is set afterwards.
        holders = [path[:-1] for path, _ in self.needed_values.get(tool.name, []) if len(path) > 1]
        needed = [*self.needed_fields.get(tool.name, []), *holders]
        for path in needed:
            schema = with_value_at(schema, path)
        reply_type = json_object_reply(f"{tool.name}_result", dict(schema))
        feedback = ""
        problems: list[str] = []
        for _ in range(self.attempts):
            prompt = render(
                "tool_simulator/call",
                date=self.date,
                tool_name=tool.name,
                tool_description=tool.description or "(none)",
                parameters=json.dumps(tool.parameters, ensure_ascii=False),
                output_schema=json.dumps(schema, ensure_ascii=False),
                facts=self._facts_text,
                history=self._history(),
                arguments=json.dumps(arguments, ensure_ascii=False),
                feedback=feedback,
            )
            reply = await self.role.ask(render("tool_simulator/system"), prompt, reply_type)
            candidate = reply.root
            problems = schema_errors(candidate, schema)
            if problems:
                repaired = repair(candidate, schema)
                if repaired != candidate and not schema_errors(repaired, schema):
                    edits.append("repaired to match the output schema: " + "; ".join(problems[:3]))
                candidate = repaired
            if not schema_errors(candidate, schema):
                return self._with_needed_values(tool.name, candidate, schema, edits)
            feedback = "\nYour previous result did not match the output schema: " + "; ".join(problems[:5])
        raise ToolSimulationFailed(f"no result matching the output schema; last problems: {'; '.join(problems[:3])}")

    def _with_needed_values(self, name: str, result: Any, schema: Mapping[str, Any], edits: list[str]) -> Any:
        """``result`` holding this turn's planned values for tool ``name``; a value the schema
        refuses there (a pattern, say) is left out rather than break the result. This runs for
        every model (the simulated world must agree with the plan); each change is listed in
        ``edits`` and the result is marked ``edited`` in the record."""
        filled: dict[tuple[str, ...], int] = {}  # path -> list items already given a value
        for path, value in self.needed_values.get(name, []):
            changed = with_listed_value(result, path, value, filled.get(path, 0))
            if changed is not result and not schema_errors(changed, schema):
                result = changed
                edits.append(f"set {'.'.join(path)} = {json.dumps(value, ensure_ascii=False)}")
                filled[path] = filled.get(path, 0) + 1
        return result

    def _history(self) -> str:
        def line(name: str, arguments: Any, result: Any) -> str:
            return f"{name}({json.dumps(arguments, ensure_ascii=False)}) -> {json.dumps(result, ensure_ascii=False)}"

        lines = [line(*prior) + "  [before this conversation]" for prior in self.prior]
        lines += [line(call.name, call.arguments, call.result) for call in self.calls]
        return "\n".join(lines) or "(none yet)"


def with_value_at(schema: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """A copy of an output ``schema`` in which ``path`` must hold a value: each object on the
    way requires the next field, a list (``0``) holds at least one item, and the field itself
    may not be null. Parts the schema does not declare are left open."""
    copied = json.loads(json.dumps(schema))
    node: Any = copied
    for part in path:
        if not isinstance(node, dict):
            break
        if part.isdigit() and isinstance(node.get("items"), dict):
            node["minItems"] = max(int(node.get("minItems", 0)), int(part) + 1)
            node = node["items"]
            continue
        properties = node.get("properties")
        if not isinstance(properties, dict) or not isinstance(properties.get(part), dict):
            break
        node["required"] = list(dict.fromkeys([*(node.get("required") or []), part]))
        node = properties[part]
    else:
        types = node.get("type") if isinstance(node, dict) else None
        if isinstance(types, list) and "null" in types and len(types) > 1:
            node["type"] = [t for t in types if t != "null"]
    return copied


def with_listed_value(result: Any, path: tuple[str, ...], value: Any, item: int = 0) -> Any:
    """``result`` with ``value`` at output ``path`` (list items as ``0``): unchanged when it is
    already there (in any item of a list on the way), else a copy with it set in list item
    ``item`` (or the last item, in a shorter list). ``result`` itself when the path is not there."""
    if _holds(result, path, value):
        return result
    copied = json.loads(json.dumps(result))
    node: Any = copied
    for part in path[:-1]:
        if part.isdigit():
            if not isinstance(node, list) or not node:
                return result
            node = node[min(item, len(node) - 1)]
        elif isinstance(node, dict) and isinstance(node.get(part), (dict, list)):
            node = node[part]
        else:
            return result
    if not isinstance(node, dict):
        return result
    node[path[-1]] = value
    return copied


def _holds(node: Any, path: tuple[str, ...], value: Any) -> bool:
    if not path:
        return bool(node == value)
    part, rest = path[0], path[1:]
    if part.isdigit():
        return isinstance(node, list) and any(_holds(entry, rest, value) for entry in node)
    return isinstance(node, dict) and part in node and _holds(node[part], rest, value)
