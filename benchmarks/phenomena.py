"""How often each stateful-benchmark phenomenon asked for in a scenario happens, and what it does
to the corpus.

    python benchmarks/phenomena.py                          # mock model, 3 examples x 20 dialogues
    python benchmarks/phenomena.py --model embedded -n 10   # the embedded model (hours on 2 cores)

For each example scenario and each setting (``baseline``: the scenario as written, with prior
state at its default; ``no_prior``: prior state off; ``error_recovery`` and ``missing_parameter``
at share 1), runs ``rolecall run`` and reports: dialogues where the phenomenon was requested, where
it occurred (read from the records with the validator's own helpers), acceptance, and the
accepted dialogues' corpus statistics (user turns, calls, dependency share, chain length) as
``rolecall report`` computes them. A measurement, not a test: nothing here asserts a number.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rolecall.report import conversation_stats, corpus_summary
from rolecall.run import read_run, record_evidence
from rolecall.validators import withheld_outcomes

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = ["retail_orders", "travel_desk", "it_helpdesk"]
SETTINGS: dict[str, dict[str, str]] = {
    "baseline": {},
    "no_prior": {"prior_calls": "{enabled: false}"},
    "error_recovery": {"error_recovery": "{share: 1.0, max_per_dialogue: 2}"},
    "missing_parameter": {"missing_parameter": "{share: 1.0}"},
}
STATS = ("user_turns_mean", "tool_calls_mean", "dependent_call_share_strict", "chain_length_mean")


def scenario_with(name: str, settings: dict[str, str], directory: Path) -> Path:
    """The example ``name`` with ``settings`` (YAML flow values) under ``generation``."""
    source = REPO / "scenarios" / f"{name}.yaml"
    lines = [line for line in source.read_text(encoding="utf-8").split("\n") if not _sets(line, settings)]
    text = "\n".join(lines).replace(
        "\ngeneration:\n", "\ngeneration:\n" + "".join(f"  {k}: {v}\n" for k, v in settings.items()), 1
    )
    target = directory / f"{name}.yaml"
    target.write_text(text, encoding="utf-8")
    return target


def _sets(line: str, settings: dict[str, str]) -> bool:
    return any(line.startswith(f"  {key}:") for key in settings)


def occurred(record: dict[str, Any], setting: str, evidence: Any) -> tuple[bool, bool]:
    """(requested, occurred) of the setting's phenomenon in one record."""
    phenomena = record["metadata"].get("phenomena") or {}
    if setting in ("baseline", "no_prior"):
        state = phenomena.get("prior_state") or {}
        prior_ids = {p["id"] for p in record["metadata"].get("prior_calls") or []}
        used = any(
            isinstance(value, str) and value.split(".")[0] in prior_ids
            for turn in record["metadata"]["plan"]["turns"]
            for call in turn["calls"]
            for value in call["arguments"].values()
        )
        return bool(state.get("requested")), bool(prior_ids) and used
    if setting == "error_recovery":
        entry = phenomena.get("error_recovery") or {}
        return bool(entry.get("requested")), bool(entry.get("injected"))
    entry = phenomena.get("missing_parameter") or {}
    outcomes = withheld_outcomes(evidence)
    return bool(entry.get("requested")), any(outcome.occurred for outcome in outcomes)


def measure(name: str, setting: str, dialogues: int, model: str, out: Path) -> dict[str, Any]:
    work = out / setting
    work.mkdir(parents=True, exist_ok=True)
    scenario = scenario_with(name, SETTINGS[setting], work)
    target = work / name
    started = time.monotonic()
    command = [sys.executable, "-m", "rolecall", "run", scenario, "-o", target, "-n", str(dialogues), "-q"]
    if model != "embedded":
        command += ["--model", model]
    process = subprocess.run(command, check=False, capture_output=True, text=True)
    seconds = time.monotonic() - started
    records = read_run(target)
    rows = {"requested": 0, "occurred": 0, "occurred_accepted": 0}
    for kind in ("accepted", "rejected"):
        for record in records[kind]:
            evidence, _ = record_evidence(record, {}, {})  # the phenomena need neither tools nor schemas
            requested, happened = occurred(record, setting, evidence)
            rows["requested"] += requested
            rows["occurred"] += happened
            rows["occurred_accepted"] += happened and kind == "accepted"
    accepted = records["accepted"]
    with_phenomenon = [r for r in accepted if occurred(r, setting, record_evidence(r, {}, {})[0])[1]]
    summary = corpus_summary([conversation_stats(r["messages"]) for r in accepted])
    summary_with = corpus_summary([conversation_stats(r["messages"]) for r in with_phenomenon])
    done = sum(len(items) for items in records.values())
    return {
        "scenario": name,
        "setting": setting,
        "dialogues": done,
        "returncode": process.returncode,
        "seconds": round(seconds, 1),
        **rows,
        "accepted": len(accepted),
        "acceptance": round(len(accepted) / done, 3) if done else 0.0,
        "accepted_stats": {key: summary.get(key) for key in STATS},
        "accepted_with_phenomenon_stats": {key: summary_with.get(key) for key in STATS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--dialogues", type=int, default=20)
    parser.add_argument("--model", default="mock", help="mock[:KNOBS], a model config, or 'embedded'")
    parser.add_argument("--out", type=Path, default=REPO / "bench-runs" / "phenomena")
    parser.add_argument("--scenarios", nargs="*", default=SCENARIOS)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS))
    parser.add_argument("--summary", type=Path, help="write the JSON summary here too")
    args = parser.parse_args()
    out = args.out / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    rows = []
    for setting in args.settings:
        for name in args.scenarios:
            row = measure(name, setting, args.dialogues, args.model, out)
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {"model": args.model, "dialogues_per_run": args.dialogues, "rows": rows}
    (out / "summary.json").write_text(json.dumps(result, indent=1))
    if args.summary:
        args.summary.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
