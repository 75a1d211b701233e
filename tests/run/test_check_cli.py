"""`rolecall check`: the rules again on records that exist, rolecall's or anyone's."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from rolecall.run import read_run
from tests.run.conftest import SCENARIOS, run_cli

SCENARIO = SCENARIOS / "retail_orders.yaml"


def test_check_gives_a_mock_runs_records_their_own_verdicts_again(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_cli("run", SCENARIO, "-o", run, "-n", "6", "--model", "mock", "-q", cwd=tmp_path).returncode == 0
    records = read_run(run)
    rules_passed = [r for r in records["accepted"]]  # the mock's judge says yes to every rule-clean dialogue
    out = tmp_path / "checked"
    result = run_cli(
        "check", run / "dialogues.jsonl", run / "rejected.jsonl", "--scenario", SCENARIO, "-o", out, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    total = len(records["accepted"]) + len(records["rejected"])
    assert f"{total} dialogues checked: {len(rules_passed)} pass every rule" in result.stdout
    assert "differ" not in result.stdout
    rechecked = [json.loads(line) for line in (out / "dialogues.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rechecked] == [r["id"] for r in records["accepted"]]
    assert all(r["metadata"]["validation"]["previous"]["accepted"] for r in rechecked)


def test_check_screens_a_plain_openai_dialogue_and_says_what_it_skipped(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_cli("run", SCENARIO, "-o", run, "-n", "2", "--model", "mock", "-q", cwd=tmp_path).returncode == 0
    record = read_run(run)["accepted"][0]
    plain = tmp_path / "plain.jsonl"
    # The mock's user asks for each planned change ("case 12345: please cancel my order."); this
    # one asks for "case 12345" only.
    messages = [
        {**message, "content": re.sub(r": please [^.]*\.", ".", message["content"])}
        if message["role"] == "user"
        else message
        for message in record["messages"]
    ]
    plain.write_text(json.dumps({"messages": messages, "tools": record["tools"]}) + "\n{broken\n")
    result = run_cli("check", plain, "--scenario", SCENARIO, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 dialogues checked:" in result.stdout and "1 lines are not JSON objects" in result.stdout
    # Without a plan a write counts only if the user asked for it: the rule that needs no plan
    # still speaks.
    assert "failed no_unplanned_writes: 1" in result.stdout
    for name in ("goal_calls_made", "hidden_calls_discovered", "no_hidden_narration", "session_completed"):
        assert f"skipped {name}:" in result.stdout


def test_check_finds_what_the_rules_reject_in_an_edited_record(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_cli("run", SCENARIO, "-o", run, "-n", "2", "--model", "mock", "-q", cwd=tmp_path).returncode == 0
    record = read_run(run)["accepted"][0]
    call = next(m for m in record["messages"] if m.get("tool_calls"))["tool_calls"][0]["function"]
    arguments = json.loads(call["arguments"])
    key = next(iter(arguments))
    arguments[key] = "INVENTED-VALUE-42"
    call["arguments"] = json.dumps(arguments)
    edited = tmp_path / "edited.jsonl"
    edited.write_text(json.dumps(record) + "\n")
    result = run_cli("check", edited, "--scenario", SCENARIO, cwd=tmp_path)
    assert (
        "0 pass every rule, 1 fail" in result.stdout and "1 differ from the record's own rule checks" in result.stdout
    )
    assert "failed arguments_grounded: 1" in result.stdout


def _judge(run: Path, out: Path, model: str, *options: str) -> subprocess.CompletedProcess[str]:
    records = run / "dialogues.jsonl"
    return run_cli("check", records, "--scenario", SCENARIO, "--judge", "--model", model, *options, "-o", out, cwd=run)


def test_check_with_the_judge_keeps_its_votes_and_reasoning(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_cli("run", SCENARIO, "-o", run, "-n", "3", "--model", "mock", "-q", cwd=tmp_path).returncode == 0
    accepted = read_run(run)["accepted"]
    out = tmp_path / "judged"
    result = _judge(run, out, "mock", "-c", "2")
    assert result.returncode == 0, result.stderr
    judged = [json.loads(line) for line in (out / "dialogues.jsonl").read_text().splitlines()]
    assert [r["id"] for r in judged] == [r["id"] for r in accepted]  # input order, whatever the concurrency
    for record in judged:
        verdict = record["metadata"]["validation"]["judge"]
        assert verdict["accepted"] is True and verdict["summary"].startswith("1/1 votes consistent")
        assert verdict["votes"][0]["reasoning"]


def test_a_judge_that_keeps_failing_leaves_the_record_rejected_with_its_cause(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_cli("run", SCENARIO, "-o", run, "-n", "2", "--model", "mock", "-q", cwd=tmp_path).returncode == 0
    total = len(read_run(run)["accepted"])
    out = tmp_path / "judged"
    result = _judge(run, out, "mock:fail=judge:-1")
    assert result.returncode == 0, result.stderr
    assert f"0 pass every rule, {total} fail; the judge failed on {total}" in result.stdout
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert len(rejected) == total
    assert all("error" in r["metadata"]["validation"]["judge"] for r in rejected)
