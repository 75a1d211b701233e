"""End-to-end, one test per stateful-benchmark phenomenon: `rolecall run --model mock` with the
knob turned on writes records that show it, the validator accepts the correct dialogues, and
`rolecall check` rejects the same record once it is broken in the way the phenomenon's rule
guards against."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from rolecall.agents import INJECTED_CALL_PREFIX, AutogenBackend
from rolecall.mock import MockServer, MockSettings, model_config
from rolecall.models import ModelFactory
from rolecall.prompts import render
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


def _run_in_process(
    tmp_path: Path, scenario_path: Path, dialogues: int, settings: MockSettings | None = None
) -> list[dict[str, Any]]:
    """Run ``scenario_path`` against an in-process mock server: the request bodies it received."""
    with MockServer(settings) as server:
        backend = AutogenBackend(ModelFactory({"default": model_config(server.base_url)}))
        options = RunOptions(out_dir=tmp_path / "out", dialogues=dialogues, seed=0, concurrency=1)
        asyncio.run(run_scenario(load_scenario(scenario_path), backend, options))
        return list(server.requests)


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
    scenario_path = _with_generation(tmp_path, error_recovery="{share: 1.0, max_per_dialogue: 1}")
    requests = _run_in_process(tmp_path, scenario_path, 3)
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
            assert not re.search(rf"(?<![\w.-]){re.escape(entry['value'])}(?![\w-])", opening)  # not as a token
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


def _offered(body: dict[str, Any]) -> set[str]:
    return {tool["function"]["name"] for tool in body.get("tools") or []}


def test_a_withheld_tool_is_not_offered_and_the_assistant_says_it_cannot(tmp_path: Path) -> None:
    scenario_path = _with_generation(tmp_path, missing_function="{share: 1.0}", turns="{min: 2, max: 2}")
    scenario = load_scenario(scenario_path)
    requests = [body for body in _run_in_process(tmp_path, scenario_path, 4) if body.get("tools")]
    records = read_run(tmp_path / "out")
    accepted = records["accepted"]
    assert accepted, "an accepted dialogue had a tool withheld"
    record = accepted[0]
    entries = record["metadata"]["phenomena"]["missing_function"]["withheld"]
    assert [e["turn"] for e in entries] == [0, 1]
    # The record lists every tool; the model was offered every tool but the withheld one.
    assert {e["tool"] for e in entries} <= {t["function"]["name"] for t in record["tools"]}
    all_tools = {tool.name for tool in scenario.tools}
    assert any(_offered(body) == all_tools - {entries[0]["tool"]} for body in requests)
    assert all(_offered(body) != all_tools for body in requests)  # every turn withheld one
    starts = record["metadata"]["turn_starts"]
    first_turn = record["messages"][starts[0] : starts[1]]
    assert not any(c["function"]["name"] == entries[0]["tool"] for m in first_turn for c in m.get("tool_calls") or [])
    decline = [m["content"] for m in first_turn if m["role"] == "assistant" and m.get("content")][-1]
    assert "cannot" in decline and entries[0]["tool"].replace("_", " ") in decline
    assert record["metadata"]["end_reason"] == "completed"
    checks = _check(tmp_path, scenario_path, record)
    assert checks["unavailable_tool_declined"]["passed"] and checks["goal_calls_made"]["passed"]

    # Claiming to have done it instead is rejected.
    broken = json.loads(json.dumps(record))
    at = starts[0] + first_turn.index(next(m for m in first_turn if m.get("content") == decline))
    broken["messages"][at]["content"] = "All done, it is taken care of."
    checks = _check(tmp_path, scenario_path, broken)
    assert not checks["unavailable_tool_declined"]["passed"]
    assert "does not say it cannot" in checks["unavailable_tool_declined"]["reason"]


def test_a_user_who_changes_their_mind_gets_the_new_value_checked(tmp_path: Path) -> None:
    scenario_path = _with_generation(
        tmp_path, user_behaviours="{change_of_mind: 1.0, tangent: 1.0, impatient: 1.0}", missing_function="{share: 0}"
    )
    requests = _run_in_process(tmp_path, scenario_path, 6, MockSettings(confirm=True))
    systems = [m["content"] for body in requests for m in body["messages"][:1] if m["role"] == "system"]
    user_systems = [text for text in systems if text.startswith("You are a customer")]
    # The user's prompt describes the behaviours it was given.
    tangent, impatient = (" ".join(render(f"user/behaviour_{name}").split()) for name in ("tangent", "impatient"))
    assert user_systems and all(tangent in " ".join(s.split()) for s in user_systems)
    assert all(impatient in " ".join(s.split()) for s in user_systems)
    records = read_run(tmp_path / "out")
    changed = [
        r
        for r in records["accepted"]
        if (r["metadata"]["phenomena"]["user_behaviours"].get("change_of_mind") or {}).get("at")
        and not r["metadata"]["faults"]
    ]
    assert changed, "an accepted dialogue without faults holds a change of mind"
    record = changed[0]
    behaviours = record["metadata"]["phenomena"]["user_behaviours"]
    assert behaviours["requested"] == ["change_of_mind", "tangent", "impatient"]
    change = behaviours["change_of_mind"]
    said = record["messages"][change["at"]]
    assert said["role"] == "user" and str(change["after"]) in said["content"]
    # The recorded plan holds the new value, and the goal call was made with it.
    plan = record["metadata"]["plan"]["turns"][change["turn"]]
    goal = next(c for c in plan["calls"] if c["id"] == change["call"])
    assert goal["arguments"][change["parameter"]] == change["after"] != change["before"]
    made = [
        json.loads(c["function"]["arguments"])
        for m in record["messages"][change["at"] :]
        for c in m.get("tool_calls") or []
        if c["function"]["name"] == change["tool"]
    ]
    assert made and made[0][change["parameter"]] == change["after"]
    checks = _check(tmp_path, scenario_path, record)
    assert checks["change_of_mind_followed"]["passed"] and checks["goal_calls_made"]["passed"]

    # The assistant keeping the old value is rejected.
    broken = json.loads(json.dumps(record))
    for message in broken["messages"][change["at"] :]:
        for call in message.get("tool_calls") or []:
            if call["function"]["name"] == change["tool"]:
                arguments = {**json.loads(call["function"]["arguments"]), change["parameter"]: change["before"]}
                call["function"]["arguments"] = json.dumps(arguments)
    checks = _check(tmp_path, scenario_path, broken)
    assert not checks["change_of_mind_followed"]["passed"] and not checks["goal_calls_made"]["passed"]
    assert "which the user changed to" in checks["change_of_mind_followed"]["reason"]


def test_a_follow_up_turn_takes_a_value_from_an_earlier_turn(tmp_path: Path) -> None:
    scenario_path = _with_generation(tmp_path, turns="{min: 2, max: 2}", follow_up="{share: 1.0}")
    requests = _run_in_process(tmp_path, scenario_path, 6)
    prompts = [m["content"] or "" for body in requests for m in body["messages"] if m["role"] == "user"]
    systems = [m["content"] for body in requests for m in body["messages"][:1] if m["role"] == "system"]
    records = read_run(tmp_path / "out")
    follow_ups = [r for r in records["accepted"] if 1 in r["metadata"]["phenomena"]["follow_up"]["planned"]]
    assert follow_ups, "an accepted dialogue follows up on its first turn"
    assert all(r["metadata"]["phenomena"]["follow_up"]["requested"] == [1] for r in _all(records))
    # The planner was shown what it could build on; the user was told to refer to it indirectly.
    assert any(render("planner/follow_up", connections="").split("\n")[0] in prompt for prompt in prompts)
    user_line = " ".join(render("user/follow_up").split())
    assert any(user_line in " ".join(system.split()) for system in systems)
    record = follow_ups[0]
    first, second = record["metadata"]["plan"]["turns"]
    earlier = {call["id"] for call in first["calls"]}
    taken = [
        (call, value)
        for call in second["calls"]
        for value in call["arguments"].values()
        if isinstance(value, str) and value.split(".")[0] in earlier
    ]
    assert taken
    checks = _check(tmp_path, scenario_path, record)
    assert checks["goal_calls_made"]["passed"]

    # The follow-up call made with some other value than the earlier turn returned is rejected.
    call, _ = taken[0]
    broken = json.loads(json.dumps(record))
    start = record["metadata"]["turn_starts"][1]
    for message in broken["messages"][start:]:
        for made in message.get("tool_calls") or []:
            if made["function"]["name"] == call["name"]:
                arguments = json.loads(made["function"]["arguments"])
                made["function"]["arguments"] = json.dumps({key: "X-0000" for key in arguments})
    checks = _check(tmp_path, scenario_path, broken)
    assert not (checks["goal_calls_made"]["passed"] and checks["hidden_calls_discovered"]["passed"])
