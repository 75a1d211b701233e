"""Identifier grounding: the embedded model may only fill id parameters with values it has seen."""

from __future__ import annotations

import jsonschema

from rolecall.models._grounding import (
    MAX_CANDIDATES,
    candidate_values,
    ground_parameters,
    is_identifier,
    missing_identifiers,
    way_forward,
)

REFUND = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^ord_[a-z0-9]{10}$", "description": "Internal order id."},
        "reason": {"type": "string"},
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {"item_id": {"type": "string"}, "quantity": {"type": "integer"}},
                "required": ["item_id"],
            },
        },
        "note_id": {"type": ["string", "null"], "pattern": "^N[0-9]+$"},
    },
    "required": ["order_id", "items"],
}


def test_what_counts_as_an_identifier() -> None:
    for name in ("id", "order_id", "Device_ID", "tag_ids", "order_number", "sku", "email", "work_email", "hostname"):
        assert is_identifier(name), name
    for name in ("amount", "amount_cents", "refund_amount", "price_cents"):  # money is said, not made up
        assert is_identifier(name), name
    for name in ("idea", "valid", "number", "reason", "note", "amounts", "paramount", "quantity"):
        assert not is_identifier(name), name
    # Any patterned or formatted string is copied; a fixed vocabulary is chosen from, whatever its name.
    assert is_identifier("when", {"type": "string", "format": "date"})
    assert is_identifier("plate", {"type": ["string", "null"], "pattern": "^[A-Z]+$"})
    assert not is_identifier("count", {"type": "integer", "format": "int32"})
    assert not is_identifier("reason_code", {"type": "string", "enum": ["damaged", "late"]})


def test_candidates_come_from_result_leaves_and_id_like_words_newest_first() -> None:
    texts = [
        "Hi, my order is W-20417 and my email is priya.raman@example.com.",
        '{"order_id": "ord_7h2k9x4m1q", "count": 3, "lines": [{"item_id": "LI-1", "title": "Oak lamp"}], "ok": true}',
    ]
    values = candidate_values(texts)
    # The tool result (newest) first; its keys, spaced strings and booleans are not candidates.
    assert values == ["ord_7h2k9x4m1q", "3", "LI-1", "W-20417", "priya.raman@example.com"]
    assert candidate_values(["I am hannah.okoro on NB-LON-0412."]) == ["hannah.okoro", "NB-LON-0412"]
    assert "order_id" not in values and "Oak lamp" not in values and "my" not in values


def test_candidates_are_capped() -> None:
    values = candidate_values([" ".join(f"X-{n}" for n in range(200))])
    assert len(values) == MAX_CANDIDATES


def test_required_identifier_without_a_fitting_value_makes_the_tool_uncallable() -> None:
    # An order number is in the chat, but it does not fit the order id's pattern.
    assert ground_parameters(REFUND, ["W-20417", "LI-1"]) is None


def test_identifiers_are_narrowed_at_every_depth_and_the_input_is_kept() -> None:
    grounded = ground_parameters(REFUND, ["ord_7h2k9x4m1q", "W-20417", "LI-1", "N7"])
    assert grounded is not None
    assert grounded["properties"]["order_id"] == {"description": "Internal order id.", "enum": ["ord_7h2k9x4m1q"]}
    assert grounded["properties"]["reason"] == {"type": "string"}  # not an id: untouched
    assert grounded["properties"]["items"]["items"]["properties"]["item_id"]["enum"] == [
        "ord_7h2k9x4m1q",
        "W-20417",
        "LI-1",
        "N7",
    ]
    assert grounded["properties"]["note_id"]["enum"] == ["N7", None]  # nullable ids may stay null
    assert "enum" not in REFUND["properties"]["order_id"]
    # Whatever the grounded schema admits, the tool's own schema admits too.
    call = {"order_id": "ord_7h2k9x4m1q", "items": [{"item_id": "LI-1"}], "note_id": None}
    jsonschema.validate(call, grounded)
    jsonschema.validate(call, REFUND)


def test_optional_identifiers_without_values_are_dropped() -> None:
    schema = {
        "type": "object",
        "properties": {"employee_id": {"type": "string"}, "query": {"type": "string"}},
        "required": ["query"],
    }
    grounded = ground_parameters(schema, [])
    assert grounded == {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}


def test_optional_lists_of_objects_with_ungroundable_ids_become_empty() -> None:
    schema = {
        "type": "object",
        "properties": {"lines": {"type": "array", "items": REFUND["properties"]["items"]["items"]}},
    }
    grounded = ground_parameters(schema, [])
    assert grounded is not None and grounded["properties"]["lines"]["maxItems"] == 0


def test_formats_are_checked() -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}, "required": ["email"]}
    assert ground_parameters(schema, ["1000", "Line1"]) is None
    grounded = ground_parameters(schema, ["1000", "ann@example.com"])
    assert grounded is not None and grounded["properties"]["email"]["enum"] == ["ann@example.com"]


def test_integer_identifiers_accept_digit_candidates_as_numbers() -> None:
    schema = {"type": "object", "properties": {"user_id": {"type": "integer"}}, "required": ["user_id"]}
    grounded = ground_parameters(schema, ["42", "W-1"])
    assert grounded is not None and grounded["properties"]["user_id"]["enum"] == [42]


