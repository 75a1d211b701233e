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


def summary_line(record: dict[str, Any]) -> str:
    """Turns, calls, hidden calls made, and the verdict, on one line."""
    meta = record.get("metadata") or {}
    messages = record.get("messages") or []
    made = [c.get("function", {}).get("name") for m in messages for c in m.get("tool_calls") or []]
    turns = meta.get("plan", {}).get("turns", [])
    hidden = [c["name"] for t in turns for c in t.get("calls", []) if c["id"] in t.get("hidden", [])]
    remaining = list(made)
    found = 0
    for name in hidden:  # each hidden call needs a call of its own to that tool
        if name in remaining:
            remaining.remove(name)
            found += 1
    users = sum(m.get("role") == "user" for m in messages)
    parts = [f"{users} user turns", f"{len(made)} tool calls"]
    if hidden:
        parts.append(f"hidden made {found}/{len(hidden)}")
    return " · ".join([*parts, _verdict(meta)])


def _verdict(meta: dict[str, Any]) -> str:
    validation = meta.get("validation") or {}
    if "error" in meta:
        return "failed"
    if not validation:
        return "not validated"
    failed = [c["name"] for c in validation.get("checks", []) if not c.get("passed")]
    judge = validation.get("judge") or {}
    if failed:
        return "rejected by " + ", ".join(failed)
    if judge and not judge.get("accepted", True):
        return "rejected by the judge"
    return "accepted"


def _failures(meta: dict[str, Any]) -> Text:
    validation = meta.get("validation") or {}
    failed = [c for c in validation.get("checks", []) if not c.get("passed")]
    text = Text()
    if "error" in meta:
        text.append(f"failed in {meta['error'].get('role')}: {meta['error'].get('message')}", style="red")
    elif failed:
        text.append("rejected: " + "; ".join(f"{c['name']}: {c['reason']}" for c in failed), style="yellow")
    elif (validation.get("judge") or {}).get("accepted") is False:
        text.append("rejected by the judge: " + (validation.get("judge_summary") or ""), style="yellow")
    elif validation:
        text.append("accepted " + (validation.get("judge_summary") or ""), style="green")
    return text


def is_rejected(record: dict[str, Any]) -> bool:
    return _verdict(record.get("metadata") or {}).startswith(("rejected", "failed"))


def turn_notes(meta: dict[str, Any]) -> dict[int, str]:
    """Message index of each turn's opening -> "turn 2 · no issue_refund · builds on an earlier
    turn": what the generation knobs did to that turn, for a reader of the dialogue."""
    starts = meta.get("turn_starts") or []
    phenomena = meta.get("phenomena") or {}
    notes = {start: [f"turn {turn + 1}"] for turn, start in enumerate(starts)}

    def note(turn: Any, text: str) -> None:
        if isinstance(turn, int) and 0 <= turn < len(starts):
            notes[starts[turn]].append(text)

    for entry in (phenomena.get("missing_function") or {}).get("withheld") or []:
        note(entry.get("turn"), f"assistant not given {entry.get('tool')}")
    for turn in (phenomena.get("follow_up") or {}).get("planned") or []:
        note(turn, "builds on an earlier turn")
    for entry in (phenomena.get("missing_parameter") or {}).get("withheld") or []:
        note(entry.get("turn"), f"{entry.get('parameter')} left out until asked")
    change = (phenomena.get("user_behaviours") or {}).get("change_of_mind") or {}
    if change.get("at") is not None:
        notes.setdefault(change["at"], []).append(
            f"user changes {change.get('parameter')}: {change.get('before')} -> {change.get('after')}"
        )
    if len(starts) < 2 and all(len(parts) == 1 for parts in notes.values()):
        return {}  # one plain turn: nothing to say
    return {index: " · ".join(parts) for index, parts in notes.items()}


def render_record(record: dict[str, Any], width: int, failures_first: bool = False) -> Panel:
    hidden = _hidden_names(record)
    meta = record.get("metadata", {})
    origins = meta.get("provenance") or []
    notes = turn_notes(meta)
    body = Text()
    if failures_first:
        body.append_text(_failures(meta))
        body.append("\n\n")
    for position, message in enumerate(record.get("messages", [])):
        if position in notes:
            body.append(f"── {_clip(notes[position], width)}\n", style="bold cyan")
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
    footer = _failures(meta)
    if footer and not failures_first:
        body.append("\n")
        body.append_text(footer)
    persona = meta.get("persona", {}).get("name", "")
    title = f"{record.get('id')}  {persona}  {meta.get('date', '')}  ended: {meta.get('end_reason', '-')}"
    return Panel(body, title=title, title_align="left", subtitle=summary_line(record), subtitle_align="left")


def show_file(
    path: Path, dialogue_id: str | None = None, limit: int = 5, width: int = 160, rejected: bool = False
) -> int:
    """Print up to ``limit`` dialogues from ``path`` (a .jsonl file, or a run's folder: its
    dialogues, or with ``rejected`` its rejected and failed ones, or with ``dialogue_id`` all
    three); returns how many were shown. A dialogue that was not accepted shows its failed
    checks first; with ``rejected``, only such dialogues are shown."""
    console = Console()
    shown = 0
    if path.is_dir():
        names = ["rejected.jsonl", "failed.jsonl"] if rejected else ["dialogues.jsonl"]
        if dialogue_id:  # an id names one dialogue, wherever it was filed
            names = ["dialogues.jsonl", "rejected.jsonl", "failed.jsonl"]
        paths = [path / name for name in names if (path / name).exists()]
    else:
        paths = [path]
    for file in paths:
        with file.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if dialogue_id and record.get("id") != dialogue_id:
                    continue
                if rejected and not is_rejected(record):
                    continue
                console.print(render_record(record, width, failures_first=rejected or is_rejected(record)))
                shown += 1
                if shown >= limit:
                    return shown
    return shown
