"""Rule checks: a clean base dialogue passes every rule; each small mutation breaks exactly one."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from rolecall.planning import PlannedCall, PriorCall, TurnPlan
from rolecall.scenario import Tool
from rolecall.text import says_cannot
from rolecall.validators import decline_outcomes
from rolecall.validators._evidence import DialogueEvidence
from rolecall.validators._rules import RULE_NAMES, RULES, run_rules, unstated_literals

STR = {"type": "string"}
FIND = Tool(
    "find_customer_by_email",
    "Look up a customer by e-mail address.",
    {
        "type": "object",
        "properties": {"email": {"type": "string", "format": "email"}},
        "required": ["email"],
        "additionalProperties": False,
    },
    {"type": "object", "properties": {"customer_id": STR, "name": STR}, "required": ["customer_id"]},
)
LIST = Tool(
    "list_orders",
    "List a customer's orders.",
    {
        "type": "object",
        "properties": {
            "customer_id": STR,
            "status": {"type": "string", "enum": ["open", "shipped", "cancelled", "any"]},
            "limit": {"type": "integer", "default": 20},
            "include_items": {"type": "boolean"},
            "placed_after": {"type": "string", "format": "date"},
        },
        "required": ["customer_id"],
    },
    {
        "type": "object",
        "properties": {
            "orders": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"order_id": STR, "status": STR, "total": {"type": "number"}},
                    "required": ["order_id", "status"],
                },
            }
        },
        "required": ["orders"],
    },
)
CANCEL = Tool(
    "cancel_order",
    "Cancel an open order.",
    {
        "type": "object",
        "properties": {"order_id": STR, "reason": STR, "notify": {"type": "boolean", "default": True}},
        "required": ["order_id", "reason"],
    },
    {"type": "object", "properties": {"order_id": STR, "status": STR, "refund": {"type": "number"}}},
)
TOOLS = {tool.name: tool for tool in (FIND, LIST, CANCEL)}
EMAIL = "ana.ruiz@example.com"
ORDERS = {
    "orders": [
        {"order_id": "ORD-1001", "status": "open", "total": 59.9},
        {"order_id": "ORD-1002", "status": "open", "total": 12},
    ]
}


def call(call_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def ask(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": list(calls)}


def answer(call_id: str, result: Any) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def reply(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def base() -> DialogueEvidence:
    """Turn 1 lists open orders (the customer lookup is hidden); turn 2 cancels the first one."""
    messages = [
        {"role": "system", "content": "You are the support assistant of Acme Shop."},
        user(f"Hi, I'm Ana. My e-mail is {EMAIL}. Which open orders do I have?"),
        ask(call("call_1", "find_customer_by_email", email=EMAIL)),
        answer("call_1", {"customer_id": "CUST-4821", "name": "Ana Ruiz"}),
        ask(call("call_2", "list_orders", customer_id="CUST-4821", status="open")),
        answer("call_2", ORDERS),
        reply("You have two open orders: ORD-1001 (59.90) and ORD-1002 (12.00)."),
        user("Please cancel ORD-1001, it arrived too late."),
        ask(call("call_3", "cancel_order", order_id="ORD-1001", reason="arrived too late")),
        answer("call_3", {"order_id": "ORD-1001", "status": "cancelled", "refund": 59.9}),
        reply("Done: ORD-1001 is cancelled and 59.90 will be refunded."),
    ]
    turns = [
        TurnPlan(
            goal="See my open orders",
            calls=[
                PlannedCall(id="$1", name=FIND.name, arguments={"email": EMAIL}),
                PlannedCall(id="$2", name=LIST.name, arguments={"customer_id": "$1.customer_id", "status": "open"}),
            ],
            hidden=["$1"],
        ),
        TurnPlan(
            goal="Cancel the late order",
            calls=[
                PlannedCall(
                    id="$3",
                    name=CANCEL.name,
                    arguments={"order_id": "$2.orders.0.order_id", "reason": "arrived too late"},
                )
            ],
        ),
    ]
    return DialogueEvidence(
        messages=messages,
        tools=copy.deepcopy(TOOLS),  # tests edit schemas: the module's tools stay as written
        output_schemas={tool.name: copy.deepcopy(tool.returns or {}) for tool in TOOLS.values()},
        turns=turns,
        facts={"date": "2026-03-14", "name": "Ana Ruiz", "email": EMAIL},
    )


# -- mutation helpers ----------------------------------------------------------------------------


def find_call(evidence: DialogueEvidence, call_id: str) -> dict[str, Any]:
    for message in evidence.messages:
        for item in message.get("tool_calls") or []:
            if item["id"] == call_id:
                return item
    raise KeyError(call_id)


def set_arguments(evidence: DialogueEvidence, call_id: str, **changes: Any) -> None:
    function = find_call(evidence, call_id)["function"]
    function["arguments"] = json.dumps({**json.loads(function["arguments"]), **changes})


def set_raw_arguments(evidence: DialogueEvidence, call_id: str, raw: str) -> None:
    find_call(evidence, call_id)["function"]["arguments"] = raw


def set_result(evidence: DialogueEvidence, call_id: str, result: Any, fault: str | None = None) -> None:
    for message in evidence.messages:
        if message.get("role") == "tool" and message["tool_call_id"] == call_id:
            message["content"] = json.dumps(result)
    if fault:
        evidence.faults[call_id] = fault


def set_user(evidence: DialogueEvidence, index: int, text: str) -> None:
    assert evidence.messages[index]["role"] == "user"
    evidence.messages[index]["content"] = text


def insert(evidence: DialogueEvidence, index: int, *messages: dict[str, Any]) -> None:
    evidence.messages[index:index] = list(messages)


def drop(evidence: DialogueEvidence, *indexes: int) -> None:
    for index in sorted(indexes, reverse=True):
        del evidence.messages[index]


def check(evidence: DialogueEvidence, rule: str) -> tuple[bool, str]:
    result = RULES[rule](evidence)
    assert result.name == rule
    return result.passed, result.reason


def failing(evidence: DialogueEvidence) -> dict[str, str]:
    return {r.name: r.reason for r in run_rules(evidence) if not r.passed}


def mutated(mutation: Callable[[DialogueEvidence], None]) -> DialogueEvidence:
    evidence = base()
    mutation(evidence)
    return evidence


# -- the base dialogue ---------------------------------------------------------------------------


def test_base_dialogue_passes_every_rule() -> None:
    results = run_rules(base())
    assert [r.name for r in results] == list(RULE_NAMES)
    assert failing(base()) == {}


def test_registry_order_and_names() -> None:
    assert RULE_NAMES == (
        "known_tools",
        "arguments_parse",
        "arguments_match_schema",
        "no_invented_parameters",
        "arguments_grounded",
        "goal_calls_made",
        "hidden_calls_discovered",
        "user_text_clean",
        "no_hidden_narration",
        "outputs_match_schema",
        "no_duplicate_calls",
        "tool_calls_answered",
        "no_unplanned_writes",
        "claims_match_results",
        "ends_with_assistant_text",
        "prior_state_kept",
        "mistakes_corrected",
        "withheld_value_asked",
        "unavailable_tool_declined",
        "change_of_mind_followed",
    )


# -- one violation per rule: exactly that rule fails, naming the culprit -------------------------


def _unasked_refund(e: DialogueEvidence) -> None:
    e.tools["issue_refund"] = Tool(
        "issue_refund", "", {"type": "object", "properties": {"order_id": STR}}, {"type": "object"}
    )
    insert(e, 6, ask(call("call_8", "issue_refund", order_id="ORD-1002")), answer("call_8", {}))


def _unknown_tool(e: DialogueEvidence) -> None:
    e.messages[8]["tool_calls"].append(call("call_4", "lookup_loyalty", email=EMAIL))
    insert(e, 10, answer("call_4", {"points": 120}))


def _unparsable(e: DialogueEvidence) -> None:
    insert(e, 10, ask(call("call_4", "find_customer_by_email")), answer("call_4", {"error": {"code": "x"}}))
    set_raw_arguments(e, "call_4", '{"email": "ana.ruiz@example.com"')
    e.faults["call_4"] = "invalid_arguments"


def _reorder_hidden(e: DialogueEvidence) -> None:
    # The assistant already knew the id (a fact) and looked the customer up only afterwards.
    e.facts["customer_id"] = "CUST-4821"
    e.messages[2:6] = [e.messages[4], e.messages[5], e.messages[2], e.messages[3]]


def _wrong_output(e: DialogueEvidence) -> None:
    set_result(
        e, "call_2", {"orders": [{"order_id": "ORD-1001", "status": "open", "total": "59.90"}, ORDERS["orders"][1]]}
    )


def _contradicted_prior(e: DialogueEvidence) -> None:
    # The customer was looked up before the dialogue under another name.
    output = {"customer_id": "CUST-4821", "name": "Ana Ruiz-Lopez"}
    e.prior_calls.append(PriorCall(id="$9", name=FIND.name, arguments={"email": EMAIL}, output=output))


def _uncorrected_mistake(e: DialogueEvidence) -> None:
    # An injected wrong lookup after the real one: no right call of that tool follows it.
    wrong = ask(call("call_1x", "find_customer_by_email", email="ORD-1001"))
    insert(e, 4, wrong, answer("call_1x", {"error": {"code": "not_found", "message": "No record matches."}}))
    e.provenance[:] = [{"origin": "model"}] * len(e.messages)
    e.provenance[4] = e.provenance[5] = {"origin": "injected", "mistake": "wrong_value"}


def _volunteered_withheld(e: DialogueEvidence) -> None:
    # Turn 2 left out the reason, and the customer gave it before the agent asked for it.
    e.turn_starts[:] = [1, 7]
    e.phenomena["missing_parameter"] = {
        "requested": [1],
        "withheld": [
            {"turn": 1, "call": "$3", "tool": CANCEL.name, "parameter": "reason", "value": "arrived too late"}
        ],
    }
    set_user(e, 7, "Please cancel ORD-1001.")
    insert(e, 8, user("It arrived too late, by the way."))


def _withhold_cancel(e: DialogueEvidence) -> None:
    """Turn 2's goal tool (cancel_order) was not offered to the assistant."""
    e.turn_starts[:] = [1, 7]
    e.phenomena["missing_function"] = {"requested": [1], "withheld": [{"turn": 1, "call": "$3", "tool": CANCEL.name}]}


