"""Run many dialogues: concurrency, ordered append-only output, resume, and the manifest.

Records are written whole, one line each, flushed at once, and in dialogue order whatever the
concurrency, so the same seed and a deterministic model give byte-identical files. A run that
stops half way leaves valid lines only; ``resume`` skips the dialogues already written (a
half-written last line, if the process was killed mid-write, is cut off first).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from rolecall import __version__
from rolecall.agents import RoleBackend, RoleError, json_object_reply, render
from rolecall.planning import DataflowGraph, resolve_output_schemas
from rolecall.scenario import LoadedScenario, Tool
from rolecall.simulator._records import dialogue_record, failed_record, record_id, total_usage
from rolecall.simulator._session import ACCEPTABLE_ENDINGS, Dialogue, DialogueFailed, RunContext, simulate_dialogue
from rolecall.validators import SESSION_CHECK, CheckResult, DialogueEvidence, judge, judge_summary, run_rules

FILES = {"accepted": "dialogues.jsonl", "rejected": "rejected.jsonl", "failed": "failed.jsonl"}
MANIFEST = "manifest.json"
_PACKAGES = ("rolecall", "autogen-agentchat", "autogen-core", "autogen-ext", "openai", "pydantic", "jsonschema")


class OutputExists(Exception):
    """The output directory already holds records and neither resume nor a new directory was asked for."""


@dataclass
class RunOptions:
    out_dir: Path
    dialogues: int
    seed: int
    concurrency: int = 1
    resume: bool = False


@dataclass
class Progress:
    """Counts so far, for progress displays."""

    requested: int
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    tokens: int = 0
    resumed: int = 0

    @property
    def done(self) -> int:
        return self.accepted + self.rejected + self.failed


@dataclass
class _Outcome:
    index: int
    kind: str  # accepted / rejected / failed
    record: dict[str, Any]
    tokens: int = 0


@dataclass
class RunSummary:
    progress: Progress
    manifest: dict[str, Any] = field(default_factory=dict)


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _read_records(path: Path) -> list[dict[str, Any]]:
    """Whole records in ``path``; a torn last line (killed mid-write) is removed from the file."""
    if not path.exists():
        return []
    records = []
    raw = path.read_bytes()
    good_length = 0
    for line in raw.splitlines(keepends=True):
        try:
            records.append(json.loads(line))
        except ValueError:
            break
        if not line.endswith(b"\n"):
            break
        good_length += len(line)
    if good_length != len(raw):
        with path.open("r+b") as handle:
            handle.truncate(good_length)
    return records


class Runner:
    def __init__(
        self,
        scenario: LoadedScenario,
        backend: RoleBackend,
        options: RunOptions,
        on_progress: Callable[[Progress], None] | None = None,
    ):
        self.scenario = scenario
        self.backend = backend
        self.options = options
        self.on_progress = on_progress or (lambda progress: None)
        self.progress = Progress(requested=options.dialogues)
        self.paths = {kind: options.out_dir / name for kind, name in FILES.items()}
        self.output_schema_sources: dict[str, str] = {}

    # -- set-up ---------------------------------------------------------------------------------

    def _prepare(self) -> set[int]:
        """Create the directory; return the indexes already written (resume)."""
        out = self.options.out_dir
        out.mkdir(parents=True, exist_ok=True)
        existing = {kind: _read_records(path) for kind, path in self.paths.items()} if self.options.resume else {}
        if not self.options.resume and any(p.exists() and p.stat().st_size for p in self.paths.values()):
            raise OutputExists(f"{out} already holds dialogues; pass --resume to continue that run, or another -o")
        manifest_path = out / MANIFEST
        if self.options.resume and manifest_path.exists():
            previous = json.loads(manifest_path.read_text(encoding="utf-8"))
            mismatch = [
                key
                for key, now in (("seed", self.options.seed), ("scenario_digest", self.scenario.digest))
                if previous.get(key) != now
            ]
            if mismatch:
                raise OutputExists(f"{out} holds a run with another {' and '.join(mismatch)}; resume needs the same")
        done = set()
        wanted = {record_id(self.scenario, index): index for index in range(self.options.dialogues)}
        for kind, records in existing.items():
            for record in records:
                if record.get("id") in wanted:
                    done.add(wanted[record["id"]])
                    setattr(self.progress, kind, getattr(self.progress, kind) + 1)
        self.progress.resumed = len(done)
        return done

    async def _infer_output_schema(self, tool: Tool) -> dict[str, Any] | None:
        role = self.backend.structured("planner")
        prompt = json.dumps(
            {"name": tool.name, "description": tool.description, "parameters": tool.parameters}, ensure_ascii=False
        )
        try:
            reply = await role.ask(
                render("output_schema_system"), prompt, json_object_reply("output_schema", {"type": "object"})
            )
        except RoleError:
            return None
        return reply.root

    # -- the run --------------------------------------------------------------------------------

    async def run(self) -> RunSummary:
        started = time.monotonic()
        started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        done = self._prepare()
        schemas, self.output_schema_sources = await resolve_output_schemas(
            list(self.scenario.tools), infer=self._infer_output_schema
        )
        context = RunContext(self.scenario, schemas, DataflowGraph(self.scenario.tools, schemas), self.options.seed)
        self._write_manifest(started_at, status="running", seconds=0.0)
        todo = [index for index in range(self.options.dialogues) if index not in done]
        self.on_progress(self.progress)
        semaphore = asyncio.Semaphore(max(1, self.options.concurrency))
        handles: dict[str, IO[str]] = {kind: path.open("a", encoding="utf-8") for kind, path in self.paths.items()}

        async def produce(index: int) -> _Outcome:
            async with semaphore:
                return await self._one(context, index)

        tasks = {index: asyncio.ensure_future(produce(index)) for index in todo}
        try:
            # Write in index order: later dialogues wait in memory for earlier ones.
            for index in todo:
                outcome = await tasks[index]
                handle = handles[outcome.kind]
                handle.write(json.dumps(outcome.record, ensure_ascii=False) + "\n")
                handle.flush()
                setattr(self.progress, outcome.kind, getattr(self.progress, outcome.kind) + 1)
                self.progress.tokens += outcome.tokens
                self.on_progress(self.progress)
        finally:
            for task in tasks.values():  # an interrupted run leaves nothing running behind it
                task.cancel()
            for handle in handles.values():
                handle.close()
            await self.backend.close()
        manifest = self._write_manifest(started_at, status="finished", seconds=time.monotonic() - started)
        return RunSummary(self.progress, manifest)

    async def _one(self, context: RunContext, index: int) -> _Outcome:
        dialogue: Dialogue | None = None
        try:
            dialogue = await simulate_dialogue(context, self.backend, index)
            kind, validation = await self._validate(context, dialogue)
        except DialogueFailed as failure:
            partial: Dialogue | None = getattr(failure, "dialogue", None) or dialogue
            record = failed_record(self.scenario, index, "DialogueFailed", failure.reason, failure.role, partial)
            return _Outcome(index, "failed", record, _tokens(partial))
        except Exception as error:  # anything else: record it, keep the run going
            record = failed_record(self.scenario, index, type(error).__name__, str(error)[:500], None, dialogue)
            return _Outcome(index, "failed", record)
        return _Outcome(index, kind, dialogue_record(self.scenario, dialogue, validation), _tokens(dialogue))

    async def _validate(self, context: RunContext, dialogue: Dialogue) -> tuple[str, dict[str, Any]]:
        settings = self.scenario.scenario.validation
        evidence = DialogueEvidence(
            messages=dialogue.messages,
            tools=context.tools,
            output_schemas=context.output_schemas,
            turns=dialogue.turns,
            prior_calls=dialogue.prior_calls,
            facts=dialogue.facts,
            faults=dialogue.faults,
        )
        disabled = set(settings.disabled_rules)
        checks = (
            []
            if SESSION_CHECK in disabled
            else [
                CheckResult(
                    SESSION_CHECK,
                    dialogue.end_reason in ACCEPTABLE_ENDINGS,
                    "" if dialogue.end_reason in ACCEPTABLE_ENDINGS else f"ended early: {dialogue.end_reason}",
                )
            ]
        )
        checks += run_rules(evidence, disabled - {SESSION_CHECK})
        validation: dict[str, Any] = {"checks": [check.as_dict() for check in checks], "judge": None}
        accepted = all(check.passed for check in checks)
        if accepted and settings.judge.enabled:
            role = self.backend.structured("judge")
            try:
                verdict = await judge(role, evidence, self.scenario.scenario.policy, settings.judge)
            except RoleError as error:
                raise DialogueFailed("judge", error.reason) from None
            finally:
                dialogue.usage["judge"] = role.usage
            validation["judge"] = verdict.as_dict()
            validation["judge_summary"] = judge_summary(verdict)
            accepted = verdict.accepted
        validation["accepted"] = accepted
        return ("accepted" if accepted else "rejected"), validation

    # -- manifest -------------------------------------------------------------------------------

    def _write_manifest(self, started_at: str, status: str, seconds: float) -> dict[str, Any]:
        manifest = {
            "rolecall_version": __version__,
            "status": status,
            "scenario": self.scenario.name,
            "scenario_path": str(self.scenario.path),
            "scenario_digest": self.scenario.digest,
            "seed": self.options.seed,
            "requested": self.options.dialogues,
            **tally(read_run(self.options.out_dir)),
            "models": self.backend.describe(),
            "output_schemas": self.output_schema_sources,
            "packages": _package_versions(),
            "options": {"concurrency": self.options.concurrency, "resume": self.options.resume},
            "started_at": started_at,
            "seconds": round(seconds, 2),
            "seconds_per_dialogue": round(seconds / max(1, self.progress.done - self.progress.resumed), 2),
        }
        path = self.options.out_dir / MANIFEST
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        partial.replace(path)
        return manifest


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


def tally(records: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The manifest's counts over ``records``: outcomes, failed checks, endings, failure
    classes and model use."""
    reasons: collections.Counter[str] = collections.Counter()
    endings: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    prompt_tokens = completion_tokens = calls = 0
    for kind, items in records.items():
        for record in items:
            meta = record.get("metadata", {})
            endings[meta.get("end_reason") or "none"] += 1
            total = meta.get("usage", {}).get("total", {})
            prompt_tokens += total.get("prompt_tokens", 0)
            completion_tokens += total.get("completion_tokens", 0)
            calls += total.get("calls", 0)
            if kind == "rejected":
                validation = meta.get("validation", {})
                for check in validation.get("checks", []):
                    if not check["passed"]:
                        reasons[check["name"]] += 1
                if validation.get("judge") and not validation["judge"]["accepted"]:
                    reasons["judge"] += 1
            if kind == "failed":
                error = meta.get("error", {})
                errors[f"{error.get('role') or '-'}: {error.get('class')}"] += 1
    return {
        "counts": {kind: len(items) for kind, items in records.items()},
        "rejection_reasons": dict(sorted(reasons.items())),
        "end_reasons": dict(sorted(endings.items())),
        "failure_classes": dict(sorted(errors.items())),
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "model_calls": calls},
    }


def _tokens(dialogue: Dialogue | None) -> int:
    if dialogue is None:
        return 0
    usage = total_usage(dialogue.usage)
    return usage.prompt_tokens + usage.completion_tokens


async def run_scenario(
    scenario: LoadedScenario,
    backend: RoleBackend,
    options: RunOptions,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunSummary:
    """Generate ``options.dialogues`` dialogues of ``scenario`` into ``options.out_dir``."""
    return await Runner(scenario, backend, options, on_progress).run()
