"""Counting a run's records: for the manifest (kept as records are written) and for benchmarks."""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FILES = {"accepted": "dialogues.jsonl", "rejected": "rejected.jsonl", "failed": "failed.jsonl"}


class Tally:
    """Outcomes, failed checks, endings, failure classes, model use and message provenance."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter({kind: 0 for kind in FILES})
        self.reasons: collections.Counter[str] = collections.Counter()
        self.endings: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.usage: collections.Counter[str] = collections.Counter()
        # role -> origin -> messages, over every record (accepted, rejected and failed)
        self.provenance: dict[str, collections.Counter[str]] = {}

    def add(self, kind: str, record: Mapping[str, Any]) -> None:
        self.counts[kind] += 1
        meta = record.get("metadata", {})
        self.endings[meta.get("end_reason") or "none"] += 1
        total = meta.get("usage", {}).get("total", {})
        for key, name in (("prompt_tokens", "prompt_tokens"), ("completion_tokens", "completion_tokens")):
            self.usage[name] += total.get(key, 0)
        self.usage["model_calls"] += total.get("calls", 0)
        for message, origin in zip(record.get("messages", []), meta.get("provenance", []), strict=False):
            self.provenance.setdefault(message.get("role", "?"), collections.Counter())[origin.get("origin", "?")] += 1
        if kind == "rejected":
            validation = meta.get("validation", {})
            for check in validation.get("checks", []):
                if not check["passed"]:
                    self.reasons[check["name"]] += 1
            if validation.get("judge") and not validation["judge"]["accepted"]:
                self.reasons["judge"] += 1
        if kind == "failed":
            error = meta.get("error", {})
            self.errors[f"{error.get('role') or '-'}: {error.get('class')}"] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "counts": {kind: self.counts[kind] for kind in FILES},
            "rejection_reasons": dict(sorted(self.reasons.items())),
            "end_reasons": dict(sorted(self.endings.items())),
            "failure_classes": dict(sorted(self.errors.items())),
            "usage": {key: self.usage[key] for key in ("prompt_tokens", "completion_tokens", "model_calls")},
            "provenance": {role: dict(sorted(c.items())) for role, c in sorted(self.provenance.items())},
        }


def tally(records: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The manifest's counts over ``records`` (kind -> records)."""
    counter = Tally()
    for kind, items in records.items():
        for record in items:
            counter.add(kind, record)
    return counter.summary()


def read_run(out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The whole records of a run's output folder by kind (accepted, rejected, failed).

    Read-only (a torn last line is skipped, not removed), so it also reads a run that is
    still going or was cut off."""
    records: dict[str, list[dict[str, Any]]] = {}
    for kind, name in FILES.items():
        path = out_dir / name
        lines = path.read_bytes().splitlines(keepends=True) if path.exists() else []
        records[kind] = [json.loads(line) for line in lines if line.endswith(b"\n")]
    return records
