"""An AutoGen ``ChatCompletionClient`` over llama-cpp-python, in process: the embedded default.

llama-cpp-python's own tool calling is unreliable (see shared LOCAL_MODEL.md), so every
structured need goes through JSON-Schema-constrained generation (a grammar):

- tool calls: the reply must match ``anyOf`` one object per tool ``{name: const, arguments:
  <its parameters>}`` or ``{message: string}`` for a text reply;
- structured output (``json_output`` = a pydantic class): that class's JSON Schema.

One ``Llama`` instance per model file is shared by every role and guarded by a lock (it is not
safe for concurrent calls); a RAM prefix cache lets roles reuse the evaluated prompt prefixes
(system prompts, tool listings, the dialogue so far) instead of evaluating them again.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken, Component, FunctionCall
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelInfo,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, Field

from rolecall.agents._templates import render
from rolecall.models._grammar import grammar_safe
from rolecall.models._weights import DEFAULT_MODEL, ensure_model

MODEL_INFO = ModelInfo(vision=False, function_calling=True, json_output=True, structured_output=True, family="unknown")


class LlamaCppClientConfig(BaseModel):
    """Settings of the embedded model client (an AutoGen component config's ``config``)."""

    model: str = Field(default=DEFAULT_MODEL, description="A packaged model name (ignored when model_path is set).")
    model_path: str | None = Field(default=None, description="A GGUF file to use instead of a packaged model.")
    n_ctx: int = Field(default=8192, ge=512)
    n_threads: int | None = Field(default=None, description="CPU threads; default: all cores.")
    temperature: float = Field(default=0.3, ge=0.0)
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    seed: int = 0
    max_tokens: int = Field(default=700, ge=16)
    max_message_chars: int = Field(default=700, ge=20, description="Bound on free text (small models loop).")
    prefix_cache_bytes: int = Field(default=1 << 30, ge=0, description="RAM for reusable prompt prefixes; 0: off.")


class _Engine:
    """A loaded model plus the lock that serialises access to it."""

    def __init__(self, path: str, config: LlamaCppClientConfig):
        try:
            from llama_cpp import Llama, LlamaRAMCache
        except ImportError:
            raise RuntimeError('llama-cpp-python is not installed; run: pip install -e ".[local]"') from None
        self.llama = Llama(
            model_path=path,
            n_ctx=config.n_ctx,
            n_threads=config.n_threads or os.cpu_count() or 1,
            seed=config.seed,
            verbose=False,
        )
        if config.prefix_cache_bytes:
            self.llama.set_cache(LlamaRAMCache(capacity_bytes=config.prefix_cache_bytes))
        self.lock = threading.Lock()


_ENGINES: dict[tuple[str, int, int | None], _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(config: LlamaCppClientConfig) -> _Engine:
    path = config.model_path or str(ensure_model(config.model))
    key = (path, config.n_ctx, config.n_threads)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = _Engine(path, config)
        return _ENGINES[key]


def _tool_schemas(tools: Sequence[Tool | ToolSchema]) -> list[ToolSchema]:
    return [tool.schema if hasattr(tool, "schema") else tool for tool in tools]  # type: ignore[misc]


class LlamaCppChatCompletionClient(ChatCompletionClient, Component[LlamaCppClientConfig]):
    """Runs a GGUF model in this process; every reply is grammar-constrained JSON where it matters."""

    component_type = "model"
    component_config_schema = LlamaCppClientConfig
    component_provider_override = "rolecall.models.LlamaCppChatCompletionClient"

    def __init__(self, **kwargs: Any):
        self._config = LlamaCppClientConfig(**kwargs)
        self._total = RequestUsage(0, 0)
        self._last = RequestUsage(0, 0)
        self._calls = 0

    # -- the AutoGen interface -----------------------------------------------------------------

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
        schemas = _tool_schemas(tools) if tool_choice != "none" else []
        chat = self._chat(messages, schemas)
        response_format = self._response_format(schemas, tool_choice, json_output)
        engine = await asyncio.to_thread(_engine, self._config)
        reply = await asyncio.to_thread(self._complete, engine, chat, response_format, dict(extra_create_args))
        return self._result(reply, bool(schemas))

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | str = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        result = await self.create(
            messages, tools=tools, tool_choice=tool_choice, json_output=json_output, extra_create_args=extra_create_args
        )
        if isinstance(result.content, str):
            yield result.content
        yield result

    async def close(self) -> None:
        return None

    def ensure_ready(self) -> None:
        """Load the model now (assembling and verifying packaged weights on first use)."""
        _engine(self._config)

    def actual_usage(self) -> RequestUsage:
        return self._last

    def total_usage(self) -> RequestUsage:
        return self._total

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        text = "\n".join(str(m["content"]) for m in self._chat(messages, _tool_schemas(tools)))
        return len(_engine(self._config).llama.tokenize(text.encode("utf-8"), add_bos=False))

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self._config.n_ctx - self.count_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelInfo:  # deprecated in AutoGen, still abstract
        return MODEL_INFO

    @property
    def model_info(self) -> ModelInfo:
        return MODEL_INFO

    def _to_config(self) -> LlamaCppClientConfig:
        return self._config.model_copy()

    @classmethod
    def _from_config(cls, config: LlamaCppClientConfig) -> LlamaCppChatCompletionClient:
        return cls(**config.model_dump())

    # -- prompt and schema ---------------------------------------------------------------------

    def _chat(self, messages: Sequence[LLMMessage], tools: Sequence[ToolSchema]) -> list[dict[str, str]]:
        """AutoGen messages as plain chat turns; tool traffic written as JSON text the model can read."""
        chat: list[dict[str, str]] = []

        def add(role: str, content: str) -> None:
            if chat and chat[-1]["role"] == role == "system":
                chat[-1]["content"] += "\n\n" + content
            else:
                chat.append({"role": role, "content": content})

        for message in messages:
            if isinstance(message, SystemMessage):
                add("system", message.content)
            elif isinstance(message, UserMessage):
                if not isinstance(message.content, str):
                    raise ValueError("the embedded model takes text only")
                add("user", message.content)
            elif isinstance(message, AssistantMessage):
                if isinstance(message.content, str):
                    add("assistant", json.dumps({"message": message.content}) if tools else message.content)
                else:
                    calls = [{"name": c.name, "arguments": _loads(c.arguments)} for c in message.content]
                    add("assistant", "\n".join(json.dumps(call, ensure_ascii=False) for call in calls))
            elif isinstance(message, FunctionExecutionResultMessage):
                lines = [f"Result of {result.name}: {result.content}" for result in message.content]
                add("user", "\n".join(lines))
        if tools:
            listing = "\n".join(
                f"- {t['name']}: {t.get('description', '')}\n  arguments: "
                f"{json.dumps(t.get('parameters', {}), ensure_ascii=False)}"
                for t in tools
            )
            guide = render("local_tools", tools=listing)
            if chat and chat[0]["role"] == "system":
                chat[0]["content"] += "\n\n" + guide
            else:
                chat.insert(0, {"role": "system", "content": guide})
        return chat

    def _response_format(
        self, tools: Sequence[ToolSchema], tool_choice: Tool | str, json_output: bool | type[BaseModel] | None
    ) -> dict[str, Any] | None:
        if tools:
            chosen = tools
            if not isinstance(tool_choice, str):
                chosen = [t for t in tools if t["name"] == tool_choice.schema["name"]]
            options: list[dict[str, Any]] = [
                {
                    "type": "object",
                    "properties": {
                        "name": {"const": t["name"]},
                        "arguments": t.get("parameters") or {"type": "object"},
                    },
                    "required": ["name", "arguments"],
                }
                for t in chosen
            ]
            if tool_choice == "auto":
                text = {"type": "string", "maxLength": self._config.max_message_chars}
                options.append({"type": "object", "properties": {"message": text}, "required": ["message"]})
            return {"type": "json_object", "schema": grammar_safe({"anyOf": options})}
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            return {"type": "json_object", "schema": grammar_safe(json_output.model_json_schema())}
        if json_output:
            return {"type": "json_object"}
        return None

    # -- generation ----------------------------------------------------------------------------

    def _complete(
        self, engine: _Engine, chat: list[dict[str, str]], response_format: dict[str, Any] | None, extra: dict[str, Any]
    ) -> dict[str, Any]:
        settings = {
            "temperature": extra.pop("temperature", self._config.temperature),
            "top_p": extra.pop("top_p", self._config.top_p),
            "seed": extra.pop("seed", self._config.seed),
            "max_tokens": extra.pop("max_tokens", self._config.max_tokens),
        }
        with engine.lock:
            try:
                return engine.llama.create_chat_completion(messages=chat, response_format=response_format, **settings)
            except (ValueError, RuntimeError) as error:
                if response_format is None or "schema" not in response_format:
                    raise
                # A schema llama.cpp cannot turn into a grammar: fall back to any JSON object.
                if "grammar" not in str(error).lower() and "schema" not in str(error).lower():
                    raise
                return engine.llama.create_chat_completion(
                    messages=chat, response_format={"type": "json_object"}, **settings
                )

    def _result(self, reply: dict[str, Any], with_tools: bool) -> CreateResult:
        usage_data = reply.get("usage") or {}
        usage = RequestUsage(usage_data.get("prompt_tokens", 0), usage_data.get("completion_tokens", 0))
        self._last = usage
        self._total = RequestUsage(
            self._total.prompt_tokens + usage.prompt_tokens, self._total.completion_tokens + usage.completion_tokens
        )
        choice = reply["choices"][0]
        text = choice["message"].get("content") or ""
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        if with_tools:
            parsed = _loads(text)
            if isinstance(parsed, dict) and isinstance(parsed.get("name"), str):
                self._calls += 1
                call = FunctionCall(
                    id=f"call_{self._calls}",
                    name=parsed["name"],
                    arguments=json.dumps(parsed.get("arguments") or {}, ensure_ascii=False),
                )
                return CreateResult(finish_reason="function_calls", content=[call], usage=usage, cached=False)
            if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
                text = parsed["message"]
        return CreateResult(finish_reason=finish, content=text, usage=usage, cached=False)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
