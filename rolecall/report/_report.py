"""``rolecall report``: what a run made, beside stateful references.

The report is one JSON-ready dict with stable keys (documented in the README's "Report"):
``corpora`` (statistics of the run's accepted and rejected dialogues and of each reference),
``distances`` (each reference against the accepted dialogues, with noise floors), ``rolecall``
(statistics only rolecall records carry: hidden and prior calls, provenance, endings, the
rejection funnel, faults) and ``cost``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from statistics import fmean
from typing import Any

from rolecall.report._distance import js_distance, noise_floor, share_bin
from rolecall.report._stats import ConversationStats, conversation_stats
from rolecall.run import FILES, MANIFEST

# The distributions compared with references; each maps a conversation to a discrete value.
DISTRIBUTIONS = {
    "chain_length": lambda s: s.chain_length,
    "dependency_share": lambda s: share_bin(s.dependency_share),
    "tool_calls": lambda s: s.tool_calls,
    "user_turns": lambda s: s.user_turns,
}


class ReportError(Exception):
    """A run folder or reference file that cannot be read."""


def read_conversations(path: Path) -> list[dict[str, Any]]:
    """Every JSON line with ``messages`` (rolecall records or plain OpenAI-format conversations)."""
    if not path.is_file():
        raise ReportError(f"no such file: {path}")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                if line.endswith("\n"):
                    raise ReportError(f"{path}:{number}: not a JSON line") from None
                continue  # a torn last line of a run still being written
            if isinstance(row, dict) and isinstance(row.get("messages"), list):
                rows.append(row)
    return rows


def corpus_summary(stats: list[ConversationStats]) -> dict[str, Any]:
    """Means and shares over a corpus, and the histogram of every compared distribution."""
    if not stats:
        return {"conversations": 0}
    calls = sum(s.tool_calls for s in stats)
    leaves = sum(s.argument_leaves for s in stats)
    return {
        "conversations": len(stats),
        "user_turns_mean": round(fmean(s.user_turns for s in stats), 3),
        "tool_calls_mean": round(fmean(s.tool_calls for s in stats), 3),
        "distinct_tools_mean": round(fmean(s.distinct_tools for s in stats), 3),
        "calls_per_user_turn_mean": round(fmean(s.calls_per_user_turn for s in stats), 3),
        "parallel_messages_mean": round(fmean(s.parallel_messages for s in stats), 3),
        "dependent_call_share_strict": round(sum(s.dependent_calls_strict for s in stats) / calls, 4) if calls else 0,
        "dependent_call_share_loose": round(sum(s.dependent_calls_loose for s in stats) / calls, 4) if calls else 0,
        "argument_leaves_from_outputs": round(sum(s.leaves_from_outputs for s in stats) / leaves, 4) if leaves else 0,
        "with_dependency_share": round(sum(s.dependent_calls_strict > 0 for s in stats) / len(stats), 4),
        "chain_length_mean": round(fmean(s.chain_length for s in stats), 3),
        "histograms": {
            name: {str(k): v for k, v in sorted(Counter(map(value, stats)).items())}
            for name, value in DISTRIBUTIONS.items()
        },
    }


def compare(run: list[ConversationStats], reference: list[ConversationStats]) -> dict[str, Any]:
    """Per distribution: the JS distance, the noise floor, and whether the distance is above it.
    User turns are skipped for a reference with one user message per conversation, and every
    distribution when the run accepted nothing (a distance to an empty sample is not a number,
    and NaN is not JSON)."""
    out: dict[str, Any] = {}
    for name, value in DISTRIBUTIONS.items():
        if not run:
            out[name] = {"skipped": "no accepted dialogues to compare"}
            continue
        if name == "user_turns" and reference and all(s.user_turns <= 1 for s in reference):
            out[name] = {"skipped": "the reference has one user message per conversation"}
            continue
        ours, theirs = [value(s) for s in run], [value(s) for s in reference]
        distance = js_distance(ours, theirs)
        floor = noise_floor(theirs, len(ours))
        out[name] = {
            "distance": round(distance, 4),
            "noise_floor_mean": round(floor["mean"], 4),
            "noise_floor_p95": round(floor["p95"], 4),
            "above_noise": bool(distance > floor["p95"]),
        }
    return out


def _rolecall_stats(records: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    every = [r for kind in FILES for r in records[kind]]
    written = [r for r in every if "validation" in (r.get("metadata") or {})]
    turns = [t for r in every for t in ((r.get("metadata") or {}).get("plan") or {}).get("turns", [])]
    hidden_per_turn = [len(t.get("hidden", [])) for t in turns]
    with_hidden = [r for r in written if (r["metadata"].get("hidden_calls") or [])]
    in_order = [
        r
        for r in with_hidden
        if all(c.get("passed") for c in r["metadata"]["validation"]["checks"] if c["name"] == "hidden_calls_discovered")
    ]
    provenance: dict[str, Counter[str]] = {}
    for record in every:
        origins = (record.get("metadata") or {}).get("provenance") or []
        for message, entry in zip(record.get("messages") or [], origins, strict=False):
            provenance.setdefault(message.get("role", "?"), Counter())[entry.get("origin", "?")] += 1
    funnel: Counter[str] = Counter()
    for record in written:
        validation = record["metadata"]["validation"]
        failed = [c["name"] for c in validation.get("checks", []) if not c.get("passed")]
        if failed:
            funnel[failed[0]] += 1  # the first check that failed, in the order they run
        elif (validation.get("judge") or {}).get("accepted") is False:
            funnel["judge"] += 1
    faulted = [r for r in every if (r.get("metadata") or {}).get("faults")]
    return {
        "dialogues": {kind: len(records[kind]) for kind in FILES},
        "hidden_calls_per_turn_mean": round(fmean(hidden_per_turn), 3) if hidden_per_turn else 0,
        "hidden_discovered_in_order_share": round(len(in_order) / len(with_hidden), 4) if with_hidden else None,
        "prior_calls_per_dialogue_mean": round(
            fmean(len((r.get("metadata") or {}).get("prior_calls") or []) for r in every), 3
        )
        if every
        else 0,
        "provenance_shares": {
            role: {origin: round(n / sum(c.values()), 4) for origin, n in c.most_common()}
            for role, c in sorted(provenance.items())
        },
        "end_reasons": dict(Counter((r.get("metadata") or {}).get("end_reason", "?") for r in every).most_common()),
        "rejected_at": dict(funnel.most_common()),
        "faults_injected": sum(len(r["metadata"]["faults"]) for r in faulted),
        "endings_after_fault": dict(Counter(r["metadata"].get("end_reason", "?") for r in faulted).most_common()),
    }


def _cost(records: dict[str, list[dict[str, Any]]], models: dict[str, Any]) -> dict[str, Any]:
    """Model calls, tokens and, for roles whose model config has ``prices``, money: in all and
    per accepted dialogue (every dialogue's cost, rejected and failed ones included, is what the
    accepted ones cost to make)."""
    accepted = len(records["accepted"])
    by_role: dict[str, Counter[str]] = {}
    for record in (r for kind in FILES for r in records[kind]):
        for role, usage in ((record.get("metadata") or {}).get("usage") or {}).get("by_role", {}).items():
            counter = by_role.setdefault(role, Counter())
            counter["calls"] += usage.get("calls", 0)
            counter["prompt_tokens"] += usage.get("prompt_tokens", 0)
            counter["completion_tokens"] += usage.get("completion_tokens", 0)
    calls = sum(c["calls"] for c in by_role.values())
    tokens = sum(c["prompt_tokens"] + c["completion_tokens"] for c in by_role.values())
    per = (lambda n: round(n / accepted, 1)) if accepted else (lambda n: None)
    roles: dict[str, Any] = {}
    money: dict[str, float] = {}  # currency -> amount
    unpriced = []
    for role, c in sorted(by_role.items()):
        roles[role] = {"calls": c["calls"], "tokens": c["prompt_tokens"] + c["completion_tokens"]}
        prices = ((models.get(role) or {}).get("prices")) or None
        if prices:
            amount = (
                c["prompt_tokens"] * prices["prompt_per_million"]
                + c["completion_tokens"] * prices["completion_per_million"]
            ) / 1e6
            currency = prices.get("currency", "USD")
            roles[role]["money"] = {"amount": round(amount, 6), "currency": currency}
            money[currency] = money.get(currency, 0.0) + amount
        elif c["calls"]:
            unpriced.append(role)
    return {
        "model_calls": calls,
        "tokens": tokens,
        "model_calls_per_accepted": per(calls),
        "tokens_per_accepted": per(tokens),
        "money": {currency: round(amount, 6) for currency, amount in money.items()},
        "money_per_accepted": (
            {currency: round(amount / accepted, 6) for currency, amount in money.items()} if accepted else None
        ),
        "unpriced_roles": unpriced,  # roles whose model config gives no prices: not in the money
        "by_role": roles,
    }


def _manifest_models(run_dir: Path) -> dict[str, Any]:
    """The run's model configs by role, as its manifest records them (prices included)."""
    path = run_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")).get("models") or {})
    except ValueError:
        return {}


def build_report(run_dir: Path, references: Iterable[tuple[str, Path]] = ()) -> dict[str, Any]:
    if not run_dir.is_dir() or not any((run_dir / name).exists() for name in FILES.values()):
        raise ReportError(f"{run_dir} holds no run (no {', '.join(FILES.values())})")
    records = {
        kind: read_conversations(run_dir / name) if (run_dir / name).exists() else [] for kind, name in FILES.items()
    }
    accepted = [conversation_stats(r["messages"]) for r in records["accepted"]]
    rejected = [conversation_stats(r["messages"]) for r in records["rejected"]]
    corpora: dict[str, Any] = {"accepted": corpus_summary(accepted), "rejected": corpus_summary(rejected)}
    distances: dict[str, Any] = {}
    for label, path in references:
        stats = [conversation_stats(r["messages"]) for r in read_conversations(path)]
        corpora[label] = {**corpus_summary(stats), "file": str(path)}
        distances[label] = compare(accepted, stats)
    return {
        "run": str(run_dir),
        "corpora": corpora,
        "distances": distances,
        "rolecall": _rolecall_stats(records),
        "cost": _cost(records, _manifest_models(run_dir)),
    }
