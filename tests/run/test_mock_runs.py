"""End-to-end: `rolecall run --model mock...` on the example scenarios, checking the files.

The mock plays a well-behaved model in every role, so no aid may fire on it, whatever the
policy: every user message of every record must be the model's own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolecall.run import read_run, tally
from tests.run.conftest import SCENARIOS, run_cli


def _with_disclosure(source: Path, directory: Path, disclosure: str) -> Path:
    text = source.read_text(encoding="utf-8").replace(
        "\ngeneration:\n", f"\ngeneration:\n  user: {{disclosure: {disclosure}}}\n", 1
    )
    target = directory / source.name
    target.write_text(text, encoding="utf-8")
    return target


@pytest.mark.parametrize(
    ("model", "assist", "disclosure"),
    [
        ("mock", "auto", "upfront"),
        ("mock:confirm", "auto", "upfront"),
        ("mock:confirm", "small_model", "upfront"),
        ("mock", "small_model", "on_request"),
    ],
)
def test_no_aid_fires_on_a_well_behaved_model(tmp_path: Path, model: str, assist: str, disclosure: str) -> None:
    scenario = _with_disclosure(SCENARIOS / "retail_orders.yaml", tmp_path, disclosure)
    out = tmp_path / "out"
    result = run_cli("run", scenario, "-o", out, "-n", "8", "--model", model, "--assist", assist, "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = read_run(out)
    counts = tally(records)
    assert counts["counts"]["accepted"] >= 5  # the mock is good, the validator agrees
    assert set(counts["provenance"]["user"]) == {"model"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["provenance"] == counts["provenance"]
    assert manifest["assist"]["mode"] == assist
    assert manifest["assist"]["roles"] == ([] if assist == "auto" else ["assistant", "planner", "user"])
    for record in [r for items in records.values() for r in items]:
        assert len(record["metadata"]["provenance"]) == len(record["messages"])
        assert record["metadata"]["disclosure"] == [disclosure] * len(record["metadata"]["plan"]["turns"])
    if model == "mock:confirm":  # the confirmation was kept, as the user wrote it
        users = [m["content"] for r in records["accepted"] for m in r["messages"] if m["role"] == "user"]
        assert any(
            (text.startswith(("Perfect", "Great", "Thanks")) and "go ahead" in text.lower()) or "do it" in text.lower()
            for text in users
        )


def test_values_given_when_asked_are_accepted_by_the_validator(tmp_path: Path) -> None:
    scenario = _with_disclosure(SCENARIOS / "retail_orders.yaml", tmp_path, "on_request")
    out = tmp_path / "out"
    result = run_cli("run", scenario, "-o", out, "-n", "8", "--model", "mock", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    accepted = read_run(out)["accepted"]
    asked = [
        r
        for r in accepted
        if any(
            m["role"] == "assistant" and (m.get("content") or "").startswith("Could you tell me") for m in r["messages"]
        )
    ]
    assert asked, "some accepted dialogue has the assistant ask for a value first"
    record = asked[0]
    first_user = next(m["content"] for m in record["messages"] if m["role"] == "user")
    facts = [str(v) for v in record["metadata"]["facts"].values() if isinstance(v, str) and "@" in str(v)]
    assert not any(value in first_user for value in facts)  # the opening holds the goal only


def test_view_marks_messages_not_written_by_a_model(tmp_path: Path) -> None:
    out = tmp_path / "out"
    scenario = SCENARIOS / "retail_orders.yaml"
    assert run_cli("run", scenario, "-o", out, "-n", "4", "--model", "mock", "-q", cwd=tmp_path).returncode == 0
    records = read_run(out)
    record = next(
        r for items in records.values() for r in items if "scripted" in json.dumps(r["metadata"]["provenance"])
    )
    kind = "dialogues.jsonl" if record in records["accepted"] else "rejected.jsonl"
    shown = run_cli("view", out / kind, "--id", record["id"], "--width", "400", cwd=tmp_path)
    assert shown.returncode == 0
    assert "[scripted: " in shown.stdout  # an injected fault or a code-written error
    assert "[model" not in shown.stdout  # a model's own messages carry no mark


def test_a_bad_mock_spec_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli(
        "run", SCENARIOS / "retail_orders.yaml", "-o", tmp_path / "o", "--model", "mock:bogus", cwd=tmp_path
    )
    assert result.returncode == 2 and "bogus" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_model_aborts_the_run_and_resume_finishes_it(tmp_path: Path) -> None:
    import socket

    import yaml

    from rolecall.mock import model_config

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = model_config(f"http://127.0.0.1:{port}/v1")
    config["retry"] = {"retries": 1, "backoff_s": 0.01}
    path = tmp_path / "down.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    scenario = SCENARIOS / "retail_orders.yaml"
    result = run_cli("run", scenario, "-o", out, "-n", "3", "--model", path, "-q", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "run aborted" in result.stderr and "refused every connection" in result.stderr
    assert "--resume" in result.stderr and "Traceback" not in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "aborted" and manifest["stopped"]["role"] == "planner"
    assert sum(manifest["counts"].values()) == 0  # the dialogues not run are not counted as failed
    finished = run_cli("run", scenario, "-o", out, "-n", "3", "--model", "mock", "--resume", "-q", cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert sum(json.loads((out / "manifest.json").read_text())["counts"].values()) == 3
