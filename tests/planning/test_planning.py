"""Dataflow graph, plan checks, references and the hidden / prior split."""

from __future__ import annotations

import random

import pytest

from rolecall.planning import (
    DataflowGraph,
    PlannedCall,
    Reference,
    TurnPlan,
    choose_hidden,
    copied_example_problems,
    distinctive_stems,
    goal_problems,
    heuristic_output_schema,
    output_fields,
    plan_problems,
    repair_references,
    resolve_output_schemas,
    schema_at,
    voice_problems,
)
from rolecall.scenario import Tool


def _tool(name: str, params: dict, returns: dict | None = None, required: list[str] | None = None) -> Tool:
    parameters = {"type": "object", "properties": params, "required": required or list(params)}
    return Tool(name, f"{name} tool", parameters, returns)


STR = {"type": "string"}
FIND = _tool(
    "find_customer",
    {"email": {"type": "string", "format": "email"}},
    {"type": "object", "properties": {"customer_id": STR, "name": STR}},
)
ORDERS = _tool(
    "list_orders",
    {"customer_id": STR},
    {
        "type": "object",
        "properties": {
            "orders": {
                "type": "array",
                "items": {"type": "object", "properties": {"order_id": STR, "total": {"type": "integer"}}},
            }
        },
    },
)
CANCEL = _tool(
    "cancel_order",
    {"order_id": STR, "reason": {"type": "string", "enum": ["late", "mistake"]}},
    {"type": "object", "properties": {"status": STR}},
)
GET_ORDER = _tool("get_order", {"number": STR}, {"type": "object", "properties": {"id": STR}})
TOOLS = [FIND, ORDERS, CANCEL, GET_ORDER]
SCHEMAS = {t.name: t.returns for t in TOOLS}
BY_NAME = {t.name: t for t in TOOLS}


def test_edges_follow_matching_names_types_and_bare_ids() -> None:
    graph = DataflowGraph(TOOLS, SCHEMAS)
    edges = {(e.source, e.target, ".".join(e.field.path), e.parameter) for e in graph.edges}
    assert ("find_customer", "list_orders", "customer_id", "customer_id") in edges
    assert ("list_orders", "cancel_order", "orders.0.order_id", "order_id") in edges
    assert ("get_order", "cancel_order", "id", "order_id") in edges  # bare id of get_order feeds order_id
    assert not any(e[0] == "cancel_order" for e in edges)  # status feeds nothing


def test_echoed_inputs_and_incompatible_types_make_no_edge() -> None:
    echo = _tool("show_customer", {"customer_id": STR}, {"type": "object", "properties": {"customer_id": STR}})
    numeric = _tool("count", {}, {"type": "object", "properties": {"customer_id": {"type": "integer"}}})
    graph = DataflowGraph(
        [echo, numeric, ORDERS],
        {"show_customer": echo.returns, "count": numeric.returns, "list_orders": ORDERS.returns},
    )
    assert graph.edges_between(["show_customer", "count"], "list_orders") == []


def test_sample_chain_is_connected_and_seeded() -> None:
    graph = DataflowGraph(TOOLS, SCHEMAS)
    chains = [graph.sample_chain(random.Random(seed), 3) for seed in range(20)]
    assert chains == [graph.sample_chain(random.Random(seed), 3) for seed in range(20)]
    for chain in chains:
        assert len(set(chain)) == len(chain)
        for position, name in enumerate(chain[1:], start=1):
            assert graph.edges_between(chain[:position], name), chain


# A shop where the lookups can end in cancelling an order or in tracking its parcel.
TRACK = Tool(
    "track_shipment",
    "Where the parcel of an order is now, and when it will arrive.",
    {"type": "object", "properties": {"order_id": STR}, "required": ["order_id"]},
    {"type": "object", "properties": {"status": STR}},
)
SHOP = [FIND, ORDERS, CANCEL, TRACK]


def _goal_counts(topic: str) -> dict[str, int]:
    graph = DataflowGraph(SHOP, {t.name: t.returns for t in SHOP})
    counts: dict[str, int] = {}
    for seed in range(200):
        chain = graph.sample_chain_about(random.Random(seed), 3, topic)
        for position, name in enumerate(chain[1:], start=1):  # still a chain sample_chain could draw
            assert graph.edges_between(chain[:position], name), chain
        counts[chain[-1]] = counts.get(chain[-1], 0) + 1
    return counts


