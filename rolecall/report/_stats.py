"""Statistics of one conversation in OpenAI chat format: turns, calls, and data dependencies.

A call *depends* on an earlier tool result when one of its argument values came out of that
result. Two readings:

- strict: an argument leaf (a string, or a number; booleans and null never count) equals a leaf
  of an earlier result exactly (a result that is not JSON counts as one string leaf);
- loose: also a string of 3+ characters found inside a longer string of an earlier result, or
  equal to one after case and spacing are normalised, and a number equal to a number written as
  text ("12" and 12).

The *chain length* is the number of calls on the longest path call -> call that used its output
(strict reading); a conversation with calls but no dependency has chains of length 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rolecall.text import json_or_text


@dataclass(frozen=True)
class ConversationStats:
    user_turns: int
    tool_calls: int
    distinct_tools: int
    parallel_messages: int  # assistant messages with 2+ calls
    dependent_calls_strict: int
    dependent_calls_loose: int
    argument_leaves: int
    leaves_from_outputs: int  # strict reading
    chain_length: int
    tools_used: list[str] = field(default_factory=list)

    @property
    def calls_per_user_turn(self) -> float:
        return self.tool_calls / self.user_turns if self.user_turns else 0.0

    @property
    def dependency_share(self) -> float:
        """Share of the calls that depend on an earlier result (strict); 0 without calls."""
        return self.dependent_calls_strict / self.tool_calls if self.tool_calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_turns": self.user_turns,
            "tool_calls": self.tool_calls,
            "distinct_tools": self.distinct_tools,
            "calls_per_user_turn": round(self.calls_per_user_turn, 4),
            "parallel_messages": self.parallel_messages,
            "dependent_calls_strict": self.dependent_calls_strict,
            "dependent_calls_loose": self.dependent_calls_loose,
            "argument_leaves": self.argument_leaves,
            "leaves_from_outputs": self.leaves_from_outputs,
            "chain_length": self.chain_length,
        }


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if value is None or isinstance(value, bool):
        return []
    return [value]


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _strict_match(leaf: Any, output: Any) -> bool:
    if isinstance(leaf, str) and isinstance(output, str):
        return leaf == output
    if isinstance(leaf, int | float) and isinstance(output, int | float):
        return float(leaf) == float(output)
    return False


def _loose_match(leaf: Any, output: Any) -> bool:
    if _strict_match(leaf, output):
        return True
    if isinstance(leaf, str) and isinstance(output, str):
        a, b = _norm(leaf), _norm(output)
        return a == b or (len(a) >= 3 and a in b)
    try:
        return float(str(leaf)) == float(str(output))
    except ValueError:
        return False


def conversation_stats(messages: list[dict[str, Any]]) -> ConversationStats:
    results: dict[str, list[Any]] = {}  # call id -> leaves of its result
    for message in messages:
        if message.get("role") == "tool":
            results.setdefault(message.get("tool_call_id") or "", _leaves(json_or_text(message.get("content"))))
    calls: list[tuple[str, str, list[Any]]] = []  # (id, name, argument leaves), in order
    parallel = 0
    for message in messages:
        if message.get("role") != "assistant":
            continue
        made = message.get("tool_calls") or []
        parallel += len(made) >= 2
        for call in made:
            function = call.get("function") or {}
            calls.append(
                (call.get("id") or "", function.get("name") or "", _leaves(json_or_text(function.get("arguments"))))
            )
    strict_calls = loose_calls = leaves_total = leaves_from = 0
    chain: list[int] = []
    for index, (_, _, arguments) in enumerate(calls):
        earlier = [(j, results.get(calls[j][0], [])) for j in range(index)]
        sources = {j for j, outputs in earlier if any(_strict_match(a, o) for a in arguments for o in outputs)}
        loose = any(_loose_match(a, o) for a in arguments for _, outputs in earlier for o in outputs)
        strict_calls += bool(sources)
        loose_calls += loose or bool(sources)
        leaves_total += len(arguments)
        leaves_from += sum(any(_strict_match(a, o) for _, outputs in earlier for o in outputs) for a in arguments)
        chain.append(1 + max((chain[j] for j in sources), default=0))
    return ConversationStats(
        user_turns=sum(m.get("role") == "user" for m in messages),
        tool_calls=len(calls),
        distinct_tools=len({name for _, name, _ in calls}),
        parallel_messages=parallel,
        dependent_calls_strict=strict_calls,
        dependent_calls_loose=loose_calls,
        argument_leaves=leaves_total,
        leaves_from_outputs=leaves_from,
        chain_length=max(chain, default=0),
        tools_used=[name for _, name, _ in calls],
    )