def _called_withheld(e: DialogueEvidence) -> None:
    _withhold_cancel(e)  # the record still shows the call: it was made anyway


def _kept_old_value(e: DialogueEvidence) -> None:
    # The customer changed the reason in turn 2; the cancellation still gives the old one.
    e.turn_starts[:] = [1, 7]
    change = {"turn": 1, "call": "$3", "tool": CANCEL.name, "parameter": "reason", "at": 7}
    change |= {"before": "arrived too late", "after": "found it cheaper"}
    e.phenomena["user_behaviours"] = {"requested": ["change_of_mind"], "change_of_mind": change}
    set_user(e, 7, "Please cancel ORD-1001, it arrived too late. Actually no, the reason: found it cheaper.")


def _duplicate(e: DialogueEvidence) -> None:
    insert(e, 6, ask(call("call_2b", "list_orders", status="open", customer_id="CUST-4821")), answer("call_2b", ORDERS))


VIOLATIONS: list[tuple[str, Callable[[DialogueEvidence], None], str]] = [
    ("known_tools", _unknown_tool, "call_4 calls unknown tool 'lookup_loyalty'"),
    ("arguments_parse", _unparsable, "call_4 find_customer_by_email: arguments are not a JSON object"),
    ("arguments_match_schema", lambda e: set_arguments(e, "call_2", status="OPEN"), "call_2 list_orders: status"),
    ("arguments_match_schema", lambda e: set_arguments(e, "call_2", limit="20"), "limit: '20' is not of type"),
    ("no_invented_parameters", lambda e: set_arguments(e, "call_3", expedite=True), "parameter 'expedite'"),
    ("arguments_grounded", lambda e: set_user(e, 7, "Please cancel ORD-1001."), "reason='arrived too late'"),
    ("arguments_grounded", lambda e: set_arguments(e, "call_2", limit=7), "call_2 list_orders: limit=7"),
    ("goal_calls_made", lambda e: drop(e, 8, 9), "$3 cancel_order: no such call was made"),
    (
        "goal_calls_made",
        lambda e: set_arguments(e, "call_3", order_id="ORD-1002"),
        "$3 cancel_order: no call with order_id='ORD-1001' (call_3 has 'ORD-1002')",
    ),
    (
        "hidden_calls_discovered",
        _reorder_hidden,
        "hidden $1 find_customer_by_email (call_1) came after call_2 list_orders",
    ),
    (
        "user_text_clean",
        lambda e: set_user(e, 7, "Run cancel_order on ORD-1001, it arrived too late."),
        "'cancel_order'",
    ),
    ("user_text_clean", lambda e: set_user(e, 7, "Cancel $2.orders.0.order_id, it arrived too late."), "'$2.orders"),
    ("user_text_clean", lambda e: set_user(e, 7, "Cancel ORD-1001 (call_2), it arrived too late."), "'call_2'"),
    ("user_text_clean", lambda e: set_user(e, 7, "Cancel ORD-1001 from $2, it arrived too late."), "call id '$2'"),
    (
        "user_text_clean",
        lambda e: set_user(e, 7, 'Do {"order_id": "ORD-1001"}, it arrived too late.'),
        "message 7: JSON",
    ),
    (
        "user_text_clean",
        lambda e: set_user(e, 7, "How can I help you today? Please cancel ORD-1001, it arrived too late."),
        "message 7: the agent's words 'How can I help'",
    ),
    (
        "no_hidden_narration",
        lambda e: set_user(e, 7, "Please cancel ORD-1001 for CUST-4821, it arrived too late."),
        "message 7 states 'CUST-4821' from hidden $1 find_customer_by_email",
    ),
    ("outputs_match_schema", _wrong_output, "call_2 list_orders result: orders/0/total"),
    (
        "outputs_match_schema",
        lambda e: (
            set_result(e, "call_3", {"detail": "busy"}, fault="rate_limited"),
            e.messages[10].update(content="Sorry, the shop is busy; please try again later."),
        ),
        "fault rate_limited result has no 'error'",
    ),
    ("no_duplicate_calls", _duplicate, "call_2b repeats call_2 list_orders"),
    (
        "change_of_mind_followed",
        _kept_old_value,
        "call_3 cancel_order uses reason='arrived too late', which the user changed to 'found it cheaper'",
    ),
    (
        "unavailable_tool_declined",
        _called_withheld,
        "call_3 calls cancel_order, which the assistant was not given in turn 2",
    ),
    ("tool_calls_answered", lambda e: drop(e, 9), "call_3 (message 8) is never answered"),
    ("tool_calls_answered", lambda e: insert(e, 10, answer("call_3", {})), "call_3 is answered 2 times"),
    ("tool_calls_answered", lambda e: insert(e, 10, answer("call_9", {})), "answers 'call_9', which no earlier"),
    (
        "tool_calls_answered",
        # The reply before the late answer states nothing, so only the answer's place is wrong.
        lambda e: (e.messages[6].update(content="One moment."), e.messages.insert(7, e.messages.pop(5))),
        "call_2 is answered at message 7, after the user spoke at message 6",
    ),
    ("no_unplanned_writes", _unasked_refund, "call_8 issue_refund changes state"),
    (
        "claims_match_results",
        lambda e: e.messages[10].update(content="Done: ORD-1003 is cancelled and 59.90 will be refunded."),
        "message 10 names 'ORD-1003'",
    ),
    (
        "claims_match_results",
        lambda e: e.messages[10].update(content="Done: ORD-1001 is cancelled and 69.90 will be refunded."),
        "message 10 states '69.90'",
    ),
    (
        "prior_state_kept",
        _contradicted_prior,
        "call_1 find_customer_by_email: name 'Ana Ruiz' for customer_id 'CUST-4821', but prior call $9 said",
    ),
    (
        "prior_state_kept",
        lambda e: (
            _contradicted_prior(e),
            e.prior_calls[0].output.update(name="Ana Ruiz"),
            set_user(e, 7, "I ran the customer lookup tool last week. Please cancel ORD-1001, it arrived too late."),
        ),
        "message 7 speaks of what it knows as a call",
    ),
    ("mistakes_corrected", _uncorrected_mistake, "injected mistake call_1x find_customer_by_email is never followed"),
    ("withheld_value_asked", _volunteered_withheld, "gave 'arrived too late' (turn 2) without being asked"),
    ("ends_with_assistant_text", lambda e: drop(e, 10), "the last message (9) is a tool message"),
    ("ends_with_assistant_text", lambda e: e.messages[10].update(content="  "), "the last message (10) has no text"),
]


