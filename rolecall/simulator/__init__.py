"""The dialogue engine: one dialogue (session), the tool simulator, and the runner on top."""

from rolecall.simulator._records import dialogue_record, failed_record, record_id
from rolecall.simulator._runner import (
    FILES,
    MANIFEST,
    OutputExists,
    Progress,
    RunOptions,
    RunSummary,
    read_run,
    run_scenario,
    tally,
)
from rolecall.simulator._session import (
    ACCEPTABLE_ENDINGS,
    COMPLETED,
    GAVE_UP_AFTER_FAULT,
    Dialogue,
    DialogueFailed,
    RunContext,
    dialogue_seed,
    simulate_dialogue,
)
from rolecall.simulator._tools import ToolSimulationFailed, ToolSimulator, error_result, repair, schema_errors

__all__ = [
    "ACCEPTABLE_ENDINGS",
    "COMPLETED",
    "FILES",
    "GAVE_UP_AFTER_FAULT",
    "MANIFEST",
    "Dialogue",
    "DialogueFailed",
    "OutputExists",
    "Progress",
    "RunContext",
    "RunOptions",
    "RunSummary",
    "ToolSimulationFailed",
    "ToolSimulator",
    "dialogue_record",
    "dialogue_seed",
    "error_result",
    "failed_record",
    "read_run",
    "record_id",
    "repair",
    "run_scenario",
    "schema_errors",
    "simulate_dialogue",
    "tally",
]
