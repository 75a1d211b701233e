"""The names the mock recognises are the ones the engine's client really sends.

Goes through AutoGen's ``OpenAIChatCompletionClient`` with rolecall's own reply types, so a
renamed reply type (or a client that stops sending its name) fails here, not in a long run.
"""

from __future__ import annotations

from typing import Any

import pytest
from autogen_core.models import SystemMessage, UserMessage
from autogen_ext.models.openai import OpenAIChatCompletionClient

from rolecall.agents import JudgeReply, UserReply, json_object_reply, plan_reply_for
from rolecall.mock import MockServer, model_config
from tests.mock.bodies import CHAIN, TOOLS, judge_body, planner_body, tool_body, user_body, user_system

# openai's parser round-trips reply models through a field typed None; the engine silences this too.
pytestmark = pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")


@pytest.mark.parametrize("structured_output", [True, False])
async def test_engine_reply_types_reach_the_right_roles(structured_output: bool) -> None:
    functions = [{"name": name, "parameters": TOOLS[name]["parameters"]} for name in CHAIN]
    cases: list[tuple[str, dict[str, Any], Any]] = [
        ("planner", planner_body(), plan_reply_for(functions, 3)),
        ("user", user_body(user_system("I need help.", {"email": "a@b.example"}), []), UserReply),
        ("judge", judge_body(), JudgeReply),
        (
            "tool_simulator",
            tool_body("find_order", {"order_number": "W-12345"}),
            json_object_reply("find_order_result", TOOLS["find_order"]["output"]),
        ),
    ]
    with MockServer() as server:
        client = OpenAIChatCompletionClient.load_component(model_config(server.base_url, structured_output))
        try:
            for role, body, reply_type in cases:
                system, prompt = body["messages"][0]["content"], body["messages"][-1]["content"]
                messages = [SystemMessage(content=system), UserMessage(content=prompt, source="user")]
                result = await client.create(messages, json_output=reply_type if structured_output else None)
                reply_type.model_validate_json(result.content)
                assert server.role_counts.get(role) == 1, (role, server.role_counts)
        finally:
            await client.close()
    formats = [request.get("response_format") for request in server.requests]
    assert all(formats) if structured_output else not any(formats)
