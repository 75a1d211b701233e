"""The pure per-dialogue function: a job in, a finished record out.

``produce_dialogue`` simulates one dialogue, validates it and builds its record; it writes no
file and holds no state between calls, and its job and outcome are plain picklable data, so an
executor may run it anywhere: in this event loop, in another process, on a Ray worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rolecall.agents import RoleBackend, RoleError, RunAborted
from rolecall.dialogue import ACCEPTABLE_ENDINGS, Dialogue, DialogueFailed, RunContext, simulate_dialogue
from rolecall.run._records import dialogue_record, failed_record, total_usage
from rolecall.validators import SESSION_CHECK, CheckResult, DialogueEvidence, judge, judge_summary, run_rules

OutcomeKind = Literal["accepted", "rejected", "failed"]


@dataclass(frozen=True)
class DialogueJob:
    """Dialogue ``index`` of the run described by ``context``."""

    context: RunContext
    index: int


@dataclass(frozen=True)
class DialogueOutcome:
    """A finished dialogue: which file it goes to, its record, and the tokens it used."""

    index: int
    kind: OutcomeKind
    record: dict[str, Any]
    tokens: int = 0


async def produce_dialogue(job: DialogueJob, backend: RoleBackend) -> DialogueOutcome:
    """Simulate, validate and record dialogue ``job.index``. Never raises for a dialogue's own
    failure: a role that kept failing, or any other error, gives a ``failed`` outcome with its cause."""
    context, index = job.context, job.index
    scenario = context.scenario
    dialogue: Dialogue | None = None
    try:
        dialogue = await simulate_dialogue(context, backend, index)
        kind, validation = await _validate(context, dialogue, backend)
    except DialogueFailed as failure:
        partial = failure.dialogue or dialogue
        cause = failure.cause or "DialogueFailed"
        record = failed_record(scenario, index, cause, failure.reason, failure.role, partial)
        return DialogueOutcome(index, "failed", record, _tokens(partial))
    except RunAborted:  # nothing this dialogue can do: the run stops, the dialogue stays unwritten
        raise
    except Exception as error:  # anything else: record it, keep the run going
        record = failed_record(scenario, index, type(error).__name__, str(error)[:2000], None, dialogue)
        return DialogueOutcome(index, "failed", record, _tokens(dialogue))
    record = dialogue_record(scenario, dialogue, validation, context.assist.describe())
    return DialogueOutcome(index, kind, record, _tokens(dialogue))


def session_check(end_reason: str) -> CheckResult:
    """The session's own check: did the dialogue end in a way that can be accepted."""
    ended_well = end_reason in ACCEPTABLE_ENDINGS
    return CheckResult(SESSION_CHECK, ended_well, "" if ended_well else f"ended early: {end_reason}")


async def _validate(
    context: RunContext, dialogue: Dialogue, backend: RoleBackend
) -> tuple[OutcomeKind, dict[str, Any]]:
    """The session's own check, the rule checks, then (if they all pass) the LLM judge."""
    settings = context.scenario.scenario.validation
    evidence = DialogueEvidence(
        messages=dialogue.messages,
        tools=context.tools,
        output_schemas=context.output_schemas,
        turns=dialogue.turns,
        prior_calls=dialogue.prior_calls,
        facts=dialogue.facts,
        faults=dialogue.faults,
        provenance=dialogue.provenance,
        turn_starts=dialogue.turn_starts,
        phenomena=dialogue.phenomena,
    )
    disabled = set(settings.disabled_rules)
    checks = [] if SESSION_CHECK in disabled else [session_check(dialogue.end_reason)]
    checks += run_rules(evidence, disabled - {SESSION_CHECK})
    validation: dict[str, Any] = {"checks": [check.as_dict() for check in checks], "judge": None}
    accepted = all(check.passed for check in checks)
    if accepted and settings.judge.enabled:
        role = backend.structured("judge")
        try:
            verdict = await judge(role, evidence, context.scenario.scenario.policy, settings.judge)
        except RoleError as error:
            raise DialogueFailed("judge", error.reason, cause=error.cause) from None
        finally:
            dialogue.usage["judge"] = role.usage
        validation["judge"] = verdict.as_dict()
        validation["judge_summary"] = judge_summary(verdict)
        accepted = verdict.accepted
    validation["accepted"] = accepted
    return ("accepted" if accepted else "rejected"), validation


def _tokens(dialogue: Dialogue | None) -> int:
    if dialogue is None:
        return 0
    usage = total_usage(dialogue.usage)
    return usage.prompt_tokens + usage.completion_tokens
