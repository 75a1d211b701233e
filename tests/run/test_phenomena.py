"""End-to-end, one test per stateful-benchmark phenomenon: `rolecall run --model mock` with the
knob turned on writes records that show it, the validator accepts the correct dialogues, and
`rolecall check` rejects the same record once it is broken in the way the phenomenon's rule
guards against."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from rolecall.agents import INJECTED_CALL_PREFIX, AutogenBackend
from rolecall.mock import MockServer, model_config
from rolecall.models import ModelFactory
from rolecall.run import RunOptions, read_run, run_scenario
from rolecall.scenario import load_scenario
from tests.run.conftest import SCENARIOS, run_cli

SCENARIO = SCENARIOS / "retail_orders.yaml"


def _with_generation(directory: Path, **settings: str) -> Path:
    """The retail example with ``settings`` (YAML flow values) set under ``generation``."""
    text = SCENARIO.read_text(encoding="utf-8")
    lines = "".join(f"  {key}: {value}\n" for key, value in settings.items())
    for key in settings:  # the example's own line for a key goes
        text = "\n".join(line for line in text.split("\n") if not line.startswith(f"  {key}:"))
    target = directory / SCENARIO.name
    target.write_text(text.replace("\ngeneration:\n", f"\ngeneration:\n{lines}", 1), encoding="utf-8")
    return target


def _run(tmp_path: Path, scenario: Path, dialogues: int) -> dict[str, list[dict[str, Any]]]:
    out = tmp_path / "out"
    result = run_cli("run", scenario, "-o", out, "-n", str(dialogues), "--model", "mock", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return read_run(out)


def _check(tmp_path: Path, scenario: Path, record: dict[str, Any]) -> dict[str, Any]:
    """`rolecall check` on one record: the check named in the result, by name."""
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    out = tmp_path / "checked"
    result = run_cli("check", path, "--scenario", scenario, "-o", out, cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    kind = "dialogues.jsonl" if (out / "dialogues.jsonl").read_text().strip() else "rejected.jsonl"
    checked = json.loads((out / kind).read_text().splitlines()[0])
    return {c["name"]: c for c in checked["metadata"]["validation"]["checks"]}


def _all(records: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [record for items in records.values() for record in items]


def test_prior_state_is_on_by_default_and_a_contradicting_result_is_rejected(tmp_path: Path) -> None:
    records = _run(tmp_path, SCENARIO, 8)
    states = [r["metadata"]["phenomena"]["prior_state"] for r in _all(records) if "phenomena" in r["metadata"]]
    assert len(states) == 8 and {state["requested"] for state in states} == {True, False}  # share 0.5
    moved = [r for r in records["accepted"] if r["metadata"]["prior_calls"]]
    assert moved, "an accepted dialogue starts with prior state"
    record = moved[0]
    assert [p["id"] for p in record["metadata"]["prior_calls"]] == record["metadata"]["phenomena"]["prior_state"][
        "calls"
    ]
    checks = _check(tmp_path, SCENARIO, record)
    assert checks["prior_state_kept"]["passed"]

    # A lookup in the dialogue that gives the prior call's entity another value is a contradiction.
    prior = record["metadata"]["prior_calls"][0]
    key, entity = next((k, v) for k, v in prior["output"].items() if k.endswith("_id") and isinstance(v, str))
    changed = next(k for k, v in prior["output"].items() if k != key and isinstance(v, str))
    broken = json.loads(json.dumps(record))
    first_call = next(i for i, m in enumerate(broken["messages"]) if m.get("tool_calls"))
    call = broken["messages"][first_call]["tool_calls"][0]
    call["function"]["name"] = prior["name"]
    answer = next(m for m in broken["messages"] if m.get("tool_call_id") == call["id"])
    answer["content"] = json.dumps({**prior["output"], key: entity, changed: "something else"})
    checks = _check(tmp_path, SCENARIO, broken)
    assert not checks["prior_state_kept"]["passed"]
    assert (
        "something else" in checks["prior_state_kept"]["reason"] and prior["id"] in checks["prior_state_kept"]["reason"]
    )


def test_injected_mistakes_are_marked_skipped_by_the_rules_and_must_be_corrected(tmp_path: Path) -> None:
    scenario = _with_generation(tmp_path, error_recovery="{share: 1.0, max_per_dialogue: 2}")
    records = _run(tmp_path, scenario, 6)
    injected = [r for r in records["accepted"] if r["metadata"]["phenomena"]["error_recovery"]["injected"]]
    assert injected, "an accepted dialogue holds an injected mistake"
    record = injected[0]
    messages, origins = record["messages"], record["metadata"]["provenance"]
    wrong = next(i for i, o in enumerate(origins) if o["origin"] == "injected" and messages[i]["role"] == "assistant")
    assert origins[wrong + 1]["origin"] == "injected" and messages[wrong + 1]["role"] == "tool"
    error = json.loads(messages[wrong + 1]["content"])["error"]
    assert error["code"] in ("invalid_argument", "not_found") and error["message"]
    # The model's own right call follows at once, to the same tool.
    name = messages[wrong]["tool_calls"][0]["function"]["name"]
    assert messages[wrong + 2]["tool_calls"][0]["function"]["name"] == name
    assert origins[wrong + 2]["origin"] == "model"
    assert all(c["passed"] for c in record["metadata"]["validation"]["checks"])

    # The same record without the right call (and what followed it) is rejected.
    broken = json.loads(json.dumps(record))
    broken["messages"] = [*messages[: wrong + 2], {"role": "assistant", "content": "Done."}]
    broken["metadata"]["provenance"] = [*origins[: wrong + 2], {"origin": "model"}]
    checks = _check(tmp_path, scenario, broken)
    assert not checks["mistakes_corrected"]["passed"] and name in checks["mistakes_corrected"]["reason"]


def test_the_assistant_model_sees_the_injected_mistake_before_its_own_call(tmp_path: Path) -> None:
    """The assistant's memory holds what the record shows: the next request to the model has the
    injected call and its error just before the model's own call of that tool."""
    scenario = load_scenario(_with_generation(tmp_path, error_recovery="{share: 1.0, max_per_dialogue: 1}"))
    with MockServer() as server:
        backend = AutogenBackend(ModelFactory({"default": model_config(server.base_url)}))
        options = RunOptions(out_dir=tmp_path / "out", dialogues=3, seed=0, concurrency=1)
        asyncio.run(run_scenario(scenario, backend, options))
        requests = list(server.requests)
    seen = []
    for body in requests:
        messages = body.get("messages") or []
        for at, message in enumerate(messages):
            calls = message.get("tool_calls") or []
            if calls and calls[0]["id"].startswith(INJECTED_CALL_PREFIX):
                seen.append((messages[at + 1], messages[at + 2], calls[0]["function"]["name"]))
    assert seen, "some request to the assistant model holds an injected call"
    answer, own, name = seen[0]
    assert answer["role"] == "tool" and answer["tool_call_id"].startswith(INJECTED_CALL_PREFIX)
    assert "error" in json.loads(answer["content"])
    assert own["tool_calls"][0]["function"]["name"] == name
    assert not own["tool_calls"][0]["id"].startswith(INJECTED_CALL_PREFIX)


