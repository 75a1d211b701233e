"""AutoGen's OpenAI client with a lean request path: the same request, less CPU per call.

``OpenAIChatCompletionClient.create`` hands its messages to the openai SDK, which walks every
message and tool schema through its typed-dict transform before sending (about a third of a
mock run's CPU, profiled), then builds pydantic models of the reply, and AutoGen dumps them
again for a log event nobody may be listening to. At thousands of dialogues that is the
framework's main cost per model call.

This client keeps AutoGen's message transformers (pinned with autogen-ext) and writes the rest of
the request as AutoGen's ``_process_create_args`` does, without its per-call costs
(``_create_params``: the transformer registry searched for every message, a Protocol check of
the tool choice); it writes the tools and tool choice as AutoGen does without its per-tool
Protocol checks (``_tool_params``). The request body is serialised once and posted over aiohttp
with the SDK client's URL, headers and timeout (see ``_endpoint``), errors are the SDK's own,
and the reply JSON becomes a ``CreateResult`` the way AutoGen makes one. Tests compare request
bodies, headers, errors and results with AutoGen's own client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from autogen_core import EVENT_LOGGER_NAME, CancellationToken, FunctionCall, Image
from autogen_core.logging import LLMCallEvent
from autogen_core.models import (
    ChatCompletionTokenLogprob,
    CreateResult,
    LLMMessage,
    ModelFamily,
    RequestUsage,
    SystemMessage,
    TopLogprob,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema
from autogen_ext.models.openai import OpenAIChatCompletionClient
from autogen_ext.models.openai._openai_client import (
    assert_valid_name,
    create_kwargs,
    normalize_name,
    normalize_stop_reason,
    parse_r1_content,
)
from autogen_ext.models.openai._transformation import TransformerMap, get_transformer
from openai.lib._parsing import type_to_response_format_param
from pydantic import BaseModel

from rolecall.models._endpoint import ChatEndpoint, endpoint_of
from rolecall.models._errors import NotAChatCompletion
from rolecall.models._usage import MeasuredUsage
from rolecall.text import json_bytes

_events = logging.getLogger(EVENT_LOGGER_NAME)


# Response formats by reply type, kept as long as the type lives: the reply types' own cache
# (rolecall.agents) is the one bound; an lru_cache here kept 256 types alive that it had let go.
_RESPONSE_FORMATS: weakref.WeakKeyDictionary[type[BaseModel], dict[str, Any]] = weakref.WeakKeyDictionary()


def _response_format(reply_type: type[BaseModel]) -> dict[str, Any]:
    """The ``json_schema`` response format the SDK's ``parse`` sends for ``reply_type``: built
    once per type (turning a model into a strict schema costs more than the rest of a request)."""
    known = _RESPONSE_FORMATS.get(reply_type)
    if known is None:
        known = _RESPONSE_FORMATS[reply_type] = dict(type_to_response_format_param(reply_type))  # type: ignore[arg-type]
    return known


def _tool_params(tools: Sequence[Tool | ToolSchema]) -> list[dict[str, Any]]:
    """The ``tools`` of the request, as AutoGen's ``convert_tools`` writes them.

    Written here because AutoGen's asks ``isinstance(tool, Tool)`` of every tool of every call, a
    runtime-checkable protocol that Python 3.11 checks attribute by attribute: about 5% of a
    mock run's CPU (profiled). Agents hand their tools over as plain schema dicts."""
    params = []
    for tool in tools:
        schema: Mapping[str, Any] = tool if isinstance(tool, dict) else tool.schema  # type: ignore[union-attr]
        assert_valid_name(schema["name"])
        function = {
            "name": schema["name"],
            "description": schema.get("description", ""),
            "parameters": schema.get("parameters", {}),
            "strict": schema.get("strict", False),
        }
        params.append({"type": "function", "function": function})
    return params


def _tool_choice(choice: Tool | str, tools: list[dict[str, Any]]) -> Any:
    """``tool_choice`` as AutoGen's client sends it: a mode, or the one tool the model must call."""
    if isinstance(choice, str):
        return choice
    name = choice.schema["name"]
    if name not in {tool["function"]["name"] for tool in tools}:
        raise ValueError(f"tool_choice references '{name}' but it's not in the provided tools")
    return {"type": "function", "function": {"name": name}}