@pytest.mark.parametrize(
    ("rule", "mutation", "culprit"), VIOLATIONS, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(VIOLATIONS)]
)
def test_each_violation_fails_exactly_its_rule(
    rule: str, mutation: Callable[[DialogueEvidence], None], culprit: str
) -> None:
    failed = failing(mutated(mutation))
    assert list(failed) == [rule]
    assert culprit in failed[rule]


def test_every_rule_has_a_violation() -> None:
    assert {rule for rule, _, _ in VIOLATIONS} == set(RULE_NAMES)


# -- rule-specific edge cases --------------------------------------------------------------------


def test_schema_checks_skip_unknown_tools_and_unparsed_arguments() -> None:
    evidence = mutated(_unparsable)
    _unknown_tool(evidence)
    assert check(evidence, "arguments_match_schema") == (True, "")
    assert check(evidence, "no_invented_parameters") == (True, "")


def test_invented_parameter_is_flagged_even_when_schema_forbids_it() -> None:
    evidence = mutated(lambda e: set_arguments(e, "call_1", phone="555"))
    assert not check(evidence, "arguments_match_schema")[0]
    passed, reason = check(evidence, "no_invented_parameters")
    assert not passed and "call_1 find_customer_by_email: undeclared parameter 'phone'" in reason


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "shipped"},  # a member of the enum, never said
        {"limit": 20},  # the declared default
        {"include_items": True},  # booleans are the assistant's choice
        {"placed_after": "2026-03-14"},  # today's date is a fact
    ],
)
def test_grounding_exemptions(changes: dict[str, Any]) -> None:
    assert check(mutated(lambda e: set_arguments(e, "call_2", **changes)), "arguments_grounded") == (True, "")


def test_enum_exemption_needs_an_enum() -> None:
    evidence = base()
    set_user(evidence, 1, f"Hi, I'm Ana. My e-mail is {EMAIL}. Which orders do I have?")
    assert check(evidence, "arguments_grounded")[0]
    del evidence.tools["list_orders"].parameters["properties"]["status"]["enum"]
    passed, reason = check(evidence, "arguments_grounded")
    assert not passed and "status='open'" in reason


def test_numbers_are_grounded_by_their_text_in_an_earlier_user_message() -> None:
    evidence = base()
    set_arguments(evidence, "call_2", limit=2)
    assert not check(evidence, "arguments_grounded")[0]
    set_user(evidence, 1, f"My e-mail is {EMAIL}. Show my last 2 open orders.")
    assert check(evidence, "arguments_grounded")[0]
    set_user(evidence, 1, f"My e-mail is {EMAIL}. Show my open orders from 2021.")  # "2" inside "2021"
    assert not check(evidence, "arguments_grounded")[0]


def test_grounding_only_looks_before_the_call() -> None:
    # The date only appears in a user message after the call.
    evidence = mutated(lambda e: set_arguments(e, "call_2", placed_after="2026-01-01"))
    set_user(evidence, 7, "Please cancel ORD-1001 (bought on 2026-01-01), it arrived too late.")
    passed, reason = check(evidence, "arguments_grounded")
    assert not passed and "call_2 list_orders: placed_after='2026-01-01'" in reason


def test_grounding_ignores_case_and_uses_prior_calls() -> None:
    evidence = mutated(lambda e: set_arguments(e, "call_1", email="  ANA.RUIZ@example.com "))
    assert check(evidence, "arguments_grounded")[0]
    evidence = mutated(lambda e: set_arguments(e, "call_2", placed_after="2026-02-01"))
    evidence.prior_calls = [
        PriorCall(id="$9", name="list_orders", arguments={"customer_id": "CUST-4821"}, output={"since": "2026-02-01"})
    ]
    assert check(evidence, "arguments_grounded")[0]


def _prose_reason(evidence: DialogueEvidence, said: str, written: str) -> DialogueEvidence:
    """Turn 2's reason as a sentence: the plan has one wording, the customer and the call others."""
    evidence.turns[1].calls[0].arguments["reason"] = "The parcel arrived far too late for the party"
    set_user(evidence, 7, said)
    set_arguments(evidence, "call_3", reason=written)
    return evidence


def test_prose_is_grounded_by_its_content_words_and_matches_the_plan_in_other_words() -> None:
    said = "Please cancel ORD-1001: the parcel arrived far too late for my daughter's party."
    evidence = _prose_reason(base(), said, "Parcel arrived too late for the customer's party")
    assert check(evidence, "arguments_grounded") == (True, "")  # parcel, arrived, late, party said; customer not
    assert check(evidence, "goal_calls_made") == (True, "")


def test_prose_the_customer_never_said_is_not_grounded() -> None:
    evidence = _prose_reason(base(), "Please cancel ORD-1001.", "Customer requested a discount on the next purchase")
    passed, reason = check(evidence, "arguments_grounded")
    assert not passed and "call_3 cancel_order: reason='Customer requested" in reason
    # Short strings and patterned strings are not prose: they must appear as written.
    evidence = _prose_reason(base(), "Please cancel ORD-1001, it came late.", "arrived late")
    assert not check(evidence, "arguments_grounded")[0]
    evidence = _prose_reason(base(), said := "Cancel ORD-1001: the parcel arrived far too late, sadly.", said[:40])
    evidence.tools["cancel_order"].parameters["properties"]["reason"] = {"type": "string", "pattern": "^[A-Z]"}
    assert not check(evidence, "goal_calls_made")[0]


def test_a_choice_the_assistant_makes_itself_matches_the_plan_with_any_valid_value() -> None:
    evidence = base()
    evidence.turns[0].calls[1].arguments["status"] = "shipped"  # an enum member the user never states
    assert check(evidence, "goal_calls_made") == (True, "")  # call_2 chose "open"
    set_arguments(evidence, "call_2", status="lost")  # not a member: no match (and a schema error)
    assert not check(evidence, "goal_calls_made")[0]


