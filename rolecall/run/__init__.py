"""Running many dialogues: the per-dialogue function, executors, and the runner with its files.

Layers, bottom up: :func:`produce_dialogue` (one job in, one record out, no I/O), an
:class:`Executor` that runs jobs with bounded concurrency and yields outcomes in order, and the
:class:`Runner` that writes the files, resumes and keeps the manifest.
"""

from rolecall.run._check import (
    CheckedRecord,
    CheckSummary,
    check_record,
    checked_record,
    judge_record,
    read_records,
    record_evidence,
)
from rolecall.run._executor import AsyncioExecutor, Executor
from rolecall.run._job import DialogueJob, DialogueOutcome, produce_dialogue
from rolecall.run._processes import BackendRecipe, ProcessExecutor, WorkerCrashed, concurrency_per_worker
from rolecall.run._ray import RayExecutor
from rolecall.run._records import dialogue_record, failed_record, record_id
from rolecall.run._runner import MANIFEST, OutputExists, OutputFailed, Progress, RunOptions, RunSummary, run_scenario
from rolecall.run._tally import FILES, Tally, read_run, tally

__all__ = [
    "FILES",
    "MANIFEST",
    "AsyncioExecutor",
    "BackendRecipe",
    "CheckSummary",
    "CheckedRecord",
    "DialogueJob",
    "DialogueOutcome",
    "Executor",
    "OutputExists",
    "OutputFailed",
    "ProcessExecutor",
    "Progress",
    "RayExecutor",
    "RunOptions",
    "RunSummary",
    "Tally",
    "WorkerCrashed",
    "check_record",
    "checked_record",
    "concurrency_per_worker",
    "dialogue_record",
    "failed_record",
    "judge_record",
    "produce_dialogue",
    "read_records",
    "read_run",
    "record_evidence",
    "record_id",
    "run_scenario",
    "tally",
]
