"""The validator as a classifier: recall on known defects, precision on clean dialogues.

    python benchmarks/validator.py                         # rules only: mock dialogues, 3 scenarios
    python benchmarks/validator.py --judge-sample 5 --votes 5     # plus the embedded model's judge

Builds a labelled set. The originals are dialogues the mock model writes on the three example
scenarios (accepted by the run), with the mock's "Done. Here is the result: {json}" replies
rewritten as prose that states the result's ids, amounts and statuses (``_mutations.prose``).
Every copy then gets exactly one change, applied by code so that its label is exact:

- clean variants, which the validator must keep: the prose original itself; a free-text argument
  typed in capitals with a full stop; the amount stated by the user in dollars (the call in cents);
- defects, one per copy, which it must reject (``_mutations.DEFECTS``: an unplanned write, an
  unplanned write that shares a word with the planned one (``add_order_note`` beside
  ``cancel_order``), an id of another kind, dollars passed as cents, a hidden call dropped or made
  late, a reply that contradicts a result's amount, id or status, success claimed after an error,
  a user who names or states a hidden step, a duplicated call, a write made again on the same
  entity with a changed value nobody said, an unanswered call, a user who speaks as the agent).

Reports, per kind: how many copies, the share the rules together reject (recall; for clean
variants, the share they keep: precision), and which rules fire. With ``--judge-sample K``, the
judge (the scenario's models, the embedded model by default) votes ``--votes`` times on K copies
of each kind (`--judge-kinds` for some); 1-, 3- and 5-vote majorities come from the same votes. Judge answers are
appended to ``judge.jsonl`` in the work folder as they come, so ``--work DIR`` resumes.
Writes the summary to benchmarks/results/validator.json. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import copy
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mutations import CLEAN_VARIANTS, DEFECTS, STRUCTURAL, Context, naturalise

from rolecall.planning import resolve_output_schemas
from rolecall.run import check_record, read_run
from rolecall.scenario import JudgeSettings, load_scenario
from rolecall.validators import CHECK_NAMES, judge

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = ["retail_orders", "travel_desk", "it_helpdesk"]


def originals(scenario: str, dialogues: int, work: Path) -> list[dict[str, Any]]:
    """The mock model's accepted dialogues on ``scenario`` (written once into ``work``)."""
    out = work / "mock" / f"{scenario}-{dialogues}"
    if not (out / "manifest.json").exists():
        command = [sys.executable, "-m", "rolecall", "run", REPO / "scenarios" / f"{scenario}.yaml"]
        command += ["-o", out, "-n", str(dialogues), "--model", "mock", "-q"]
        subprocess.run(command, check=True, capture_output=True)
    return read_run(out)["accepted"]


def context_for(scenario: str) -> tuple[Context, Any]:
    loaded = load_scenario(REPO / "scenarios" / f"{scenario}.yaml", known_rules=CHECK_NAMES)
    schemas, _ = asyncio.run(resolve_output_schemas(list(loaded.tools), infer=None))
    return Context({tool.name: tool for tool in loaded.tools}, schemas), loaded


def labelled_copies(scenario: str, dialogues: int, work: Path) -> tuple[list[dict[str, Any]], Context, Any]:
    context, loaded = context_for(scenario)
    copies = []
    for record in originals(scenario, dialogues, work):
        base = naturalise(copy.deepcopy(record), context)
        if base is None:
            continue
        for kind, mutation in {**CLEAN_VARIANTS, **DEFECTS}.items():
            changed = mutation(copy.deepcopy(base), context)
            if changed is not None:
                changed["id"] = f"{record['id']}:{kind}"
                copies.append({"kind": kind, "defect": kind in DEFECTS, "scenario": scenario, "record": changed})
    return copies, context, loaded


def rule_verdicts(copies: list[dict[str, Any]], contexts: dict[str, Context], loaded: dict[str, Any]) -> None:
    for item in copies:
        context = contexts[item["scenario"]]
        disabled = loaded[item["scenario"]].scenario.validation.disabled_rules
        checked = check_record(item["record"], context.tools, context.output_schemas, disabled)
        item["rules_reject"] = not checked.accepted
        item["failed"] = [check.name for check in checked.checks if not check.passed]
        item["evidence"] = checked.evidence


def summarise_rules(copies: list[dict[str, Any]]) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {}
    for kind in [*CLEAN_VARIANTS, *DEFECTS]:
        items = [item for item in copies if item["kind"] == kind]
        if not items:
            kinds[kind] = {"copies": 0}
            continue
        rejected = sum(item["rules_reject"] for item in items)
        by_rule = collections.Counter(name for item in items for name in item["failed"])
        share = (len(items) - rejected) / len(items) if kind in CLEAN_VARIANTS else rejected / len(items)
        kinds[kind] = {
            "copies": len(items),
            "defect": kind in DEFECTS,
            "structural": kind in STRUCTURAL,
            ("precision" if kind in CLEAN_VARIANTS else "recall"): round(share, 3),
            "rules_firing": {name: round(count / len(items), 3) for name, count in by_rule.most_common()},
        }
    clean = [item for item in copies if not item["defect"]]
    per_rule = {}
    for name in CHECK_NAMES:
        false_rejects = sum(name in item["failed"] for item in clean)
        caught = {
            kind: round(sum(name in i["failed"] for i in copies if i["kind"] == kind) / kinds[kind]["copies"], 3)
            for kind in DEFECTS
            if kinds[kind]["copies"]
        }
        per_rule[name] = {
            "precision_on_clean": round(1 - false_rejects / max(1, len(clean)), 3),
            "recall_by_kind": {k: v for k, v in caught.items() if v},
        }
    return {"kinds": kinds, "rules": per_rule}