def test_the_users_opening_states_prose_by_its_content_words() -> None:
    parameters = CANCEL.parameters
    arguments = {"order_id": "ORD-1001", "reason": "The parcel arrived far too late for the party"}
    said = ["Cancel ORD-1001 please, the parcel arrived far too late for our party."]
    assert unstated_literals(arguments, parameters, said) == []
    assert unstated_literals(arguments, parameters, ["Cancel ORD-1001 please."]) == [("reason", arguments["reason"])]


def _first_call_fails(e: DialogueEvidence) -> None:
    set_result(e, "call_1", {"error": {"code": "not_found", "message": "No matching record was found."}}, "not_found")
    e.messages[4:] = [reply("I could not find an account with that e-mail address.")]


def test_fault_upstream_excuses_the_calls_that_depend_on_it() -> None:
    evidence = mutated(_first_call_fails)
    passed, reason = check(evidence, "goal_calls_made")
    assert passed and "$2 list_orders could not be made: $1 got fault not_found (call_1)" in reason
    passed, reason = check(evidence, "hidden_calls_discovered")
    assert passed and "$1 find_customer_by_email got fault not_found (call_1)" in reason
    assert failing(evidence) == {}


def test_a_call_that_got_a_fault_counts_as_made() -> None:
    evidence = mutated(
        lambda e: set_result(e, "call_3", {"error": {"code": "conflict", "message": "Already shipped."}}, "conflict")
    )
    passed, reason = check(evidence, "goal_calls_made")
    assert passed and "$3 cancel_order got fault conflict (call_3)" in reason


def test_retry_after_fault_is_neither_a_duplicate_nor_a_wrong_reference() -> None:
    def retry(e: DialogueEvidence) -> None:
        insert(e, 4, ask(call("call_2r", "list_orders", customer_id="CUST-4821", status="open")))
        insert(e, 5, answer("call_2r", {"error": {"code": "rate_limited", "message": "Too many requests."}}))
        e.faults["call_2r"] = "rate_limited"

    evidence = mutated(retry)
    assert failing(evidence) == {}
    # A third identical call after a successful one is a duplicate again.
    insert(evidence, 8, ask(call("call_2c", "list_orders", customer_id="CUST-4821", status="open")))
    insert(evidence, 9, answer("call_2c", ORDERS))
    passed, reason = check(evidence, "no_duplicate_calls")
    assert not passed and "call_2c repeats call_2 list_orders" in reason


def _cancelled_again(said_between: str | None, result: Any = None) -> DialogueEvidence:
    """ORD-1001 is cancelled (call_3); then cancelled again with another reason (call_3b)."""
    evidence = base()
    again = [
        ask(call("call_3b", "cancel_order", order_id="ORD-1001", reason="damaged box")),
        answer("call_3b", {"order_id": "ORD-1001", "status": "cancelled"}),
    ]
    if said_between is not None:
        again = [reply("Anything else?"), user(said_between), *again]
    if result is not None:
        evidence.messages[9] = answer("call_3", result)
    insert(evidence, 10, *again)
    return evidence


def test_a_state_change_made_again_on_the_same_entity_is_a_duplicate() -> None:
    passed, reason = check(_cancelled_again(None), "no_duplicate_calls")
    assert not passed
    assert 'call_3b cancel_order changes {"order_id": "ORD-1001"} again after call_3 did' in reason
    # The user asking again without a new value does not make the second change right.
    assert not check(_cancelled_again("Did you cancel ORD-1001? Please cancel it."), "no_duplicate_calls")[0]


@pytest.mark.parametrize(
    ("said_between", "first_result"),
    [
        ("Sorry, the reason is really: damaged box.", None),  # the user gave the new value
        (None, {"error": {"code": "conflict", "message": "Order is locked."}}),  # the first one failed
    ],
)
def test_a_state_change_made_again_with_a_new_value_or_after_a_failure_passes(
    said_between: str | None, first_result: Any
) -> None:
    assert check(_cancelled_again(said_between, first_result), "no_duplicate_calls") == (True, "")


def test_a_second_note_in_the_users_words_is_a_new_value_and_one_nobody_asked_for_is_not() -> None:
    def two_notes(second: str) -> DialogueEvidence:
        evidence = _with_unplanned_note("Please cancel ORD-1001, it arrived too late, and add a note why.")
        insert(
            evidence,
            12,
            user("Please add one more note: the parcel should go to the back door."),
            ask(call("call_10", "add_order_note", order_id="ORD-1001", note=second)),
            answer("call_10", {"ok": True}),
        )
        return evidence

    assert check(two_notes("Back door please: the parcel should go there."), "no_duplicate_calls") == (True, "")
    passed, reason = check(two_notes("Customer is a frequent buyer, be kind."), "no_duplicate_calls")
    assert not passed and "call_10 add_order_note changes" in reason


def test_duplicates_compare_parsed_arguments_regardless_of_key_order() -> None:
    evidence = mutated(_duplicate)  # call_2b lists the same arguments in another order
    assert (
        find_call(evidence, "call_2b")["function"]["arguments"]
        != find_call(evidence, "call_2")["function"]["arguments"]
    )
    assert not check(evidence, "no_duplicate_calls")[0]


def test_references_into_nested_lists_follow_the_actual_result() -> None:
    # The simulator listed ORD-1002 first: $2.orders.0.order_id now means ORD-1002.
    evidence = mutated(lambda e: set_result(e, "call_2", {"orders": ORDERS["orders"][::-1]}))
    passed, reason = check(evidence, "goal_calls_made")
    assert not passed and "order_id='ORD-1002' (call_3 has 'ORD-1001')" in reason
    evidence.turns[1].calls[0].arguments["order_id"] = "$2.orders.1.order_id"
    assert check(evidence, "goal_calls_made") == (True, "")
    evidence.turns[1].calls[0].arguments["order_id"] = "$2.orders.5.order_id"
    passed, reason = check(evidence, "goal_calls_made")
    assert not passed and "$2.orders.5.order_id is not in the actual result" in reason


def test_literals_compare_case_insensitively_and_numbers_by_value() -> None:
    evidence = mutated(lambda e: set_arguments(e, "call_3", reason="  Arrived too LATE "))
    evidence.turns[0].calls[1].arguments["limit"] = 20.0
    set_arguments(evidence, "call_2", limit=20)
    assert check(evidence, "goal_calls_made") == (True, "")


def _customer_known_from_before(outcome: dict[str, Any] | None = None) -> DialogueEvidence:
    """Turn 1 lists the orders of a customer known from before the dialogue ($1); with
    ``outcome``, the assistant looks the customer up again (policy: identify by e-mail) and
    that lookup gets it."""
    evidence = base()
    evidence.prior_calls = [
        PriorCall(id="$1", name=FIND.name, arguments={"email": EMAIL}, output={"customer_id": "CUST-4821"})
    ]
    evidence.turns[0] = TurnPlan(
        goal="See my open orders",
        calls=[PlannedCall(id="$2", name=LIST.name, arguments={"customer_id": "$1.customer_id", "status": "open"})],
    )
    if outcome is not None:
        set_result(evidence, "call_1", outcome, outcome["error"]["code"])
        evidence.messages[4:] = [reply("I could not find an account with that e-mail address.")]
    return evidence


def test_references_to_prior_calls_resolve_against_their_output() -> None:
    evidence = _customer_known_from_before()
    drop(evidence, 2, 3)
    assert failing(evidence) == {}
    evidence.prior_calls[0].output = {"customer_id": "CUST-0001"}
    assert not check(evidence, "goal_calls_made")[0]


