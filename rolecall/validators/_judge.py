"""The LLM judge: reads a dialogue the rules accepted and votes on its consistency."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rolecall.agents import JudgeReply, StructuredRole
from rolecall.prompts import render
from rolecall.scenario import JudgeSettings
from rolecall.validators._evidence import DialogueEvidence


@dataclass
class JudgeVerdict:
    accepted: bool
    votes: list[JudgeReply] = field(default_factory=list)
    mode: str = "majority"

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "mode": self.mode,
            "votes": [vote.model_dump() for vote in self.votes],
        }


def transcript(messages: list[dict[str, Any]]) -> str:
    """The dialogue as compact text: tool calls as ``name(args)``, results inline."""
    lines = []
    for message in messages:
        role = message.get("role")
        if role == "system":
            continue
        if role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                function = call.get("function", {})
                lines.append(
                    f"[assistant calls {function.get('name')}({function.get('arguments')}) as {call.get('id')}]"
                )
        elif role == "tool":
            lines.append(f"[result of {message.get('tool_call_id')}: {message.get('content')}]")
        else:
            label = "Customer" if role == "user" else "Assistant"
            lines.append(f"{label}: {message.get('content')}")
    return "\n".join(lines)


def tally(votes: list[JudgeReply], mode: str) -> bool:
    yes = sum(vote.consistent == "yes" for vote in votes)
    return yes == len(votes) if mode == "strict" else yes * 2 > len(votes)


async def judge(
    role: StructuredRole, evidence: DialogueEvidence, policy: str | None, settings: JudgeSettings
) -> JudgeVerdict:
    goals = "; ".join(turn.goal for turn in evidence.turns) or "(not recorded)"
    system, votes = render("judge/system"), []
    for vote in range(settings.votes):
        # Each vote's prompt says which review it is: a model with a fixed seed (the embedded
        # one) would otherwise give the same answer every time, and the votes would mean nothing.
        prompt = render(
            "judge/dialogue",
            policy=policy or "(none)",
            goals=goals,
            # Injected mistakes are known wrong by construction; the judge reads what the rules read.
            transcript=transcript(evidence.without_injected().messages),
            review=f"{vote + 1} of {settings.votes}",
        )
        votes.append(await role.ask(system, prompt, JudgeReply))
    return JudgeVerdict(tally(votes, settings.mode), votes, settings.mode)


def judge_summary(verdict: JudgeVerdict) -> str:
    against = [vote.reasoning for vote in verdict.votes if vote.consistent == "no"]
    yes = len(verdict.votes) - len(against)
    head = f"{yes}/{len(verdict.votes)} votes consistent ({verdict.mode})"
    return head if not against else f"{head}; against: {json.dumps(against[0], ensure_ascii=False)}"