async def judge_sample(
    copies: list[dict[str, Any]],
    loaded: dict[str, Any],
    sample: int,
    votes: int,
    work: Path,
    kinds: list[str] | None = None,
) -> dict[str, Any]:
    """``votes`` judge votes on ``sample`` copies of each kind (of ``kinds``, or every kind);
    answers appended to judge.jsonl."""
    from rolecall.agents import AutogenBackend
    from rolecall.models import ModelFactory

    path = work / "judge.jsonl"
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            done[entry["id"]] = entry
    rng = random.Random(7)
    picked = []
    for kind in [*CLEAN_VARIANTS, *DEFECTS]:
        items = [item for item in copies if item["kind"] == kind]
        sampled = rng.sample(items, min(sample, len(items)))  # drawn for every kind: the same copies either way
        if kinds is None or kind in kinds:
            picked.append(sampled)
    # Round robin over the kinds, so a run cut short still covers every kind evenly.
    chosen = [group[i] for i in range(sample) for group in picked if i < len(group)]
    factory = ModelFactory(next(iter(loaded.values())).model_configs)
    factory.prepare()
    backend = AutogenBackend(factory)
    role = backend.structured("judge")
    settings = JudgeSettings(votes=votes)
    try:
        with path.open("a", encoding="utf-8") as handle:
            for item in chosen:
                key = item["record"]["id"]
                if key in done:
                    continue
                started = time.monotonic()
                policy = loaded[item["scenario"]].scenario.policy
                verdict = await judge(role, item["evidence"], policy, settings)
                entry = {
                    "id": key,
                    "kind": item["kind"],
                    "rules_reject": item["rules_reject"],
                    "votes": [vote.consistent for vote in verdict.votes],
                    "reasoning": [vote.reasoning for vote in verdict.votes],
                    "seconds": round(time.monotonic() - started, 1),
                }
                handle.write(json.dumps(entry) + "\n")
                handle.flush()
                done[key] = entry
                print(f"judge {key}: {entry['votes']} ({entry['seconds']} s)", flush=True)
    finally:
        await backend.close()
    return summarise_judge([done[item["record"]["id"]] for item in chosen if item["record"]["id"] in done])


def summarise_judge(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind, for 1, 3 and 5 votes (majority of the first k): the share the judge rejects
    (for clean kinds, the share it keeps), and how much it adds to the rules."""
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in [*CLEAN_VARIANTS, *DEFECTS]:
        items = [entry for entry in entries if entry["kind"] == kind]
        if not items:
            continue
        row: dict[str, Any] = {"copies": len(items)}
        for k in (1, 3, 5):
            if any(len(entry["votes"]) < k for entry in items):
                continue
            rejects = [sum(v == "no" for v in entry["votes"][:k]) * 2 > k for entry in items]
            missed_by_rules = [r for r, entry in zip(rejects, items, strict=True) if not entry["rules_reject"]]
            if kind in CLEAN_VARIANTS:
                row[f"keeps_{k}"] = round(1 - sum(rejects) / len(items), 3)
            else:
                row[f"rejects_{k}"] = round(sum(rejects) / len(items), 3)
                row[f"adds_{k}"] = f"{sum(missed_by_rules)}/{len(missed_by_rules)}"
        row["seconds_per_copy"] = round(sum(e["seconds"] for e in items) / len(items), 1)
        by_kind[kind] = row
    return by_kind


def print_table(summary: dict[str, Any]) -> None:
    print(f"{'kind':<22} {'copies':>6}  {'rules':>6}  rules that fire")
    for kind, row in summary["rules"]["kinds"].items():
        if not row["copies"]:
            print(f"{kind:<22} {0:>6}  (not applicable to these dialogues)")
            continue
        share = row.get("precision", row.get("recall"))
        firing = ", ".join(f"{name} {value:.2f}" for name, value in row["rules_firing"].items())
        print(f"{kind:<22} {row['copies']:>6}  {share:>6.3f}  {firing}")
    for kind, row in (summary.get("judge") or {}).items():
        print(f"judge {kind:<16} {json.dumps(row)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--dialogues", type=int, default=40, help="mock dialogues per scenario")
    parser.add_argument("--work", type=Path, default=REPO / "bench-runs" / "validator", help="work folder")
    parser.add_argument("--judge-sample", type=int, default=0, help="copies per kind the judge votes on")
    parser.add_argument("--votes", type=int, default=5)
    parser.add_argument(
        "--judge-kinds", nargs="+", choices=[*CLEAN_VARIANTS, *DEFECTS], help="sample only these kinds for the judge"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "validator.json")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    copies, contexts, loaded = [], {}, {}
    for scenario in SCENARIOS:
        items, contexts[scenario], loaded[scenario] = labelled_copies(scenario, args.dialogues, args.work)
        copies += items
    rule_verdicts(copies, contexts, loaded)
    summary: dict[str, Any] = {
        "dialogues_per_scenario": args.dialogues,
        "copies": len(copies),
        "clean_copies": sum(not item["defect"] for item in copies),
        "rules": summarise_rules(copies),
    }
    clean = [item for item in copies if not item["defect"]]
    summary["rules_together"] = {
        "precision_on_clean": round(sum(not i["rules_reject"] for i in clean) / max(1, len(clean)), 3),
        "structural_recall_min": min(
            (summary["rules"]["kinds"][k]["recall"] for k in STRUCTURAL if summary["rules"]["kinds"][k]["copies"]),
            default=None,
        ),
    }
    if args.judge_sample:
        summary["judge"] = asyncio.run(
            judge_sample(copies, loaded, args.judge_sample, args.votes, args.work, args.judge_kinds)
        )
        summary["judge_votes"] = args.votes
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print_table(summary)
    print(json.dumps(summary["rules_together"]))


if __name__ == "__main__":
    main()