def test_a_fault_on_looking_up_again_what_a_prior_call_found_excuses_what_needs_it() -> None:
    # Seen in the embedded IT helpdesk run: the employee id was prior state, the assistant asked
    # for the e-mail as the policy says, the lookup got an injected not_found, and the unlock
    # that needed the id was counted as never made.
    evidence = _customer_known_from_before({"error": {"code": "not_found", "message": "No such customer."}})
    passed, reason = check(evidence, "goal_calls_made")
    assert passed, reason
    assert "$2 list_orders could not be made: call_1 find_customer_by_email, looking up again what $1" in reason
    assert "cancel_order could not be made" in reason  # and what depends on it
    assert failing(evidence) == {}


def test_a_fault_on_another_tool_or_a_later_success_excuses_nothing() -> None:
    # The same lookup succeeds later: the goal call could have been made.
    evidence = _customer_known_from_before({"error": {"code": "rate_limited", "message": "Busy."}})
    evidence.messages[4:] = [
        ask(call("call_1b", "find_customer_by_email", email=EMAIL)),
        answer("call_1b", {"customer_id": "CUST-4821", "name": "Ana Ruiz"}),
        reply("Thanks, I found your account."),
    ]
    passed, reason = check(evidence, "goal_calls_made")
    assert not passed and "$2 list_orders: no such call was made" in reason
    # The lookup's own arguments broke the schema: the assistant's mistake, not an injected fault.
    evidence = _customer_known_from_before({"error": {"code": "invalid_arguments", "message": "Bad e-mail."}})
    passed, reason = check(evidence, "goal_calls_made")
    assert not passed and "$2 list_orders: no such call was made" in reason
    # A fault on a tool that does not look up the prior call's value.
    evidence = _customer_known_from_before()
    evidence.messages[2:] = [
        ask(call("call_1", "cancel_order", order_id="ORD-1001", reason="arrived too late")),
        answer("call_1", {"error": {"code": "not_found", "message": "No such order."}}),
        reply("I could not find that order."),
    ]
    evidence.faults["call_1"] = "not_found"
    passed, reason = check(evidence, "goal_calls_made")
    assert not passed and "$2 list_orders: no such call was made" in reason


def test_skipped_hidden_call_is_reported_by_both_plan_rules() -> None:
    evidence = mutated(lambda e: drop(e, 2, 3))
    evidence.facts["customer_id"] = "CUST-4821"
    failed = failing(evidence)
    assert "hidden $1 find_customer_by_email: no such call was made" in failed["hidden_calls_discovered"]
    assert "$2 list_orders: customer_id needs $1, which was never made" in failed["goal_calls_made"]


def test_no_hidden_calls_pass_trivially() -> None:
    evidence = base()
    evidence.turns[0].hidden = []
    assert check(evidence, "hidden_calls_discovered") == (True, "")
    assert check(evidence, "no_hidden_narration") == (True, "")


def test_parallel_calls_in_list_order_count_as_discovered() -> None:
    def parallel(e: DialogueEvidence) -> None:
        first, second = e.messages[2]["tool_calls"][0], e.messages[4]["tool_calls"][0]
        e.messages[2:6] = [ask(first, second), e.messages[3], e.messages[5]]

    assert check(mutated(parallel), "hidden_calls_discovered") == (True, "")


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Where is my order? What is its status?", None),
        ("What is the order status of ORD-1001?", "tool name 'order_status'"),
        ("Please check order_status for ORD-1001.", "tool name 'order_status'"),
        ("Can you find orders for me?", None),  # "find orders" is not the phrase "find order"
        ("Please find order ORD-1001.", "tool name 'find_order'"),
        ("I paid $12 for it and $3.50 for shipping.", None),  # money, not call ids
        ("I paid $2 for it.", "call id '$2'"),
        ("My total was $59.9, I think.", None),
        ("Is it {still} open? I'm {not sure}.", None),
        ('It said "tool_calls" somewhere.', "'tool_calls'"),
        ("The call_center told me to write.", "call id 'call_center'"),
        ("I got a call today.", None),
    ],
)
def test_user_text_clean_edge_cases(text: str, flagged: str | None) -> None:
    evidence = base()
    for name in ("order_status", "find_order"):
        evidence.tools[name] = Tool(name, "", {"type": "object", "properties": {}})
    set_user(evidence, 7, text)
    passed, reason = check(evidence, "user_text_clean")
    if flagged is None:
        assert (passed, reason) == (True, "")
    else:
        assert not passed and reason.startswith("message 7:") and flagged in reason


def test_money_that_is_a_known_amount_is_not_a_call_id() -> None:
    evidence = base()
    evidence.facts["paid"] = 2
    set_user(evidence, 7, "I paid $2 for it.")
    assert check(evidence, "user_text_clean")[0]


def test_narrating_the_hidden_step_by_its_name() -> None:
    evidence = mutated(lambda e: set_user(e, 1, f"Find customer by email {EMAIL} and list my open orders."))
    passed, reason = check(evidence, "no_hidden_narration")
    assert not passed and "message 1 names hidden step $1 find_customer_by_email" in reason


@pytest.mark.parametrize(
    "mutation",
    [
        # The assistant told the user the id first: repeating it is not narration.
        lambda e: e.messages[6].update(content="Your customer id is CUST-4821; you have ORD-1001 and ORD-1002."),
        # The user knew the id from the start: it is one of the persona's facts.
        lambda e: (
            e.facts.update(customer_id="CUST-4821"),
            set_user(e, 1, f"I'm Ana ({EMAIL}, customer CUST-4821). Which open orders do I have?"),
        ),
        # A value that is not an id, said before the lookup, was the user's to know.
        lambda e: set_user(e, 1, f"I'm Ana Ruiz ({EMAIL}). Which open orders do I have?"),
        # Known facts and short values are not secrets.
        lambda e: set_user(e, 7, "This is Ana Ruiz: please cancel ORD-1001, it arrived too late."),
    ],
)
def test_hidden_values_the_user_could_know(mutation: Callable[[DialogueEvidence], None]) -> None:
    assert check(mutated(mutation), "no_hidden_narration") == (True, "")


def test_outputs_without_schema_are_skipped() -> None:
    evidence = mutated(_wrong_output)
    del evidence.output_schemas["list_orders"]
    assert check(evidence, "outputs_match_schema") == (True, "")


def test_duplicate_call_ids_and_calls_without_ids() -> None:
    evidence = base()
    find_call(evidence, "call_3")["id"] = "call_2"
    evidence.messages[9]["tool_call_id"] = "call_2"
    passed, reason = check(evidence, "tool_calls_answered")
    assert not passed and "call_2 is used twice (messages 4 and 8)" in reason
    evidence = base()
    find_call(evidence, "call_3")["id"] = ""
    passed, reason = check(evidence, "tool_calls_answered")
    assert not passed and "message 8: a tool call has no id" in reason


def test_ending_with_a_tool_call_or_nothing() -> None:
    evidence = mutated(lambda e: drop(e, 9, 10))
    assert check(evidence, "ends_with_assistant_text") == (False, "the last message (8) makes tool calls")
    evidence.messages = []
    assert check(evidence, "ends_with_assistant_text") == (False, "the dialogue has no messages")


def test_content_parts_count_as_text() -> None:
    evidence = mutated(lambda e: e.messages[10].update(content=[{"type": "text", "text": "Done."}]))
    assert check(evidence, "ends_with_assistant_text") == (True, "")