def test_a_withheld_value_is_asked_for_before_the_call_that_needs_it(tmp_path: Path) -> None:
    scenario = _with_generation(tmp_path, missing_parameter="{share: 1.0}")
    records = _run(tmp_path, scenario, 6)
    asked = []
    for record in records["accepted"]:
        metadata = record["metadata"]
        assert set(metadata["disclosure"]) <= {"missing_parameter", "upfront"}
        for entry in metadata["phenomena"]["missing_parameter"]["withheld"]:
            opening = record["messages"][metadata["turn_starts"][entry["turn"]]]["content"]
            assert entry["value"] not in opening
            asked.append((record, entry))
    assert asked, "an accepted dialogue had a value withheld and asked for"
    record, entry = asked[0]
    messages = record["messages"]
    given = next(i for i, m in enumerate(messages) if m["role"] == "user" and entry["value"] in (m["content"] or ""))
    assert messages[given - 1]["role"] == "assistant" and "?" in messages[given - 1]["content"]
    assert _check(tmp_path, scenario, record)["withheld_value_asked"]["passed"]

    # The assistant calling the tool before the user gives the value is rejected.
    broken = json.loads(json.dumps(record))
    call_at = next(
        i
        for i, m in enumerate(broken["messages"])
        if i > given and any(c["function"]["name"] == entry["tool"] for c in m.get("tool_calls") or [])
    )
    start = record["metadata"]["turn_starts"][entry["turn"]]
    moved = broken["messages"][call_at : call_at + 2]
    rest = [m for i, m in enumerate(broken["messages"]) if i not in (call_at, call_at + 1)]
    broken["messages"] = rest[: start + 1] + moved + rest[start + 1 :]
    broken["metadata"]["provenance"] = [{"origin": "model"}] * len(broken["messages"])
    checks = _check(tmp_path, scenario, broken)
    assert not checks["withheld_value_asked"]["passed"]
    assert "before the user gave" in checks["withheld_value_asked"]["reason"]
