"""Does any aid fire on a well-behaved model? Provenance of runs against the mock model.

    python benchmarks/mock_provenance.py            # 50 dialogues per setting, retail example

Runs `rolecall run` with the mock model (`--model mock...`) under several settings (assist
auto/none/small_model, the confirming assistant and user, on-request disclosure) and counts the
messages of each role by origin. A well-behaved user must get zero code-written user messages
whatever the policy. Writes the summary to benchmarks/results/mock_provenance.json. A
measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rolecall.run import read_run, tally

REPO = Path(__file__).resolve().parents[1]
SETTINGS = [
    ("auto", "mock", "upfront"),
    ("small_model", "mock", "upfront"),
    ("auto", "mock:confirm", "upfront"),
    ("small_model", "mock:confirm", "upfront"),
    ("auto", "mock", "on_request"),
    ("small_model", "mock:confirm", "on_request"),
]


def run(scenario: Path, dialogues: int, assist: str, model: str, disclosure: str, work: Path) -> dict:
    source = scenario.read_text(encoding="utf-8")
    if disclosure != "upfront":
        source = source.replace("generation:\n", f"generation:\n  user: {{disclosure: {disclosure}}}\n", 1)
    copy = work / f"{scenario.stem}-{disclosure}.yaml"
    copy.write_text(source, encoding="utf-8")
    for path in scenario.parent.iterdir():  # files the scenario references sit beside it
        if path.suffix in (".json", ".yaml") and not (work / path.name).exists() and path != scenario:
            (work / path.name).write_bytes(path.read_bytes())
    out = work / f"{assist}-{model.replace(':', '-')}-{disclosure}"
    started = time.monotonic()
    command = [sys.executable, "-m", "rolecall", "run", copy, "-o", out, "-n", str(dialogues)]
    command += ["--model", model, "--assist", assist, "-q", "-c", "8"]
    subprocess.run(command, check=True)
    counts = tally(read_run(out))
    users = counts["provenance"].get("user", {})
    return {
        "assist": assist,
        "model": model,
        "disclosure": disclosure,
        "seconds": round(time.monotonic() - started, 1),
        "counts": counts["counts"],
        "user_messages_by_origin": users,
        "code_written_user_messages": sum(n for origin, n in users.items() if origin != "model"),
        "tool_results_by_origin": counts["provenance"].get("tool", {}),
        "end_reasons": counts["end_reasons"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--dialogues", type=int, default=50)
    parser.add_argument("--scenario", type=Path, default=REPO / "scenarios" / "retail_orders.yaml")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "mock_provenance.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        results = [run(args.scenario, args.dialogues, *setting, Path(work)) for setting in SETTINGS]
    summary = {"scenario": args.scenario.name, "dialogues": args.dialogues, "runs": results}
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    for r in results:
        print(
            f"{r['assist']:>11} {r['model']:>12} {r['disclosure']:>10}: {r['counts']}  "
            f"user by origin {r['user_messages_by_origin']}  tool by origin {r['tool_results_by_origin']}"
        )


if __name__ == "__main__":
    main()