def test_reasons_are_short_and_count_the_rest() -> None:
    evidence = base()
    for index in range(5):
        evidence.messages[8]["tool_calls"].append(call(f"call_x{index}", f"unknown_{index}"))
    passed, reason = check(evidence, "known_tools")
    assert not passed and reason.count("unknown tool") == 3 and reason.endswith("(+2 more)")


# -- run_rules -----------------------------------------------------------------------------------


def test_run_rules_skips_disabled_rules() -> None:
    evidence = mutated(lambda e: drop(e, 10))
    results = run_rules(evidence, disabled=["ends_with_assistant_text", "known_tools"])
    assert [r.name for r in results] == [n for n in RULE_NAMES if n not in {"ends_with_assistant_text", "known_tools"}]
    assert all(r.passed for r in results)


def test_run_rules_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="no_such_rule"):
        run_rules(base(), disabled=("known_tools", "no_such_rule"))


def test_every_format_the_tools_use_is_really_checked() -> None:
    evidence = base()
    evidence.tools["list_orders"].parameters["properties"]["placed_after"] = {"type": "string", "format": "date-time"}
    set_arguments(evidence, "call_2", placed_after="ABC-0001")  # an identifier where a time belongs
    passed, reason = check(evidence, "arguments_match_schema")
    assert not passed and "date-time" in reason
    set_arguments(evidence, "call_2", placed_after="2026-03-01T09:00:00Z")
    assert check(evidence, "arguments_match_schema")[0]


def test_an_id_is_grounded_as_a_whole_token_not_as_part_of_another() -> None:
    evidence = base()
    set_arguments(evidence, "call_3", order_id="ORD-10")  # only "ORD-1001" / "ORD-1002" were said
    evidence.turns[1].calls[0].arguments["order_id"] = "ORD-10"
    passed, reason = check(evidence, "arguments_grounded")
    assert not passed and "order_id='ORD-10'" in reason


@pytest.mark.parametrize(
    ("said", "cents", "grounded"),
    [
        ("Please refund the $100 I paid.", 100, False),  # one dollar is not what the customer said
        ("Please refund the $100 I paid.", 10000, True),
        ("Please refund 100 dollars.", 10000, True),
        ("Please refund $12.50.", 1250, True),
        ("Please refund 1250 cents.", 1250, True),
        # An earlier result lists 45 as a price (dollars) and 4500 in cents: only the latter counts.
        ("", 45, False),
        ("", 4500, True),
        # The user said $45; an order total of 45 in cents elsewhere does not make 45 right.
        ("Please refund the $45 I paid.", 45, False),
    ],
)
def test_an_amount_in_cents_is_grounded_in_its_own_unit(said: str, cents: int, grounded: bool) -> None:
    evidence = base()
    evidence.tools["cancel_order"].parameters["properties"]["refund_cents"] = {"type": "integer"}
    set_user(evidence, 7, f"Please cancel ORD-1001, it arrived too late. {said}")
    set_arguments(evidence, "call_3", refund_cents=cents)
    prices = {"orders": [{"order_id": "ORD-1001", "status": "open", "price": 45, "total_cents": 4500}]}
    set_result(evidence, "call_2", {**prices, "shipping_cents": 45 if said else 0})
    assert check(evidence, "arguments_grounded")[0] is grounded


REFUND = Tool(
    "issue_refund",
    "Refund an order.",
    {"type": "object", "properties": {"order_id": STR}, "required": ["order_id"]},
    {"type": "object", "properties": {"status": STR}},
)


def _with_unplanned_refund(said: str) -> DialogueEvidence:
    evidence = base()
    evidence.tools["issue_refund"] = REFUND
    set_user(evidence, 7, said)
    insert(evidence, 10, ask(call("call_9", "issue_refund", order_id="ORD-1001")), answer("call_9", {"status": "ok"}))
    return evidence


def test_a_state_changing_call_nobody_planned_or_asked_for_is_rejected() -> None:
    passed, reason = check(
        _with_unplanned_refund("Please cancel ORD-1001, it arrived too late."), "no_unplanned_writes"
    )
    assert not passed and "call_9 issue_refund changes state" in reason
    assert check(base(), "no_unplanned_writes")[0]  # cancel_order was planned


def test_a_state_changing_call_the_user_asked_for_passes() -> None:
    said = "Please cancel ORD-1001, it arrived too late, and refund me."
    assert check(_with_unplanned_refund(said), "no_unplanned_writes")[0]


NOTE = Tool(
    "add_order_note",
    "Add a note to an order.",
    {"type": "object", "properties": {"order_id": STR, "note": STR}, "required": ["order_id", "note"]},
    {"type": "object", "properties": {"ok": {"type": "boolean"}}},
)


def _with_unplanned_note(said: str) -> DialogueEvidence:
    """The user's words share "order" with add_order_note, as they do with the planned cancel_order."""
    evidence = base()
    evidence.tools["add_order_note"] = NOTE
    set_user(evidence, 7, said)
    note = call("call_9", "add_order_note", order_id="ORD-1001", note="late")
    insert(evidence, 10, ask(note), answer("call_9", {"ok": True}))
    return evidence


def test_a_write_that_shares_words_with_the_one_asked_for_is_not_asked_for() -> None:
    passed, reason = check(_with_unplanned_note("Please cancel ORD-1001, it arrived too late."), "no_unplanned_writes")
    assert not passed
    assert "call_9 add_order_note changes state, but was neither planned nor asked for" in reason
    assert "(the user's words ask for cancel_order)" in reason


def test_a_write_whose_own_word_the_user_never_said_is_not_asked_for() -> None:
    """The user asks for a refund about an order: add_order_note shares "order" with cancel_order,
    and only "note" sets it apart; no tool fits the words better, but "note" was never said."""
    evidence = _with_unplanned_note("Please refund me for ORD-1001, it arrived too late.")
    evidence.tools["issue_refund"] = REFUND
    passed, reason = check(evidence, "no_unplanned_writes")
    assert not passed
    assert "call_9 add_order_note changes state, but was neither planned nor asked for" in reason
    assert "(the user never said what sets it apart: note)" in reason


@pytest.mark.parametrize(
    "said",
    [
        "Please cancel ORD-1001, it arrived too late, and add a note to the order saying why.",
        "Please put a note on ORD-1001 saying it arrived too late.",  # "note" alone names it
    ],
)
def test_a_write_whose_own_words_the_user_said_is_asked_for(said: str) -> None:
    assert check(_with_unplanned_note(said), "no_unplanned_writes") == (True, "")


@pytest.mark.parametrize(
    ("name", "extensions", "effect"),
    [
        ("get_order", {}, "read"),
        ("checkStatus", {}, "read"),
        ("think", {}, "read"),
        ("issue_refund", {}, "write"),
        ("get_token", {"x-readonly": False}, "write"),  # the scenario's word wins
        ("archive_order", {"x-readonly": True}, "read"),
    ],
)
def test_a_tools_effect_is_declared_or_inferred_from_its_name(name: str, extensions: dict, effect: str) -> None:
    tool = Tool(name, "", {"type": "object"}, None, extensions)
    assert tool.effect[0] == effect
    assert tool.effect[1] == ("x-readonly" if extensions else "inferred from the name")


