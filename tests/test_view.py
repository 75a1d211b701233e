"""`rolecall view`: the summary line under each dialogue and the --rejected mode."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from rolecall._view import is_rejected, summary_line, turn_notes
from tests.run.conftest import SCENARIOS, run_cli


def _call(call_id: str, name: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


RECORD: dict[str, Any] = {
    "id": "hand-1",
    "messages": [
        {"role": "user", "content": "Refund W-1."},
        {"role": "assistant", "content": None, "tool_calls": [_call("call_1", "find_order")]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
        {"role": "assistant", "content": None, "tool_calls": [_call("call_2", "refund"), _call("call_3", "refund")]},
        {"role": "tool", "tool_call_id": "call_2", "content": "{}"},
        {"role": "tool", "tool_call_id": "call_3", "content": "{}"},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "Thanks."},
    ],
    "metadata": {
        "plan": {
            "turns": [
                {
                    "goal": "refund",
                    "calls": [{"id": "$1", "name": "find_order"}, {"id": "$2", "name": "get_items"}],
                    "hidden": ["$1", "$2"],
                }
            ]
        },
        "validation": {"checks": [{"name": "known_tools", "passed": True, "reason": ""}], "judge": None},
    },
}


def test_summary_counts_turns_calls_and_hidden_calls_made() -> None:
    assert summary_line(RECORD) == "2 user turns · 3 tool calls · hidden made 1/2 · accepted"
    rejected = copy.deepcopy(RECORD)
    rejected["metadata"]["validation"]["checks"].append({"name": "goal_calls_made", "passed": False, "reason": "x"})
    assert summary_line(rejected).endswith("rejected by goal_calls_made") and is_rejected(rejected)
    judged = copy.deepcopy(RECORD)
    judged["metadata"]["validation"]["judge"] = {"accepted": False}
    assert summary_line(judged).endswith("rejected by the judge") and is_rejected(judged)
    assert not is_rejected(RECORD)


def test_rejected_mode_shows_only_rejected_dialogues_with_their_failed_checks_first(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_cli(
        "run",
        SCENARIOS / "it_helpdesk.yaml",
        "-o",
        out,
        "-n",
        "8",
        "--model",
        "mock:sloppy_every=2",
        "-q",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert rejected, "the sloppy mock should get some dialogues rejected"
    shown = run_cli("view", out, "--rejected", "--limit", "50", "--width", "400", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    # A line of its own per dialogue: a tool's error ("The request was rejected: ...") may say it too.
    assert len(re.findall(r"^│ rejected: ", shown.stdout, re.MULTILINE)) == len(rejected)
    assert shown.stdout.count("· accepted") == 0
    first = shown.stdout.split("\n")
    # The failed checks come before the first message of the first dialogue.
    assert next(i for i, line in enumerate(first) if "rejected: " in line) < next(
        i for i, line in enumerate(first) if "user: " in line
    )
    plain = run_cli("view", out, "--limit", "50", cwd=tmp_path)
    accepted = len((out / "dialogues.jsonl").read_text().splitlines())
    assert plain.stdout.count("· accepted") == accepted
    # An id names one dialogue wherever it was filed: a rejected one is found without --rejected.
    one = run_cli("view", out, "--id", rejected[0]["id"], "--width", "400", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert rejected[0]["id"] in one.stdout and one.stdout.count("rejected: ") == 1


def test_turn_notes_say_what_the_generation_knobs_did_to_each_turn() -> None:
    meta: dict[str, Any] = {
        "turn_starts": [1, 7],
        "phenomena": {
            "missing_function": {"requested": [1], "withheld": [{"turn": 1, "call": "$4", "tool": "issue_refund"}]},
            "follow_up": {"requested": [1], "planned": [1]},
            "user_behaviours": {
                "requested": ["change_of_mind"],
                "change_of_mind": {"turn": 0, "parameter": "reason", "before": "late", "after": "other", "at": 5},
            },
        },
    }
    assert turn_notes(meta) == {
        1: "turn 1",
        7: "turn 2 · assistant not given issue_refund · builds on an earlier turn",
        5: "user changes reason: late -> other",
    }
    assert turn_notes({"turn_starts": [1], "phenomena": {"prior_state": {"requested": False}}}) == {}
