"""``rolecall export``: a run's records, streamed into the file a trainer reads."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rolecall.export._formats import CONVERTERS, code_written, to_openai
from rolecall.run import FILES

FORMATS = (*CONVERTERS, "parquet")
CodeWritten = Literal["drop", "flag", "keep"]


class ExportError(Exception):
    """The export cannot be made (no such run, a missing optional dependency)."""


@dataclass
class ExportSummary:
    written: int = 0
    dropped_code_written: int = 0
    unreadable: int = 0  # torn or non-JSON lines skipped
    by_outcome: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        head = f"{self.written} dialogues written"
        parts = [f"{count} {outcome}" for outcome, count in sorted(self.by_outcome.items())]
        lines = [head + (f" ({', '.join(parts)})" if parts else "")]
        if self.dropped_code_written:
            lines.append(
                f"{self.dropped_code_written} left out: they hold user or assistant text written by code "
                "(the aids for weak models); --code-written keep or flag to include them"
            )
        if self.unreadable:
            lines.append(f"{self.unreadable} unreadable lines skipped")
        return lines


def _records(run_dir: Path, outcomes: Iterable[str], summary: ExportSummary) -> Iterator[dict[str, Any]]:
    for outcome in outcomes:
        path = run_dir / FILES[outcome]
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line) if line.endswith("\n") else None
                except ValueError:
                    record = None
                if not isinstance(record, dict):
                    summary.unreadable += bool(line.strip())
                    continue
                record["_outcome"] = outcome
                yield record


def _rows(
    run_dir: Path, fmt: str, outcomes: Iterable[str], code: CodeWritten, summary: ExportSummary
) -> Iterator[dict[str, Any]]:
    convert = to_openai if fmt == "parquet" else CONVERTERS[fmt]
    for record in _records(run_dir, outcomes, summary):
        written_by_code = code_written(record)
        if written_by_code and code == "drop":
            summary.dropped_code_written += 1
            continue
        row = {"id": record.get("id"), **convert(record)}
        if code == "flag":
            row["code_written"] = written_by_code
        if fmt == "parquet":
            row = _arrow_row(row, record)
        summary.written += 1
        summary.by_outcome[record["_outcome"]] += 1
        yield row


def _arrow_row(row: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """A row with one type per column: arguments, tools and metadata as JSON text (their shapes
    differ from row to row, which a columnar file cannot hold as structures)."""
    messages = []
    for message in row["messages"]:
        calls = [
            {**call, "function": {**call["function"], "arguments": json.dumps(call["function"]["arguments"])}}
            for call in message.get("tool_calls") or []
        ]
        messages.append(
            {
                "role": message["role"],
                "content": message.get("content"),
                "tool_calls": calls,
                "tool_call_id": message.get("tool_call_id"),
                "name": message.get("name"),
            }
        )
    return {
        "id": row["id"],
        "outcome": record["_outcome"],
        "messages": messages,
        "tools": json.dumps(row["tools"], ensure_ascii=False),
        "metadata": json.dumps(record.get("metadata") or {}, ensure_ascii=False),
        **({"code_written": row["code_written"]} if "code_written" in row else {}),
    }


def export_run(
    run_dir: Path,
    fmt: str,
    out: Path,
    outcomes: Iterable[str] = ("accepted",),
    code: CodeWritten = "drop",
) -> ExportSummary:
    """Write ``run_dir``'s records of the given outcomes to ``out`` in format ``fmt``."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if not run_dir.is_dir() or not any((run_dir / name).exists() for name in FILES.values()):
        raise ExportError(f"{run_dir} holds no run (no {', '.join(FILES.values())})")
    summary = ExportSummary()
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        _write_parquet(run_dir, list(outcomes), code, summary, out)
        return summary
    rows = _rows(run_dir, fmt, list(outcomes), code, summary)
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    partial.replace(out)  # a reader never sees half a file
    return summary


def _parquet_rows(
    run_dir: Path, outcomes: list[str], code: CodeWritten, summary: ExportSummary
) -> Iterator[dict[str, Any]]:
    yield from _rows(run_dir, "parquet", outcomes, code, summary)


def _write_parquet(run_dir: Path, outcomes: list[str], code: CodeWritten, summary: ExportSummary, out: Path) -> None:
    try:
        import datasets
    except ImportError:
        raise ExportError("--format parquet needs Hugging Face datasets: pip install 'rolecall[analysis]'") from None
    datasets.disable_progress_bars()  # the CLI prints its own summary
    text = datasets.Value("string")
    call = {"id": text, "type": text, "function": {"name": text, "arguments": text}}
    message = {"role": text, "content": text, "tool_calls": [call], "tool_call_id": text, "name": text}
    columns: dict[str, Any] = {"id": text, "outcome": text, "messages": [message], "tools": text, "metadata": text}
    if code == "flag":
        columns["code_written"] = [text]
    with tempfile.TemporaryDirectory(dir=out.parent) as cache:
        # from_generator streams the rows to Arrow files on disk, so a large run never sits in
        # memory; the fresh cache folder means it never reuses an earlier export.
        dataset = datasets.Dataset.from_generator(
            _parquet_rows,
            features=datasets.Features(columns),
            cache_dir=cache,
            gen_kwargs={"run_dir": run_dir, "outcomes": outcomes, "code": code, "summary": summary},
        )
        partial = out.with_name(out.name + ".partial")
        dataset.to_parquet(str(partial))
        del dataset
    partial.replace(out)
