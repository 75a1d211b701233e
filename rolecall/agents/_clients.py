"""Chat clients that stand in front of another: the base that forwards everything, and the one
that hands the assistant's model client the tool objects the agent was given.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage, ModelInfo, RequestUsage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel


class ForwardingClient(ChatCompletionClient):
    """A chat client that hands every request to ``inner``; a subclass changes what it needs."""

    def __init__(self, inner: ChatCompletionClient):
        self.inner = inner

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | str = "auto",  # type: ignore[override]
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        request = self.inner.create(
            messages,
            tools=self.tools_for(tools),
            tool_choice=tool_choice,  # type: ignore[arg-type]
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        )
        return await self.answer(request)

    def tools_for(self, tools: Sequence[Tool | ToolSchema]) -> Sequence[Tool | ToolSchema]:
        """The tools the inner client is handed for ``tools``: the same, unless a subclass says."""
        return tools

    async def answer(self, request: Awaitable[CreateResult]) -> CreateResult:
        """The inner client's result; a subclass may watch it come."""
        return await request

    def create_stream(self, *args: Any, **kwargs: Any) -> AsyncGenerator[str | CreateResult, None]:
        if "tools" in kwargs:
            kwargs["tools"] = self.tools_for(kwargs["tools"])
        return self.inner.create_stream(*args, **kwargs)

    async def close(self) -> None:
        await self.inner.close()

    def actual_usage(self) -> RequestUsage:
        return self.inner.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self.inner.total_usage()

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.inner.count_tokens(messages, tools=tools)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.inner.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> Any:  # deprecated in AutoGen, still abstract
        return self.inner.capabilities

    @property
    def model_info(self) -> ModelInfo:
        return self.inner.model_info


class ToolObjectsClient(ForwardingClient):
    """Hands the model client the agent's tool objects where AutoGen hands it their schemas.

    AutoGen 0.7's ``AssistantAgent`` lists its tools through a workbench, which gives schemas
    (plain dicts): what a tool declares beside its schema (the simulated tools' output fields,
    whether they change state) would never reach a client that reads it. Every client sees the
    same schema either way (``tool.schema``), so what a model is shown does not change; a name
    the agent was not given (a handoff) passes as it came.
    """

    def __init__(self, inner: ChatCompletionClient, tools: Sequence[Tool]):
        super().__init__(inner)
        self._by_name = {tool.name: tool for tool in tools}

    def tools_for(self, tools: Sequence[Tool | ToolSchema]) -> list[Tool | ToolSchema]:
        return [self._by_name.get(tool["name"], tool) if isinstance(tool, dict) else tool for tool in tools]
