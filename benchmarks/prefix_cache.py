"""What the embedded model's RAM prefix cache buys: the same run with two cache sizes.

    python benchmarks/prefix_cache.py                       # retail example, 2 dialogues, 1 pair
    python benchmarks/prefix_cache.py -n 3 --repeats 2 --scenario travel_desk
    python benchmarks/prefix_cache.py --bytes 805306368     # the default against 768 MiB

Each pair runs `rolecall run` twice with the same seed and scenario, once with the default
``prefix_cache_bytes`` (1 GiB) and once with ``--bytes`` (0 by default: no cache), alternating
which goes first so a warm page cache favours neither. Reports wall seconds, seconds per model
call, peak RSS (``os.wait4``), the other/default ratio of seconds and whether both runs wrote the
same dialogues. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
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
    process = subprocess.Popen([*command, "--model", config, "-q"])
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    manifest = json.loads((out / "manifest.json").read_text())
    texts = "".join((out / name).read_text() for name in ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl"))
    return {
        "returncode": os.waitstatus_to_exitcode(status),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
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
    parser.add_argument("--bytes", type=int, default=0, help="the cache size set against the default (0: none)")
    parser.add_argument("--out", type=Path, help="also write the summary here")
    args = parser.parse_args()
    pairs = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        settings = {"other": _config(root, args.model, args.bytes), "default": _config(root, args.model, None)}
        for repeat in range(args.repeats):
            order = ["other", "default"] if repeat % 2 == 0 else ["default", "other"]
            runs = {
                name: _run(args.scenario, args.dialogues, settings[name], root / f"{repeat}-{name}") for name in order
            }
            same = runs["default"].pop("records") == runs["other"].pop("records")
            pairs.append(
                {
                    "order": order,
                    **runs,
                    "other_over_default_seconds": round(runs["other"]["seconds"] / runs["default"]["seconds"], 3),
                    "same_dialogues": same,
                }
            )
    summary = {"scenario": args.scenario, "dialogues": args.dialogues, "other_bytes": args.bytes, "pairs": pairs}
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
