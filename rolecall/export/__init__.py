"""Exporting a run for trainers: OpenAI/TRL messages, ShareGPT, Hermes, Parquet."""

from rolecall.export._export import FORMATS, CodeWritten, ExportError, ExportSummary, export_run
from rolecall.export._formats import CODE_WRITTEN_ORIGINS, code_written, to_hermes, to_openai, to_sharegpt

__all__ = [
    "CODE_WRITTEN_ORIGINS",
    "FORMATS",
    "CodeWritten",
    "ExportError",
    "ExportSummary",
    "code_written",
    "export_run",
    "to_hermes",
    "to_openai",
    "to_sharegpt",
]
