"""A scenario built at test time from the tau2-bench telecom tools (../shared/data), run end to end.

The tools declare no outputs, so this also exercises output-schema inference and its cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from rolecall.scenario import load_scenario
from tests.run.conftest import REPO, run_cli, write_model_config
from tests.support.scripted_server import ScriptedServer

DATA = Path(os.environ.get("ROLECALL_SHARED_DATA", REPO.parent / "shared" / "data")) / "tau2_bench" / "telecom"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"no tau2-bench telecom data at {DATA}")


def _telecom_scenario(directory: Path) -> Path:
    policy = json.loads((DATA / "original" / "policy.json").read_text(encoding="utf-8"))["main_policy.md"]
    tasks = [json.loads(line) for line in (DATA / "tasks_small.jsonl").read_text(encoding="utf-8").splitlines()]
    personas = []
    for task in tasks[:4]:
        known = next(line for line in task["instruction"].splitlines() if line.startswith("known_info:"))
        personas.append(known.removeprefix("known_info:").strip())
    scenario = {
        "name": "tau2-telecom",
        "description": "Mobile carrier support, with the tau2-bench telecom agent tools.",
        "policy": policy,
        "personas": personas,
        "tools": [{"file": str(DATA / "tools_normalized_agent.json")}],
        "generation": {"dialogues": 4, "seed": 3, "turns": {"min": 1, "max": 1}, "plan_length": {"min": 2, "max": 3}},
    }
    path = directory / "telecom.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return path


def test_telecom_scenario_runs_end_to_end(server: ScriptedServer, tmp_path: Path) -> None:
    scenario = _telecom_scenario(tmp_path)
    loaded = load_scenario(scenario)
    assert len(loaded.tools) == 13 and all(tool.returns is None for tool in loaded.tools)
    config = write_model_config(tmp_path, server)
    out = tmp_path / "out"
    result = run_cli("run", scenario, "-o", out, "--model", config, "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(manifest["counts"].values()) == 4
    assert manifest["counts"]["accepted"] >= 2, manifest
    assert set(manifest["output_schemas"].values()) == {"llm"}
    accepted = [json.loads(line) for line in (out / "dialogues.jsonl").read_text().splitlines()]
    assert any(len(r["metadata"]["plan"]["turns"][0]["calls"]) >= 2 for r in accepted)
    # Inferred schemas are cached per tool: a second run asks the model for none of them.
    schema_requests = server.role_counts.get("output_schema", 0)
    assert schema_requests == 13
    again = run_cli("run", scenario, "-o", tmp_path / "again", "--model", config, "-q", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert server.role_counts["output_schema"] == schema_requests
    second = json.loads((tmp_path / "again" / "manifest.json").read_text())
    assert set(second["output_schemas"].values()) == {"cache"}
