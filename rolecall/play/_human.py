"""A person in one role: the customer or the assistant, typed at the terminal.

``HumanBackend`` wraps the models' backend and hands out a human role in place of one of them;
everything else (planner, tool simulator, the other role, the judge) stays a model. What the
person types is recorded as written, with origin ``human`` in the record's provenance.

Commands, each on a line of its own:
- as the customer: any text is the next message; ``/done`` says the request is handled, ``/give_up``
  gives up; a text may end with `` /done`` to say both at once;
- as the assistant: any text is the reply; ``/call NAME {JSON arguments}`` calls a tool and shows
  the simulated result (several may follow one another); ``/tools`` lists the tools.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from rolecall.agents import (
    AssistantSession,
    AssistantStep,
    ExecutedCall,
    HumanUserReply,
    RoleBackend,
    StructuredRole,
    ToolExecutor,
    Usage,
)
from rolecall.scenario import Tool

_CALL = re.compile(r"^/call\s+([\w.-]+)\s*(.*)$", re.DOTALL)


class Terminal:
    """Where the person reads and types: lines on two streams (stdin and stdout by default)."""

    def __init__(self, read: TextIO, write: TextIO):
        self._read, self._write = read, write

    def show(self, text: str) -> None:
        self._write.write(text.rstrip("\n") + "\n")
        self._write.flush()

    def ask(self, prompt: str) -> str:
        """The next non-empty line; EOF is an error (the person left)."""
        while True:
            self._write.write(prompt)
            self._write.flush()
            line = self._read.readline()
            if not line:
                raise EOFError("the person at the terminal closed the input")
            if line.strip():
                return line.strip()


class HumanUser:
    """The customer, played by a person. Shown the persona and goal once, then each agent message."""

    def __init__(self, terminal: Terminal):
        self.terminal = terminal
        self.usage = Usage()
        self._briefed = False

    async def ask(self, system: str, prompt: str, reply_type: type[Any], history: Any = ()) -> Any:
        if not self._briefed:
            # The models' brief up to its reply-format rules, which are for models, not people.
            brief = system.split("Each of your replies", 1)[0].strip()
            self.terminal.show(f"--- You are the customer (/done when helped, /give_up to leave) ---\n{brief}\n---")
            self._briefed = True
        agent = prompt.split("\n\n", 1)[0].strip()  # the agent's message; the rest is for models
        self.terminal.show(f"agent: {agent}")
        line = self.terminal.ask("you> ")
        if line in ("/done", "/give_up"):
            return HumanUserReply(message="Thank you." if line == "/done" else "Never mind.", status=line[1:])
        if line.endswith(" /done"):
            return HumanUserReply(message=line[: -len(" /done")].strip(), status="done")
        return HumanUserReply(message=line, status="continue")


class HumanAssistant:
    """The assistant, played by a person who reads the customer and calls tools by hand."""

    def __init__(self, terminal: Terminal, tools: Sequence[Tool], execute: ToolExecutor, system: str | None):
        self.terminal, self.tools, self.execute = terminal, {t.name: t for t in tools}, execute
        self.usage = Usage()
        self._calls = 0
        self.withheld: frozenset[str] = frozenset()
        self.terminal.show(f"--- You are the assistant ---\n{(system or '').strip()}\n(/tools lists the tools)\n---")

    async def step(self, user_message: str | None) -> AssistantStep:
        if user_message is not None:
            self.terminal.show(f"customer: {user_message}")
        while True:
            line = self.terminal.ask("you> ")
            if line == "/tools":
                for tool in (t for t in self.tools.values() if t.name not in self.withheld):
                    self.terminal.show(f"{tool.name}: {tool.description}\n  {json.dumps(tool.parameters)}")
                continue
            match = _CALL.match(line)
            if not match:
                return AssistantStep(text=line, author="human")
            name, raw = match.group(1), match.group(2).strip() or "{}"
            if name not in self.tools or name in self.withheld:
                self.terminal.show(f"no tool {name!r} this turn; /tools lists them")
                continue
            try:
                arguments = json.loads(raw)
            except ValueError as error:
                self.terminal.show(f"arguments are not JSON: {error}")
                continue
            self._calls += 1
            call_id = f"human_{self._calls}"
            result = await self.execute(name, arguments, call_id)
            self.terminal.show(f"result: {result}")
            return AssistantStep(calls=[ExecutedCall(call_id, name, raw, result)], author="human")

    def withhold(self, names: frozenset[str]) -> None:
        self.withheld = names
        if names:
            self.terminal.show(f"(this turn you do not have: {', '.join(sorted(names))})")

    async def insert_failed_call(self, name: str, arguments: str, result: str) -> None:
        # The record shows an injected wrong call before the person's own: say so, so the
        # person reads the same conversation as the record.
        self.terminal.show(f"(injected before your call) {name}({arguments}) -> {result}")


class HumanBackend:
    """The models' backend, with a person in ``role`` ("user" or "assistant")."""

    def __init__(self, inner: RoleBackend, role: str, terminal: Terminal):
        if role not in ("user", "assistant"):
            raise ValueError(f"a person can play the user or the assistant, not {role!r}")
        self.inner, self.role, self.terminal = inner, role, terminal

    def structured(self, role: str) -> StructuredRole:
        return HumanUser(self.terminal) if role == "user" and self.role == "user" else self.inner.structured(role)

    def assistant(self, system_message: str | None, tools: Sequence[Tool], execute: ToolExecutor) -> AssistantSession:
        if self.role == "assistant":
            return HumanAssistant(self.terminal, tools, execute, system_message)
        return self.inner.assistant(system_message, tools, execute)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return getattr(self.inner, name)  # describe, close, limiter_for: the models' own
