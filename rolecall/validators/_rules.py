"""The rule checks: small, pure, named checks on a finished dialogue.

Each rule reads a :class:`DialogueEvidence` and returns one :class:`CheckResult` named after the
rule. A failing reason names the culprit (call id, tool, argument, message index, value) so a
rejected dialogue can be understood without re-reading it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from rolecall.planning import descendants, literal_values
from rolecall.scenario import action_stems, unasked_write, word_stems
from rolecall.text import agent_phrase
from rolecall.validators._claims import claim_problems
from rolecall.validators._evidence import CheckResult, DialogueEvidence, ToolCallView, check_outcome
from rolecall.validators._phenomena import (
    change_of_mind_followed,
    mistakes_corrected,
    prior_state_kept,
    unavailable_tool_declined,
    withheld_value_asked,
)
from rolecall.validators._plan_match import match_plan, planned_calls
from rolecall.validators._values import (
    argument_leaves,
    content_text,
    dollars_as_cents,
    exempt,
    grounded,
    in_cents,
    is_identifier,
    is_number,
    keyed_numbers,
    keyed_strings,
    name_pattern,
    norm,
    other_kind_source,
    parsed,
    said,
    schema_problem,
    show,
    texts_of,
    wrong_kind,
)

Rule = Callable[[DialogueEvidence], CheckResult]

_CALL_ID = re.compile(r"(?<![\w$])call_[A-Za-z0-9]\w*")
_REFERENCE = re.compile(r"(?<![\w$])\$\d+\.[A-Za-z_][\w-]*(?:\.[\w-]+)*")
# "$3" that is not part of an amount such as "$3.50" or "$3,000".
_BARE_ID = re.compile(r"(?<![\w$])\$(\d+)(?!\w|[.,]\d)")


# -- helpers -------------------------------------------------------------------------------------


def _known_values(evidence: DialogueEvidence) -> list[Any]:
    """Values the user could know without the hidden steps: facts, plan literals, prior calls."""
    values = list(literal_values(evidence.facts))
    for prior in evidence.prior_calls:
        values += [*literal_values(prior.arguments), *literal_values(prior.output)]
    for turn in evidence.turns:
        for call in turn.calls:
            values += literal_values(call.literals())
    return values


# -- the rules -----------------------------------------------------------------------------------


def known_tools(evidence: DialogueEvidence) -> CheckResult:
    calls = evidence.tool_calls()
    problems = [f"{view.call_id} calls unknown tool {view.name!r}" for view in calls if view.name not in evidence.tools]
    return check_outcome("known_tools", problems)


def arguments_parse(evidence: DialogueEvidence) -> CheckResult:
    problems = [
        f"{view.call_id} {view.name}: arguments are not a JSON object: {show(view.raw_arguments)}"
        for view in evidence.tool_calls()
        if view.arguments is None
    ]
    return check_outcome("arguments_parse", problems)


def arguments_match_schema(evidence: DialogueEvidence) -> CheckResult:
    problems = []
    for view in evidence.tool_calls():
        tool = evidence.tools.get(view.name)
        if tool is None or view.arguments is None:  # reported by known_tools / arguments_parse
            continue
        problem = schema_problem(view.arguments, tool.parameters)
        if problem:
            problems.append(f"{view.call_id} {view.name}: {problem}")
    return check_outcome("arguments_match_schema", problems)


def no_invented_parameters(evidence: DialogueEvidence) -> CheckResult:
    problems = []
    for view in evidence.tool_calls():
        tool = evidence.tools.get(view.name)
        if tool is None or view.arguments is None:
            continue
        declared = tool.parameters.get("properties") or {}
        invented = [key for key in view.arguments if key not in declared]
        problems += [f"{view.call_id} {view.name}: undeclared parameter {key!r}" for key in invented]
    return check_outcome("no_invented_parameters", problems)


def _leaf_name(path: str) -> str:
    """``items[0].amount_cents`` -> ``amount_cents``."""
    return path.rsplit(".", 1)[-1].split("[")[0]


def unstated_literals(arguments: Any, parameters: Mapping[str, Any], texts: list[str]) -> list[tuple[str, Any]]:
    """(path, value) of the argument values the user must state (not flags, defaults or enum
    members) that none of ``texts`` states: what a customer's request still lacks for a call."""
    normalised = [norm(text) for text in texts]
    return [
        (path, value)
        for path, value, schema in argument_leaves(arguments, parameters)
        if not exempt(value, schema) and not grounded(value, normalised, [], schema, _leaf_name(path))
    ]


