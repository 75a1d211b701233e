"""Run many dialogues: concurrency, ordered append-only output, resume, and the manifest.

Records are written whole, one line each, flushed at once, and in dialogue order whatever the
concurrency, so the same seed and a deterministic model give byte-identical files. A run that
stops half way leaves valid lines only; ``resume`` skips the dialogues already written (a
half-written last line, if the process was killed mid-write, is cut off first).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from rolecall import __version__
from rolecall.agents import RoleBackend, RoleError, RunAborted, json_object_reply
from rolecall.assist import AssistPolicy
from rolecall.dialogue import RunContext
from rolecall.planning import DataflowGraph, resolve_output_schemas
from rolecall.prompts import render
from rolecall.run._executor import AsyncioExecutor, Executor, combined_model_time
from rolecall.run._job import DialogueJob
from rolecall.run._processes import WorkerCrashed
from rolecall.run._records import record_id
from rolecall.run._tally import FILES, Tally
from rolecall.scenario import LoadedScenario, Tool

MANIFEST = "manifest.json"
_PACKAGES = ("rolecall", "autogen-agentchat", "autogen-core", "autogen-ext", "openai", "pydantic", "jsonschema")


class OutputExists(Exception):
    """The output directory cannot take this run: it holds other records, or cannot be written."""


class OutputFailed(Exception):
    """Writing the records failed part way (a full disk, say); what was written is whole."""


@dataclass
class RunOptions:
    out_dir: Path
    dialogues: int
    seed: int
    concurrency: int = 1
    cache_dir: Path | None = None  # for the manifest; the model clients use it
    resume: bool = False
    assist: AssistPolicy = field(default_factory=AssistPolicy.off)


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
    """Files, resume and the manifest around an executor that produces the dialogues."""

    def __init__(
        self,
        scenario: LoadedScenario,
        backend: RoleBackend,
        options: RunOptions,
        on_progress: Callable[[Progress], None] | None = None,
        executor: Executor | None = None,
    ):
        self.scenario = scenario
        self.backend = backend  # for run-wide requests (output schema inference)
        self.options = options
        self.executor = executor or AsyncioExecutor(backend, options.concurrency)
        self.on_progress = on_progress or (lambda progress: None)
        self.progress = Progress(requested=options.dialogues)
        self.paths = {kind: options.out_dir / name for kind, name in FILES.items()}
        self.output_schema_sources: dict[str, str] = {}
        self.tally = Tally()

    # -- set-up ---------------------------------------------------------------------------------

    def _prepare(self) -> set[int]:
        """Check the directory can take the run (before any model call); return the indexes
        already written (resume)."""
        out = self.options.out_dir
        if out.exists() and not out.is_dir():
            raise OutputExists(f"{out} is a file, not a directory; name a directory with -o")
        try:
            out.mkdir(parents=True, exist_ok=True)
            for path in self.paths.values():
                with path.open("a", encoding="utf-8"):
                    pass  # create the files now: a read-only place fails here, not after the first dialogue
        except OSError as error:
            raise OutputExists(f"cannot write to {out}: {error.strerror or error}") from None
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
        beyond = sum(record.get("id") not in wanted for records in existing.values() for record in records)
        if beyond:
            held = sum(len(records) for records in existing.values())
            raise OutputExists(
                f"{out} holds {held} dialogues, {beyond} of them beyond -n {self.options.dialogues}; "
                f"resume with -n {held} or more"
            )
        for kind, records in existing.items():
            for record in records:
                self.tally.add(kind, record)
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
                render("output_schema/system"), prompt, json_object_reply("output_schema", {"type": "object"})
            )
        except RoleError:
            return None
        return reply.root

    # -- the run --------------------------------------------------------------------------------

    async def run(self) -> RunSummary:
        started = time.monotonic()
        started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        done = self._prepare()
        self._write_manifest(started_at, "running", 0.0)
        self.on_progress(self.progress)
        handles: dict[str, IO[str]] = {kind: path.open("a", encoding="utf-8") for kind, path in self.paths.items()}
        status, stop = "finished", None
        try:
            schemas, self.output_schema_sources = await resolve_output_schemas(
                list(self.scenario.tools), infer=self._infer_output_schema
            )
            graph = DataflowGraph(self.scenario.tools, schemas)
            context = RunContext(self.scenario, schemas, graph, self.options.seed, self.options.assist)
            jobs = (DialogueJob(context, index) for index in range(self.options.dialogues) if index not in done)
            # Outcomes arrive in index order: the files are the same whatever the concurrency.
            async for outcome in self.executor.run(jobs):
                self._append(handles[outcome.kind], outcome.record)
                self.tally.add(outcome.kind, outcome.record)
                setattr(self.progress, outcome.kind, getattr(self.progress, outcome.kind) + 1)
                self.progress.tokens += outcome.tokens
                self.on_progress(self.progress)
        except RunAborted as error:
            status, stop = "aborted", {"role": error.role, "cause": error.cause, "reason": error.reason}
            raise
        except (KeyboardInterrupt, asyncio.CancelledError):
            status, stop = "interrupted", {"reason": "interrupted by the user"}
            raise
        except OutputFailed as error:
            status, stop = "interrupted", {"reason": str(error)}
            raise
        except WorkerCrashed as error:
            status, stop = "crashed", {"reason": str(error)}
            raise
        finally:
            for handle in handles.values():
                with contextlib.suppress(OSError):  # a full disk may refuse the close's flush too
                    handle.close()
            await self.executor.close()
            await self.backend.close()
            try:
                manifest = self._write_manifest(started_at, status, time.monotonic() - started, stop)
            except OSError:  # no room for the manifest either: the records are whole, resume reads them
                manifest = {"status": status}
        return RunSummary(self.progress, manifest)

    @staticmethod
    def _append(handle: IO[str], record: dict[str, Any]) -> None:
        """Append one record as one whole line; on a write error, cut what was written of it."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        start = handle.tell()
        try:
            handle.write(line)
            handle.flush()
        except OSError as error:
            with contextlib.suppress(OSError):
                os.truncate(handle.name, start)  # no torn line left behind
            raise OutputFailed(f"cannot write {handle.name}: {error.strerror or error}") from None

    # -- manifest -------------------------------------------------------------------------------

    def _write_manifest(
        self, started_at: str, status: str, seconds: float, stop: dict[str, str] | None = None
    ) -> dict[str, Any]:
        manifest = {
            "rolecall_version": __version__,
            "status": status,
            **({"stopped": stop} if stop else {}),
            "scenario": self.scenario.name,
            "scenario_path": str(self.scenario.path),
            "scenario_digest": self.scenario.digest,
            "seed": self.options.seed,
            "requested": self.options.dialogues,
            **self.tally.summary(),
            "models": self.backend.describe(),
            # Where the model time went, per role: this process's (the planner's inference of output
            # schemas at the start, or every dialogue) and that of the workers, if they ran them.
            "model_time_by_role": combined_model_time([self.backend.model_time(), self.executor.remote_model_time()]),
            "assist": self.options.assist.describe(),
            "output_schemas": self.output_schema_sources,
            # Which tools change state (rule no_unplanned_writes), and how that is known.
            "tool_effects": {
                tool.name: {"effect": tool.effect[0], "source": tool.effect[1]} for tool in self.scenario.tools
            },
            "executor": self.executor.describe(),
            "packages": _package_versions(),
            "options": {
                "concurrency": self.options.concurrency,
                "cache": str(self.options.cache_dir) if self.options.cache_dir else None,
                "resume": self.options.resume,
            },
            "started_at": started_at,
            "seconds": round(seconds, 2),
            "seconds_per_dialogue": round(seconds / max(1, self.progress.done - self.progress.resumed), 2),
        }
        path = self.options.out_dir / MANIFEST
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        partial.replace(path)
        return manifest


async def run_scenario(
    scenario: LoadedScenario,
    backend: RoleBackend,
    options: RunOptions,
    on_progress: Callable[[Progress], None] | None = None,
    executor: Executor | None = None,
) -> RunSummary:
    """Generate ``options.dialogues`` dialogues of ``scenario`` into ``options.out_dir``."""
    return await Runner(scenario, backend, options, on_progress, executor).run()