def test_chains_about_a_persona_favour_tools_that_share_its_words() -> None:
    plain = _goal_counts("A calm person who writes short messages.")
    cancel = _goal_counts("Placed an order by mistake and wants to cancel it.")
    parcel = _goal_counts("Wonders where the parcel is and when it will arrive.")
    # The same seeds draw the same candidate chains; the persona's wish picks among them.
    assert 0 < plain["cancel_order"] < 200 and 0 < plain["track_shipment"] < 200
    assert cancel["cancel_order"] >= 1.5 * plain["cancel_order"]
    assert parcel["track_shipment"] >= 1.5 * plain["track_shipment"]


def test_chains_about_a_persona_are_seeded() -> None:
    graph = DataflowGraph(TOOLS, SCHEMAS)
    topic = "wants to cancel an order"
    draws = [graph.sample_chain_about(random.Random(seed), 3, topic) for seed in range(10)]
    assert draws == [graph.sample_chain_about(random.Random(seed), 3, topic) for seed in range(10)]


def test_output_fields_and_schema_paths() -> None:
    paths = [f.path for f in output_fields(ORDERS.returns)]
    assert ("orders",) in paths and ("orders", "0", "order_id") in paths
    assert schema_at(ORDERS.returns, ["orders", "0", "order_id"]) == STR
    assert schema_at(ORDERS.returns, ["orders", "0", "missing"]) is None
    assert schema_at({"type": "object"}, ["anything"]) == {}  # open schema: any field may exist


def test_references_parse_and_resolve() -> None:
    ref = Reference.parse("$2.orders.0.order_id")
    assert ref is not None and ref.call == "$2" and str(ref) == "$2.orders.0.order_id"
    assert ref.resolve({"orders": [{"order_id": "O-1"}]}) == "O-1"
    with pytest.raises(LookupError):
        ref.resolve({"orders": []})
    assert Reference.parse("$2") is None and Reference.parse("price is $2.50 today") is None


GOOD = TurnPlan(
    goal="cancel my last order",
    calls=[
        PlannedCall(id="$1", name="find_customer", arguments={"email": "a@b.co"}),
        PlannedCall(id="$2", name="list_orders", arguments={"customer_id": "$1.customer_id"}),
        PlannedCall(id="$3", name="cancel_order", arguments={"order_id": "$2.orders.0.order_id", "reason": "late"}),
    ],
)


def test_a_good_plan_has_no_problems() -> None:
    assert plan_problems(GOOD, BY_NAME, SCHEMAS, {}, max_calls=4) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c[2].arguments.update(reason="whatever"), "is not one of"),
        (lambda c: c[2].arguments.update(order_id="$3.orders.0.order_id"), "not an earlier call"),
        (lambda c: c[2].arguments.update(order_id="$2.orders.0.nope"), "no output field"),
        (lambda c: c[1].arguments.update(extra="x"), "not declared"),
        (lambda c: c[0].arguments.pop("email"), "'email' is a required property"),
        (lambda c: setattr(c[0], "name", "nope_tool"), "unknown tool"),
        (lambda c: setattr(c[1], "id", "$1"), "already used"),
        (lambda c: c[1].arguments.update(customer_id="C-1"), "not connected"),
        (lambda c: c[2].arguments.update(order_id="$1.customer_id"), "a customer_id is not a order_id"),
        (lambda c: c[2].arguments.update(order_id="$1.name"), "a name is not a order_id"),
    ],
)
def test_plan_problems_catch_each_defect(change, expected: str) -> None:
    plan = GOOD.model_copy(deep=True)
    change(plan.calls)
    problems = plan_problems(plan, BY_NAME, SCHEMAS, {}, max_calls=4)
    assert any(expected in p for p in problems), problems


def test_plan_may_reference_earlier_turns_and_respects_length() -> None:
    later = TurnPlan(calls=[PlannedCall(id="$4", name="list_orders", arguments={"customer_id": "$1.customer_id"})])
    assert plan_problems(later, BY_NAME, SCHEMAS, {"$1": "find_customer"}, max_calls=4) == []
    assert "more than 2" in plan_problems(GOOD, BY_NAME, SCHEMAS, {}, max_calls=2)[0]
    assert "fewer than 4" in plan_problems(GOOD, BY_NAME, SCHEMAS, {}, max_calls=4, min_calls=4)[0]
    assert plan_problems(GOOD, BY_NAME, SCHEMAS, {}, max_calls=4, min_calls=len(GOOD.calls)) == []
    dup = TurnPlan(calls=[GOOD.calls[0], GOOD.calls[0].model_copy(update={"id": "$2"})])
    assert any("duplicates" in p for p in plan_problems(dup, BY_NAME, SCHEMAS, {}, max_calls=4))


