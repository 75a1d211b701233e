"""``rolecall view``: dialogues in the terminal, roles coloured, tool calls compact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

_STYLES = {"system": "dim", "user": "bold cyan", "assistant": "bold green", "tool": "magenta"}


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _hidden_names(record: dict[str, Any]) -> set[str]:
    turns = record.get("metadata", {}).get("plan", {}).get("turns", [])
    return {call["name"] for turn in turns for call in turn.get("calls", []) if call["id"] in turn.get("hidden", [])}


def origin_label(origin: dict[str, Any] | None) -> str:
    """A short mark for a message not written by a model as-is ("" for a model's own)."""
    if not origin or origin.get("origin") in ("model", "scenario", None):
        return ""
    detail = origin.get("template") or origin.get("fault") or ""
    if origin.get("drafts"):
        detail = f"{detail}, {origin['drafts']} drafts" if detail else f"{origin['drafts']} drafts"
    if origin.get("edits"):
        detail = "; ".join(origin["edits"])
    return f"[{origin['origin']}{': ' + detail if detail else ''}]"


def render_record(record: dict[str, Any], width: int) -> Panel:
    hidden = _hidden_names(record)
    meta = record.get("metadata", {})
    origins = meta.get("provenance") or []
    body = Text()
    for position, message in enumerate(record.get("messages", [])):
        role = message.get("role", "?")
        style = _STYLES.get(role, "")
        mark = origin_label(origins[position] if position < len(origins) else None)
        if mark:
            body.append(_clip(mark, width) + " ", style="bold red")
        if role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                function = call.get("function", {})
                name = function.get("name", "?")
                body.append("  → ", style="green")
                body.append(f"{name}({_clip(function.get('arguments', ''), width)})", style="green")
                if name in hidden:
                    body.append("  [hidden]", style="bold yellow")
                body.append(f"  {call.get('id')}\n", style="dim")
            continue
        if role == "tool":
            body.append(f"  ← {message.get('tool_call_id')}: ", style="dim")
            body.append(_clip(str(message.get("content", "")), width) + "\n", style=style)
            continue
        content = message.get("content") or ""
        if role == "system":
            content = _clip(content.replace("\n", " "), width)
        body.append(f"{role}: ", style=style)
        body.append(f"{content}\n")
    validation = meta.get("validation") or {}
    failed = [c for c in validation.get("checks", []) if not c.get("passed")]
    footer = Text()
    if "error" in meta:
        footer.append(f"failed in {meta['error'].get('role')}: {meta['error'].get('message')}", style="red")
    elif failed:
        footer.append("rejected: " + "; ".join(f"{c['name']}: {c['reason']}" for c in failed), style="yellow")
    elif validation:
        footer.append("accepted " + (validation.get("judge_summary") or ""), style="green")
    if footer:
        body.append("\n")
        body.append_text(footer)
    persona = meta.get("persona", {}).get("name", "")
    title = f"{record.get('id')}  {persona}  {meta.get('date', '')}  ended: {meta.get('end_reason', '-')}"
    return Panel(body, title=title, title_align="left")


def show_file(path: Path, dialogue_id: str | None = None, limit: int = 5, width: int = 160) -> int:
    """Print up to ``limit`` dialogues from ``path``; returns how many were shown."""
    console = Console()
    shown = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if dialogue_id and record.get("id") != dialogue_id:
                continue
            console.print(render_record(record, width))
            shown += 1
            if shown >= limit:
                break
    return shown
