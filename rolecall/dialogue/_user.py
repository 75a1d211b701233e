"""The simulated user of one turn: its prompt, what it knows, and one model reply at a time.

It implements the aids' :class:`~rolecall.assist.TurnUser` view, so the aids can ask it for
drafts without knowing the session. The chat is shown to the model role-reversed (the agent's
messages as the other side, the customer's as the model's own replies) so it stays the
customer, and the agent's last message ends with a reminder of who is speaking: small models
otherwise answer a greeting as the helpful assistant they were tuned to be.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from rolecall.agents import StructuredRole, UserReply
from rolecall.assist import Detail, in_first_person
from rolecall.dialogue._types import Dialogue
from rolecall.planning import TurnPlan
from rolecall.prompts import render
from rolecall.scenario import Persona, Tool
from rolecall.validators import unstated_literals

UPFRONT = "upfront"
ON_REQUEST = "on_request"
MISSING_PARAMETER = "missing_parameter"  # upfront, but for one value given when asked


class TurnUserSimulator:
    """The user's side of one turn of ``dialogue`` (a :class:`~rolecall.assist.TurnUser`)."""

    def __init__(
        self,
        role: StructuredRole,
        dialogue: Dialogue,
        plan: TurnPlan,
        tools: dict[str, Tool],
        disclosure: str,
        withheld: Detail | None = None,
        behaviours: Sequence[str] = (),
    ):
        self.role = role
        self.dialogue = dialogue
        self.plan = plan
        self.tools = tools
        self.disclosure = disclosure
        # missing_parameter: the one value the opening leaves out, given when the agent asks.
        self.withheld = withheld
        self.opened = False  # the turn's opening is said: the withheld value may be given now
        # Difficult users: the behaviours (tangent, impatient) the user's prompt describes.
        self.behaviours = tuple(behaviours)
        # A one-off instruction for the next reply (a change of mind), said before any hint.
        self.instruction = ""
        self.changed = ""  # the change of mind, once made, as the system prompt states it

    async def draft(
        self, *, opening: bool = False, correction: str = "", example: Sequence[Detail] = (), hint: str = ""
    ) -> UserReply:
        earlier_plans = [t for t in self.dialogue.turns if t is not self.plan]
        # A turn whose goal tool the agent did not have (missing_function) was not taken care of.
        declined = self.dialogue.unavailable_turns()
        done = [t.goal for i, t in enumerate(earlier_plans) if i not in declined]
        not_done = [t.goal for i, t in enumerate(earlier_plans) if i in declined]
        system = render(
            "user/system",
            persona=persona_text(self.dialogue.persona),
            date=self.dialogue.date,
            goal=self.plan.goal,
            changed=self.changed,
            earlier_goals=(render("user/earlier_done", goals="; ".join(done)) if done else "")
            + (render("user/earlier_not_done", goals="; ".join(not_done)) if not_done else ""),
            known_values=self.known_values(),
            disclosure=self._rule(f"user/disclosure_{self.disclosure}").strip(),
            memory=render("user/memory") if self.dialogue.prior_calls else "",
            behaviour="".join(render(f"user/behaviour_{name}") for name in self.behaviours)
            + (render("user/follow_up") if self.plan.builds_on(earlier_plans) else ""),
        )
        if correction:
            system += "\n\n" + correction
        greeting = render("user/opening").strip()
        history: list[tuple[str, str]] = [("user", greeting)]
        for message in self.dialogue.messages:
            if message["role"] == "user":
                history.append(("assistant", json.dumps({"message": message["content"], "status": "continue"})))
            elif message["role"] == "assistant" and message.get("content"):
                history.append(("user", message["content"]))
        if history[-1][0] == "assistant":  # the customer spoke last (should not happen): prompt again
            history.append(("user", greeting))
        *earlier_turns, (_, prompt) = history
        persona = self.dialogue.persona
        who = f"{persona.name}, the customer" if has_own_name(persona) else "the customer"
        if opening and example:
            # An example to copy works where an instruction does not: told to "give these
            # details", the 1.5B model asked the agent for them in 4 of 4 probes; with an
            # example it gave them in 3 of 3. Only the aids pass one.
            shown = " ".join(f"{label[:1].upper()}{label[1:]}: {value}." for label, value in example)
            task = render("assist/user_reminder_details", example=shown)
        elif opening:
            task = self._rule(f"user/reminder_opening_{self.disclosure}")
        else:
            task = " ".join(part for part in (self.instruction, hint) if part)
        reminder = render("user/reminder", who=who, task=task)
        return await self.role.ask(system, f"{prompt}\n\n{reminder.strip()}", UserReply, history=earlier_turns)

    def _rule(self, template: str) -> str:
        if self.withheld is None:
            return render(template)
        return render(template, label=self.withheld[0])

    def unstated(self, texts: Sequence[str]) -> list[Detail]:
        """The plan's literal values (labelled as a customer would write them) that ``texts`` do
        not state; before the opening is said, never the value it must leave out."""
        missing: list[Detail] = []
        for call in self.plan.calls:
            parameters = self.tools[call.name].parameters
            for path, value in unstated_literals(call.literals(), parameters, list(texts)):
                # "order number: W-48213": a bare value is easy for a small model to skip.
                shown = detail(path, value)
                if shown not in missing and not (shown == self.withheld and not self.opened):
                    missing.append(shown)
        return missing

    def user_texts(self) -> list[str]:
        return [m["content"] for m in self.dialogue.messages if m["role"] == "user"]

    def spoken(self) -> list[str]:
        return [m["content"] for m in self.dialogue.messages if m["role"] in ("user", "assistant") and m.get("content")]

    def request(self) -> str:
        persona = self.dialogue.persona
        names = [persona.name, persona.name.split()[0]] if has_own_name(persona) else []
        return in_first_person(self.plan.goal, names)

    def known_values(self) -> str:
        """Everything the user may say, as plain "name: value" lines (never JSON: users do not speak it)."""
        lines = [f"- {key}: {value}" for key, value in self.dialogue.persona.facts.items()]
        for call in self.plan.calls:  # hidden calls' literals too: the user states them, unprompted
            for key, value in call.literals().items():
                for line in _plain_lines(key, value):
                    if line not in lines:
                        lines.append(line)
        for prior in self.dialogue.prior_calls:
            lines.append(f"- from before: {prior.note or render('user/prior_note').strip()}")
            lines.extend(line for key, value in _as_mapping(prior.output).items() for line in _plain_lines(key, value))
        return "\n".join(lines) or "- (nothing specific)"