def arguments_grounded(evidence: DialogueEvidence) -> CheckResult:
    """Every value the user must state was said, or returned, before the call; an identifier is
    of the right kind: not a date or an ordinal, and not a value only ever seen as another
    entity's id (a customer id passed as an order id)."""
    background = [evidence.facts, *[[p.arguments, p.output] for p in evidence.prior_calls]]
    background_texts = [text for value in background for text in texts_of(value)]
    background_leaves = [leaf for value in background for leaf in literal_values(value)]
    background_keyed = [pair for value in background for pair in keyed_strings(value)]
    problems = []
    for view in evidence.tool_calls():
        if view.arguments is None:
            continue
        earlier = evidence.messages[: view.position]
        results = [parsed(m.get("content")) for m in earlier if m.get("role") == "tool"]
        user_texts = said(evidence.messages, "user", view.position)
        texts = user_texts + background_texts + [text for result in results for text in texts_of(result)]
        leaves = background_leaves + [leaf for result in results for leaf in literal_values(result)]
        keyed = background_keyed + [pair for result in results for pair in keyed_strings(result)]
        # An amount in cents is grounded by a number only where that number is in cents too: a
        # field in cents, or a text (not a JSON dump, where a price in dollars is a bare number).
        cents_leaves = [n for value in [*background, *results] for key, n in keyed_numbers(value) if "cents" in key]
        cents_texts = user_texts + [norm(text) for _, text in keyed]
        tool = evidence.tools.get(view.name)
        for path, value, schema in argument_leaves(view.arguments, tool.parameters if tool else {}):
            name, where = _leaf_name(path), f"{view.call_id} {view.name}: {path}={show(value)}"
            kind = wrong_kind(value, name, schema)
            if kind:
                problems.append(f"{where} is {kind}, not an identifier")
            elif exempt(value, schema):
                continue
            elif in_cents(name, schema) and not grounded(value, cents_texts, cents_leaves, schema, name):
                problems.append(f"{where} appears nowhere before the call in cents")
            elif not in_cents(name, schema) and not grounded(value, texts, leaves, schema, name):
                problems.append(f"{where} appears nowhere before the call")
            elif in_cents(name, schema) and dollars_as_cents(value, user_texts):
                problems.append(f"{where} is the user's ${value} in dollars, not in cents")
            elif is_identifier(name) and not grounded(value, user_texts, [], schema, name):
                source = other_kind_source(value, name, keyed)
                if source:
                    problems.append(f"{where} was seen only as {source}, another kind of value")
    return check_outcome("arguments_grounded", problems)


def goal_calls_made(evidence: DialogueEvidence) -> CheckResult:
    match = match_plan(evidence)
    problems, notes = [], []
    for turn in evidence.turns:
        for call in turn.explicit_calls():
            problem, note = match.status(call)
            problems += [problem] if problem else []
            notes += [note] if note else []
    return check_outcome("goal_calls_made", problems, "; ".join(notes))


def hidden_calls_discovered(evidence: DialogueEvidence) -> CheckResult:
    match = match_plan(evidence)
    planned = planned_calls(evidence)
    problems, notes = [], []
    for turn in evidence.turns:
        for call in turn.hidden_calls():
            problem, note = match.status(call)
            if problem or note:
                problems += [f"hidden {problem}"] if problem else []
                notes += [note] if note else []
                continue
            at = match.made[call.id]
            dependent = [index for d in descendants(planned, {call.id}) for index in match.matches.get(d, [])]
            if dependent and min(dependent) < at:
                first = match.calls[min(dependent)]
                problems.append(
                    f"hidden {call.id} {call.name} ({match.calls[at].call_id}) came after "
                    f"{first.call_id} {first.name}, which depends on it"
                )
    return check_outcome("hidden_calls_discovered", problems, "; ".join(notes))