LATER = TurnPlan(calls=[PlannedCall(id="$5", name="list_orders", arguments={"customer_id": "$4.customer_id"})])
MADE = {"$1": "find_customer", "$4": "cancel_order"}


@pytest.mark.parametrize(
    ("plan", "call", "parameter", "value", "earlier", "facts", "expected"),
    [
        # The right field on the wrong call moves to the nearest earlier call returning it.
        (GOOD, 2, "order_id", "$1.orders.0.order_id", {}, {}, "$2.orders.0.order_id"),
        (GOOD, 1, "customer_id", "$2.customer_id", {}, {}, "$1.customer_id"),  # not made yet
        (GOOD, 1, "customer_id", "$9.customer_id", {}, {}, "$1.customer_id"),  # no such call
        (LATER, 0, "customer_id", "$4.customer_id", MADE, {}, "$1.customer_id"),  # an earlier turn's call
        # No call returns it, but the user's facts hold it under the field's or the parameter's name.
        (GOOD, 2, "order_id", "$1.order_ref", {}, {"order_ref": "O-7"}, "O-7"),
        (GOOD, 2, "order_id", "$1.nope", {}, {"order_id": "O-8"}, "O-8"),
        # A field that names something else: a field of the parameter's name, else its fact.
        (GOOD, 1, "customer_id", "$1.name", {}, {}, "$1.customer_id"),
        (GOOD, 2, "order_id", "$1.name", {}, {"order_id": "O-9"}, "O-9"),
        # Nothing to go on: left for plan_problems to report. The field's own fact is no help
        # when the field is the wrong thing (a name is not an order id).
        (GOOD, 2, "order_id", "$1.nope", {}, {"email": "a@b.co"}, "$1.nope"),
        (GOOD, 2, "order_id", "$1.name", {}, {"name": "Ann"}, "$1.name"),
    ],
)
def test_repair_references_points_references_where_they_can_be(
    plan, call, parameter, value, earlier, facts, expected
) -> None:
    broken = plan.model_copy(deep=True)
    broken.calls[call].arguments[parameter] = value
    assert plan_problems(broken, BY_NAME, SCHEMAS, earlier, max_calls=4)
    repaired = repair_references(broken, SCHEMAS, earlier, facts)
    assert repaired.calls[call].arguments[parameter] == expected
    others = [c.arguments for i, c in enumerate(repaired.calls) if i != call]
    assert others == [c.arguments for i, c in enumerate(broken.calls) if i != call]
    if expected.startswith("$") and expected != value:
        assert plan_problems(repaired, BY_NAME, SCHEMAS, earlier, max_calls=4) == []


@pytest.mark.parametrize(
    ("field", "parameter"),
    [
        ("orders.0.order_id", "order_id"),
        ("id", "order_id"),
        ("items.0.item_id", "item_ids"),
        ("email", "approver_email"),
        ("tags.0", "tag"),  # the name is the list's, singular; the index is no name
    ],
)
def test_fields_sharing_a_word_with_the_parameter_are_accepted(field: str, parameter: str) -> None:
    tool = _tool("take", {parameter: STR})
    source = _tool("give", {}, {"type": "object", "properties": {"x": STR}})
    plan = TurnPlan(
        calls=[
            PlannedCall(id="$1", name="give", arguments={}),
            PlannedCall(id="$2", name="take", arguments={parameter: f"$1.{field}"}),
        ]
    )
    open_schemas = {"give": {"type": "object"}, "take": {}}  # open: any field path exists
    tools = {"give": source, "take": tool}
    assert plan_problems(plan, tools, open_schemas, {}, max_calls=4) == []
    assert repair_references(plan, open_schemas, {}, {parameter: "literal"}) == plan


def test_repair_references_keeps_good_references() -> None:
    facts = {"customer_id": "C-1", "order_id": "O-1"}
    assert repair_references(GOOD, SCHEMAS, {}, facts) == GOOD
    assert repair_references(LATER, SCHEMAS, {"$4": "find_customer"}, facts) == LATER


def test_hidden_calls_are_upstream_closed_producers_never_the_goal() -> None:
    seen = set()
    for seed in range(50):
        hidden = choose_hidden(GOOD, random.Random(seed), max_hidden=2)
        seen.add(tuple(hidden))
        assert "$3" not in hidden  # the goal call is never hidden
        if "$2" in hidden:
            assert "$1" in hidden  # $2 depends on $1: hiding it alone would be unsayable
    assert seen == {("$1",), ("$1", "$2")}
    assert choose_hidden(GOOD, random.Random(0), max_hidden=0) == []
    single = TurnPlan(calls=[GOOD.calls[0]])
    assert choose_hidden(single, random.Random(0), max_hidden=2) == []