class DirectOpenAIChatCompletionClient(OpenAIChatCompletionClient):
    """``OpenAIChatCompletionClient`` (same config keys) whose ``create`` sends a ready body.

    ``connections``: how many connections a run keeps open for reuse (its concurrency; None:
    no cap on connections, idle ones kept)."""

    component_provider_override = "rolecall.models.DirectOpenAIChatCompletionClient"

    def __init__(self, *, connections: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._connections = connections
        self._chat_endpoint: ChatEndpoint | None = None
        self._transformers: dict[str, TransformerMap] = {}  # by model name

    def _endpoint(self) -> ChatEndpoint:
        if self._chat_endpoint is None:
            self._chat_endpoint = endpoint_of(self._client, "/chat/completions", self._connections)
        return self._chat_endpoint

    def _request_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """The body as sent (a subclass adapts it to a server that bends the protocol)."""
        return body

    def _reply_data(self, data: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """The reply as read (a subclass adapts a server's reply to the protocol)."""
        return data

    async def close(self) -> None:
        if self._chat_endpoint is not None:
            await self._chat_endpoint.close()
        await super().close()

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | str = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        sent_messages, create_args, reply_type = self._create_params(messages, json_output, extra_create_args)
        body: dict[str, Any] = {"messages": sent_messages, **create_args, "stream": False}
        if tools:
            if self.model_info["function_calling"] is False:
                raise ValueError("Model does not support function calling")
            body["tools"] = _tool_params(tools)
            body["tool_choice"] = _tool_choice(tool_choice, body["tools"])
        elif not isinstance(tool_choice, str):
            raise ValueError("tool_choice specified but no tools provided")
        if reply_type is not None:
            body["response_format"] = _response_format(reply_type)
        body = self._request_body(body)
        post = self._endpoint().post(json_bytes(body))  # json.dumps was 4.5% of a mock run's CPU
        if cancellation_token is not None:
            future = asyncio.ensure_future(post)
            cancellation_token.link_future(future)
            reply = await future
        else:
            reply = await post
        if reply.status >= 400:  # made by the SDK, as its own requests make them
            raise self._client._make_status_error_from_response(self._endpoint().as_httpx(reply))
        try:
            data = orjson.loads(reply.content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            kind = next((v.decode(errors="replace") for k, v in reply.headers if k.lower() == b"content-type"), None)
            kind = kind or "no content type"
            raise NotAChatCompletion(f"the server answered with {kind}, not a chat completion")
        data = self._reply_data(data, body)
        result = self._result(data)
        if _events.isEnabledFor(logging.INFO):  # AutoGen builds this event on every call
            _events.info(
                LLMCallEvent(
                    messages=sent_messages,  # type: ignore[arg-type]
                    response=data,
                    prompt_tokens=result.usage.prompt_tokens,
                    completion_tokens=result.usage.completion_tokens,
                    tools=list(body.get("tools", [])),
                )
            )
        return result

    def _create_params(
        self,
        messages: Sequence[LLMMessage],
        json_output: bool | type[BaseModel] | None,
        extra_create_args: Mapping[str, Any],
    ) -> tuple[list[dict[str, Any]], dict[str, Any], type[BaseModel] | None]:
        """The messages, create arguments and reply type of a request, as AutoGen's
        ``_process_create_args`` makes them (same checks, errors and warnings), tools aside.

        AutoGen's searches the transformer registry for every message of every call (the model
        family by prefix matching, ``typing.get_args`` of every family name) and checks the tool
        choice against a runtime Protocol: 7% of a mock run's CPU (profiled). Here the
        transformers are looked up once per model name; a transformer registered after a
        client's first call to that model is not seen by that client."""
        unknown = set(extra_create_args) - create_kwargs
        if unknown:
            raise ValueError(f"Extra create args are invalid: {unknown}")
        create_args = {**self._create_args, **extra_create_args}
        info = self._model_info
        reply_type: type[BaseModel] | None = None
        legacy = create_args.get("response_format")
        if isinstance(legacy, type) and issubclass(legacy, BaseModel):  # the older way to ask for a type
            if info["structured_output"] is False:
                raise ValueError("Model does not support structured output.")
            warnings.warn(
                "Using response_format to specify the BaseModel for structured output type will be deprecated. "
                "Use json_output in create and create_stream instead.",
                DeprecationWarning,
                stacklevel=2,
            )
            reply_type = legacy
            del create_args["response_format"]
        if json_output is True:
            if info["json_output"] is False:
                raise ValueError("Model does not support JSON output.")
            create_args["response_format"] = {"type": "json_object"}
        elif json_output is False:
            create_args["response_format"] = {"type": "text"}
        elif isinstance(json_output, type) and issubclass(json_output, BaseModel):
            if info["structured_output"] is False:
                raise ValueError("Model does not support structured output.")
            if reply_type is not None:
                raise ValueError(
                    "response_format and json_output cannot be set to a Pydantic model class at the same time."
                )
            reply_type = json_output
        elif json_output is not None:
            raise ValueError(f"json_output must be a boolean or a Pydantic model class, got {type(json_output)}")
        if reply_type is not None and "response_format" in create_args:
            warnings.warn(
                "response_format is found in extra_create_args while json_output is set to a Pydantic model class. "
                "Skipping the response_format in extra_create_args in favor of the json_output. "
                "Structured output will be used.",
                UserWarning,
                stacklevel=2,
            )
            del create_args["response_format"]
        if info["vision"] is False and any(
            isinstance(m, UserMessage) and isinstance(m.content, list) and any(isinstance(x, Image) for x in m.content)
            for m in messages
        ):
            raise ValueError("Model does not support vision and image was provided")
        if not info.get("multiple_system_messages", False):
            messages = _merged_system_messages(messages)
        model = create_args.get("model", "unknown")
        if model.startswith("claude-"):
            messages = self._rstrip_last_assistant_message(messages)
        transformers = self._transformers_for(model)
        context = {"prepend_name": self._add_name_prefixes, "include_name_in_message": self._include_name_in_message}
        sent: list[dict[str, Any]] = []
        for message in messages:
            transformer = transformers.get(type(message))
            if transformer is None:
                raise ValueError(f"Unknown message type: {type(message)}")
            sent.extend(transformer(message, context))  # type: ignore[arg-type]
        return sent, create_args, reply_type

    def _transformers_for(self, model: str) -> TransformerMap:
        known = self._transformers.get(model)
        if known is None:
            known = self._transformers[model] = get_transformer("openai", model, self._model_info["family"])
        return known

    def _result(self, data: dict[str, Any]) -> CreateResult:
        """The reply as AutoGen's client reads it (tool calls, text, thought, log-probabilities)."""
        usage = MeasuredUsage.from_openai(data.get("usage"))
        choice = data["choices"][0]
        message = choice.get("message") or {}
        thought: str | None = None
        content: str | list[FunctionCall]
        if message.get("function_call") is not None:
            raise ValueError("function_call is deprecated and is not supported by this model client.")
        if message.get("tool_calls"):
            if message.get("content"):
                thought = message["content"]
            content = []
            for call in message["tool_calls"]:
                arguments = call["function"]["arguments"]
                content.append(
                    FunctionCall(
                        id=call["id"],
                        arguments=arguments if isinstance(arguments, str) else json.dumps(arguments),
                        name=normalize_name(call["function"]["name"]),
                    )
                )
            finish_reason = "tool_calls"
        else:
            finish_reason = choice.get("finish_reason")
            content = message.get("content") or ""
            if message.get("reasoning_content") is not None:
                thought = message["reasoning_content"]
        logprobs = None
        if (choice.get("logprobs") or {}).get("content"):
            logprobs = [
                ChatCompletionTokenLogprob(
                    token=item["token"],
                    logprob=item["logprob"],
                    top_logprobs=[
                        TopLogprob(logprob=top["logprob"], bytes=top.get("bytes"))
                        for top in item.get("top_logprobs") or []
                    ],
                    bytes=item.get("bytes"),
                )
                for item in choice["logprobs"]["content"]
            ]
        if isinstance(content, str) and self._model_info["family"] == ModelFamily.R1 and thought is None:
            thought, content = parse_r1_content(content)
        self._total_usage = _added(self._total_usage, usage)
        self._actual_usage = _added(self._actual_usage, usage)
        return CreateResult(
            finish_reason=normalize_stop_reason(finish_reason),
            content=content,
            usage=usage,
            cached=False,
            logprobs=logprobs,
            thought=thought,
        )


def _merged_system_messages(messages: Sequence[LLMMessage]) -> Sequence[LLMMessage]:
    """One system message where the model reads only one: a run of them joined by newlines, in
    the first one's place, as AutoGen does; system messages apart from each other are an error."""
    first = last = -1
    texts: list[str] = []
    others: list[LLMMessage] = []
    for index, message in enumerate(messages):
        if isinstance(message, SystemMessage):
            if first == -1:
                first = index
            elif last + 1 != index:
                raise ValueError(
                    "Multiple and Not continuous system messages are not supported if "
                    "model_info['multiple_system_messages'] is False"
                )
            texts.append(message.content)
            last = index
        else:
            others.append(message)
    if first == -1:
        return messages
    text = "\n".join(texts).rstrip()
    if text:
        others.insert(first, SystemMessage(content=text))
    return others


def _added(first: RequestUsage, second: RequestUsage) -> RequestUsage:
    return RequestUsage(
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
    )
