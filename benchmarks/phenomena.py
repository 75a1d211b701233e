"""How often each stateful-benchmark phenomenon asked for in a scenario happens, and what it does
to the corpus.

    python benchmarks/phenomena.py                          # mock model, 3 examples x 20 dialogues
    python benchmarks/phenomena.py --model embedded -n 10   # the embedded model (hours on 2 cores)

For each example scenario and each setting (``baseline``: the scenario as written, with prior
state at its default; ``no_prior``: prior state off; ``error_recovery``, ``missing_parameter``
and each difficult-user behaviour at share 1; ``missing_function`` at share 0.5 of turns;
``follow_up`` against ``no_follow_up``, both with 2 to 3 turns), runs ``rolecall run`` and
reports: dialogues where the phenomenon was requested, where it occurred (read from the records
with the validator's own helpers), acceptance, and the accepted dialogues' corpus statistics
(user turns, calls, dependency share, chain length) as ``rolecall report`` computes them. A
measurement, not a test: nothing here asserts a number. ``--rows FILE`` appends each row as it
finishes and skips those already there, so a run of hours can stop and resume.
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
from rolecall.validators import decline_outcomes, withheld_outcomes

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = ["retail_orders", "travel_desk", "it_helpdesk"]
SETTINGS: dict[str, dict[str, str]] = {
    "baseline": {},
    "no_prior": {"prior_calls": "{enabled: false}"},
    "error_recovery": {"error_recovery": "{share: 1.0, max_per_dialogue: 2}"},
    "missing_parameter": {"missing_parameter": "{share: 1.0}"},
    "missing_function": {"missing_function": "{share: 0.5}"},
    # Follow-ups need several turns: both settings play 2 to 3, with and without them.
    "no_follow_up": {"turns": "{min: 2, max: 3}", "follow_up": "{share: 0}"},
    "follow_up": {"turns": "{min: 2, max: 3}", "follow_up": "{share: 1.0}"},
    "change_of_mind": {"user_behaviours": "{change_of_mind: 1.0}"},
    "tangent": {"user_behaviours": "{tangent: 1.0}"},
    "impatient": {"user_behaviours": "{impatient: 1.0}"},
}
# Behaviours that live in the user's prompt alone: no detector says whether the model acted them out.
PROMPT_ONLY = ("tangent", "impatient")
# The mock's knobs a setting needs: a change of mind comes at the user's reply before the goal
# call, and only a mock that confirms first (as the example policies ask) gives one.
MOCK_KNOBS = {"change_of_mind": "confirm"}
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
    if setting == "missing_function":
        entry = phenomena.get("missing_function") or {}
        return bool(entry.get("requested")), any(outcome.declined for outcome in decline_outcomes(evidence))
    if setting in ("follow_up", "no_follow_up"):
        entry = phenomena.get("follow_up") or {}
        return bool(entry.get("requested")), bool(entry.get("planned"))
    if setting in ("change_of_mind", *PROMPT_ONLY):
        behaviours = phenomena.get("user_behaviours") or {}
        requested = setting in (behaviours.get("requested") or [])
        if setting in PROMPT_ONLY:
            return requested, requested
        return requested, (behaviours.get("change_of_mind") or {}).get("at") is not None
    entry = phenomena.get("missing_parameter") or {}
    outcomes = withheld_outcomes(evidence)
    return bool(entry.get("requested")), any(outcome.occurred for outcome in outcomes)


def _commit() -> str:
    """The code a row was measured on (rows of one file may come from several sessions)."""
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "rolecall"], cwd=REPO, capture_output=True, text=True)
    return found.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _repeated(records: list[dict[str, Any]]) -> tuple[int, int]:
    """(openings that repeat a value, openings) of follow-up turns: whether the user said the
    value the turn takes from an earlier turn's result ("ord_7f3k") instead of "that order"."""
    repeated = openings = 0
    for record in records:
        metadata = record["metadata"]
        turns, starts = metadata["plan"]["turns"], metadata["turn_starts"]
        for turn in (metadata.get("phenomena") or {}).get("follow_up", {}).get("planned", []):
            if turn >= len(starts):
                continue
            earlier = {call["id"] for plan in turns[:turn] for call in plan["calls"]}
            wanted = {
                (call["name"], key)
                for call in turns[turn]["calls"]
                for key, value in call["arguments"].items()
                if isinstance(value, str) and value.split(".")[0] in earlier
            }
            end = starts[turn + 1] if turn + 1 < len(starts) else len(record["messages"])
            values = [
                str(json.loads(call["function"]["arguments"]).get(key, ""))
                for message in record["messages"][starts[turn] : end]
                for call in message.get("tool_calls") or []
                for name, key in wanted
                if call["function"]["name"] == name
            ]
            opening = record["messages"][starts[turn]]["content"] or ""
            openings += 1
            repeated += any(value and value in opening for value in values)
    return repeated, openings


def measure(name: str, setting: str, dialogues: int, model: str, out: Path) -> dict[str, Any]:
    work = out / setting
    work.mkdir(parents=True, exist_ok=True)
    scenario = scenario_with(name, SETTINGS[setting], work)
    target = work / name
    started = time.monotonic()
    command = [sys.executable, "-m", "rolecall", "run", scenario, "-o", target, "-n", str(dialogues), "-q"]
    if model == "mock" and setting in MOCK_KNOBS:
        model = f"mock:{MOCK_KNOBS[setting]}"
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
    if setting in ("follow_up", "no_follow_up"):
        rows["openings_repeating_an_earlier_value"], rows["follow_up_openings"] = _repeated(accepted)
    with_phenomenon = [r for r in accepted if occurred(r, setting, record_evidence(r, {}, {})[0])[1]]
    summary = corpus_summary([conversation_stats(r["messages"]) for r in accepted])
    summary_with = corpus_summary([conversation_stats(r["messages"]) for r in with_phenomenon])
    done = sum(len(items) for items in records.values())
    return {
        "scenario": name,
        "setting": setting,
        "model": model,
        "commit": _commit(),
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
    parser.add_argument(
        "--rows",
        type=Path,
        help="append each (setting, scenario) row to this JSONL as it finishes, and skip the rows it holds: "
        "a long run resumes where it stopped",
    )
    args = parser.parse_args()
    out = args.out / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    rows = []
    if args.rows and args.rows.exists():
        rows = [json.loads(line) for line in args.rows.read_text().splitlines() if line.strip()]
    done = {(row["setting"], row["scenario"]) for row in rows}
    for setting in args.settings:
        for name in args.scenarios:
            if (setting, name) in done:
                continue
            row = measure(name, setting, args.dialogues, args.model, out)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.rows:
                with args.rows.open("a", encoding="utf-8") as stream:
                    stream.write(json.dumps(row) + "\n")
    result = {"model": args.model, "dialogues_per_run": args.dialogues, "rows": rows}
    (out / "summary.json").write_text(json.dumps(result, indent=1))
    if args.summary:
        args.summary.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