@pytest.mark.parametrize(
    ("value", "said", "reason"),
    [
        # The user said the date, but a date is not an order id.
        ("2026-03-14", "Please cancel the order from 2026-03-14, it arrived too late.", "is a date, not an identifier"),
        ("the first one", "Please cancel the first one, it arrived too late.", "is an ordinal, not an identifier"),
        ("2nd", "Please cancel the 2nd, it arrived too late.", "is an ordinal, not an identifier"),
        # Only the hidden lookup returned CUST-4821, and as a customer id.
        ("CUST-4821", "Please cancel ORD-1001, it arrived too late.", "was seen only as customer_id"),
    ],
)
def test_an_identifier_of_another_kind_is_not_grounded(value: str, said: str, reason: str) -> None:
    evidence = base()
    set_user(evidence, 7, said)
    set_arguments(evidence, "call_3", order_id=value)
    passed, why = check(evidence, "arguments_grounded")
    assert not passed
    assert f"call_3 cancel_order: order_id={value!r} {reason}" in why


@pytest.mark.parametrize(
    "change",
    [
        # The user stated it: which kind it is, only the user knows.
        lambda e: set_user(e, 7, "Please cancel CUST-4821, it arrived too late."),
        # A field of the same kind holds it too.
        lambda e: set_result(e, "call_2", {"orders": [{"order_id": "CUST-4821", "status": "open"}]}),
        # A bare "id" inside the order, or a longer text that mentions it, is not another kind.
        lambda e: set_result(e, "call_2", {"orders": [{"id": "CUST-4821", "status": "open"}]}),
        lambda e: set_result(e, "call_2", {"orders": [], "note": "CUST-4821 has one open order"}),
    ],
)
def test_an_identifier_seen_as_its_own_kind_is_grounded(change: Callable[[DialogueEvidence], None]) -> None:
    evidence = base()
    set_arguments(evidence, "call_3", order_id="CUST-4821")
    change(evidence)
    assert check(evidence, "arguments_grounded") == (True, "")


def test_a_date_is_fine_for_a_date_parameter_and_an_identifier_with_a_format() -> None:
    evidence = base()
    set_arguments(evidence, "call_2", placed_after="2026-03-14")
    evidence.tools["cancel_order"].parameters["properties"]["order_id"] = {"type": "string", "format": "date"}
    set_arguments(evidence, "call_3", order_id="2026-03-14")
    set_user(evidence, 7, "Please cancel the order of 2026-03-14, it arrived too late.")
    assert check(evidence, "arguments_grounded") == (True, "")


def _claims(evidence: DialogueEvidence, text: str) -> tuple[bool, str]:
    evidence.messages[10]["content"] = text
    return check(evidence, "claims_match_results")


@pytest.mark.parametrize(
    "text",
    [
        "Done: ORD-1001 is cancelled. You will get $59.90 back within 5 business days.",
        "Your two orders came to $71.90 in all; ORD-1001 is cancelled.",  # 59.90 + 12
        "ORD-1001 is cancelled on 2026-03-14 at 10:30; call +1 555 010 2030 within 24 hours, 2026 rules apply.",
        "Cancelled. Our 24-hour team and 2-step checks confirm it, as you asked (CUST-4821 is your account).",
    ],
)
def test_claims_that_agree_with_the_results_pass(text: str) -> None:
    assert _claims(base(), text) == (True, "")


def test_an_amount_in_cents_is_stated_in_units_not_as_the_raw_count() -> None:
    evidence = base()
    set_result(evidence, "call_3", {"order_id": "ORD-1001", "status": "cancelled", "refund_cents": 4500})
    assert _claims(evidence, "Done, $45.00 is on its way back to you.") == (True, "")
    passed, why = _claims(evidence, "Done, $4,500.00 is on its way back to you.")
    assert not passed and "states '$4,500.00'" in why
    # A rate returned as 0.15 may be stated as 15%; an invented metric may not.
    set_result(evidence, "call_3", {"order_id": "ORD-1001", "status": "cancelled", "fee_rate": 0.15})
    assert _claims(evidence, "Done; a 15% fee applies.") == (True, "")
    assert not _claims(evidence, "Done; a 35% fee applies.")[0]


def test_a_claim_is_held_against_what_came_before_its_message_not_after() -> None:
    """Only the cancellation's result (message 9) gives $45.00 and the refund id."""
    evidence = base()
    set_result(
        evidence, "call_3", {"order_id": "ORD-1001", "status": "cancelled", "refund_cents": 4500, "refund_id": "RF-77"}
    )
    text = "A refund of $45.00 (RF-77) is on its way."
    assert _claims(evidence, text) == (True, "")  # message 10, after the result
    evidence.messages[6]["content"] = text
    passed, why = check(evidence, "claims_match_results")
    assert not passed
    assert "message 6 names 'RF-77'" in why and "message 6 states '$45.00'" in why


def _with_status_enum(evidence: DialogueEvidence) -> DialogueEvidence:
    members = ["open", "shipped", "delivered", "cancelled"]
    orders = evidence.output_schemas["list_orders"]["properties"]["orders"]["items"]["properties"]
    orders["status"] = {"type": "string", "enum": members}
    return evidence


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("You have two open orders: ORD-1001 and ORD-1002.", True),
        ("Both orders have shipped already: ORD-1001 and ORD-1002.", False),
        ("Neither order has shipped yet; both are open.", True),
        ("Your orders have not shipped.", True),  # a negated status is not a claim
    ],
)
def test_a_status_must_be_one_the_results_show(text: str, passed: bool) -> None:
    evidence = _with_status_enum(base())
    evidence.messages[6]["content"] = text
    result = check(evidence, "claims_match_results")
    assert result[0] is passed, result[1]
    if not passed:
        assert "message 6 says shipped, but status in the results is open" in result[1]


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("Done: ORD-1001 has been cancelled.", False),
        ("I've successfully cancelled ORD-1001.", False),
        ("Sorry, I could not cancel ORD-1001: the system is busy. Please try again later.", True),
        ("The cancellation failed, so ORD-1001 is still open.", True),
    ],
)
def test_success_after_a_failed_call_is_a_false_claim(text: str, passed: bool) -> None:
    evidence = base()
    set_result(evidence, "call_3", {"error": {"code": "rate_limited", "message": "busy"}}, fault="rate_limited")
    result = _claims(evidence, text)
    assert result[0] is passed, result[1]
    if not passed:
        assert "reports cancel_order as done" in result[1] and "call_3 failed" in result[1]


def test_a_later_successful_retry_allows_the_success_claim() -> None:
    evidence = base()
    set_result(evidence, "call_3", {"error": {"code": "rate_limited", "message": "busy"}}, fault="rate_limited")
    retry = ask(call("call_4", "cancel_order", order_id="ORD-1001", reason="arrived too late"))
    insert(evidence, 10, retry, answer("call_4", {"order_id": "ORD-1001", "status": "cancelled", "refund": 59.9}))
    evidence.messages[-1]["content"] = "Done: ORD-1001 has been cancelled."
    assert check(evidence, "claims_match_results") == (True, "")


def test_free_text_matches_the_plan_whatever_its_case_spacing_and_final_full_stop() -> None:
    evidence = base()
    set_arguments(evidence, "call_3", reason="Arrived  too LATE.")
    assert failing(evidence) == {}
    set_user(evidence, 7, "Please cancel ORD-1001: it arrived too late, sadly")  # said without the stop
    assert failing(evidence) == {}
    set_arguments(evidence, "call_3", reason="arrived too early")
    assert "goal_calls_made" in failing(evidence)


def test_an_internal_id_the_user_has_no_fact_for_is_narration_even_before_the_lookup() -> None:
    evidence = base()
    set_user(evidence, 1, f"I'm Ana ({EMAIL}, customer CUST-4821). Which open orders do I have?")
    passed, why = check(evidence, "no_hidden_narration")
    assert not passed and "message 1 states 'CUST-4821' from hidden $1 find_customer_by_email" in why


