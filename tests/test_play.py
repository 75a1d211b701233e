"""`rolecall play`: a person in one role, through piped input; their messages are marked human."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from rolecall.play import HumanAssistant, Terminal
from rolecall.run import read_run
from rolecall.scenario import load_scenario
from tests.run.conftest import SCENARIOS


def _play(role: str, typed: str, out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "rolecall", "play", SCENARIOS / "retail_orders.yaml", "--as", role]
    command += ["--model", "mock", "-o", out]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(list(map(str, command)), input=typed, capture_output=True, text=True, timeout=120, env=env)


def _record(out: Path) -> list[tuple[dict, dict]]:
    """The one record written: (message, provenance) pairs."""
    found = read_run(out)
    (record,) = [record for kind in found for record in found[kind]]
    return list(zip(record["messages"], record["metadata"]["provenance"], strict=True))


def test_a_person_plays_the_customer(tmp_path: Path) -> None:
    typed = "Hello, I need a refund for my order.\nIt is W-10321, thanks.\n/done\n"
    result = _play("user", typed, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "You are the customer" in result.stdout and "JSON object" not in result.stdout
    assert "agent: " in result.stdout
    pairs = _record(tmp_path / "out")
    users = [(m["content"], p) for m, p in pairs if m["role"] == "user"]
    assert [text for text, _ in users] == ["Hello, I need a refund for my order.", "It is W-10321, thanks."]
    assert all(origin == {"origin": "human"} for _, origin in users)
    assistant = [p for m, p in pairs if m["role"] == "assistant"]
    assert assistant and all(p["origin"] == "model" for p in assistant)


def test_a_person_plays_the_assistant_and_calls_a_tool(tmp_path: Path) -> None:
    typed = "\n".join(
        [
            "/tools",
            "/call find_order_by_number {not json}",
            '/call find_order_by_number {"order_number": "W-10321"}',
            "I found your order; it is on its way.",
            "Glad to help. Goodbye!",
            "Goodbye!",
            "",
        ]
    )
    result = _play("assistant", typed, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "find_customer_by_email:" in result.stdout  # /tools listed them
    assert "arguments are not JSON" in result.stdout and "result: {" in result.stdout
    pairs = _record(tmp_path / "out")
    calls = [m for m, _ in pairs if m.get("tool_calls")]
    assert json.loads(calls[0]["tool_calls"][0]["function"]["arguments"]) == {"order_number": "W-10321"}
    assert all(p == {"origin": "human"} for m, p in pairs if m["role"] == "assistant")
    assert next(m["content"] for m, _ in pairs if m["role"] == "assistant" and m.get("content")).startswith("I found")
    assert all(p["origin"] != "human" for m, p in pairs if m["role"] in ("user", "tool"))


def test_a_person_playing_the_assistant_is_not_offered_a_withheld_tool() -> None:
    tools = load_scenario(SCENARIOS / "retail_orders.yaml").tools
    typed = io.StringIO('/tools\n/call issue_refund {"order_id": "o1"}\nSorry, I cannot issue refunds here.\n')
    shown = io.StringIO()

    async def execute(name: str, arguments: dict, call_id: str) -> str:
        raise AssertionError("a withheld tool must not run")

    assistant = HumanAssistant(Terminal(typed, shown), tools, execute, None)
    assistant.withhold(frozenset({"issue_refund"}))
    step = asyncio.run(assistant.step("Please refund my order."))
    assert step.text == "Sorry, I cannot issue refunds here." and not step.calls
    output = shown.getvalue()
    assert "(this turn you do not have: issue_refund)" in output
    assert "no tool 'issue_refund' this turn" in output
    assert "issue_refund:" not in output and "cancel_order:" in output  # /tools lists the others
