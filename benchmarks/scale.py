"""Throughput, framework CPU per model call and memory of `rolecall run` against the mock model.

    python benchmarks/scale.py                          # the full table (about 20 minutes on 2 cores)
    python benchmarks/scale.py --quick                  # fewer points, for a first look
    python benchmarks/scale.py --latency 2 --concurrency 256 --workers 1 2

The mock model runs standalone (`python -m rolecall.mock --latency L`) in its own process, so
its CPU is not counted; each point is one `rolecall run` of the retail example in a fresh
process, measured from outside with `os.wait4` (CPU time and peak RSS of that process and its
children, that is its workers). Throughput is reported as a share of the ideal
C / (model calls per dialogue x L): what C dialogues at once would reach if the framework
cost nothing. Each point runs N = W x C dialogues (``--waves W``, at least 2 dialogues): with
few waves the ramp-down at the end (the last, longest dialogues running with most slots idle)
weighs on the rate, so the steady state needs several. Framework CPU per call comes from runs
at L = 0, where the process does nothing but its own work: the whole run's CPU over its calls
(start-up included, as before), and the marginal cost, the difference between that run and a
10-dialogue one over the difference in calls, which leaves out start-up (imports, building the
clients: about 2.4 s), split into user and system time. Beside the steady-state ideal, each
point is compared with the ideal schedule of its own dialogues (each takes its model calls x L
on the first free one of C slots), which counts the ramp-down at the end of a run. Writes a JSON summary (``--out``). A
measurement, not a test: nothing here asserts a number.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "scenarios" / "retail_orders.yaml"
FILES = ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl")


class MockModel:
    """The standalone mock server with a fixed latency, and a model config that points at it."""

    def __init__(self, latency: float, work: Path, checkout: Path = REPO):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rolecall.mock", "--port", "0", "--latency", str(latency)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=checkout,  # that checkout's mock, whatever is installed
        )
        assert self.process.stdout is not None
        url = self.process.stdout.readline().strip()
        from rolecall.mock import model_config

        self.config = work / f"mock-{latency}.json"  # JSON is YAML: the CLI reads it as a model config
        self.config.write_text(json.dumps(model_config(url)), encoding="utf-8")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


def run_point(
    model: MockModel, work: Path, dialogues: int, concurrency: int, workers: int, checkout: Path = REPO
) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(dir=work, prefix=f"n{dialogues}-c{concurrency}-w{workers}-"))
    command = [
        sys.executable,
        "-m",
        "rolecall",
        "run",
        str(SCENARIO),
        "--model",
        str(model.config),
        "-n",
        str(dialogues),
        "--concurrency",
        str(concurrency),
        "-o",
        str(out),
        "-q",
    ]
    if workers > 1:
        command += ["--workers", str(workers)]
    started = time.monotonic()
    # ``python -m rolecall`` from that checkout runs its code, whatever is installed.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=checkout)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    calls = manifest["usage"]["model_calls"]
    per_dialogue = [  # in dialogue order, for the ideal schedule
        record["metadata"]["usage"]["total"]["calls"]
        for record in sorted(
            (json.loads(line) for name in FILES for line in (out / name).read_text(encoding="utf-8").splitlines()),
            key=lambda record: record["id"],
        )
    ]
    done = sum(manifest["counts"].values())
    return {
        "dialogues": dialogues,
        "concurrency": concurrency,
        "workers": workers,
        "exit_status": os.waitstatus_to_exitcode(status),
        "done": done,
        "model_calls": calls,
        "calls_per_dialogue": round(calls / max(1, done), 2),
        "run_seconds": manifest["seconds"],  # from the first dialogue to the manifest, imports excluded
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "user_seconds": round(usage.ru_utime, 2),
        "system_seconds": round(usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports kilobytes
        "calls_by_dialogue": per_dialogue,
    }


def ideal_seconds(calls_by_dialogue: list[int], concurrency: int, latency: float) -> float:
    """How long these dialogues take if the framework costs nothing: each dialogue, in order,
    starts on the first of C slots to come free and takes (its model calls x L) seconds."""
    slots = [0.0] * concurrency
    for calls in calls_by_dialogue:
        heapq.heapreplace(slots, slots[0] + calls * latency)
    return max(slots)


def throughput(point: dict[str, Any], latency: float) -> dict[str, Any]:
    """The run's rate beside two ideals: the steady state C / (calls per dialogue x L), and the
    schedule of these very dialogues with no framework cost (which counts the run's ramp-down)."""
    calls = point.pop("calls_by_dialogue")
    rate = point["done"] / point["run_seconds"]
    steady = point["concurrency"] / (point["calls_per_dialogue"] * latency)
    scheduled = ideal_seconds(calls, point["concurrency"], latency)
    return {
        **point,
        "latency_s": latency,
        "dialogues_per_s": round(rate, 3),
        "share_of_ideal": round(rate / steady, 3),
        "ideal_schedule_seconds": round(scheduled, 2),
        "share_of_ideal_schedule": round(scheduled / point["run_seconds"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, nargs="*", default=[0.5, 2.0])
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 16, 64, 256])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--cpu-dialogues", type=int, default=200, help="dialogues of the L = 0 CPU-per-call run")
    parser.add_argument("--waves", type=int, default=8, help="dialogues per throughput point, in multiples of C")
    parser.add_argument("--memory", type=int, nargs=2, default=[200, 2000], metavar=("N", "N10"))
    parser.add_argument("--quick", action="store_true", help="L = 2 s at C = 16 and 256, small memory runs")
    parser.add_argument(
        "--mock-checkout",
        type=Path,
        default=REPO,
        help="serve the mock model from this checkout (measure two commits against one server)",
    )
    parser.add_argument(
        "--checkout", type=Path, default=REPO, help="run rolecall from this checkout (measure an earlier commit)"
    )
    parser.add_argument("--label", default="", help="a name for this measurement (e.g. before, after)")
    parser.add_argument("--out", type=Path, default=REPO / "bench-runs" / "scale.json")
    args = parser.parse_args()
    if args.quick:
        args.latency, args.concurrency, args.memory, args.cpu_dialogues = [2.0], [16, 256], [100, 400], 100
        args.waves = 2  # a first look, as before --waves: the steady state needs the full run
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "label": args.label,
        "commit": subprocess.run(
            ["git", "-C", str(args.checkout), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "waves": args.waves,
        "throughput": [],
    }
    with tempfile.TemporaryDirectory(prefix="rolecall-scale-") as folder:
        work = Path(folder)
        fast = MockModel(0.0, work, args.mock_checkout)
        try:
            base = run_point(fast, work, 10, 16, 1, args.checkout)
            point = run_point(fast, work, args.cpu_dialogues, 16, 1, args.checkout)
            summary["cpu_per_call_ms"] = round(1000 * point["cpu_seconds"] / point["model_calls"], 2)
            calls = point["model_calls"] - base["model_calls"]
            summary["cpu_per_call_marginal_ms"] = {
                kind: round(1000 * (point[f"{kind}_seconds"] - base[f"{kind}_seconds"]) / calls, 2)
                for kind in ("cpu", "user", "system")
            }
            point.pop("calls_by_dialogue"), base.pop("calls_by_dialogue")
            summary["cpu_run"], summary["cpu_base_run"] = point, base
            print(
                f"CPU per model call: {summary['cpu_per_call_ms']} ms, marginal "
                f"{summary['cpu_per_call_marginal_ms']} ({point})",
                flush=True,
            )
            small, large = (run_point(fast, work, n, 16, 1, args.checkout) for n in args.memory)
            small.pop("calls_by_dialogue"), large.pop("calls_by_dialogue")
            summary["memory"] = {
                "small": small,
                "large": large,
                "ratio": round(large["peak_rss_mb"] / small["peak_rss_mb"], 3),
            }
            print(
                f"peak RSS: N={small['dialogues']} {small['peak_rss_mb']} MB, "
                f"N={large['dialogues']} {large['peak_rss_mb']} MB",
                flush=True,
            )
        finally:
            fast.close()
        for latency in args.latency:
            model = MockModel(latency, work, args.mock_checkout)
            try:
                for concurrency in args.concurrency:
                    for workers in args.workers:
                        point = throughput(
                            run_point(
                                model, work, max(2, args.waves * concurrency), concurrency, workers, args.checkout
                            ),
                            latency,
                        )
                        summary["throughput"].append(point)
                        print(
                            f"L={latency} C={concurrency} workers={workers}: {point['dialogues_per_s']} dialogues/s, "
                            f"{point['share_of_ideal']} of the steady-state ideal, "
                            f"{point['share_of_ideal_schedule']} of the ideal schedule, {point['cpu_seconds']} s CPU",
                            flush=True,
                        )
            finally:
                model.close()
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
