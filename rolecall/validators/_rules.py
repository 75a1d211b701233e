"""The rule checks: small, pure, named checks on a finished dialogue.

Each rule reads a :class:`DialogueEvidence` and returns one :class:`CheckResult` named after the
rule. A failing reason names the culprit (call id, tool, argument, message index, value) so a
rejected dialogue can be understood without re-reading it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from rolecall.planning import PlannedCall, descendants, literal_values
from rolecall.scenario import value_validator
from rolecall.text import plain_words
from rolecall.validators._evidence import CheckResult, DialogueEvidence, ToolCallView

Rule = Callable[[DialogueEvidence], CheckResult]

_LISTED = 3  # culprits spelled out in one reason; more are only counted, to keep reasons short
_CALL_ID = re.compile(r"(?<![\w$])call_[A-Za-z0-9]\w*")
_REFERENCE = re.compile(r"(?<![\w$])\$\d+\.[A-Za-z_][\w-]*(?:\.[\w-]+)*")
# "$3" that is not part of an amount such as "$3.50" or "$3,000".
_BARE_ID = re.compile(r"(?<![\w$])\$(\d+)(?!\w|[.,]\d)")
# Free text that someone composes (a ticket summary, an order note) rather than copies: a string
# of at least this many words, in a parameter with no enum, pattern or format. It is grounded by
# its content words, since no customer dictates a ticket summary word for word.
PROSE_MIN_WORDS = 4
PROSE_GROUNDED_SHARE = 0.6  # of its content words (4+ letters) said before


# -- helpers -------------------------------------------------------------------------------------


def _outcome(name: str, problems: list[str], note: str = "") -> CheckResult:
    if not problems:
        return CheckResult(name, True, note)
    more = f" (+{len(problems) - _LISTED} more)" if len(problems) > _LISTED else ""
    return CheckResult(name, False, "; ".join(problems[:_LISTED]) + more)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _show(value: Any, limit: int = 48) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(content: Any) -> str:
    """Text of a message's content, which may also be a list of OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _said(messages: list[dict[str, Any]], role: str, end: int) -> list[str]:
    """Normalised texts of the ``role`` messages before index ``end``."""
    return [_norm(_text(m.get("content"))) for m in messages[:end] if m.get("role") == role]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _same(expected: Any, actual: Any) -> bool:
    """Plan-literal equality: strings ignore case and surrounding whitespace, numbers compare by value
    (a number written as a string included, since models often quote them)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(_same(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(_same, expected, actual))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, str) and isinstance(actual, str):
        return _norm(expected) == _norm(actual)
    if _is_number(expected) or _is_number(actual):
        left, right = _as_number(expected), _as_number(actual)
        return left is not None and left == right
    return bool(expected == actual)


def _number_in(value: int | float, text: str) -> bool:
    """Whether ``value`` is written in ``text`` as a number of its own ("12" not in "112" or "12.5")."""
    if float(value).is_integer():
        core = re.escape(str(int(value))) + r"(?:\.0+)?"
    else:
        core = re.escape(repr(float(value))) + "0*"
    return re.search(rf"(?<![\w.]){core}(?!\w|[.,]\d)", text) is not None


def _texts_of(value: Any) -> list[str]:
    """Normalised texts a value can ground strings in: its JSON text and each string leaf."""
    if isinstance(value, str):
        return [_norm(value)]
    leaves = [_norm(v) for v in literal_values(value) if isinstance(v, str)]
    return [_norm(json.dumps(value, ensure_ascii=False)), *leaves]


def _parsed(content: Any) -> Any:
    try:
        return json.loads(content) if isinstance(content, str) else content
    except ValueError:
        return content


def _argument_leaves(value: Any, schema: Any, path: str = "") -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    """(path, scalar, the schema that describes it) for every scalar inside an argument value."""
    schema = schema if isinstance(schema, Mapping) else {}
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, item in value.items():
            yield from _argument_leaves(item, properties.get(key), f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _argument_leaves(item, schema.get("items"), f"{path}[{index}]")
    elif value is not None:
        yield path, value, schema


def _name_pattern(name: str) -> re.Pattern[str]:
    """A tool name as a whole word; a name of several words also written with spaces ("find order")."""
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name) or [name]
    return re.compile(r"(?<![\w])" + r"[\s_-]*".join(map(re.escape, words)) + r"(?![\w])", re.IGNORECASE)


def _schema_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    error = jsonschema.exceptions.best_match(value_validator(schema).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def _known_values(evidence: DialogueEvidence) -> list[Any]:
    """Values the user could know without the hidden steps: facts, plan literals, prior calls."""
    values = list(literal_values(evidence.facts))
    for prior in evidence.prior_calls:
        values += [*literal_values(prior.arguments), *literal_values(prior.output)]
    for turn in evidence.turns:
        for call in turn.calls:
            values += literal_values(call.literals())
    return values


def _planned(evidence: DialogueEvidence) -> list[PlannedCall]:
    return [call for turn in evidence.turns for call in turn.calls]


@dataclass
class _PlanMatch:
    """How the planned calls map onto the calls actually made (indexes into ``calls``)."""

    calls: list[ToolCallView]
    matches: dict[str, list[int]] = field(default_factory=dict)  # planned id -> every matching call
    made: dict[str, int] = field(default_factory=dict)  # planned id -> the match whose result feeds references
    faulted: dict[str, int] = field(default_factory=dict)  # planned id -> a match; every match got a fault
    blocked: dict[str, str] = field(default_factory=dict)  # planned id -> the upstream fault that prevented it
    missing: dict[str, str] = field(default_factory=dict)  # planned id -> why no call matched

    def status(self, call: PlannedCall) -> tuple[str | None, str]:
        """(problem, note) for one planned call: a note when a fault excuses it."""
        where = f"{call.id} {call.name}"
        if call.id in self.missing:
            return f"{where}: {self.missing[call.id]}", ""
        if call.id in self.faulted:
            view = self.calls[self.faulted[call.id]]
            return None, f"{where} got fault {view.fault} ({view.call_id})"
        if call.id in self.blocked:
            return None, f"{where} could not be made: {self.blocked[call.id]}"
        return None, ""


def _match_plan(evidence: DialogueEvidence) -> _PlanMatch:
    match = _PlanMatch(evidence.tool_calls())
    outputs: dict[str, Any] = {prior.id: prior.output for prior in evidence.prior_calls}
    for planned in _planned(evidence):  # references only point backwards, so one pass suffices
        expected = planned.literals()
        for argument, ref in planned.references():
            if ref.call in match.faulted:
                view = match.calls[match.faulted[ref.call]]
                match.blocked[planned.id] = f"{ref.call} got fault {view.fault} ({view.call_id})"
            elif ref.call in match.blocked:
                match.blocked[planned.id] = match.blocked[ref.call]
            elif ref.call not in outputs:
                match.missing.setdefault(planned.id, f"{argument} needs {ref.call}, which was never made")
            else:
                try:
                    expected[argument] = ref.resolve(outputs[ref.call])
                except LookupError:
                    match.missing.setdefault(planned.id, f"{argument}: {ref} is not in the actual result")
        if planned.id in match.blocked:
            match.missing.pop(planned.id, None)
            continue
        if planned.id in match.missing:
            continue
        tool = evidence.tools.get(planned.name)
        properties = (tool.parameters.get("properties") or {}) if tool else {}
        found = [
            index
            for index, view in enumerate(match.calls)
            if view.name == planned.name
            and view.arguments is not None
            and all(
                key in view.arguments and _matches(value, view.arguments[key], properties.get(key) or {})
                for key, value in expected.items()
            )
        ]
        if not found:
            match.missing[planned.id] = _why_unmatched(planned.name, expected, match.calls, properties)
            continue
        match.matches[planned.id] = found
        usable = [index for index in found if match.calls[index].fault is None]
        if usable:
            match.made[planned.id] = usable[0]
            outputs[planned.id] = match.calls[usable[0]].result
        else:
            match.faulted[planned.id] = found[0]
    return match


def _matches(expected: Any, actual: Any, schema: Mapping[str, Any]) -> bool:
    """A made call's argument against the plan's: equal; for prose, any prose of the assistant's
    own (whether it is grounded is rule ``arguments_grounded``'s question); for a value the
    assistant may choose itself (an enum member, a flag, a default), any valid choice: the user is
    never asked to state those, so the plan cannot hold the assistant to one."""
    if _is_prose(expected, schema):
        return isinstance(actual, str) and bool(actual.strip())
    if _same(expected, actual):
        return True
    return _exempt(expected, schema) and bool(schema) and value_validator(schema).is_valid(actual)


def _why_unmatched(
    name: str, expected: dict[str, Any], calls: list[ToolCallView], properties: Mapping[str, Any]
) -> str:
    same_name = [view for view in calls if view.name == name and view.arguments is not None]
    if not same_name:
        return "no such call was made"
    # Naming the first near miss tells the reader which argument went wrong.
    view, arguments = same_name[0], same_name[0].arguments or {}
    for key, value in expected.items():
        if key not in arguments:
            return f"no call with {key}={_show(value)} ({view.call_id} omits {key})"
        if not _matches(value, arguments[key], properties.get(key) or {}):
            return f"no call with {key}={_show(value)} ({view.call_id} has {_show(arguments[key])})"
    return "no matching call"


# -- the rules -----------------------------------------------------------------------------------


def known_tools(evidence: DialogueEvidence) -> CheckResult:
    calls = evidence.tool_calls()
    problems = [f"{view.call_id} calls unknown tool {view.name!r}" for view in calls if view.name not in evidence.tools]
    return _outcome("known_tools", problems)


def arguments_parse(evidence: DialogueEvidence) -> CheckResult:
    problems = [
        f"{view.call_id} {view.name}: arguments are not a JSON object: {_show(view.raw_arguments)}"
        for view in evidence.tool_calls()
        if view.arguments is None
    ]
    return _outcome("arguments_parse", problems)


def arguments_match_schema(evidence: DialogueEvidence) -> CheckResult:
    problems = []
    for view in evidence.tool_calls():
        tool = evidence.tools.get(view.name)
        if tool is None or view.arguments is None:  # reported by known_tools / arguments_parse
            continue
        problem = _schema_problem(view.arguments, tool.parameters)
        if problem:
            problems.append(f"{view.call_id} {view.name}: {problem}")
    return _outcome("arguments_match_schema", problems)


def no_invented_parameters(evidence: DialogueEvidence) -> CheckResult:
    problems = []
    for view in evidence.tool_calls():
        tool = evidence.tools.get(view.name)
        if tool is None or view.arguments is None:
            continue
        declared = tool.parameters.get("properties") or {}
        invented = [key for key in view.arguments if key not in declared]
        problems += [f"{view.call_id} {view.name}: undeclared parameter {key!r}" for key in invented]
    return _outcome("no_invented_parameters", problems)


def _exempt(value: Any, schema: Mapping[str, Any]) -> bool:
    """Values the assistant may choose itself: flags, defaults and fixed vocabularies."""
    if isinstance(value, bool):
        return True
    if "default" in schema and _same(schema["default"], value):
        return True
    if "const" in schema and _same(schema["const"], value):
        return True
    return any(_same(option, value) for option in schema.get("enum") or [])


def _is_prose(value: Any, schema: Mapping[str, Any]) -> bool:
    if not isinstance(value, str) or len(value.split()) < PROSE_MIN_WORDS:
        return False
    return not any(key in schema for key in ("enum", "const", "pattern", "format"))


def _content_words(text: str) -> set[str]:
    return {word for word in plain_words(text) if len(word) >= 4}


def _grounded(value: Any, texts: list[str], leaves: list[Any], schema: Mapping[str, Any]) -> bool:
    """Whether ``value`` is written in one of the (normalised) ``texts`` or equals a number leaf;
    for prose, whether most of its content words were said."""
    if isinstance(value, str):
        if any(_norm(value) in text for text in texts):
            return True
        if not _is_prose(value, schema):
            return False
        words = _content_words(value)
        said = set().union(*(_content_words(text) for text in texts))
        return not words or len(words & said) >= PROSE_GROUNDED_SHARE * len(words)
    if _is_number(value):
        return any(_is_number(leaf) and leaf == value for leaf in leaves) or any(_number_in(value, t) for t in texts)
    return True


def unstated_literals(arguments: Any, parameters: Mapping[str, Any], texts: list[str]) -> list[tuple[str, Any]]:
    """(path, value) of the argument values the user must state (not flags, defaults or enum
    members) that none of ``texts`` states: what a customer's request still lacks for a call."""
    normalised = [_norm(text) for text in texts]
    return [
        (path, value)
        for path, value, schema in _argument_leaves(arguments, parameters)
        if not _exempt(value, schema) and not _grounded(value, normalised, [], schema)
    ]


def arguments_grounded(evidence: DialogueEvidence) -> CheckResult:
    background = [evidence.facts, *[[p.arguments, p.output] for p in evidence.prior_calls]]
    background_texts = [text for value in background for text in _texts_of(value)]
    background_leaves = [leaf for value in background for leaf in literal_values(value)]
    problems = []
    for view in evidence.tool_calls():
        if view.arguments is None:
            continue
        earlier = evidence.messages[: view.position]
        results = [_parsed(m.get("content")) for m in earlier if m.get("role") == "tool"]
        texts = _said(evidence.messages, "user", view.position) + background_texts
        texts += [text for result in results for text in _texts_of(result)]
        leaves = background_leaves + [leaf for result in results for leaf in literal_values(result)]
        tool = evidence.tools.get(view.name)
        for path, value, schema in _argument_leaves(view.arguments, tool.parameters if tool else {}):
            if not _exempt(value, schema) and not _grounded(value, texts, leaves, schema):
                problems.append(f"{view.call_id} {view.name}: {path}={_show(value)} appears nowhere before the call")
    return _outcome("arguments_grounded", problems)


def goal_calls_made(evidence: DialogueEvidence) -> CheckResult:
    match = _match_plan(evidence)
    problems, notes = [], []
    for turn in evidence.turns:
        for call in turn.explicit_calls():
            problem, note = match.status(call)
            problems += [problem] if problem else []
            notes += [note] if note else []
    return _outcome("goal_calls_made", problems, "; ".join(notes))


def hidden_calls_discovered(evidence: DialogueEvidence) -> CheckResult:
    match = _match_plan(evidence)
    planned = _planned(evidence)
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
    return _outcome("hidden_calls_discovered", problems, "; ".join(notes))


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
    patterns = {name: _name_pattern(name) for name in evidence.tools}
    plan_ids = {call.id for call in _planned(evidence)} | {prior.id for prior in evidence.prior_calls}
    # A "$12" the user knows as an amount is money, not a leaked call id.
    amounts = {float(v) for v in _known_values(evidence) if _is_number(v)}
    problems = []
    for index, message in enumerate(evidence.messages):
        if message.get("role") != "user":
            continue
        text = _text(message.get("content"))
        found = [f"tool name {name!r}" for name, pattern in patterns.items() if pattern.search(text)]
        found += [f"call id {m.group()!r}" for m in _CALL_ID.finditer(text)]
        found += [f"reference {m.group()!r}" for m in _REFERENCE.finditer(text)]
        found += [
            f"call id {m.group()!r}"
            for m in _BARE_ID.finditer(_REFERENCE.sub(" ", text))
            if f"${m.group(1)}" in plan_ids and float(m.group(1)) not in amounts
        ]
        found += [f"JSON {_show(span)}" for span in _json_spans(text)]
        if re.search(r"\btool_calls\b", text):
            found.append("'tool_calls'")
        problems += [f"message {index}: {what}" for what in found]
    return _outcome("user_text_clean", problems)


def no_hidden_narration(evidence: DialogueEvidence) -> CheckResult:
    match = _match_plan(evidence)
    known = {_norm(str(value)) for value in _known_values(evidence)}
    messages = evidence.messages
    problems = []
    for turn in evidence.turns:
        for call in turn.hidden_calls():
            pattern = _name_pattern(call.name)
            secrets: list[str] = []
            if call.id in match.made:
                view = match.calls[match.made[call.id]]
                # Values the user stated before the lookup were theirs to know, not narration.
                before = " ".join(_said(messages, "user", view.position))
                strings = [v for v in literal_values(view.result) if isinstance(v, str) and len(v.strip()) >= 4]
                secrets = [v for v in strings if _norm(v) not in known and _norm(v) not in before]
            for index, message in enumerate(messages):
                if message.get("role") != "user":
                    continue
                text = _text(message.get("content"))
                if pattern.search(text):
                    problems.append(f"message {index} names hidden step {call.id} {call.name}")
                heard = " ".join(_said(messages, "assistant", index))
                # Repeating what the assistant already told the user is fine.
                leaked = [s for s in secrets if _norm(s) in _norm(text) and _norm(s) not in heard]
                problems += [f"message {index} states {_show(s)} from hidden {call.id} {call.name}" for s in leaked]
    return _outcome("no_hidden_narration", problems)


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
        problem = _schema_problem(view.result, schema) if schema else None
        if problem:
            problems.append(f"{view.call_id} {view.name} result: {problem}")
    return _outcome("outputs_match_schema", problems)


def no_duplicate_calls(evidence: DialogueEvidence) -> CheckResult:
    answered: dict[str, str] = {}  # signature -> id of an earlier call that did not fail
    problems = []
    for view in evidence.tool_calls():
        arguments = json.dumps(view.arguments, sort_keys=True) if view.arguments is not None else view.raw_arguments
        signature = f"{view.name}:{arguments}"
        if signature in answered:
            problems.append(f"{view.call_id} repeats {answered[signature]} {view.name}({_show(view.raw_arguments)})")
        elif view.fault is None:  # retrying after a fault is legitimate
            answered[signature] = view.call_id
    return _outcome("no_duplicate_calls", problems)


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
    return _outcome("tool_calls_answered", problems)


def ends_with_assistant_text(evidence: DialogueEvidence) -> CheckResult:
    if not evidence.messages:
        return _outcome("ends_with_assistant_text", ["the dialogue has no messages"])
    index, last = len(evidence.messages) - 1, evidence.messages[-1]
    if last.get("role") != "assistant":
        problem = f"the last message ({index}) is a {last.get('role')} message"
    elif last.get("tool_calls"):
        problem = f"the last message ({index}) makes tool calls"
    elif not _text(last.get("content")).strip():
        problem = f"the last message ({index}) has no text"
    else:
        return _outcome("ends_with_assistant_text", [])
    return _outcome("ends_with_assistant_text", [problem])


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
        ends_with_assistant_text,
    )
}
RULE_NAMES = tuple(RULES)


def run_rules(evidence: DialogueEvidence, disabled: Iterable[str] = ()) -> list[CheckResult]:
    """Every rule not in ``disabled``, in registry order."""
    disabled = set(disabled)
    unknown = sorted(disabled - RULES.keys())
    if unknown:
        raise ValueError(f"unknown rule name(s) {', '.join(unknown)}; known rules: {', '.join(RULE_NAMES)}")
    return [rule(evidence) for name, rule in RULES.items() if name not in disabled]
