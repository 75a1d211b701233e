"""The progress bar and closing summary of ``rolecall run`` (rich, on stderr)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rolecall.run import FILES, MANIFEST
from rolecall.run import Progress as RunProgress


class RunDisplay:
    def __init__(self, scenario: str, requested: int, enabled: bool = True):
        self.console = Console(stderr=True)
        self.enabled = enabled
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[green]{task.fields[accepted]} accepted[/] [yellow]{task.fields[rejected]} rejected[/] "
                "[red]{task.fields[failed]} failed[/] {task.fields[tokens]:,} tokens"
            ),
            TimeElapsedColumn(),
            console=self.console,
            disable=not enabled,
        )
        self._last: RunProgress | None = None
        self.task = self.bar.add_task(scenario, total=requested, accepted=0, rejected=0, failed=0, tokens=0)

    def __enter__(self) -> RunDisplay:
        self.bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.bar.stop()

    def written(self) -> int:
        """Dialogues written so far (resumed ones included)."""
        return self._last.done if self._last else 0

    def update(self, progress: RunProgress) -> None:
        self._last = progress
        self.bar.update(
            self.task,
            completed=progress.done,
            accepted=progress.accepted,
            rejected=progress.rejected,
            failed=progress.failed,
            tokens=progress.tokens,
        )

    def report(self, manifest: dict[str, Any], out: Path) -> None:
        counts = manifest.get("counts", {})
        table = Table(title=f"{manifest.get('scenario')}: {manifest.get('requested')} dialogues", show_header=False)
        for kind, name in FILES.items():
            table.add_row(kind, str(counts.get(kind, 0)), str(out / name))
        for reason, count in manifest.get("rejection_reasons", {}).items():
            table.add_row("  rejected by", str(count), reason)
        for reason, count in manifest.get("failure_classes", {}).items():
            table.add_row("  failed in", str(count), reason)
        usage = manifest.get("usage", {})
        table.add_row(
            "tokens",
            f"{usage.get('prompt_tokens', 0) + usage.get('completion_tokens', 0):,}",
            f"{usage.get('model_calls', 0)} model calls",
        )
        table.add_row("manifest", "", str(out / MANIFEST))
        self.console.print(table)
        accepted = counts.get("accepted", 0)
        if accepted:
            self.console.print(f"{accepted} accepted; read them with: rolecall view {out / FILES['accepted']}")
        else:  # an empty file is no place to send a newcomer: show why each was turned down
            self.console.print(f"0 accepted; see why with: rolecall view {out} --rejected")