def test_a_longer_status_is_not_also_read_as_the_shorter_one_inside_it() -> None:
    evidence = base()
    members = ["pending", "pending_approval", "open"]
    orders = evidence.output_schemas["list_orders"]["properties"]["orders"]["items"]["properties"]
    orders["status"] = {"type": "string", "enum": members}
    set_result(evidence, "call_2", {"orders": [{"order_id": "ORD-1001", "status": "pending_approval"}]})
    evidence.messages[6]["content"] = "ORD-1001 is pending approval."
    assert check(evidence, "claims_match_results") == (True, "")
    evidence.messages[6]["content"] = "ORD-1001 is pending."
    assert not check(evidence, "claims_match_results")[0]


def test_prior_state_compares_an_entity_only_with_itself() -> None:
    """An object is the entity its first field names: a customer record that lists an order id
    is not that order, so its fields are not held against the order's."""
    evidence = base()
    output = {"name": "Ana Ruiz-Lopez", "customer_id": "CUST-4821"}  # a person, not keyed by the id
    evidence.prior_calls.append(PriorCall(id="$9", name=FIND.name, arguments={"email": EMAIL}, output=output))
    assert check(evidence, "prior_state_kept") == (True, "")
    output = {"customer_id": "CUST-4821", "name": "Ana Ruiz-Lopez"}  # the same customer, another name
    evidence.prior_calls[0] = PriorCall(id="$9", name=FIND.name, arguments={"email": EMAIL}, output=output)
    assert check(evidence, "prior_state_kept")[0] is False


def test_the_same_call_as_a_prior_one_gives_the_same_ids_and_statuses() -> None:
    # Seen in the embedded IT run: the status page showed the VPN degraded under INC-204117
    # before the dialogue; the same get_service_status(vpn) in it said operational, no ticket.
    # A service is no entity (its first field is not an id), so only the same call can tell.
    evidence = base()
    evidence.output_schemas[FIND.name]["properties"]["tier"] = {"type": "string", "enum": ["gold", "silver"]}
    before = {"name": "Ana Ruiz", "customer_id": "CUST-4821", "tier": "gold", "seen_at": "2026-03-13T09:00:00Z"}
    evidence.prior_calls.append(PriorCall(id="$9", name=FIND.name, arguments={"email": EMAIL}, output=before))
    # The same answer, but read at another time: nothing contradicts it.
    set_result(evidence, "call_1", {**before, "seen_at": "2026-03-14T10:00:00Z"})
    assert check(evidence, "prior_state_kept") == (True, "")
    set_result(evidence, "call_1", {**before, "tier": "silver"})
    passed, reason = check(evidence, "prior_state_kept")
    assert not passed and "tier 'silver', but the same call made before the dialogue ($9) said 'gold'" in reason
    set_result(evidence, "call_1", {**before, "customer_id": "CUST-0001"})
    assert "customer_id 'CUST-0001'" in check(evidence, "prior_state_kept")[1]
    # Another e-mail is another query: its answer may differ.
    evidence.prior_calls[0] = PriorCall(id="$9", name=FIND.name, arguments={"email": "x@y.z"}, output=before)
    assert check(evidence, "prior_state_kept") == (True, "")


def test_prior_state_stops_comparing_at_the_first_write() -> None:
    evidence = base()
    evidence.prior_calls.append(
        PriorCall(id="$9", name=CANCEL.name, arguments={}, output={"order_id": "ORD-1001", "status": "open"})
    )
    # cancel_order (a write) says "cancelled" after the prior "open": a legitimate change of state.
    assert check(evidence, "prior_state_kept") == (True, "")


# -- missing function -------------------------------------------------------------------------------


def _declined(text: str) -> DialogueEvidence:
    """Turn 2's cancel_order was withheld; the assistant answers with ``text`` and calls nothing."""
    evidence = mutated(_withhold_cancel)
    drop(evidence, 8, 9, 10)
    evidence.messages.append(reply(text))
    return evidence


def test_a_turn_without_its_goal_tool_passes_when_the_assistant_says_it_cannot() -> None:
    evidence = _declined("I'm sorry, I can't cancel orders in this chat; please contact the shop.")
    assert failing(evidence) == {}
    passed, note = check(evidence, "goal_calls_made")
    assert passed and "cancel_order was not offered in turn 2" in note


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Done, your order is on its way.", "does not say it cannot do what cancel_order does"),
        # A refusal that does not name what cannot be done says nothing of the request.
        ("Sorry, I cannot help with that.", "does not say it cannot do what cancel_order does"),
    ],
)
def test_a_turn_without_its_goal_tool_fails_without_a_decline_that_names_it(text: str, why: str) -> None:
    passed, reason = check(_declined(text), "unavailable_tool_declined")
    assert not passed and why in reason and "turn 2" in reason


def test_a_write_made_in_place_of_the_withheld_tool_is_rejected() -> None:
    evidence = _declined("I'm sorry, I can't cancel orders here, so I added a note instead.")
    evidence.tools["add_order_note"] = Tool(
        "add_order_note", "Add a note to an order.", {"type": "object", "properties": {"order_id": STR}}, {}
    )
    evidence.messages[8:8] = [
        ask(call("call_5", "add_order_note", order_id="ORD-1001")),
        answer("call_5", {"ok": True}),
    ]
    passed, reason = check(evidence, "unavailable_tool_declined")
    assert not passed and "call_5 add_order_note changes state in place of cancel_order" in reason


def test_says_cannot_reads_refusals_not_questions() -> None:
    assert says_cannot("I'm unable to issue refunds here.")
    assert says_cannot("Unfortunately I can\u2019t change the address.")
    assert says_cannot("That isn't possible in this chat.")
    assert not says_cannot("Can you tell me the order number?")
    assert not says_cannot("I can change the address for you now.")


# -- change of mind -----------------------------------------------------------------------------------


def test_a_change_of_mind_followed_passes_and_one_never_said_fails() -> None:
    evidence = mutated(_kept_old_value)
    set_arguments(evidence, "call_3", reason="found it cheaper")
    evidence.turns[1].calls[0].arguments["reason"] = "found it cheaper"
    assert failing(evidence) == {}
    set_user(evidence, 7, "Please cancel ORD-1001, it arrived too late.")
    passed, reason = check(evidence, "change_of_mind_followed")
    assert not passed and "no user message states the new reason 'found it cheaper'" in reason


def test_an_enum_member_said_in_words_counts_as_stated() -> None:
    evidence = mutated(_kept_old_value)
    evidence.tools[CANCEL.name].parameters["properties"]["reason"] = {
        "type": "string",
        "enum": ["late", "found_cheaper"],
    }
    evidence.phenomena["user_behaviours"]["change_of_mind"] |= {"before": "late", "after": "found_cheaper"}
    set_user(evidence, 7, "Please cancel ORD-1001. Actually, make it found cheaper.")
    set_arguments(evidence, "call_3", reason="found_cheaper")
    assert check(evidence, "change_of_mind_followed") == (True, "")


def test_a_turn_that_failed_before_reaching_the_withheld_tool_needs_no_decline() -> None:
    evidence = _declined("Sorry, the order could not be found.")
    evidence.messages[8:8] = [
        ask(call("call_5", "list_orders", customer_id="CUST-4821")),
        answer("call_5", {"error": {"code": "not_found", "message": "No such customer."}}),
    ]
    evidence.faults["call_5"] = "not_found"
    assert check(evidence, "unavailable_tool_declined") == (True, "")
    (outcome,) = decline_outcomes(evidence)
    assert outcome.faulted and not outcome.declined
