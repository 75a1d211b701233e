"""The report as rich tables in the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

ROWS = [
    ("conversations", "conversations"),
    ("user turns (mean)", "user_turns_mean"),
    ("tool calls (mean)", "tool_calls_mean"),
    ("distinct tools (mean)", "distinct_tools_mean"),
    ("calls per user turn", "calls_per_user_turn_mean"),
    ("parallel-call messages", "parallel_messages_mean"),
    ("calls using an output (strict)", "dependent_call_share_strict"),
    ("calls using an output (loose)", "dependent_call_share_loose"),
    ("argument values from outputs", "argument_leaves_from_outputs"),
    ("dialogues with a dependency", "with_dependency_share"),
    ("longest chain (mean)", "chain_length_mean"),
]


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    corpora = report["corpora"]
    table = Table(title=f"Corpus statistics: {report['run']}")
    table.add_column("statistic")
    for label in corpora:
        table.add_column(label, justify="right")
    for title, key in ROWS:
        table.add_row(title, *(str(corpora[label].get(key, "-")) for label in corpora))
    console.print(table)
    for label, rows in report["distances"].items():
        distances = Table(title=f"Accepted dialogues against {label}: Jensen-Shannon distance (base 2)")
        for column in ("distribution", "distance", "noise floor (mean)", "noise floor (p95)", "above noise"):
            distances.add_column(column, justify="left" if column == "distribution" else "right")
        for name, row in rows.items():
            if "skipped" in row:
                distances.add_row(name, "-", "-", "-", f"skipped: {row['skipped']}")
            else:
                above = "yes" if row["above_noise"] else "no"
                distances.add_row(
                    name,
                    f"{row['distance']:.3f}",
                    f"{row['noise_floor_mean']:.3f}",
                    f"{row['noise_floor_p95']:.3f}",
                    above,
                )
        console.print(distances)
    own = report["rolecall"]
    console.print(
        f"dialogues: {own['dialogues']}; hidden calls per turn {own['hidden_calls_per_turn_mean']}, "
        f"discovered in order {own['hidden_discovered_in_order_share']}; prior calls per dialogue "
        f"{own['prior_calls_per_dialogue_mean']}; faults injected {own['faults_injected']}"
    )
    console.print(f"rejected at (first failed check): {own['rejected_at'] or 'none'}")
    console.print(f"end reasons: {own['end_reasons']}")
    for role, shares in own["provenance_shares"].items():
        console.print(f"{role} messages by origin: {shares}")
    cost = report["cost"]
    console.print(
        f"cost: {cost['model_calls']} model calls, {cost['tokens']} tokens; per accepted dialogue "
        f"{cost['model_calls_per_accepted']} calls, {cost['tokens_per_accepted']} tokens"
        + "".join(f", {amount:.4f} {currency}" for currency, amount in (cost["money_per_accepted"] or {}).items())
    )
