"""Role recognition: from the request's response format or tools, not from prompt wording."""

from __future__ import annotations

import json

import pytest

from rolecall.mock import MockServer
from rolecall.mock._roles import role_of
from tests.mock.bodies import (
    TOOLS,
    assistant_body,
    judge_body,
    planner_body,
    post,
    response_format,
    structured,
    tool_body,
    user_body,
    user_system,
)


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("plan", "planner"),
        ("UserReply", "user"),
        ("JudgeReply", "judge"),
        ("output_schema", "output_schema"),
        ("find_order_result", "tool_simulator"),
    ],
)
def test_response_format_name_names_the_role(name: str, role: str) -> None:
    body = {"messages": [{"role": "system", "content": "Anything at all."}], "response_format": response_format(name)}
    assert role_of(body) == role


def test_tools_without_response_format_is_the_assistant() -> None:
    # Even when the policy happens to use another role's words.
    body = assistant_body([{"role": "user", "content": "hi"}])
    body["messages"][0]["content"] = "You are the planner of this shop's support."
    assert role_of(body) == "assistant"


def test_prompt_markers_only_without_response_format_and_tools() -> None:
    def bare(system: str) -> dict[str, object]:
        return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": "x"}]}

    assert role_of(bare("You are the planner of a simulated customer conversation.")) == "planner"
    assert role_of(bare("You are a customer chatting with a support agent.")) == "user"
    assert role_of(bare("You simulate a backend system.")) == "tool_simulator"
    assert role_of(bare("You review a simulated conversation.")) == "judge"
    assert role_of(bare("You write JSON Schemas.")) == "output_schema"
    assert role_of(bare("Be helpful.")) == "assistant"
    # A response format wins over the markers.
    assert role_of({**bare("You are the planner."), "response_format": response_format("JudgeReply")}) == "judge"


def test_each_role_answers_over_http(server: MockServer) -> None:
    plan = structured(server.base_url, planner_body())
    assert [call["name"] for call in plan["calls"]] == ["find_order", "cancel_order"]
    assert plan["calls"][1]["arguments"]["order_id"] == "$1.order_id"
    reply = structured(server.base_url, user_body(user_system(plan["goal"], {"email": "ada@example.com"}), []))
    assert reply["status"] == "continue" and plan["goal"] in reply["message"]
    assert structured(server.base_url, judge_body())["consistent"] == "yes"
    result = structured(server.base_url, tool_body("find_order", {"order_number": "W-12345"}))
    assert set(result) == {"order_id", "status"}
    assert server.role_counts == {"planner": 1, "user": 1, "judge": 1, "tool_simulator": 1}


def test_reworded_system_prompts_keep_their_roles(server: MockServer) -> None:
    plan = structured(server.base_url, planner_body(system="Design a task. First call id: $1."))
    assert plan["calls"] and plan["goal"]
    system = user_system(plan["goal"], {"email": "ada@example.com"}).replace(
        "You are a customer chatting with a support agent.", "Play the shopper in this chat."
    )
    assert "You are a customer" not in system
    reply = structured(server.base_url, user_body(system, []))
    assert set(reply) == {"message", "status"}
    assert server.role_counts == {"planner": 1, "user": 1}


def test_tool_result_satisfies_the_response_format_schema(server: MockServer) -> None:
    # The prompt shows a bare object schema; the response format holds the real one.
    result = structured(server.base_url, tool_body("find_order", {"order_number": "W-12345"}, in_prompt=False))
    assert result["order_id"].startswith("ord_") and len(result["order_id"]) == 12


def test_tool_result_falls_back_to_the_prompt_schema(server: MockServer) -> None:
    body = tool_body("find_order", {"order_number": "W-12345"})
    del body["response_format"]  # structured_output off: the schema is only in the prompt
    result = json.loads(post(server.base_url, body)[1]["choices"][0]["message"]["content"])
    assert set(result) == set(TOOLS["find_order"]["output"]["properties"])
    assert server.role_counts == {"tool_simulator": 1}


def test_unknown_schema_name_is_a_bad_request(server: MockServer) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "response_format": response_format("Weather")}
    status, reply = post(server.base_url, body)
    assert status == 400 and "Weather" in reply["error"]["message"]


def test_same_request_same_answer_across_servers() -> None:
    answers = []
    for _ in range(2):
        with MockServer() as fresh:
            answers.append(structured(fresh.base_url, planner_body()))
    assert answers[0] == answers[1]
