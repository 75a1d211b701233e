"""``--cache DIR``: a request seen before is answered from disk, with the same files as a live run."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from rolecall.mock import MockServer, model_config
from tests.run.conftest import SCENARIOS, run_cli

FILES = ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl")


def test_a_second_run_with_the_cache_asks_the_model_nothing_and_writes_the_same_files(tmp_path: Path) -> None:
    with MockServer() as server:
        config = model_config(server.base_url, api_key="sk-literal-secret-0042")
        (tmp_path / "mock.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        runs = []
        for name in ("first", "second"):
            done = run_cli(
                "run", SCENARIOS / "retail_orders.yaml", "--model", tmp_path / "mock.yaml", "-n", "3", "-c", "2",
                "--cache", tmp_path / "replies", "-o", tmp_path / name, "-q", cwd=tmp_path,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            runs.append(len(server.requests))
    assert runs[0] > 10 and runs[1] == runs[0]  # the second run sent no request
    for file in FILES:
        assert (tmp_path / "first" / file).read_bytes() == (tmp_path / "second" / file).read_bytes(), file
    manifest = json.loads((tmp_path / "second" / "manifest.json").read_text())
    assert manifest["options"]["cache"] == str(tmp_path / "replies")
    # The manifest says which replies came from the cache: all of them in the second run, none in the first.
    for name, share in (("first", 0), ("second", 1)):
        spent = json.loads((tmp_path / name / "manifest.json").read_text())["model_time_by_role"]
        assert all(role["cached_replies"] == share * role["calls"] for role in spent.values()), (name, spent)
    folders = list((tmp_path / "replies").iterdir())
    assert len(folders) == 1  # one model config, one folder
    assert "sk-literal-secret-0042" not in (folders[0] / "model.json").read_text()


def test_judge_votes_on_one_dialogue_are_not_collapsed_into_one_cached_answer(tmp_path: Path) -> None:
    scenario = yaml.safe_load((SCENARIOS / "retail_orders.yaml").read_text())
    scenario.setdefault("validation", {})["judge"] = {"enabled": True, "votes": 3}
    (tmp_path / "voting.yaml").write_text(yaml.safe_dump(scenario), encoding="utf-8")
    with MockServer() as server:
        (tmp_path / "mock.yaml").write_text(yaml.safe_dump(model_config(server.base_url)), encoding="utf-8")
        done = run_cli(
            "run", tmp_path / "voting.yaml", "--model", tmp_path / "mock.yaml", "-n", "2",
            "--cache", tmp_path / "replies", "-o", tmp_path / "out", "-q", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        judged = sum(1 for line in (tmp_path / "out" / "dialogues.jsonl").open()) + sum(
            1
            for line in (tmp_path / "out" / "rejected.jsonl").open()
            if json.loads(line)["metadata"]["validation"].get("judge")
        )
        assert judged >= 1
        assert server.role_counts.get("judge") == 3 * judged
