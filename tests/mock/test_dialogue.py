"""Short exchanges driven request by request, as the engine would send them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolecall.mock import MockServer
from rolecall.mock._brain import CONFIRMATIONS
from rolecall.mock._reading import _on_request_rule, read_user
from tests.mock.bodies import (
    assistant_body,
    message_of,
    planner_body,
    structured,
    tool_body,
    user_body,
    user_system,
)

EMAIL = "ada@example.com"


def _plan(server: MockServer) -> tuple[str, str]:
    """Plan the two-call chain: (goal, the order number the customer must give)."""
    plan = structured(server.base_url, planner_body())
    return plan["goal"], plan["calls"][0]["arguments"]["order_number"]


def _facts(order_number: str) -> dict[str, str]:
    return {"email": EMAIL, "order number": order_number}


def _call_and_result(server: MockServer, message: dict[str, Any]) -> list[dict[str, Any]]:
    """The assistant's tool-call message and the simulated result, as chat messages."""
    (call,) = message["tool_calls"]
    name, arguments = call["function"]["name"], json.loads(call["function"]["arguments"])
    result = message_of(server.base_url, tool_body(name, arguments))["content"]
    return [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": result},
    ]


def _play_upfront(server: MockServer) -> tuple[list[dict[str, Any]], list[tuple[str, str]], str]:
    """Opening and lookup: (the assistant's chat, the customer's chat, the user system prompt)."""
    goal, order_number = _plan(server)
    system = user_system(goal, _facts(order_number))
    opening = structured(server.base_url, user_body(system, []))
    assert opening["status"] == "continue"
    chat: list[dict[str, Any]] = [{"role": "user", "content": opening["message"]}]
    lookup = message_of(server.base_url, assistant_body(chat))
    assert lookup["tool_calls"][0]["function"]["name"] == "find_order"
    chat += _call_and_result(server, lookup)
    return chat, [("customer", opening["message"])], system


def test_upfront_opening_states_the_goal_and_every_fact(server: MockServer) -> None:
    goal, order_number = _plan(server)
    opening = structured(server.base_url, user_body(user_system(goal, _facts(order_number)), []))
    assert opening["message"] == f"Hello. {goal} For reference, my email is {EMAIL}, my order number is {order_number}."


def test_plain_assistant_makes_the_goal_call_without_asking(server: MockServer) -> None:
    chat, _, _ = _play_upfront(server)
    goal_call = message_of(server.base_url, assistant_body(chat))
    assert goal_call["tool_calls"][0]["function"]["name"] == "cancel_order"


def test_confirming_assistant_asks_before_the_goal_call_and_user_confirms(confirming: MockServer) -> None:
    server = confirming
    chat, said, system = _play_upfront(server)
    question = message_of(server.base_url, assistant_body(chat))
    assert not question.get("tool_calls")
    assert question["content"].endswith("Shall I go ahead?")
    assert "cancel_order" not in question["content"]

    said.append(("agent", question["content"]))
    answer = structured(server.base_url, user_body(system, said))
    assert answer["message"] in CONFIRMATIONS and answer["status"] == "continue"

    chat += [{"role": "assistant", "content": question["content"]}, {"role": "user", "content": answer["message"]}]
    goal_call = message_of(server.base_url, assistant_body(chat))
    (call,) = goal_call["tool_calls"]
    lookup_result = json.loads(chat[2]["content"])
    assert call["function"]["name"] == "cancel_order"
    assert json.loads(call["function"]["arguments"])["order_id"] == lookup_result["order_id"]

    chat += _call_and_result(server, goal_call)
    report = message_of(server.base_url, assistant_body(chat))
    assert report["content"].startswith("Done.")
    said += [("customer", answer["message"]), ("agent", report["content"])]
    assert structured(server.base_url, user_body(system, said))["status"] == "done"


