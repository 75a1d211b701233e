"""The LLM judge: transcript shown to it, votes and how they are combined."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rolecall.agents import JudgeReply, Usage
from rolecall.planning import TurnPlan
from rolecall.scenario import JudgeSettings
from rolecall.validators import DialogueEvidence, judge, tally, transcript

MESSAGES = [
    {"role": "system", "content": "Policy text"},
    {"role": "user", "content": "Cancel W-1 please."},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "cancel", "arguments": '{"order": "W-1"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "cancelled"}'},
    {"role": "assistant", "content": "Done."},
]


class Votes:
    def __init__(self, verdicts: list[str]):
        self.verdicts = list(verdicts)
        self.prompts: list[str] = []
        self.usage = Usage()

    async def ask(self, system: str, prompt: str, reply_type: Any, history: Any = ()) -> Any:
        self.prompts.append(prompt)
        return JudgeReply(reasoning="checked", consistent=self.verdicts.pop(0))


def test_transcript_is_compact_and_skips_the_system_prompt() -> None:
    text = transcript(MESSAGES)
    assert "Policy text" not in text
    assert '[assistant calls cancel({"order": "W-1"}) as call_1]' in text
    assert '[result of call_1: {"status": "cancelled"}]' in text
    assert text.splitlines()[0] == "Customer: Cancel W-1 please."


@pytest.mark.parametrize(
    ("votes", "mode", "accepted"),
    [
        (["yes", "yes", "no"], "majority", True),
        (["yes", "no", "no"], "majority", False),
        (["yes", "no"], "majority", False),  # a tie is not a majority
        (["yes", "yes", "no"], "strict", False),
        (["yes", "yes", "yes"], "strict", True),
    ],
)
def test_votes_are_combined_by_mode(votes: list[str], mode: str, accepted: bool) -> None:
    replies = [JudgeReply(reasoning="r", consistent=v) for v in votes]
    assert tally(replies, mode) is accepted
    role = Votes(votes)
    evidence = DialogueEvidence(messages=MESSAGES, tools={}, turns=[TurnPlan(goal="cancel W-1", calls=[])])
    verdict = asyncio.run(judge(role, evidence, "Policy text", JudgeSettings(votes=len(votes), mode=mode)))
    assert verdict.accepted is accepted and len(verdict.votes) == len(votes)
    assert "Policy text" in role.prompts[0] and "cancel W-1" in role.prompts[0]


def test_each_vote_is_asked_as_its_own_review_so_a_fixed_seed_model_can_differ() -> None:
    role = Votes(["yes", "no", "yes"])
    evidence = DialogueEvidence(messages=MESSAGES, tools={}, turns=[TurnPlan(goal="cancel W-1", calls=[])])
    verdict = asyncio.run(judge(role, evidence, "Policy text", JudgeSettings(votes=3)))
    assert verdict.accepted and [v.consistent for v in verdict.votes] == ["yes", "no", "yes"]
    assert len(set(role.prompts)) == 3
    assert all(f"Review {k} of 3" in prompt for k, prompt in enumerate(role.prompts, 1))
