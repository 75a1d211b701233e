"""Acceptance and speed of the embedded model on the example scenarios.

    python benchmarks/local_model.py                      # 10 dialogues x 3 scenarios, 1.5B model
    python benchmarks/local_model.py --assist none        # the same with every aid for weak models off
    python benchmarks/local_model.py -n 2 --model qwen2.5-coder-0.5b --out bench-runs
    python benchmarks/local_model.py --summarise bench-runs/20261122-101500   # a run cut off

Runs `rolecall run` once per scenario (all roles on the embedded model, as the README's main
job does) and reads each run's manifest and records. Reports, per scenario and overall:
acceptance rate, rejection reasons, failure classes, seconds per dialogue, seconds per model
call, seconds and tokens per accepted dialogue, peak memory, where the model time went per
role (seconds, prompt tokens evaluated and reused from the prefix cache, tokens generated), and
the share of user messages by origin (model, redrafted, appended, scripted: how much of the data
the aids for weak models wrote). Writes the same as JSON next to the runs.
A measurement, not a test: nothing here asserts a number.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rolecall.run import MANIFEST, read_run, tally

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = ["retail_orders", "travel_desk", "it_helpdesk"]


def measure(scenario: str, dialogues: int, model: str, out: Path, assist: str, resume: bool) -> dict:
    target = out / scenario
    env = {**os.environ, "ROLECALL_LOCAL_MODEL": model}
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rolecall",
            "run",
            REPO / "scenarios" / f"{scenario}.yaml",
            "-o",
            target,
            "-n",
            str(dialogues),
            "--assist",
            assist,
            "-q",
            *(["--resume"] if resume else []),
        ],
        env=env,
    )
    _, status, usage = os.wait4(process.pid, 0)  # the run's own peak memory (Linux: kilobytes)
    return {
        **summarise(target, time.monotonic() - started),
        "returncode": os.waitstatus_to_exitcode(status),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def summarise(target: Path, seconds: float) -> dict:
    """One scenario's numbers from its run folder: whatever dialogues it holds, so a run that
    was cut off is summarised over the dialogues it finished."""
    manifest = json.loads((target / MANIFEST).read_text())
    records = read_run(target)
    counts = tally(records)
    done = sum(counts["counts"].values())
    calls = counts["usage"]["model_calls"]
    by_role: collections.Counter[str] = collections.Counter()
    for items in records.values():
        for record in items:
            for role, usage in record["metadata"].get("usage", {}).get("by_role", {}).items():
                by_role[role] += usage["calls"]
    return {
        "scenario": target.name,
        "dialogues": done,
        "requested": manifest["requested"],
        # A run that crashed or was stopped leaves its manifest "running".
        "status": manifest["status"],
        "models": manifest.get("models"),
        "counts": counts["counts"],
        "acceptance": counts["counts"]["accepted"] / done if done else None,
        "rejection_reasons": counts["rejection_reasons"],
        "failure_classes": counts["failure_classes"],
        "end_reasons": counts["end_reasons"],
        "seconds": round(seconds, 1),
        "seconds_per_dialogue": round(seconds / done, 1) if done else None,
        "model_calls": calls,
        "model_calls_by_role": dict(by_role),
        "seconds_per_model_call": round(seconds / calls, 2) if calls else None,
        "by_role": by_role_time(manifest),
        "assist": manifest.get("assist"),
        "user_messages_by_origin": _shares(counts["provenance"].get("user", {})),
        "tool_results_by_origin": _shares(counts["provenance"].get("tool", {})),
        "prompt_tokens": counts["usage"]["prompt_tokens"],
        "completion_tokens": counts["usage"]["completion_tokens"],
        # Every rejection and failure with its reasons, so none goes unexplained.
        "rejections": [
            {
                "index": record["metadata"]["index"],
                "end_reason": record["metadata"].get("end_reason"),
                "failed_checks": {
                    check["name"]: check["reason"]
                    for check in (record["metadata"].get("validation") or {}).get("checks", [])
                    if not check["passed"]
                },
            }
            for record in records["rejected"]
        ],
        "failures": [
            {"index": record["metadata"]["index"], "error": record["metadata"].get("error")}
            for record in records["failed"]
        ],
    }


def by_role_time(manifest: dict) -> dict[str, dict]:
    """Where the model time went, per role (the manifest's ``model_time_by_role``): seconds,
    prompt tokens sent, the share reused from the prefix cache, tokens evaluated and generated."""
    roles = {}
    for role, spent in (manifest.get("model_time_by_role") or {}).items():
        prompt, cached = spent["prompt_tokens"], spent["cached_prompt_tokens"]
        roles[role] = {
            "calls": spent["calls"],
            "seconds": spent["seconds"],
            "seconds_per_call": round(spent["seconds"] / spent["calls"], 2) if spent["calls"] else None,
            "prompt_tokens": prompt,
            "evaluated_prompt_tokens": prompt - cached,
            "reused_share": round(cached / prompt, 3) if prompt else None,
            "generated_tokens": spent["completion_tokens"],
        }
    return roles


def _shares(counts: dict[str, int]) -> dict[str, dict[str, float]]:
    """Origin -> count and share of the messages."""
    total = sum(counts.values())
    return {origin: {"count": n, "share": round(n / total, 3)} for origin, n in sorted(counts.items()) if total}


def _seconds_from_files(target: Path) -> float:
    """A cut-off run's time: from the manifest's start to the last record written. The time
    spent on a dialogue that was not finished is not counted."""
    started = dt.datetime.fromisoformat(json.loads((target / MANIFEST).read_text())["started_at"])
    written = [path.stat().st_mtime for path in target.glob("*.jsonl") if path.stat().st_size]
    return max(written, default=started.timestamp()) - started.timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--dialogues", type=int, default=10)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="packaged model name or GGUF path")
    parser.add_argument("--out", type=Path, default=REPO / "bench-runs")
    parser.add_argument("--scenarios", nargs="*", default=SCENARIOS)
    parser.add_argument("--assist", choices=["auto", "none", "small_model"], default="auto")
    parser.add_argument(
        "--resume", type=Path, metavar="RUN_DIR", help="continue an earlier benchmark folder (each run with --resume)"
    )
    parser.add_argument(
        "--summarise",
        type=Path,
        metavar="RUN_DIR",
        help="run nothing: summarise an earlier (possibly cut-off) benchmark folder, timed from its files",
    )
    args = parser.parse_args()
    if args.summarise:
        run_dir = args.summarise
        targets = [run_dir / name for name in args.scenarios if (run_dir / name / MANIFEST).exists()]
        results = [summarise(target, _seconds_from_files(target)) for target in targets]
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        run_dir = args.resume or args.out / time.strftime("%Y%m%d-%H%M%S")
        results = [
            measure(scenario, args.dialogues, args.model, run_dir, args.assist, resume=args.resume is not None)
            for scenario in args.scenarios
        ]
    total = sum(r["dialogues"] for r in results)
    accepted = sum(r["counts"]["accepted"] for r in results)
    summary = {
        "model": "see per_scenario models" if args.summarise else args.model,
        "assist": None if args.summarise else args.assist,
        "dialogues": total,
        "acceptance": round(accepted / total, 3) if total else None,
        "seconds_per_dialogue": round(sum(r["seconds"] for r in results) / total, 1) if total else None,
        "seconds_per_model_call": round(
            sum(r["seconds"] for r in results) / max(1, sum(r["model_calls"] for r in results)), 2
        ),
        "tokens": sum(r["prompt_tokens"] + r["completion_tokens"] for r in results),
        "evaluated_prompt_tokens": sum(
            role["evaluated_prompt_tokens"] for r in results for role in r["by_role"].values()
        ),
        "peak_rss_mb": max((r.get("peak_rss_mb") or 0 for r in results), default=None),
        "per_scenario": results,
    }
    (run_dir / ("summary-partial.json" if args.summarise else "summary.json")).write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