def _json_spans(text: str) -> Iterator[str]:
    decoder = json.JSONDecoder()
    for start in (i for i, char in enumerate(text) if char == "{"):
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            yield text[start:end]


def user_text_clean(evidence: DialogueEvidence) -> CheckResult:
    patterns = {name: name_pattern(name) for name in evidence.tools}
    plan_ids = {call.id for call in planned_calls(evidence)} | {prior.id for prior in evidence.prior_calls}
    # A "$12" the user knows as an amount is money, not a leaked call id.
    amounts = {float(v) for v in _known_values(evidence) if is_number(v)}
    problems = []
    for index, message in enumerate(evidence.messages):
        if message.get("role") != "user":
            continue
        text = content_text(message.get("content"))
        found = [f"tool name {name!r}" for name, pattern in patterns.items() if pattern.search(text)]
        found += [f"call id {m.group()!r}" for m in _CALL_ID.finditer(text)]
        found += [f"reference {m.group()!r}" for m in _REFERENCE.finditer(text)]
        found += [
            f"call id {m.group()!r}"
            for m in _BARE_ID.finditer(_REFERENCE.sub(" ", text))
            if f"${m.group(1)}" in plan_ids and float(m.group(1)) not in amounts
        ]
        found += [f"JSON {show(span)}" for span in _json_spans(text)]
        if re.search(r"\btool_calls\b", text):
            found.append("'tool_calls'")
        voice = agent_phrase(text)
        if voice:
            found.append(f"the agent's words {voice!r}")
        problems += [f"message {index}: {what}" for what in found]
    return check_outcome("user_text_clean", problems)


def no_hidden_narration(evidence: DialogueEvidence) -> CheckResult:
    match = match_plan(evidence)
    known = {norm(str(value)) for value in _known_values(evidence)}
    messages = evidence.messages
    problems = []
    for turn in evidence.turns:
        for call in turn.hidden_calls():
            pattern = name_pattern(call.name)
            secrets: list[str] = []
            if call.id in match.made:
                view = match.calls[match.made[call.id]]
                # Values the user stated before the lookup were theirs to know, not narration; but
                # not an internal id the user has no fact for: knowing it skips the hidden step.
                before = " ".join(said(messages, "user", view.position))
                ids = {v for key, v in keyed_strings(view.result) if is_identifier(key)}
                strings = [v for v in literal_values(view.result) if isinstance(v, str) and len(v.strip()) >= 4]
                secrets = [v for v in strings if norm(v) not in known and (v in ids or norm(v) not in before)]
            for index, message in enumerate(messages):
                if message.get("role") != "user":
                    continue
                text = content_text(message.get("content"))
                if pattern.search(text):
                    problems.append(f"message {index} names hidden step {call.id} {call.name}")
                heard = " ".join(said(messages, "assistant", index))
                # Repeating what the assistant already told the user is fine.
                leaked = [s for s in secrets if norm(s) in norm(text) and norm(s) not in heard]
                problems += [f"message {index} states {show(s)} from hidden {call.id} {call.name}" for s in leaked]
    return check_outcome("no_hidden_narration", problems)


def outputs_match_schema(evidence: DialogueEvidence) -> CheckResult:
    problems = []
    for view in evidence.tool_calls():
        if not view.answered:
            continue
        if view.fault is not None:
            if not (isinstance(view.result, dict) and "error" in view.result):
                problems.append(f"{view.call_id} {view.name}: fault {view.fault} result has no 'error' object")
            continue
        schema = evidence.output_schemas.get(view.name)
        problem = schema_problem(view.result, schema) if schema else None
        if problem:
            problems.append(f"{view.call_id} {view.name} result: {problem}")
    return check_outcome("outputs_match_schema", problems)


