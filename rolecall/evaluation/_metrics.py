"""What an assistant model did, read from the records of its runs.

A task is a dialogue index: the same plan, persona, seed and faults for every model. A trial is
one run of all tasks. Success is the validator's plan check (``goal_calls_made``) passing on a
dialogue that did not fail. ``pass^k`` is tau-bench's: for a task with ``n`` trials and ``c``
successes, C(c, k) / C(n, k), averaged over tasks (the chance that k trials all succeed).
"""

from __future__ import annotations

from math import comb
from statistics import fmean
from typing import Any


def _check(record: dict[str, Any], name: str) -> bool | None:
    """Whether check ``name`` passed on the record; None when it was not run."""
    checks = ((record.get("metadata") or {}).get("validation") or {}).get("checks") or []
    found = [c.get("passed") for c in checks if c.get("name") == name]
    return bool(found[0]) if found else None


def dialogue_metrics(record: dict[str, Any]) -> dict[str, Any]:
    meta = record.get("metadata") or {}
    messages = record.get("messages") or []
    failed = "error" in meta
    calls = [c for m in messages if m.get("role") == "assistant" for c in m.get("tool_calls") or []]
    usage = ((meta.get("usage") or {}).get("by_role") or {}).get("assistant") or {}
    hidden = bool(meta.get("hidden_calls"))
    return {
        "index": meta.get("index"),
        "failed": failed,
        "success": not failed and _check(record, "goal_calls_made") is True,
        "hidden_discovered": None if not hidden or failed else _check(record, "hidden_calls_discovered"),
        "grounding_error": _check(record, "arguments_grounded") is False,
        "schema_error": _check(record, "arguments_match_schema") is False,
        "duplicate_calls": _check(record, "no_duplicate_calls") is False,
        "faulted": bool(meta.get("faults")),
        "user_turns": sum(m.get("role") == "user" for m in messages),
        "tool_calls": len(calls),
        "assistant_tokens": usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0),
        "accepted": bool((meta.get("validation") or {}).get("accepted")),
    }


def _share(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def pass_hat_k(successes_by_task: dict[Any, list[bool]], k: int) -> float | None:
    """tau-bench's pass^k over the tasks that have at least ``k`` trials."""
    scores = [comb(sum(s), k) / comb(len(s), k) for s in successes_by_task.values() if len(s) >= k]
    return round(fmean(scores), 4) if scores else None


def model_metrics(trials: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """One model's figures over its trials (each a list of records of every task)."""
    rows = [dialogue_metrics(record) for trial in trials for record in trial]
    done = [row for row in rows if not row["failed"]]
    won = [row for row in done if row["success"]]
    by_task: dict[Any, list[bool]] = {}
    for row in rows:
        by_task.setdefault(row["index"], []).append(row["success"])
    faulted = [row for row in done if row["faulted"]]
    return {
        "dialogues": len(rows),
        "failed": len(rows) - len(done),
        "goal_completion": _share([row["success"] for row in rows]),
        "accepted": _share([row["accepted"] for row in rows]),
        "hidden_discovery": _share([row["hidden_discovered"] for row in done if row["hidden_discovered"] is not None]),
        "grounding_errors": _share([row["grounding_error"] for row in done]),
        "schema_errors": _share([row["schema_error"] for row in done]),
        "duplicate_calls": _share([row["duplicate_calls"] for row in done]),
        "recovery_after_faults": _share([row["success"] for row in faulted]),
        "user_turns_mean": round(fmean(row["user_turns"] for row in done), 3) if done else None,
        "tool_calls_to_success": round(fmean(row["tool_calls"] for row in won), 3) if won else None,
        "assistant_tokens_to_success": round(fmean(row["assistant_tokens"] for row in won), 1) if won else None,
        "pass_hat_k": {str(k): pass_hat_k(by_task, k) for k in range(1, len(trials) + 1)},
    }


ROWS = [
    ("goal completion", "goal_completion"),
    ("accepted by the validator", "accepted"),
    ("hidden calls discovered", "hidden_discovery"),
    ("dialogues with grounding errors", "grounding_errors"),
    ("dialogues with schema errors", "schema_errors"),
    ("dialogues with duplicate calls", "duplicate_calls"),
    ("success after an injected fault", "recovery_after_faults"),
    ("user turns (mean)", "user_turns_mean"),
    ("tool calls to success (mean)", "tool_calls_to_success"),
    ("assistant tokens to success (mean)", "assistant_tokens_to_success"),
    ("failed dialogues", "failed"),
]


def print_eval(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    results = report["results"]
    table = Table(title=f"{report['scenario']}: {report['dialogues']} tasks x {report['trials']} trials")
    table.add_column("")
    for label in results:
        table.add_column(label, justify="right")
    for title, key in ROWS:
        table.add_row(title, *("-" if results[m][key] is None else str(results[m][key]) for m in results))
    for k in range(1, report["trials"] + 1):
        table.add_row(f"pass^{k}", *(str(results[m]["pass_hat_k"][str(k)]) for m in results))
    Console().print(table)
