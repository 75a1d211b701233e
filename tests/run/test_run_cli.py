"""End-to-end: `rolecall run` on the example scenarios against the scripted server, over HTTP."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from rolecall.run import read_run, tally
from rolecall.scenario import load_scenario
from tests.run.conftest import SCENARIOS, TEST_KEY, run_cli, write_model_config
from tests.support.scripted_server import ScriptedServer

EXAMPLES = sorted(SCENARIOS.glob("*.yaml"))


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _all_records(out: Path) -> dict[str, list[dict]]:
    return {name: _records(out / name) for name in ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl")}


def _check_dialogue_shape(record: dict, scenario_path: Path) -> None:
    """The DESIGN.md record contract, checked message by message."""
    assert set(record) == {"id", "scenario", "messages", "tools", "metadata"}
    tools = {t["function"]["name"]: t["function"] for t in record["tools"]}
    loaded = load_scenario(scenario_path)
    assert set(tools) == {t.name for t in loaded.tools}
    pending: dict[str, str] = {}
    answered: set[str] = set()
    for message in record["messages"]:
        role = message["role"]
        assert role in {"system", "user", "assistant", "tool"}
        if role == "assistant" and message.get("tool_calls"):
            assert message["content"] is None
            for call in message["tool_calls"]:
                assert call["type"] == "function"
                assert call["id"] not in pending and call["id"] not in answered
                arguments = json.loads(call["function"]["arguments"])  # a JSON string, not an object
                assert isinstance(call["function"]["arguments"], str)
                schema = tools[call["function"]["name"]]["parameters"]
                jsonschema.validate(arguments, schema)
                pending[call["id"]] = call["function"]["name"]
        elif role == "tool":
            assert message["tool_call_id"] in pending, "a tool message answers an open call"
            pending.pop(message["tool_call_id"])
            answered.add(message["tool_call_id"])
            json.loads(message["content"])
        else:
            assert isinstance(message["content"], str)
    assert not pending, "every tool_call_id is answered"
    last = record["messages"][-1]
    assert last["role"] == "assistant" and last["content"] and not last.get("tool_calls")
    meta = record["metadata"]
    for key in ("persona", "plan", "hidden_calls", "prior_calls", "validation", "usage", "seed", "date"):
        assert key in meta
    assert meta["validation"]["accepted"] is True
    assert meta["usage"]["total"]["prompt_tokens"] > 0


@pytest.mark.parametrize("scenario", EXAMPLES, ids=lambda p: p.stem)
def test_run_writes_the_four_files_for_each_example(scenario: Path, server: ScriptedServer, tmp_path: Path) -> None:
    config = write_model_config(tmp_path, server)
    out = tmp_path / "out"
    result = run_cli("run", scenario, "-o", out, "-n", "4", "--model", config, "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    files = _all_records(out)
    counts = {name: len(items) for name, items in files.items()}
    assert sum(counts.values()) == 4
    assert counts["dialogues.jsonl"] >= 2, files["failed.jsonl"] or files["rejected.jsonl"]
    for record in files["dialogues.jsonl"]:
        _check_dialogue_shape(record, scenario)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {
        "accepted": counts["dialogues.jsonl"],
        "rejected": counts["rejected.jsonl"],
        "failed": counts["failed.jsonl"],
    }
    assert manifest["requested"] == 4 and manifest["status"] == "finished"
    assert manifest["scenario_digest"] == load_scenario(scenario).digest
    assert manifest["packages"]["autogen-agentchat"].startswith("0.7")
    assert manifest["usage"]["prompt_tokens"] > 0
    # Where the model time went: every model call of every role, summed per role. The records
    # count the same calls, except the planner's inference of missing output schemas at the start.
    spent = manifest["model_time_by_role"]
    recorded: collections.Counter[str] = collections.Counter()
    for record in (record for items in files.values() for record in items):
        for role, usage in record["metadata"]["usage"]["by_role"].items():
            recorded[role] += usage["calls"]
    assert {role: spent[role]["calls"] for role in recorded if role != "planner"} == {
        role: calls for role, calls in recorded.items() if role != "planner"
    }
    assert spent["planner"]["calls"] >= recorded["planner"]
    assert all(role["seconds"] > 0 and role["cached_prompt_tokens"] == 0 for role in spent.values())


def test_same_seed_gives_byte_identical_dialogues(server: ScriptedServer, tmp_path: Path) -> None:
    config = write_model_config(tmp_path, server)
    scenario = SCENARIOS / "retail_orders.yaml"
    outputs = []
    for name, concurrency in (("a", "1"), ("b", "3")):
        out = tmp_path / name
        result = run_cli(
            "run",
            scenario,
            "-o",
            out,
            "-n",
            "5",
            "--seed",
            "11",
            "--model",
            config,
            "-c",
            concurrency,
            "-q",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        outputs.append((out / "dialogues.jsonl").read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") >= 3
    other = tmp_path / "c"
    run_cli("run", scenario, "-o", other, "-n", "5", "--seed", "12", "--model", config, "-q", cwd=tmp_path)
    assert (other / "dialogues.jsonl").read_bytes() != outputs[0]


def test_sloppy_assistant_is_rejected_with_reasons(tmp_path: Path) -> None:
    with ScriptedServer(sloppy_every=2) as server:
        config = write_model_config(tmp_path, server)
        out = tmp_path / "out"
        result = run_cli(
            "run", SCENARIOS / "travel_desk.yaml", "-o", out, "-n", "6", "--model", config, "-q", cwd=tmp_path
        )
    assert result.returncode == 0, result.stderr
    files = _all_records(out)
    assert len(files["rejected.jsonl"]) >= 1
    assert sum(len(items) for items in files.values()) == 6
    for record in files["rejected.jsonl"]:
        failed = [c for c in record["metadata"]["validation"]["checks"] if not c["passed"]]
        assert failed and all(c["reason"] for c in failed)
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(manifest["rejection_reasons"].values()) >= len(files["rejected.jsonl"])


def test_failing_model_is_retried_then_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    # The judge always fails: every dialogue the rules accept ends up in failed.jsonl with its reason.
    with ScriptedServer(fail_roles={"judge": -1}) as server:
        config = write_model_config(tmp_path, server)
        document = yaml.safe_load(config.read_text())
        document["retry"] = {"retries": 2, "backoff_s": 0.01}  # rolecall's own retries, not AutoGen's
        config.write_text(yaml.safe_dump(document))
        out = tmp_path / "out"
        result = run_cli(
            "run", SCENARIOS / "retail_orders.yaml", "-o", out, "-n", "3", "--model", config, "-q", cwd=tmp_path
        )
        judge_requests = server.role_counts.get("judge", 0)
    files = _all_records(out)
    assert sum(len(items) for items in files.values()) == 3
    failed = files["failed.jsonl"]
    assert failed and all(r["metadata"]["error"]["role"] == "judge" for r in failed)
    assert "InternalServerError" in failed[0]["metadata"]["error"]["message"]
    assert failed[0]["metadata"]["error"]["class"] == "InternalServerError"  # the cause, not a wrapper
    assert "after 2 retries" in failed[0]["metadata"]["error"]["message"]
    assert judge_requests == 3 * len(failed)  # bounded: the first attempt and 2 retries per dialogue
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["failure_classes"] == {"judge: InternalServerError": len(failed)}
    assert result.returncode == (1 if len(failed) == 3 else 0)


def test_api_key_never_appears_in_output(server: ScriptedServer, tmp_path: Path) -> None:
    config = write_model_config(tmp_path, server)
    # An Azure-style key written literally in a header, and a second header value.
    document = yaml.safe_load(config.read_text())
    document["config"]["default_headers"] = {"api-key": "azure-header-key-5150", "X-Tenant": "tenant-9931"}
    config.write_text(yaml.safe_dump(document))
    out = tmp_path / "out"
    result = run_cli("run", SCENARIOS / "it_helpdesk.yaml", "-o", out, "-n", "2", "--model", config, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8")
        assert TEST_KEY not in text and "azure-header-key" not in text and "tenant-9931" not in text, path
    assert TEST_KEY not in result.stdout + result.stderr and "azure-header-key" not in result.stdout + result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["models"]["assistant"]["config"]["api_key"] == "${ROLECALL_TEST_KEY}"


def test_resume_skips_written_dialogues_and_repairs_a_torn_line(server: ScriptedServer, tmp_path: Path) -> None:
    config = write_model_config(tmp_path, server)
    scenario = SCENARIOS / "retail_orders.yaml"
    full = tmp_path / "full"
    run_cli("run", scenario, "-o", full, "-n", "4", "--model", config, "-q", cwd=tmp_path)
    partial = tmp_path / "partial"
    run_cli("run", scenario, "-o", partial, "-n", "2", "--model", config, "-q", cwd=tmp_path)
    with (partial / "dialogues.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"id": "retail-orders-000')  # killed mid-write
    # Reading a cut-off run (as the benchmark's --summarise does) skips the torn line and leaves it.
    torn = (partial / "dialogues.jsonl").read_bytes()
    counted = tally(read_run(partial))
    assert counted["counts"] == json.loads((partial / "manifest.json").read_text())["counts"]
    assert sum(counted["counts"].values()) == 2 and (partial / "dialogues.jsonl").read_bytes() == torn
    refused = run_cli("run", scenario, "-o", partial, "-n", "4", "--model", config, "-q", cwd=tmp_path)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    requests_before = len(server.requests)
    resumed = run_cli("run", scenario, "-o", partial, "-n", "4", "--model", config, "-q", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert len(server.requests) > requests_before
    for name in ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl"):
        assert (partial / name).read_bytes() == (full / name).read_bytes()
    other_seed = run_cli(
        "run", scenario, "-o", partial, "-n", "4", "--seed", "99", "--model", config, "-q", "--resume", cwd=tmp_path
    )
    assert other_seed.returncode == 2 and "seed" in other_seed.stderr


def test_view_prints_roles_and_marks_hidden_calls(server: ScriptedServer, tmp_path: Path) -> None:
    config = write_model_config(tmp_path, server)
    out = tmp_path / "out"
    run_cli("run", SCENARIOS / "retail_orders.yaml", "-o", out, "-n", "3", "--model", config, "-q", cwd=tmp_path)
    records = _records(out / "dialogues.jsonl")
    with_hidden = next(r for r in records if r["metadata"]["hidden_calls"])
    shown = run_cli("view", out / "dialogues.jsonl", "--id", with_hidden["id"], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert with_hidden["id"] in shown.stdout
    assert "[hidden]" in shown.stdout and "user:" in shown.stdout and "→" in shown.stdout
    missing = run_cli("view", out / "dialogues.jsonl", "--id", "nope", cwd=tmp_path)
    assert missing.returncode == 1


def test_run_rejects_a_bad_scenario_without_writing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndescription: y\npersonas: [a]\ntools: []\n", encoding="utf-8")
    result = run_cli("run", bad, "-o", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "bad.yaml:4:8: error: tools: at least one tool is required" in result.stderr
    assert not (tmp_path / "out").exists()