def no_duplicate_calls(evidence: DialogueEvidence) -> CheckResult:
    """No call is made twice with the same arguments after it was answered, and no state-changing
    call is made again on the same entity (the same identifier arguments) after it succeeded,
    unless the user gave a new value for it in between: cancelling an order that the first call
    cancelled, with another reason, is as wrong as the exact repeat."""
    answered: dict[str, str] = {}  # signature -> id of an earlier call that did not fail
    done: dict[str, ToolCallView] = {}  # write tool and its identifier arguments -> the call that did it
    problems = []
    for view in evidence.tool_calls():
        arguments = json.dumps(view.arguments, sort_keys=True) if view.arguments is not None else view.raw_arguments
        signature = f"{view.name}:{arguments}"
        entity = _written_entity(evidence, view)
        if signature in answered:
            problems.append(f"{view.call_id} repeats {answered[signature]} {view.name}({show(view.raw_arguments)})")
        elif entity in done and not _new_value_from_user(evidence, done[entity], view):
            earlier = done[entity]
            problems.append(
                f"{view.call_id} {view.name} changes {entity.partition(':')[2]} again after {earlier.call_id} "
                "did, with no new value from the user"
            )
        if view.fault is None:  # retrying after a fault is legitimate
            answered.setdefault(signature, view.call_id)
            if entity is not None and not (isinstance(view.result, dict) and "error" in view.result):
                done[entity] = view
    return check_outcome("no_duplicate_calls", problems)


def _written_entity(evidence: DialogueEvidence, view: ToolCallView) -> str | None:
    """``tool:{identifier arguments}`` for a state-changing call that names what it changes."""
    tool = evidence.tools.get(view.name)
    if tool is None or tool.effect[0] != "write" or view.arguments is None:
        return None
    ids = {key: value for key, value in view.arguments.items() if is_identifier(key)}
    return f"{view.name}:{json.dumps(ids, sort_keys=True, ensure_ascii=False)}" if ids else None


def _new_value_from_user(evidence: DialogueEvidence, earlier: ToolCallView, view: ToolCallView) -> bool:
    """Whether an argument that changed since ``earlier`` holds a value the user said between the
    two, as ``arguments_grounded`` reads values (a note's prose by most of its content words)."""
    assert view.arguments is not None and earlier.arguments is not None
    between = [
        norm(content_text(m.get("content")))
        for m in evidence.messages[earlier.position + 1 : view.position]
        if m.get("role") == "user"
    ]
    tool = evidence.tools.get(view.name)
    properties = (tool.parameters.get("properties") or {}) if tool is not None else {}
    for key, value in view.arguments.items():
        if earlier.arguments.get(key) == value:
            continue
        schema = properties.get(key) if isinstance(properties.get(key), Mapping) else {}
        leaves = [value] if isinstance(value, str) or is_number(value) else list(literal_values(value))
        said = [leaf for leaf in leaves if is_number(leaf) or (isinstance(leaf, str) and leaf.strip())]
        if any(grounded(leaf, between, [], schema, key) for leaf in said):
            return True
    return False


def tool_calls_answered(evidence: DialogueEvidence) -> CheckResult:
    issued: dict[str, int] = {}  # call id -> index of the assistant message that made it
    answers: dict[str, list[int]] = {}
    problems = []
    for index, message in enumerate(evidence.messages):
        if message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                call_id = call.get("id") or ""
                if not call_id:
                    problems.append(f"message {index}: a tool call has no id")
                elif call_id in issued:
                    problems.append(f"{call_id} is used twice (messages {issued[call_id]} and {index})")
                else:
                    issued[call_id] = index
        elif message.get("role") == "tool":
            call_id = message.get("tool_call_id") or ""
            if call_id in issued:
                answers.setdefault(call_id, []).append(index)
            else:
                problems.append(f"message {index} answers {call_id!r}, which no earlier call has")
    users = [index for index, message in enumerate(evidence.messages) if message.get("role") == "user"]
    for call_id, at in issued.items():
        got = answers.get(call_id, [])
        next_user = next((u for u in users if u > at), None)
        if not got:
            problems.append(f"{call_id} (message {at}) is never answered")
        elif len(got) > 1:
            problems.append(f"{call_id} is answered {len(got)} times (messages {', '.join(map(str, got))})")
        elif next_user is not None and got[0] > next_user:
            problems.append(f"{call_id} is answered at message {got[0]}, after the user spoke at message {next_user}")
    return check_outcome("tool_calls_answered", problems)