def test_state_changing_calls_are_never_hidden() -> None:
    # Seen in the embedded IT run: create_ticket hidden before get_ticket, so the user asked what
    # was happening with the VPN and the assistant opened a ticket nobody asked for.
    plan = TurnPlan(
        goal="open a ticket and show me it",
        calls=[
            PlannedCall(id="$1", name="find_customer", arguments={"email": "a@b.co"}),
            PlannedCall(id="$2", name="open_ticket", arguments={"customer_id": "$1.customer_id"}),
            PlannedCall(id="$3", name="get_ticket", arguments={"ticket_id": "$2.ticket_id"}),
        ],
    )
    seen = {tuple(choose_hidden(plan, random.Random(seed), 2, explicit={"open_ticket"})) for seed in range(50)}
    assert seen == {("$1",)}  # and $2, a write, never: nor anything only it feeds
    assert {tuple(choose_hidden(plan, random.Random(seed), 2)) for seed in range(50)} == {("$1",), ("$1", "$2")}
    writes_only = TurnPlan(calls=plan.calls[1:])
    assert choose_hidden(writes_only, random.Random(0), 2, explicit={"open_ticket"}) == []


def test_heuristic_output_schema_names_the_entity_id() -> None:
    tool = _tool("get_invoice_by_number", {"number": STR})
    schema = heuristic_output_schema(tool)
    assert schema["properties"]["invoice_id"]["type"] == "string"
    assert "number" in schema["properties"] and schema["type"] == "object"


def test_an_inferred_schema_requires_only_fields_it_describes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The 1.5B inferred {"properties": {"status"}, "required": ["customer_id", "order_id", "status"]}
    for tau-bench's transfer_to_human_agents: the tool simulator, shown the properties, never
    wrote the other two, and every dialogue that transferred failed. Inferred and cached schemas
    keep only the requirements they describe (declared ones are the scenario's)."""
    import asyncio
    import json

    guessed = {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "required": {"type": "boolean"},  # a field named like the keyword stays a field
            "items": {"type": "array", "items": {"type": "object", "properties": {"id": STR}, "required": ["id", "x"]}},
        },
        "required": ["customer_id", "order_id", "status"],
    }
    tool = _tool("transfer_to_human_agents", {"summary": STR})

    async def infer(_: Tool) -> dict:  # type: ignore[type-arg]
        return json.loads(json.dumps(guessed))

    schemas, sources = asyncio.run(resolve_output_schemas([tool], infer=infer, cache_dir=tmp_path))
    assert sources == {"transfer_to_human_agents": "llm"}
    assert schemas["transfer_to_human_agents"]["required"] == ["status"]
    assert schemas["transfer_to_human_agents"]["properties"]["items"]["items"]["required"] == ["id"]
    assert schemas["transfer_to_human_agents"]["properties"]["required"] == {"type": "boolean"}
    # A schema cached before this rule existed is read the same way.
    (cached,) = tmp_path.iterdir()
    cached.write_text(json.dumps(guessed), encoding="utf-8")
    schemas, sources = asyncio.run(resolve_output_schemas([tool], infer=None, cache_dir=tmp_path))
    assert sources == {"transfer_to_human_agents": "cache"}
    assert schemas["transfer_to_human_agents"]["required"] == ["status"]


def test_chains_start_where_a_user_can_and_every_required_id_is_supplied() -> None:
    graph = DataflowGraph(TOOLS, SCHEMAS)
    for seed in range(30):
        chain = graph.sample_chain(random.Random(seed), 3)
        first = BY_NAME[chain[0]]
        assert not any(p.endswith("_id") for p in first.parameters["required"]), chain
        for position, name in enumerate(chain[1:], start=1):
            needed = {p for p in BY_NAME[name].parameters["required"] if p.endswith("_id")}
            supplied = {e.parameter for e in graph.edges_between(chain[:position], name)}
            assert needed <= supplied, chain


REFUND = _tool(
    "issue_refund",
    {"order_id": {"type": "string"}, "amount_cents": {"type": "integer"}},
    {"type": "object", "properties": {"refund_id": STR}},
)
WITH_REFUND = {**BY_NAME, REFUND.name: REFUND}


