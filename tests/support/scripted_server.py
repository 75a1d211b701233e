"""A scripted OpenAI-compatible chat server for end-to-end tests, on 127.0.0.1.

It plays every role deterministically, recognising the role by its system prompt, so tests
drive the real ``OpenAIChatCompletionClient`` over real HTTP with no network and no model:

- planner: chains the suggested tools, wiring each required parameter to an earlier call's
  output when the prompt lists a connection, else a literal made from the parameter's schema;
- user: opens each turn with the goal and every value it knows, says "done" once answered;
- assistant: an oracle that replays the plan the planner produced (found through the goal
  text in the conversation), resolving references against the real tool results;
- tool simulator: a result generated from the output schema, echoing the call's arguments;
- judge: votes "yes".

Knobs make it misbehave on purpose: ``sloppy_every`` (the assistant invents an argument in
some dialogues, so the validator rejects them) and ``fail_roles`` (HTTP 500 for a role).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "scripted-1"


def _digest(*parts: Any) -> int:
    return int(hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12], 16)


def _from_pattern(pattern: str, seed: int) -> str:
    """A string matching simple regexes such as ``^W-[0-9]{5}$`` (classes, counts, literals)."""
    body = pattern.strip("^$")
    out = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "[":
            end = body.index("]", i)
            choices = _expand_class(body[i + 1 : end])
            i = end + 1
        elif char == "\\" and i + 1 < len(body):
            code = body[i + 1]
            choices = "0123456789" if code == "d" else ("abcdefgh" if code == "w" else code)
            i += 2
        elif char == "(":
            end = body.index(")", i)
            alternatives = body[i + 1 : end].split("|")
            choices = alternatives[seed % len(alternatives)]
            out.append(choices)
            i = end + 1
            continue
        else:
            choices = char
            i += 1
        count = 1
        if i < len(body) and body[i] == "{":
            end = body.index("}", i)
            count = int(body[i + 1 : end].split(",")[0])
            i = end + 1
        elif i < len(body) and body[i] in "+*?":
            count = 0 if body[i] in "*?" else 2
            i += 1
        for _ in range(count):
            seed = (seed * 1103515245 + 12345) % 2**31
            out.append(choices[seed % len(choices)])
    return "".join(out)


def _expand_class(spec: str) -> str:
    chars = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            chars.extend(chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            chars.append(spec[i])
            i += 1
    return "".join(chars)


def value_for(name: str, schema: dict[str, Any], seed: int, date: str) -> Any:
    """A deterministic value that validates against ``schema``."""
    if "enum" in schema:
        return schema["enum"][seed % len(schema["enum"])]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        return object_for(schema, seed, date)
    if kind == "array":
        item = schema.get("items") or {"type": "string"}
        count = max(1, schema.get("minItems", 1))
        return [value_for(name, item, seed + n, date) for n in range(count)]
    if kind == "integer":
        return max(schema.get("minimum", 1), min(schema.get("maximum", 10**6), 1 + seed % 5))
    if kind == "number":
        return float(max(schema.get("minimum", 1), min(schema.get("maximum", 10**6), 10 + seed % 50)))
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if fmt == "date":
        return date
    if fmt == "date-time":
        return f"{date}T10:00:00Z"
    if fmt == "email":
        return f"user{seed % 1000}@example.com"
    if "pattern" in schema:
        return _from_pattern(schema["pattern"], seed)
    text = f"{name.replace('_', '-')}-{seed % 100000}"
    return text[: schema.get("maxLength", 64)].ljust(schema.get("minLength", 0), "x")


def object_for(schema: dict[str, Any], seed: int, date: str, known: dict[str, Any] | None = None) -> dict[str, Any]:
    known = known or {}
    result = {}
    for offset, (name, sub) in enumerate((schema.get("properties") or {}).items()):
        if name in known and isinstance(known[name], str | int | float | bool):
            result[name] = known[name]
        else:
            result[name] = value_for(name, sub if isinstance(sub, dict) else {}, seed + offset * 7919, date)
    return result


def _section(text: str, header: str) -> str:
    start = text.find(header)
    if start < 0:
        return ""
    rest = text[start + len(header) :]
    end = rest.find("\n\n")
    return rest if end < 0 else rest[:end]


class ScriptedBrain:
    """The role logic, separate from HTTP so it can be reasoned about on its own."""

    def __init__(self, sloppy_every: int = 0):
        self.sloppy_every = sloppy_every
        self.plans: dict[str, dict[str, Any]] = {}  # goal -> {"calls": [...], "prior": {id: output}}
        self.lock = threading.Lock()

    # planner ------------------------------------------------------------------------------------

    def plan(self, system: str, prompt: str) -> dict[str, Any]:
        first = int(re.search(r"id: \$(\d+)", system).group(1))
        date = re.search(r"Today is (\S+)\.", prompt).group(1).rstrip(".")
        suggested = [s.strip() for s in _section(prompt, "Suggested order").split("\n", 1)[1].split(",")]
        tools = self._tool_parameters(prompt)
        connections = re.findall(r"- (\w+)\.([\w.]+) -> (\w+)\((\w+)\)", _section(prompt, "Ways these tools connect"))
        calls: list[dict[str, Any]] = []
        ids: dict[str, str] = {}
        for name in suggested:
            schema = tools[name]
            arguments: dict[str, Any] = {}
            for parameter in schema.get("properties", {}):
                source = next((c for c in connections if c[2] == name and c[3] == parameter and c[0] in ids), None)
                if source is not None:
                    arguments[parameter] = f"{ids[source[0]]}.{source[1]}"
                elif parameter in schema.get("required", []):
                    sub = schema["properties"][parameter]
                    arguments[parameter] = value_for(parameter, sub, _digest(prompt, name, parameter), date)
            linked = any(isinstance(v, str) and v.startswith("$") for v in arguments.values())
            if calls and not linked:
                continue  # not connected to the calls so far: a plan is one task
            call_id = f"${first + len(calls)}"
            ids[name] = call_id
            calls.append({"id": call_id, "name": name, "arguments": arguments})
        goal = f"I need help with case {_digest(prompt) % 100000:05d}."
        prior = {
            match.group(1): json.loads(match.group(2))
            for match in re.finditer(r"(\$\d+) = \w+\(.*?\) -> (.*?)  \[before the conversation\]", prompt)
        }
        with self.lock:
            self.plans[goal] = {"calls": calls, "prior": prior}
        return {"goal": goal, "calls": calls}

    @staticmethod
    def _tool_parameters(prompt: str) -> dict[str, dict[str, Any]]:
        tools = {}
        for match in re.finditer(r"^- (\w+): .*?\n  parameters: (.*)$", prompt, re.MULTILINE):
            tools[match.group(1)] = json.loads(match.group(2))
        return tools

    # user ---------------------------------------------------------------------------------------

    def user(self, system: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The chat arrives role-reversed: the customer's own turns are the assistant messages."""
        goal = _section(system, "What you want the agent to do for you now:").strip()
        known = re.findall(r"^- ([\w ]+): (.*)$", _section(system, "Facts you know"), re.MULTILINE)
        said = [json.loads(m["content"])["message"] for m in messages if m["role"] == "assistant"]
        asked = any(goal in text for text in said)
        if asked and messages[-1]["role"] == "user":
            return {"message": "Thank you, that is everything.", "status": "done"}
        details = ", ".join(f"my {key.replace('_', ' ')} is {value}" for key, value in known if key != "from before")
        extra = [value for key, value in known if key == "from before"]
        message = f"Hello. {goal} For reference, {details}." if details else f"Hello. {goal}"
        if extra:
            message += " Also, " + "; ".join(extra)
        return {"message": message[:590], "status": "continue"}

    # assistant ----------------------------------------------------------------------------------

    def assistant(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        with self.lock:
            plans = dict(self.plans)
        goal, start = None, 0
        for position, message in enumerate(messages):
            if message["role"] == "user":
                for candidate in plans:
                    if candidate in (message.get("content") or ""):
                        goal, start = candidate, position
        if goal is None:
            return {"content": "How can I help you today?"}
        plan = plans[goal]
        made = [m for m in messages[start:] if m["role"] == "tool"]
        if made and "error" in json.loads(made[-1]["content"] or "{}"):
            return {"content": f"Sorry, that did not work: {json.loads(made[-1]['content'])['error']['message']}"}
        if len(made) >= len(plan["calls"]):
            return {"content": f"Done. Here is the result: {made[-1]['content'] if made else ''}"}
        call = plan["calls"][len(made)]
        arguments = {key: self._resolve(value, messages, plans) for key, value in call["arguments"].items()}
        if self.sloppy_every and _digest(goal) % self.sloppy_every == 0 and arguments:
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

    def _resolve(self, value: Any, messages: list[dict[str, Any]], plans: dict[str, Any]) -> Any:
        match = re.fullmatch(r"(\$\d+)\.([\w.]+)", value) if isinstance(value, str) else None
        if match is None:
            return value
        call_id, path = match.group(1), match.group(2).split(".")
        output = self._output_of(call_id, messages, plans)
        for part in path:
            output = output[int(part)] if isinstance(output, list) else output[part]
        return output

    @staticmethod
    def _output_of(call_id: str, messages: list[dict[str, Any]], plans: dict[str, Any]) -> Any:
        for goal, plan in plans.items():
            if call_id in plan["prior"]:
                return plan["prior"][call_id]
            ids = [c["id"] for c in plan["calls"]]
            if call_id not in ids:
                continue
            start = next(
                (i for i, m in enumerate(messages) if m["role"] == "user" and goal in (m.get("content") or "")), None
            )
            if start is None:
                continue
            results = [m for m in messages[start:] if m["role"] == "tool"]
            return json.loads(results[ids.index(call_id)]["content"])
        raise KeyError(call_id)

    # tool simulator -------------------------------------------------------------------------------

    @staticmethod
    def tool_result(prompt: str) -> dict[str, Any]:
        schema = json.loads(re.search(r"^Output schema \(.*?\): (.*)$", prompt, re.MULTILINE).group(1))
        call = re.search(r"The call to answer now:\n\w+\((.*)\)", prompt)
        arguments = json.loads(call.group(1))
        date = re.search(r"Today is (\S+)\.", prompt).group(1).rstrip(".")
        return object_for(schema, _digest(arguments, schema), date, known=arguments)

    @staticmethod
    def output_schema(prompt: str) -> dict[str, Any]:
        """An inferred output schema: an id per entity word of the tool's name, and a status."""
        name = json.loads(prompt)["name"]
        verbs = {"get", "find", "list", "search", "by", "send", "enable", "disable", "create", "update"}
        words = [w for w in name.split("_") if w not in verbs]
        properties = {f"{word}_id": {"type": "string"} for word in words[:2]}
        properties["status"] = {"type": "string"}
        return {"type": "object", "properties": properties, "required": sorted(properties)}


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length))
        self.server.requests.append(body)
        try:
            _role, message = self.server.answer(body)
        except _Injected as failure:
            self._send(failure.status, {"error": {"message": "injected failure", "type": "server_error"}})
            return
        usage = {
            "prompt_tokens": len(json.dumps(body["messages"])) // 4,
            "completion_tokens": len(json.dumps(message)) // 4,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        self._send(
            200,
            {
                "id": f"chatcmpl-{len(self.server.requests)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body.get("model", MODEL),
                "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
                "usage": usage,
            },
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Injected(Exception):
    def __init__(self, status: int):
        self.status = status


ROLE_MARKERS = {
    "You are the planner": "planner",
    "You are a customer chatting": "user",
    "You simulate a backend system": "tool_simulator",
    "You review a simulated conversation": "judge",
    "You write JSON Schemas": "output_schema",
}


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sloppy_every: int = 0, fail_roles: dict[str, int] | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.brain = ScriptedBrain(sloppy_every)
        self.fail_roles = dict(fail_roles or {})  # role -> how many requests to fail (-1: all)
        self.requests: list[dict[str, Any]] = []
        self.role_counts: dict[str, int] = {}
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()

    @staticmethod
    def role_of(body: dict[str, Any]) -> str:
        system = next((m.get("content") or "" for m in body["messages"] if m["role"] == "system"), "")
        for marker, role in ROLE_MARKERS.items():
            if marker in system:
                return role
        return "assistant"

    def answer(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        role = self.role_of(body)
        self.role_counts[role] = self.role_counts.get(role, 0) + 1
        remaining = self.fail_roles.get(role, 0)
        if remaining:
            self.fail_roles[role] = remaining - 1 if remaining > 0 else remaining
            raise _Injected(500)
        messages = body["messages"]
        system = next((m.get("content") or "" for m in messages if m["role"] == "system"), "")
        prompt = next((m.get("content") or "" for m in reversed(messages) if m["role"] == "user"), "")
        brain = self.brain
        if role == "planner":
            return role, {"content": json.dumps(brain.plan(system, prompt))}
        if role == "user":
            return role, {"content": json.dumps(brain.user(system, messages))}
        if role == "tool_simulator":
            return role, {"content": json.dumps(brain.tool_result(prompt))}
        if role == "judge":
            return role, {"content": json.dumps({"reasoning": "The calls use stated values.", "consistent": "yes"})}
        if role == "output_schema":
            return role, {"content": json.dumps(self.brain.output_schema(prompt))}
        return role, brain.assistant(messages)


def model_config(base_url: str, structured_output: bool = True) -> dict[str, Any]:
    """An AutoGen component config pointing at the scripted server."""
    return {
        "provider": "autogen_ext.models.openai.OpenAIChatCompletionClient",
        "config": {
            "model": MODEL,
            "base_url": base_url,
            "api_key": "${ROLECALL_TEST_KEY}",
            "max_retries": 0,
            "model_info": {
                "vision": False,
                "function_calling": True,
                "json_output": True,
                "structured_output": structured_output,
                "family": "unknown",
            },
        },
    }