def no_unplanned_writes(evidence: DialogueEvidence) -> CheckResult:
    """A call to a state-changing tool must be planned, or asked for by the user before it:
    a refund nobody wanted is in the database of a stateful benchmark, whatever the assistant says.
    What counts as asked for is :func:`rolecall.scenario.unasked_write`'s reading of the user's
    words (the stems of the tool's name past a generic verb, what sets it apart from the other
    state-changing tools, and no other one fitting the words better)."""
    planned_tools = {call.name for call in planned_calls(evidence)}
    writes = {name: action_stems(name) for name, tool in evidence.tools.items() if tool.effect[0] == "write"}
    problems = []
    for view in evidence.tool_calls():
        if view.name not in writes or view.name in planned_tools:
            continue
        asked = word_stems(" ".join(said(evidence.messages, "user", view.position)))
        why = unasked_write(view.name, writes, asked)
        if why is not None:
            problem = f"{view.call_id} {view.name} changes state, but was neither planned nor asked for"
            problems.append(f"{problem} ({why})" if why else problem)
    return check_outcome("no_unplanned_writes", problems)


def claims_match_results(evidence: DialogueEvidence) -> CheckResult:
    """Ids, amounts and statuses the assistant states agree with the results and the user's words,
    and no failed call is reported as done (see ``_claims``)."""
    return check_outcome("claims_match_results", claim_problems(evidence))


def ends_with_assistant_text(evidence: DialogueEvidence) -> CheckResult:
    if not evidence.messages:
        return check_outcome("ends_with_assistant_text", ["the dialogue has no messages"])
    index, last = len(evidence.messages) - 1, evidence.messages[-1]
    if last.get("role") != "assistant":
        problem = f"the last message ({index}) is a {last.get('role')} message"
    elif last.get("tool_calls"):
        problem = f"the last message ({index}) makes tool calls"
    elif not content_text(last.get("content")).strip():
        problem = f"the last message ({index}) has no text"
    else:
        return check_outcome("ends_with_assistant_text", [])
    return check_outcome("ends_with_assistant_text", [problem])


RULES: dict[str, Rule] = {
    rule.__name__: rule
    for rule in (
        known_tools,
        arguments_parse,
        arguments_match_schema,
        no_invented_parameters,
        arguments_grounded,
        goal_calls_made,
        hidden_calls_discovered,
        user_text_clean,
        no_hidden_narration,
        outputs_match_schema,
        no_duplicate_calls,
        tool_calls_answered,
        no_unplanned_writes,
        claims_match_results,
        ends_with_assistant_text,
        prior_state_kept,
        mistakes_corrected,
        withheld_value_asked,
        unavailable_tool_declined,
        change_of_mind_followed,
    )
}
RULE_NAMES = tuple(RULES)
# Rules that read the injected mistakes; every other rule reads the dialogue without them.
_READ_INJECTED = frozenset({"mistakes_corrected"})


def run_rules(evidence: DialogueEvidence, disabled: Iterable[str] = ()) -> list[CheckResult]:
    """Every rule not in ``disabled``, in registry order."""
    disabled = set(disabled)
    unknown = sorted(disabled - RULES.keys())
    if unknown:
        raise ValueError(f"unknown rule name(s) {', '.join(unknown)}; known rules: {', '.join(RULE_NAMES)}")
    corrected = evidence.without_injected()
    return [
        rule(evidence if name in _READ_INJECTED else corrected) for name, rule in RULES.items() if name not in disabled
    ]
