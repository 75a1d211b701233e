"""What the assistant's model client is handed, through a real AutoGen ``AssistantAgent``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from autogen_core.models import ModelInfo
from autogen_core.tools import Tool, ToolSchema
from autogen_ext.models.replay import ReplayChatCompletionClient

from rolecall.agents._autogen import AutogenAssistant
from rolecall.agents._clients import ForwardingClient
from rolecall.scenario import Tool as ScenarioTool

RETURNS = {"type": "object", "properties": {"order_id": {"type": "string"}, "status": {"type": "string"}}}


class RecordingClient(ForwardingClient):
    """AutoGen's scripted client, keeping the ``tools`` each request handed it."""

    def __init__(self, replies: list[str]):
        info = ModelInfo(
            vision=False, function_calling=True, json_output=False, family="unknown", structured_output=False
        )
        super().__init__(ReplayChatCompletionClient(replies, model_info=info))
        self.tools_given: list[list[Tool | ToolSchema]] = []

    def tools_for(self, tools: Sequence[Tool | ToolSchema]) -> Sequence[Tool | ToolSchema]:
        self.tools_given.append(list(tools))
        return tools


async def _execute(name: str, arguments: dict, call_id: str) -> str:
    return "{}"


def test_the_assistants_client_gets_the_simulated_tools_with_what_they_declare() -> None:
    # AutoGen 0.7's AssistantAgent lists its tools as schemas (dicts); without our client in
    # front, neither the output fields nor the state-change flag reached the embedded client.
    tools = [
        ScenarioTool("find_order", "Find an order.", {"type": "object", "properties": {}}, RETURNS),
        ScenarioTool("cancel_order", "Cancel an order.", {"type": "object", "properties": {}}),
    ]
    client = RecordingClient(["Sure."])
    assistant = AutogenAssistant(client, None, tools, _execute, scrub=lambda text: text)
    step = asyncio.run(assistant.step("Where is my order?"))
    assert step.text == "Sure."
    [given] = client.tools_given
    assert [tool.schema["name"] for tool in given] == ["find_order", "cancel_order"]  # type: ignore[union-attr]
    produces = {tool.schema["name"]: getattr(tool, "produces", None) for tool in given}  # type: ignore[union-attr]
    assert produces == {"find_order": frozenset({"order_id", "status"}), "cancel_order": frozenset()}
    changes = {tool.schema["name"]: getattr(tool, "changes_state", None) for tool in given}  # type: ignore[union-attr]
    assert changes == {"find_order": False, "cancel_order": True}
    # The schema every client turns into its request is the one the agent listed.
    assert given[0].schema == {  # type: ignore[union-attr]
        "name": "find_order",
        "description": "Find an order.",
        "parameters": {"type": "object", "properties": {}},
    }


def test_a_withheld_tool_is_still_withheld_from_the_client() -> None:
    tools = [ScenarioTool(name, "A tool.", {"type": "object", "properties": {}}) for name in ("a", "b")]
    client = RecordingClient(["Done."])
    assistant = AutogenAssistant(client, None, tools, _execute, scrub=lambda text: text)
    assistant.withhold(frozenset({"b"}))
    asyncio.run(assistant.step("Hello"))
    names = [tool["name"] if isinstance(tool, dict) else tool.schema["name"] for tool in client.tools_given[0]]
    assert names == ["a"]
