"""``rolecall check``: the rule checks again, on records that already exist.

For re-validating a corpus after the rules changed (and comparing runs of different code under
one validator), and for screening dialogues from other generators. A rolecall record brings its
plan, prior calls, facts, faults and provenance; any other OpenAI-format dialogue with ``tools``
gets the checks that need no plan, and the summary says which were skipped and why.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rolecall.agents import RoleError, StructuredRole
from rolecall.planning import PriorCall, TurnPlan
from rolecall.run._job import session_check
from rolecall.scenario import JudgeSettings, Tool
from rolecall.validators import SESSION_CHECK, CheckResult, DialogueEvidence, judge, judge_summary, run_rules

# Checks that mean nothing without rolecall's metadata: the plan, or how the session ended.
NEEDS_PLAN = ("goal_calls_made", "hidden_calls_discovered", "no_hidden_narration")


@dataclass
class CheckedRecord:
    """A record with its new verdict; ``skipped`` names the checks it could not get, and why."""

    record: dict[str, Any]
    accepted: bool
    checks: list[CheckResult]
    skipped: dict[str, str] = field(default_factory=dict)
    evidence: DialogueEvidence | None = field(default=None, repr=False)  # what the judge reads
    judge: dict[str, Any] | None = None  # the judge's verdict and votes, when it was run


@dataclass
class CheckSummary:
    checked: int = 0
    accepted: int = 0
    unreadable: int = 0
    failed_checks: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # "check: why" -> records
    changed: int = 0  # rolecall records whose rule verdict differs from the one they carried
    judge_errors: int = 0  # records whose judge call kept failing (counted as not accepted)

    def add(self, checked: CheckedRecord) -> None:
        self.checked += 1
        self.accepted += checked.accepted
        self.failed_checks.update(check.name for check in checked.checks if not check.passed)
        if checked.judge is not None:
            if "error" in checked.judge:
                self.judge_errors += 1
            elif not checked.judge["accepted"]:
                self.failed_checks["judge"] += 1
        self.skipped.update(f"{name}: {why}" for name, why in checked.skipped.items())
        # The record's own rule verdict (its judge is not run again here).
        previous = ((checked.record.get("metadata") or {}).get("validation") or {}).get("checks")
        self.changed += bool(previous) and all(c.get("passed") for c in previous) != checked.accepted

    def lines(self) -> list[str]:
        """The summary as printed by ``rolecall check``."""
        head = f"{self.checked} dialogues checked: {self.accepted} pass every rule, {self.checked - self.accepted} fail"
        if self.judge_errors:
            head += f"; the judge failed on {self.judge_errors}"
        if self.unreadable:
            head += f"; {self.unreadable} lines are not JSON objects"
        if self.changed:
            head += f"; {self.changed} differ from the record's own rule checks"
        return [
            head,
            *(f"  failed {name}: {count}" for name, count in self.failed_checks.most_common()),
            *(f"  skipped {reason} ({count} dialogues)" for reason, count in self.skipped.most_common()),
        ]


def _tools(record: Mapping[str, Any], scenario_tools: Mapping[str, Tool]) -> dict[str, Tool]:
    """The scenario's tools; a tool only the record lists is taken from the record (no output schema)."""
    tools = dict(scenario_tools)
    for entry in record.get("tools") or []:
        function = entry.get("function", entry) if isinstance(entry, dict) else {}
        name = function.get("name")
        if isinstance(name, str) and name not in tools:
            tools[name] = Tool(name, function.get("description", ""), function.get("parameters") or {"type": "object"})
    return tools


def record_evidence(
    record: Mapping[str, Any], scenario_tools: Mapping[str, Tool], output_schemas: Mapping[str, dict[str, Any]]
) -> tuple[DialogueEvidence, dict[str, str]]:
    """What the checks read from a record, and the checks its metadata cannot support (with why)."""
    meta = record.get("metadata") or {}
    skipped: dict[str, str] = {}
    try:
        turns = [TurnPlan.model_validate(turn) for turn in (meta.get("plan") or {}).get("turns", [])]
        prior = [PriorCall.model_validate(call) for call in meta.get("prior_calls") or []]
    except ValidationError as error:
        turns, prior = [], []
        skipped.update(
            {name: f"the record's plan does not parse ({error.error_count()} errors)" for name in NEEDS_PLAN}
        )
    if not turns:
        skipped.update({name: skipped.get(name, "the record holds no rolecall plan") for name in NEEDS_PLAN})
    if not meta.get("end_reason"):
        skipped[SESSION_CHECK] = "the record says nothing of how the session ended"
    evidence = DialogueEvidence(
        messages=list(record.get("messages") or []),
        tools=_tools(record, scenario_tools),
        output_schemas=dict(output_schemas),
        turns=turns,
        prior_calls=prior,
        facts=dict(meta.get("facts") or {}),
        faults=dict(meta.get("faults") or {}),
        provenance=list(meta.get("provenance") or []),
        turn_starts=list(meta.get("turn_starts") or []),
        phenomena=dict(meta.get("phenomena") or {}),
    )
    return evidence, skipped


def check_record(
    record: Mapping[str, Any],
    scenario_tools: Mapping[str, Tool],
    output_schemas: Mapping[str, dict[str, Any]],
    disabled: Iterable[str] = (),
) -> CheckedRecord:
    """The rule checks on one record (rolecall's, or any OpenAI-format dialogue with tools)."""
    evidence, skipped = record_evidence(record, scenario_tools, output_schemas)
    disabled = set(disabled)
    checks: list[CheckResult] = []
    if SESSION_CHECK not in disabled | set(skipped):
        checks.append(session_check((record.get("metadata") or {})["end_reason"]))
    checks += run_rules(evidence, (disabled | set(skipped)) - {SESSION_CHECK})
    return CheckedRecord(dict(record), all(check.passed for check in checks), checks, skipped, evidence)


async def judge_record(
    checked: CheckedRecord, role: StructuredRole, policy: str | None, settings: JudgeSettings
) -> CheckedRecord:
    """The LLM judge on a record that passed the rules, as a run would have asked it; a judge
    that keeps failing leaves the record not accepted, with the error in its verdict."""
    if not checked.accepted or checked.evidence is None:
        return checked
    try:
        verdict = await judge(role, checked.evidence, policy, settings)
    except RoleError as error:
        checked.judge, checked.accepted = {"error": f"{error.cause}: {error.reason}"}, False
        return checked
    checked.judge = {**verdict.as_dict(), "summary": judge_summary(verdict)}
    checked.accepted = verdict.accepted
    return checked


def read_records(path: Path) -> Iterator[dict[str, Any] | None]:
    """Each line's record, or None for a line that is not a JSON object."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                yield None
                continue
            yield value if isinstance(value, dict) else None


def checked_record(checked: CheckedRecord) -> dict[str, Any]:
    """The record with its new verdict in ``metadata.validation`` (the old one kept as ``previous``)."""
    record = dict(checked.record)
    meta = dict(record.get("metadata") or {})
    previous = meta.get("validation")
    meta["validation"] = {
        "accepted": checked.accepted,
        "checks": [check.as_dict() for check in checked.checks],
        "skipped": checked.skipped,
        "judge": checked.judge,
        **({"previous": previous} if previous else {}),
    }
    record["metadata"] = meta
    return record
