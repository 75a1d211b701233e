"""What the embedded model's RAM prefix cache buys: the same run with the cache on and off.

    python benchmarks/prefix_cache.py                       # retail example, 2 dialogues, 1 pair
    python benchmarks/prefix_cache.py -n 3 --repeats 2 --scenario travel_desk

Each pair runs `rolecall run` twice with the same seed and scenario, once with
``prefix_cache_bytes: 0`` and once with the default (1 GiB), alternating which goes first so a
warm page cache favours neither. Reports wall seconds, seconds per model call, the on/off ratio
and whether both runs wrote the same dialogues. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _config(directory: Path, model: str, cache_bytes: int | None) -> Path:
    config: dict = {"model": model}
    if cache_bytes is not None:
        config["prefix_cache_bytes"] = cache_bytes
    path = directory / f"cache-{'default' if cache_bytes is None else cache_bytes}.yaml"
    path.write_text(yaml.safe_dump({"provider": "rolecall.models.LlamaCppChatCompletionClient", "config": config}))
    return path


def _run(scenario: str, dialogues: int, config: Path, out: Path) -> dict:
    started = time.monotonic()
    scenario_file = REPO / "scenarios" / f"{scenario}.yaml"
    command = [sys.executable, "-m", "rolecall", "run", scenario_file, "-o", out, "-n", str(dialogues)]
    process = subprocess.run([*command, "--model", config, "-q"], check=False)
    seconds = time.monotonic() - started
    manifest = json.loads((out / "manifest.json").read_text())
    texts = "".join((out / name).read_text() for name in ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl"))
    return {
        "returncode": process.returncode,
        "seconds": round(seconds, 1),
        "model_calls": manifest["usage"]["model_calls"],
        "seconds_per_model_call": round(seconds / max(1, manifest["usage"]["model_calls"]), 2),
        "counts": manifest["counts"],
        "records": texts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--dialogues", type=int, default=2)
    parser.add_argument("--scenario", default="retail_orders")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--repeats", type=int, default=1, help="pairs of runs (order alternates)")
    args = parser.parse_args()
    pairs = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        settings = {"off": _config(root, args.model, 0), "on": _config(root, args.model, None)}
        for repeat in range(args.repeats):
            order = ["off", "on"] if repeat % 2 == 0 else ["on", "off"]
            runs = {
                name: _run(args.scenario, args.dialogues, settings[name], root / f"{repeat}-{name}") for name in order
            }
            same = runs["on"].pop("records") == runs["off"].pop("records")
            pairs.append(
                {
                    "order": order,
                    **runs,
                    "on_over_off_seconds": round(runs["on"]["seconds"] / runs["off"]["seconds"], 3),
                    "same_dialogues": same,
                }
            )
    print(json.dumps({"scenario": args.scenario, "dialogues": args.dialogues, "pairs": pairs}, indent=2))


if __name__ == "__main__":
    main()