@pytest.mark.parametrize(
    ("goal", "problem"),
    [
        # A refund was asked for, but the calls only look the order up: sent back.
        ("I want a refund for my last order.", "the goal names what issue_refund does (refun...)"),
        ("Please refund me and cancel my last order.", None),  # it names its own cancel_order too
        ("Cancel my last order.", None),
        ("Where is my order?", None),  # "order" is in every tool's name: it names no action
    ],
)
def test_a_goal_naming_an_action_no_call_performs_is_sent_back(goal: str, problem: str | None) -> None:
    plan = GOOD.model_copy(update={"goal": goal})
    found = goal_problems(plan, WITH_REFUND)
    assert found == ([] if problem is None else [found[0]]) and (problem is None or problem in found[0])
    assert plan_problems(plan, WITH_REFUND, SCHEMAS, {}, max_calls=4) == []  # a usable plan, if a poor one


def test_every_planned_change_must_be_asked_for_by_the_goal() -> None:
    """Seen in the embedded runs: "cancel my upcoming trip" planned with send_itinerary before
    cancel_booking, "what is happening with my VPN" with create_ticket. Reading calls need no word
    in the goal; a state change does, as the user's words need it in no_unplanned_writes."""
    refund = PlannedCall(id="$4", name="issue_refund", arguments={"order_id": "$2.orders.0.order_id"})
    cancel_and_refund = GOOD.model_copy(update={"calls": [*GOOD.calls, refund]})
    (problem,) = goal_problems(cancel_and_refund, WITH_REFUND)
    assert problem.startswith("the goal does not ask for what $4 issue_refund does (refund)")
    asked = cancel_and_refund.model_copy(update={"goal": "Cancel my last order and refund me."})
    assert goal_problems(asked, WITH_REFUND) == []
    (problem,) = goal_problems(GOOD.model_copy(update={"goal": "Where is my parcel?"}), WITH_REFUND)
    assert problem.startswith("the goal does not ask for what $3 cancel_order does (cancel")
    lookups_only = GOOD.model_copy(update={"goal": "Where is my parcel?", "calls": GOOD.calls[:2]})
    assert goal_problems(lookups_only, WITH_REFUND) == []


def test_a_goal_is_read_against_the_distinctive_words_of_each_tool() -> None:
    stems = distinctive_stems(WITH_REFUND)
    assert stems["issue_refund"] == {"refun"} and stems["cancel_order"] == {"cance"}
    assert "order" not in set().union(*stems.values())


def test_a_value_copied_from_a_tool_descriptions_example_is_sent_back_unless_the_user_has_it() -> None:
    lookup = _tool("find_order", {"order_number": {"type": "string", "description": "Order number, e.g. W-48213."}})
    tools = {lookup.name: lookup}
    plan = TurnPlan(goal="Find my order", calls=[PlannedCall(id="$1", name="find_order", arguments={})])
    plan.calls[0].arguments["order_number"] = "W-48213"
    (problem,) = copied_example_problems(plan, tools, {})
    assert "order_number='W-48213' is an example from the tool descriptions" in problem
    assert copied_example_problems(plan, tools, {"order_number": "W-48213"}) == []
    plan.calls[0].arguments["order_number"] = "W-10321"
    assert copied_example_problems(plan, tools, {}) == []


@pytest.mark.parametrize(
    ("goal", "name", "problem"),
    [
        ("Add goodwill store credit to Priya's account for the late delivery.", "Priya Raman", "'Priya'"),
        ("Tomasz Nowak wants to cancel the order and get a refund.", "Tomasz Nowak", "'Tomasz'"),
        ("The user wants to cancel the order W-48213.", "Tomasz Nowak", "'the user'"),
        ("A customer needs the shipping address changed.", None, "'the user'"),
        ("To add goodwill store credit to the customer's account for a late delivery.", None, "'the user'"),
        ("I want my order W-39550 cancelled and refunded.", "Tomasz Nowak", None),
        ("Please send the itinerary to the user's manager.", None, "'the user'"),
        ("Please send the itinerary to my manager; the customer service desk said so.", None, None),
        ("I need help with my account.", None, None),
    ],
)
def test_a_goal_written_about_the_user_is_sent_back(goal: str, name: str | None, problem: str | None) -> None:
    """Seen in the embedded runs: the 1.5B planner writes the goal about the persona, and the
    1.5B user says it so ("add store credit to Priya's account")."""
    problems = voice_problems(goal, name)
    if problem is None:
        assert problems == []
    else:
        (text,) = problems
        assert f"({problem})" in text and "first person" in text