def detail(path: str, value: Any) -> Detail:
    """A planned value as the customer states it: ("order id", "W-48213") for ``order_id``."""
    label = path.rsplit(".", 1)[-1].split("[")[0].replace("_", " ")
    return label, value if isinstance(value, str) else _json(value)


def has_own_name(persona: Persona) -> bool:
    """False for the "persona-N" placeholder the loader gives a persona written as plain text."""
    return re.fullmatch(r"persona-\d+", persona.name) is None


def persona_text(persona: Persona, with_facts: bool = False) -> str:
    text = f"{persona.name}: {persona.description}" if has_own_name(persona) else persona.description
    if with_facts and persona.facts:  # the planner must reuse them, or the user ends up with two order numbers
        text += "\nThe user's own details: " + "; ".join(f"{key}: {value}" for key, value in persona.facts.items())
    return text


def _as_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}


def _plain_lines(key: str, value: Any, limit: int = 12) -> list[str]:
    """``{"address": {"city": "Oslo"}}`` -> ``- address city: Oslo``; lists numbered from 1."""
    if isinstance(value, dict):
        nested = [line for k, v in value.items() for line in _plain_lines(f"{key} {k}", v, limit)]
        return nested[:limit]
    if isinstance(value, list):
        nested = [line for n, v in enumerate(value, 1) for line in _plain_lines(f"{key} {n}", v, limit)]
        return nested[:limit]
    text = value if isinstance(value, str) else json.dumps(value)
    return [f"- {key.replace('_', ' ')}: {text}"]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
