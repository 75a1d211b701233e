"""How many CPU threads the embedded model should use when its cores are shared.

    python benchmarks/threads.py                      # the default 1.5B model, 2 rounds
    python benchmarks/threads.py --model qwen2.5-coder-0.5b --rounds 3
    python benchmarks/threads.py --run 2              # whole `rolecall run`s of the retail example

llama.cpp's threads meet at a spinning barrier after every operation, so one thread that the OS
has taken off its core stalls all the others. The embedded client used every core by default;
in CI another process busy on one of the two cores made a one-dialogue run take more than
900 s instead of 110 s. This measures one model call's work (evaluate a ~700-token prompt,
generate 48 tokens greedily) with 1 thread and with every core, on idle cores and with one or
more cores kept busy by competing processes, rounds alternating, and stores the summary in
``benchmarks/results/threads-<model>-<commit>.json``. With ``--run N``, it instead times whole
``rolecall run``s of N dialogues (the README's main command) with each thread count, alternating
which goes first, and stores ``threads-run-<model>-<commit>.json``. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PROMPT = (
    "You are a retail support assistant. Tools: find_order(customer_email) returns the order ids of a "
    "customer; get_order(order_id) returns an order's items, status and address; cancel_order(order_id, "
    "reason) cancels a pending order. Policy: confirm before any change, never invent ids. "
) * 8 + "Customer: Hello, I would like to cancel my last order. My email is ana@example.com.\nAssistant:"


def _one_call(llama: object, tokens: list[int], generate: int) -> float:
    started = time.perf_counter()
    llama.reset()  # type: ignore[attr-defined]
    for produced, _ in enumerate(llama.generate(tokens, temp=0.0), start=1):  # type: ignore[attr-defined]
        if produced == generate:
            break
    return time.perf_counter() - started


def _busy_cores(count: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def _load(busy: int) -> str:
    return "idle" if busy == 0 else f"{busy} core(s) busy"


def _whole_runs(model: str, dialogues: int, thread_counts: list[int], rounds: int) -> dict[str, Any]:
    """Wall seconds of ``rolecall run`` on the retail example per thread count, and whether the
    dialogues written were the same (the thread count must not change what the model says)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(rounds):
            for n in thread_counts if round_number % 2 == 0 else thread_counts[::-1]:
                config = Path(scratch) / f"threads-{n}.yaml"
                settings = {"model": model, "n_threads": n}
                config.write_text(
                    yaml.safe_dump({"provider": "rolecall.models.LlamaCppChatCompletionClient", "config": settings})
                )
                out = Path(scratch) / f"{round_number}-{n}"
                command = [sys.executable, "-m", "rolecall", "run", REPO / "scenarios" / "retail_orders.yaml"]
                started = time.monotonic()
                done = subprocess.run([*command, "-o", out, "-n", str(dialogues), "--model", config, "-q"], check=False)
                manifest = json.loads((out / "manifest.json").read_text())
                texts = "".join(
                    (out / name).read_text() for name in ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl")
                )
                runs.setdefault(f"{n} thread(s)", []).append(
                    {
                        "returncode": done.returncode,
                        "seconds": round(time.monotonic() - started, 1),
                        "model_calls": manifest["usage"]["model_calls"],
                        "counts": manifest["counts"],
                        "records_digest": hashlib.sha256(texts.encode()).hexdigest()[:16],
                    }
                )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--generate", type=int, default=48)
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1, 2], help="competing busy processes")
    parser.add_argument("--run", type=int, default=0, metavar="N", help="time whole runs of N dialogues instead")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    cores = os.cpu_count() or 1
    thread_counts = sorted({1, cores})
    if args.run:
        runs = _whole_runs(args.model, args.run, thread_counts, args.rounds)
        medians = {key: statistics.median(run["seconds"] for run in values) for key, values in runs.items()}
        summary: dict[str, Any] = {
            "model": args.model,
            "commit": commit.stdout.strip(),
            "cores": cores,
            "dialogues": args.run,
            "runs": runs,
            "median_seconds": medians,
            "ratios": {
                f"{n} threads / 1 thread": round(medians[f"{n} thread(s)"] / medians["1 thread(s)"], 2)
                for n in thread_counts[1:]
            },
        }
        print(json.dumps(summary, indent=2))
        out = REPO / "benchmarks" / "results" / f"threads-run-{args.model}-{summary['commit']}.json"
        out.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {out.relative_to(REPO)}")
        return

    from llama_cpp import Llama

    from rolecall.models import ensure_model

    path = str(ensure_model(args.model))
    models = {n: Llama(model_path=path, n_ctx=2048, n_threads=n, seed=0, verbose=False) for n in thread_counts}
    tokens = models[1].tokenize(PROMPT.encode())
    seconds: dict[str, list[float]] = {}
    for round_number in range(args.rounds):
        for busy in args.busy:
            order = thread_counts if round_number % 2 == 0 else thread_counts[::-1]
            competitors = _busy_cores(busy)
            try:
                for n in order:
                    key = f"{_load(busy)}, {n} thread(s)"
                    seconds.setdefault(key, []).append(_one_call(models[n], tokens, args.generate))
            finally:
                for competitor in competitors:
                    competitor.kill()
                    competitor.wait()
    medians = {key: round(statistics.median(values), 2) for key, values in seconds.items()}
    ratios = {
        f"{_load(busy)}: {n} threads / 1 thread": round(
            medians[f"{_load(busy)}, {n} thread(s)"] / medians[f"{_load(busy)}, 1 thread(s)"], 2
        )
        for busy in args.busy
        for n in thread_counts[1:]
    }
    summary = {
        "model": args.model,
        "commit": commit.stdout.strip(),
        "cores": cores,
        "prompt_tokens": len(tokens),
        "generated_tokens": args.generate,
        "rounds": args.rounds,
        "seconds_per_call_median": medians,
        "seconds_per_call_all": {key: [round(v, 2) for v in values] for key, values in seconds.items()},
        "ratios": ratios,
    }
    print(json.dumps(summary, indent=2))
    out = REPO / "benchmarks" / "results" / f"threads-{args.model}-{summary['commit']}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