def test_an_amount_must_have_been_said_or_returned() -> None:
    credit = {
        "type": "object",
        "properties": {"customer_id": {"type": "string"}, "amount_cents": {"type": "integer", "minimum": 1}},
        "required": ["customer_id", "amount_cents"],
    }
    result = '{"customer_id": "C-12345", "orders": [{"total_cents": 1999}]}'
    assert ground_parameters(credit, candidate_values([result])) is not None  # the total is a candidate
    said = candidate_values(["Please credit 100 cents, I waited two weeks.", '{"customer_id": "C-12345"}'])
    grounded = ground_parameters(credit, said)
    assert grounded is not None and grounded["properties"]["amount_cents"]["enum"] == [100]
    # Nothing said or returned holds an amount: the tool waits until the customer says one.
    assert ground_parameters(credit, candidate_values(['{"customer_id": "C-12345"}'])) is None


def test_missing_identifiers_name_the_required_values_no_candidate_fills() -> None:
    parameters = {
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "pattern": "^ord_[a-z0-9]{4}$"},
            "email": {"type": "string", "format": "email"},
            "reason": {"type": "string", "enum": ["damaged", "late"]},
            "note": {"type": "string"},
        },
        "required": ["order_id", "email", "reason", "note"],
    }
    assert missing_identifiers(parameters, ["ord_ab12"]) == ["email"]
    assert missing_identifiers(parameters, ["a@b.example.com", "W-20417"]) == ["order_id"]
    assert missing_identifiers(parameters, []) == ["order_id", "email"]


# A shop where ids come from lookups whose descriptions say what they return.
DESCRIPTIONS = {
    "find_customer_by_email": "Looks up a customer by email. Returns the customer_id used by other tools.",
    "find_order_by_number": "Finds an order by its number. Returns the order_id and the customer_id.",
    "list_customer_orders": "Lists a customer's orders, each with its order_id.",
    "cancel_order": "Cancels an order that has not shipped.",
    "get_ticket": "Reads a support ticket.",
}
NOTHING_SAID = {
    "find_customer_by_email": ["email"],
    "find_order_by_number": ["order_number"],
    "list_customer_orders": ["customer_id"],
    "cancel_order": ["order_id"],
    "get_ticket": ["ticket_id"],
}


def test_a_missing_id_leads_to_a_lookup_that_can_run_now() -> None:
    email_said = {k: v for k, v in NOTHING_SAID.items() if k != "find_customer_by_email"}
    # order_id <- list_customer_orders (needs customer_id) <- find_customer_by_email (callable)
    assert way_forward("cancel_order", email_said, DESCRIPTIONS) == (["find_customer_by_email"], [])
    number_said = {k: v for k, v in NOTHING_SAID.items() if k != "find_order_by_number"}
    assert way_forward("cancel_order", number_said, DESCRIPTIONS) == (["find_order_by_number"], [])


def test_with_no_lookup_ready_the_customer_is_asked_for_what_the_lookups_need() -> None:
    assert way_forward("cancel_order", NOTHING_SAID, DESCRIPTIONS) == ([], ["order_number", "email"])
    # Values that are not internal ids are the customer's, even if a description mentions them.
    assert way_forward("find_customer_by_email", NOTHING_SAID, DESCRIPTIONS) == ([], ["email"])
    # An internal id that no tool returns: ask for it as it is.
    assert way_forward("get_ticket", NOTHING_SAID, DESCRIPTIONS) == ([], ["ticket_id"])


def test_a_tool_that_is_not_blocked_needs_no_way_forward() -> None:
    assert way_forward("cancel_order", {}, DESCRIPTIONS) == ([], [])


# Real tool specs rarely say in prose what a lookup returns: the output schema does.
TERSE = {
    "find_user_id_by_email": "Find user id by email.",
    "get_user_details": "Get the details of a user, including their orders.",
    "cancel_pending_order": "Cancel a pending order.",
}
TERSE_BLOCKED = {"get_user_details": ["user_id"], "cancel_pending_order": ["order_id"]}
PRODUCES = {
    "find_user_id_by_email": {"user_id"},
    "get_user_details": {"user_id", "orders", "order_id", "email"},
}


def test_a_lookup_that_declares_the_id_only_in_its_output_schema_is_followed() -> None:
    # Without the output schemas nothing leads to get_user_details: the id would be asked for.
    assert way_forward("cancel_pending_order", TERSE_BLOCKED, TERSE) == ([], ["order_id"])
    # With them: order_id <- get_user_details (needs user_id) <- find_user_id_by_email (callable).
    assert way_forward("cancel_pending_order", TERSE_BLOCKED, TERSE, PRODUCES) == (["find_user_id_by_email"], [])


def test_the_simulated_tools_tell_the_embedded_client_what_they_return() -> None:
    from rolecall.agents._autogen import _SimulatedTool
    from rolecall.models._llama import _produced
    from rolecall.scenario import Tool

    returns = {
        "type": "object",
        "properties": {
            "user_id": {"type": "string"},
            "orders": {"type": "array", "items": {"type": "object", "properties": {"order_id": {"type": "string"}}}},
        },
    }

    async def execute(name: str, arguments: dict, call_id: str) -> str:
        return "{}"

    details = _SimulatedTool(Tool("get_user_details", "Get a user.", {"type": "object"}, returns), execute)
    bare = _SimulatedTool(Tool("cancel_pending_order", "Cancel.", {"type": "object"}), execute)
    assert _produced([details, bare]) == {"get_user_details": {"user_id", "orders", "order_id"}}
    assert "produces" not in details.schema  # never part of what a model is shown
