"""`rolecall report`: each statistic on hand-made conversations whose values are known."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rolecall.report import compare, conversation_stats, corpus_summary, js_distance, noise_floor
from tests.run.conftest import SCENARIOS, run_cli


def _call(call_id: str, tool: str, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": tool, "arguments": json.dumps(arguments)}}


def _ask(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": list(calls)}


def _result(call_id: str, content: Any) -> dict[str, Any]:
    text = content if isinstance(content, str) else json.dumps(content)
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


# find_user -> (user id) -> get_orders -> (order id) -> refund, plus a parallel lookup that uses
# nothing, and a second user turn whose call uses a value only loosely ("W-7" inside a sentence).
CHAIN = [
    _user("I'm Ana, zip 19122. Refund my last order."),
    _ask(_call("c1", "find_user", name="Ana", zip="19122")),
    _result("c1", "ana_1"),  # a plain-text result is one string leaf
    _ask(_call("c2", "get_orders", user_id="ana_1"), _call("c3", "get_policy")),
    _result("c2", {"orders": [{"order_id": "W-7", "total": 12.5}], "note": "Order W-7 shipped"}),
    _result("c3", {"days": 30}),
    _ask(_call("c4", "refund", order_id="W-7", amount=12.5, notify=True)),
    _result("c4", {"status": "refunded"}),
    {"role": "assistant", "content": "Refunded 12.50."},
    _user("And the note says what?"),
    _ask(_call("c5", "get_note", text="order w-7 shipped")),
    _result("c5", {"ok": True}),
    {"role": "assistant", "content": "It says it shipped."},
]


def test_counts_dependencies_and_the_longest_chain_of_a_known_conversation() -> None:
    stats = conversation_stats(CHAIN)
    assert (stats.user_turns, stats.tool_calls, stats.distinct_tools, stats.parallel_messages) == (2, 5, 5, 1)
    assert stats.calls_per_user_turn == 2.5
    # c2 uses c1's "ana_1"; c4 uses c2's "W-7" and 12.5; c5 only loosely ("order w-7 shipped").
    assert (stats.dependent_calls_strict, stats.dependent_calls_loose) == (2, 3)
    # Leaves: c1 2, c2 1, c3 0, c4 2 (the flag never counts), c5 1 = 6; from outputs: ana_1, W-7, 12.5.
    assert (stats.argument_leaves, stats.leaves_from_outputs) == (6, 3)
    assert stats.chain_length == 3  # c1 -> c2 -> c4
    assert stats.dependency_share == pytest.approx(0.4)


def test_no_calls_and_no_dependencies() -> None:
    assert conversation_stats([_user("hi"), {"role": "assistant", "content": "hello"}]).chain_length == 0
    lone = conversation_stats([_user("x"), _ask(_call("a", "t", q="x")), _result("a", {"r": 1})])
    assert (lone.chain_length, lone.dependent_calls_strict, lone.dependency_share) == (1, 0, 0.0)


def test_corpus_summary_averages_and_histograms() -> None:
    stats = [conversation_stats(CHAIN), conversation_stats([_user("x"), _ask(_call("a", "t", q="x"))])]
    summary = corpus_summary(stats)
    assert summary["conversations"] == 2
    assert summary["tool_calls_mean"] == 3.0
    assert summary["dependent_call_share_strict"] == pytest.approx(2 / 6, abs=1e-4)
    assert summary["with_dependency_share"] == 0.5
    assert summary["histograms"]["chain_length"] == {"1": 1, "3": 1}
    assert summary["histograms"]["dependency_share"] == {"0": 1, "4": 1}


def test_js_distance_is_zero_for_the_same_sample_one_for_far_apart_and_symmetric() -> None:
    assert js_distance([1, 2, 2, 3], [1, 2, 2, 3]) == 0.0
    far = js_distance([1] * 200, [9] * 200, smoothing=1e-9)
    assert far == pytest.approx(1.0, abs=1e-3)
    assert js_distance([1, 2], [2, 3, 3]) == pytest.approx(js_distance([2, 3, 3], [1, 2]))
    # Smoothing over the shared support keeps a value one side lacks from making it 1.
    assert 0 < js_distance([1, 1, 2], [1, 1, 1]) < 0.5
    assert math.isnan(js_distance([], [1]))


def test_noise_floor_shrinks_as_the_sample_grows() -> None:
    reference = [1, 2, 2, 3, 3, 3, 4, 4, 5] * 10
    small, large = noise_floor(reference, 10), noise_floor(reference, 300)
    assert small["p95"] >= small["mean"] > large["mean"] > 0


def test_compare_skips_user_turns_for_a_reference_with_one_user_message() -> None:
    reference = [conversation_stats([_user("x"), _ask(_call("a", "t"))])] * 20
    rows = compare([conversation_stats(CHAIN)] * 5, reference)
    assert "skipped" in rows["user_turns"]
    assert rows["tool_calls"]["distance"] > 0 and rows["tool_calls"]["above_noise"] in (True, False)
    assert set(rows) == {"chain_length", "dependency_share", "tool_calls", "user_turns"}


def test_compare_skips_every_distribution_when_nothing_was_accepted() -> None:
    """An embedded run on the tau-bench tools accepted none of its 6 dialogues: the table showed
    "nan" and the JSON held NaN, which strict JSON readers refuse."""
    reference = [conversation_stats(CHAIN)] * 20
    rows = compare([], reference)
    assert rows == {name: {"skipped": "no accepted dialogues to compare"} for name in rows}
    assert set(rows) == {"chain_length", "dependency_share", "tool_calls", "user_turns"}
    json.dumps(rows, allow_nan=False)


def test_report_of_a_mock_run_against_the_tau_bench_reference(tmp_path: Path) -> None:
    reference = Path(__file__).resolve().parents[3] / "shared" / "data" / "references"
    reference = reference / "tau_bench_retail_test_replayed.jsonl"
    if not reference.exists():
        pytest.skip("the shared reference corpus is not beside the checkout")
    out = tmp_path / "run"
    assert (
        run_cli(
            "run", SCENARIOS / "retail_orders.yaml", "-o", out, "-n", "6", "--model", "mock", "-q", cwd=tmp_path
        ).returncode
        == 0
    )
    result = run_cli("report", out, "-r", f"tau={reference}", "--json", tmp_path / "r.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert set(report) == {"run", "corpora", "distances", "rolecall", "cost"}
    assert report["corpora"]["tau"]["conversations"] == 115
    assert report["distances"]["tau"]["user_turns"] == {
        "skipped": "the reference has one user message per conversation"
    }
    accepted = report["corpora"]["accepted"]["conversations"]
    assert accepted + report["corpora"]["rejected"]["conversations"] + report["rolecall"]["dialogues"]["failed"] == 6
    assert report["rolecall"]["provenance_shares"]["user"] == {"model": 1.0}  # the mock's users need no aid
    assert report["cost"]["model_calls_per_accepted"] > 0
    assert "Jensen-Shannon" in result.stdout


def test_report_refuses_a_folder_without_a_run(tmp_path: Path) -> None:
    result = run_cli("report", tmp_path, cwd=tmp_path)
    assert result.returncode == 2 and "holds no run" in result.stderr


HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]


def _browser() -> str | None:
    return next((path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None)


def test_the_html_page_loads_offline_in_a_headless_browser_and_shows_every_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    browser = _browser()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail(".ci/run installs Debian's chromium for this test; it is missing")
        pytest.skip("no chromium here (apt-get install chromium)")
    out = tmp_path / "run"
    made = run_cli("run", SCENARIOS / "retail_orders.yaml", "-o", out, "-n", "6", "--model", "mock", "-q", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    page = tmp_path / "report.html"
    result = run_cli("report", out, "--html", page, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert "http://" not in text and "https://" not in text  # nothing to fetch: it opens offline
    shown = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    title = re.search(r"<title>(.*?)</title>", shown.stdout)
    assert title is not None, shown.stderr[-2000:]
    # The page's own script counts the images that decoded and drew, and reports any error.
    match = re.fullmatch(r"rolecall report: (\d+) of (\d+) plots shown", title.group(1))
    assert match is not None, title.group(1)
    assert match.group(1) == match.group(2) and int(match.group(2)) >= 4  # 4 distributions (+ funnel, cost)


def test_the_tau_retail_scenario_loads_the_shared_tools(tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios" / "tau_retail.yaml"
    if not (Path(__file__).resolve().parents[3] / "shared" / "data" / "references").exists():
        pytest.skip("the shared reference corpus is not beside the checkout")
    result = run_cli("validate", scenario, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "16 tools" in result.stdout


def test_money_comes_from_the_prices_in_the_run_s_model_config(tmp_path: Path) -> None:
    import yaml

    from rolecall.mock import MockServer, model_config

    with MockServer() as server:
        config = {**model_config(server.base_url), "prices": {"prompt_per_million": 2.5, "completion_per_million": 10}}
        (tmp_path / "priced.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        out = tmp_path / "run"
        done = run_cli(
            "run", SCENARIOS / "retail_orders.yaml", "-o", out, "-n", "3", "--model", tmp_path / "priced.yaml",
            "-q", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    result = run_cli("report", out, "--json", tmp_path / "r.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    cost = json.loads((tmp_path / "r.json").read_text())["cost"]
    prompt = completion = 0
    for name in ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl"):
        for line in (out / name).read_text().splitlines():
            for usage in json.loads(line)["metadata"]["usage"]["by_role"].values():
                prompt, completion = prompt + usage["prompt_tokens"], completion + usage["completion_tokens"]
    expected = (prompt * 2.5 + completion * 10) / 1e6
    assert prompt > 0 and cost["money"] == {"USD": round(expected, 6)}
    assert cost["unpriced_roles"] == []
    assert "USD" in result.stdout