def test_confirmation_is_chosen_by_digest(confirming: MockServer) -> None:
    chat, said, system = _play_upfront(confirming)
    question = message_of(confirming.base_url, assistant_body(chat))["content"]
    body = user_body(system, [*said, ("agent", question)])
    assert structured(confirming.base_url, body) == structured(confirming.base_url, body)


def test_on_request_user_opens_with_the_goal_only_and_answers_what_is_asked(server: MockServer) -> None:
    goal, order_number = _plan(server)
    system = user_system(goal, _facts(order_number), disclosure="on_request")
    opening = structured(server.base_url, user_body(system, []))
    assert opening == {"message": f"Hello. {goal}", "status": "continue"}
    assert EMAIL not in opening["message"] and order_number not in opening["message"]

    said = [("customer", opening["message"]), ("agent", "Could you tell me your email?")]
    answer = structured(server.base_url, user_body(system, said))
    assert EMAIL in answer["message"] and order_number not in answer["message"]
    assert answer["status"] == "continue"


def test_oracle_asks_for_unstated_values_by_label_then_calls(server: MockServer) -> None:
    goal, order_number = _plan(server)
    system = user_system(goal, _facts(order_number), disclosure="on_request")
    opening = structured(server.base_url, user_body(system, []))["message"]
    chat: list[dict[str, Any]] = [{"role": "user", "content": opening}]
    question = message_of(server.base_url, assistant_body(chat))
    assert question["content"] == "Could you tell me your order number?"

    said = [("customer", opening), ("agent", question["content"])]
    answer = structured(server.base_url, user_body(system, said))
    assert order_number in answer["message"] and EMAIL not in answer["message"]

    chat += [{"role": "assistant", "content": question["content"]}, {"role": "user", "content": answer["message"]}]
    lookup = message_of(server.base_url, assistant_body(chat))
    (call,) = lookup["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"order_number": order_number}
    # The goal call's literal is an enum member and its id a reference: nothing more to ask.
    chat += _call_and_result(server, lookup)
    assert message_of(server.base_url, assistant_body(chat))["tool_calls"][0]["function"]["name"] == "cancel_order"


def test_oracle_asks_once_then_calls_anyway(server: MockServer) -> None:
    goal, _ = _plan(server)
    question = "Could you tell me your order number?"
    chat = [
        {"role": "user", "content": f"Hello. {goal}"},
        {"role": "assistant", "content": question},
        {"role": "user", "content": "I do not have it, sorry."},
    ]
    assert message_of(server.base_url, assistant_body(chat))["tool_calls"][0]["function"]["name"] == "find_order"


def test_a_value_inside_another_token_is_not_stated(server: MockServer) -> None:
    goal, order_number = _plan(server)
    digits = order_number.removeprefix("W-")
    chat = [{"role": "user", "content": f"Hello. {goal} My receipt says AW-{digits}9."}]
    assert message_of(server.base_url, assistant_body(chat))["content"].startswith("Could you tell me")


def test_disclosure_rule_is_read_from_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    reworded = "- Keep your details to yourself until the agent asks for them."
    monkeypatch.setattr("rolecall.mock._reading.template_text", lambda name: reworded)
    _on_request_rule.cache_clear()
    try:
        system = user_system("I need help.", {"email": EMAIL}).replace(
            "- Ask for what you want, in your own words, and give the facts the agent will need.", reworded
        )
        assert read_user(system, [{"role": "user", "content": "Hi"}]).on_request
        assert not read_user(user_system("I need help.", {"email": EMAIL}), []).on_request
    finally:
        _on_request_rule.cache_clear()


def test_nested_facts_answer_a_question_about_their_parent(server: MockServer) -> None:
    goal, _ = _plan(server)
    facts = {"address city": "Oslo", "address postal code": "0150", "email": EMAIL}
    system = user_system(goal, facts, disclosure="on_request")
    said = [("customer", f"Hello. {goal}"), ("agent", "Could you tell me your address?")]
    answer = structured(server.base_url, user_body(system, said))["message"]
    assert "Oslo" in answer and "0150" in answer and EMAIL not in answer
