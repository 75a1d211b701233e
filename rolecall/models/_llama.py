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
import hashlib
import json
import logging
import math
import os
import random
import re
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

from rolecall.models._grammar import CALL_OPENERS, call_grammar, grammar_safe, json_text, text_grammar
from rolecall.models._grounding import candidate_values, ground_parameters, missing_identifiers, way_forward
from rolecall.models._weights import DEFAULT_MODEL, ensure_model
from rolecall.prompts import render
from rolecall.text import repeats

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
    ground_identifiers: bool = Field(
        default=True,
        description="Limit identifier parameters (ids, numbers, codes, emails, amounts, patterned strings) "
        "to values already seen in the conversation.",
    )
    tool_call_bias: float = Field(
        default=2.0, description="Log-odds added to the model's own chance of calling a tool rather than answering."
    )
    steering: bool = Field(
        default=True,
        description="The aids for a weak assistant: grounded ids, tool_call_bias, routing to lookups, redraws "
        "of repeats and refusals, no repeat of an answered call. Off (the assist policy's 'none'): the model's "
        "own choice of calling, and its own call or text, under the grammar only.",
    )
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
        self._formatter: Any = None
        self._openers: Any = None

    def prompt(self, chat: list[dict[str, str]]) -> tuple[str, list[str]]:
        """The chat as one prompt in the model's own chat template (ChatML when it has none)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if self._formatter is None:
            template = self.llama.metadata.get("tokenizer.chat_template") or _CHATML
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=self.llama.detokenize([self.llama.token_eos()], special=True).decode("utf-8", "replace"),
                bos_token=self.llama.detokenize([self.llama.token_bos()], special=True).decode("utf-8", "replace"),
                add_generation_prompt=True,
            )
        formatted = self._formatter(messages=chat)
        stop = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop]
        return formatted.prompt, [text for text in stop if text]

    def call_openers(self) -> Any:
        """A mask over the vocabulary: tokens with which a reply starts a tool call (JSON, a tag, a fence)."""
        import numpy as np

        if self._openers is None:
            detokenize = self.llama.detokenize
            pieces = (detokenize([t]).decode("utf-8", "replace").lstrip() for t in range(self.llama.n_vocab()))
            self._openers = np.fromiter((p.startswith(CALL_OPENERS) for p in pieces), dtype=bool)
        return self._openers


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
        constraint = self._constraint(messages, schemas, tool_choice, json_output)
        engine = await asyncio.to_thread(_engine, self._config)
        reply = await asyncio.to_thread(self._complete, engine, chat, constraint, dict(extra_create_args))
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
        """AutoGen messages as plain chat turns, tool traffic in the tags Qwen2.5 was trained on
        (``<tool_call>``, ``<tool_response>``): small models call tools far more readily in the
        format they learned than in one we invent."""
        chat: list[dict[str, str]] = []

        def add(role: str, content: str) -> None:
            if chat and chat[-1]["role"] == role and role in ("system", "tool"):
                chat[-1]["content"] += "\n" + content
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
                    add("assistant", message.content)
                else:
                    calls = [{"name": c.name, "arguments": _loads(c.arguments)} for c in message.content]
                    add("assistant", "\n".join(_TOOL_CALL.format(json.dumps(c, ensure_ascii=False)) for c in calls))
            elif isinstance(message, FunctionExecutionResultMessage):
                for result in message.content:
                    add("tool", f"<tool_response>\n{result.content}\n</tool_response>")
        # Tool results reach the model as the customer's side of the chat, as in Qwen's template.
        for turn in chat:
            if turn["role"] == "tool":
                turn["role"] = "user"
        if tools:
            listing = "\n".join(json.dumps({"type": "function", "function": t}, ensure_ascii=False) for t in tools)
            guide = render("local/tools", tools=listing)
            if chat and chat[0]["role"] == "system":
                chat[0]["content"] += "\n\n" + guide
            else:
                chat.insert(0, {"role": "system", "content": guide})
        return chat

    def _constraint(
        self,
        messages: Sequence[LLMMessage],
        tools: Sequence[ToolSchema],
        tool_choice: Tool | str,
        json_output: bool | type[BaseModel] | None,
    ) -> dict[str, Any]:
        """The ``create_chat_completion`` arguments that constrain the reply: a grammar or a format."""
        if tools:
            chosen = list(tools)
            if not isinstance(tool_choice, str):
                chosen = [t for t in tools if t["name"] == tool_choice.schema["name"]]
            blocked: dict[str, list[str]] = {}
            if self._config.steering and self._config.ground_identifiers:
                candidates = candidate_values(_evidence(messages))
                grounded = [(t, ground_parameters(dict(t.get("parameters") or {}), candidates)) for t in chosen]
                pairs = [(t, p) for t, p in grounded if p is not None]
                blocked = {
                    t["name"]: missing_identifiers(dict(t.get("parameters") or {}), candidates)
                    for t, p in grounded
                    if p is None
                }
                if not pairs and tool_choice == "auto":
                    # Nothing can be called with what the chat holds: the model has to ask.
                    pairs = []
                else:  # a call is required: rather an ungrounded call than none
                    pairs = pairs or [(t, dict(t.get("parameters") or {})) for t in chosen]
            else:
                pairs = [(t, dict(t.get("parameters") or {})) for t in chosen]
            calls = {
                t["name"]: {
                    "type": "object",
                    "properties": {"name": {"const": t["name"]}, "arguments": params or {"type": "object"}},
                    "required": ["name", "arguments"],
                }
                for t, params in pairs
            }
            text = text_grammar(self._config.max_message_chars) if tool_choice == "auto" else None
            step = {"calls": calls, "text": text, "answered": _answered_calls(messages)}
            if text is not None and blocked:
                # Lets the model pick any tool first and then find out what that tool still needs.
                step["blocked"] = blocked
                step["descriptions"] = {t["name"]: t.get("description") or "" for t in chosen}
            return {"tool_step": step}
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            return {"response_format": {"type": "json_object", "schema": grammar_safe(json_output.model_json_schema())}}
        if json_output:
            return {"response_format": {"type": "json_object"}}
        return {}

    # -- generation ----------------------------------------------------------------------------

    def _complete(
        self, engine: _Engine, chat: list[dict[str, str]], constraint: dict[str, Any], extra: dict[str, Any]
    ) -> dict[str, Any]:
        settings = {
            "temperature": extra.pop("temperature", self._config.temperature),
            "top_p": extra.pop("top_p", self._config.top_p),
            "seed": extra.pop("seed", self._config.seed),
            "max_tokens": extra.pop("max_tokens", self._config.max_tokens),
        }
        if "tool_step" in constraint:
            with engine.lock:
                return self._tool_step(engine, chat, constraint["tool_step"], settings)
        with engine.lock:
            try:
                return engine.llama.create_chat_completion(messages=chat, **constraint, **settings)
            except (ValueError, RuntimeError) as error:
                format_ = constraint.get("response_format") or {}
                # A schema llama.cpp cannot turn into a grammar: fall back to any JSON object.
                if "schema" not in format_ or not any(w in str(error).lower() for w in ("grammar", "schema")):
                    raise
                return engine.llama.create_chat_completion(
                    messages=chat, response_format={"type": "json_object"}, **settings
                )

    def _tool_step(
        self, engine: _Engine, chat: list[dict[str, str]], step: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, Any]:
        """A reply that is either one tool call or plain text.

        Whether to call is the model's own choice, read off its first token before any grammar
        applies: the probability mass of tokens that open a call (JSON, a tag, a code fence) is the
        chance of calling, shifted by ``tool_call_bias`` in log-odds and drawn with a seeded RNG.
        Only then is the reply constrained, to a valid call or to prose. A single grammar with both
        branches does not work for small models: forced to spell out JSON from the first token, the
        1.5B model picks the text branch almost every time.
        """
        from llama_cpp import LlamaGrammar

        prompt, stop = engine.prompt(chat)
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        calls: dict[str, Any] = dict(step["calls"])
        calling = step["text"] is None
        if not calling and calls:
            logits: list[Any] = []
            first = engine.llama.create_completion(
                prompt, max_tokens=1, temperature=0.0, logits_processor=[_keep(logits)], stop=stop
            )
            _add_usage(usage, first)
            bias = self._config.tool_call_bias if self._config.steering else 0.0
            chance = _call_chance(logits[0], engine.call_openers(), bias)
            draw = random.Random(hashlib.sha256(f"{settings['seed']}:{prompt}".encode()).digest()).random()
            calling = draw < chance
            _log.debug("tool-call chance %.3f, drew %.3f: %s", chance, draw, "call" if calling else "text")

        def generate(grammar_text: str, prompt: str = prompt, **override: Any) -> tuple[str, dict[str, Any]]:
            grammar = LlamaGrammar.from_string(grammar_text, verbose=False)
            reply = engine.llama.create_completion(prompt, grammar=grammar, stop=stop, **{**settings, **override})
            _add_usage(usage, reply)
            return reply["choices"][0]["text"].strip(), reply

        def ask(values: list[str]) -> dict[str, Any]:
            """A question for the values a wanted tool still lacks, prompted by a note only the model sees."""
            listed = " and ".join(value.replace("_", " ") for value in values)
            note = {"role": "system", "content": render("local/ask", values=listed)}
            text, reply = generate(step["text"], prompt=engine.prompt([*chat, note])[0])
            return _chat_reply(text, reply, usage)

        def route(wanted: list[str]) -> tuple[list[str], list[str]]:
            """For the tools the model wants: those it can call now, else (via :func:`way_forward`)
            the lookups that supply what they lack, else the values to ask the customer for."""
            offered = [name for name in wanted if name in calls]
            if offered or not wanted:
                return offered, []
            ready, values = way_forward(wanted[0], step.get("blocked", {}), step.get("descriptions", {}))
            return [name for name in ready if name in calls], values

        if calling and step.get("blocked"):
            # The model first names the tool it wants, out of all of them. Offered only the
            # callable ones, a 1.5B model calls whatever needs no id (a service status check, a
            # hotel search with made-up values) instead of asking for the email it lacks.
            names = [*calls, *step["blocked"]]
            text, _ = generate(
                call_grammar({"type": "object", "properties": {"name": {"enum": names}}, "required": ["name"]})
            )
            chosen = _loads(text)
            offered, values = route(
                [chosen["name"]] if isinstance(chosen, dict) and chosen.get("name") in names else []
            )
            if values:
                return ask(values)
            calls = {name: calls[name] for name in offered} or calls

        if not calling:
            text, reply = generate(step["text"])
            if not self._config.steering:
                return _chat_reply(text, reply, usage)
            names = [*calls, *step.get("blocked", {})]
            named = [name for name in names if re.search(rf"\b{re.escape(name)}\b", text)]
            # A canned refusal or a copy of an earlier message means the model is stuck.
            copied = repeats(text, _spoken(chat)) or _REFUSAL.search(text) is not None
            if copied and not calls:
                # Nothing to call and the model repeats itself: one fresh draw, hotter.
                _log.debug("text repeats an earlier message: drawing again")
                text, reply = generate(step["text"], temperature=max(settings["temperature"], _REDRAW_TEMPERATURE))
            if not (named or copied or _TALKS_ABOUT_CALLING.search(text)):
                return _chat_reply(text, reply, usage)
            # Prose that names a tool or says "call the function" is a call the draw turned into
            # text (customers never hear tool names), and a model that repeats an earlier message
            # word for word is stuck: in both cases the call, or a question for what it needs,
            # is the way forward.
            offered, values = route(named)
            if values:
                return ask(values)
            if not calls:
                return _chat_reply(text, reply, usage)
            _log.debug("text talks about calling %s or repeats itself: calling instead", named or "a tool")
            calls = {name: calls[name] for name in offered} or calls
        while True:
            text, reply = generate(call_grammar({"anyOf": list(calls.values())}))
            parsed = _loads(text)
            name = parsed.get("name") if isinstance(parsed, dict) else None
            arguments = parsed.get("arguments") if isinstance(parsed, dict) else None
            if not self._config.steering or _signature(name, arguments) not in step["answered"]:
                return _chat_reply(_TOOL_CALL.format(text), reply, usage)
            # Small models repeat the call they just made. Offer the other tools, or let it answer.
            _log.debug("repeat of an answered call to %s: offering the other tools", name)
            calls.pop(name, None)
            if not calls:
                if step["text"] is None:
                    return _chat_reply(_TOOL_CALL.format(text), reply, usage)
                text, reply = generate(step["text"])
                return _chat_reply(text, reply, usage)

    def _result(self, reply: dict[str, Any], with_tools: bool) -> CreateResult:
        usage_data = reply.get("usage") or {}
        usage = RequestUsage(usage_data.get("prompt_tokens", 0), usage_data.get("completion_tokens", 0))
        self._last = usage
        self._total = RequestUsage(
            self._total.prompt_tokens + usage.prompt_tokens, self._total.completion_tokens + usage.completion_tokens
        )
        choice = reply["choices"][0]
        text = (choice["message"].get("content") or "").strip()
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        if with_tools:
            calls = []
            for body in _TOOL_CALL_BODY.findall(text):
                parsed = _loads(body)
                if isinstance(parsed, dict) and isinstance(parsed.get("name"), str):
                    self._calls += 1
                    arguments = json.dumps(parsed.get("arguments") or {}, ensure_ascii=False)
                    calls.append(FunctionCall(id=f"call_{self._calls}", name=parsed["name"], arguments=arguments))
            if calls:
                return CreateResult(finish_reason="function_calls", content=calls, usage=usage, cached=False)
        return CreateResult(finish_reason=finish, content=json_text(text), usage=usage, cached=False)


_TOOL_CALL = "<tool_call>\n{}\n</tool_call>"
_REDRAW_TEMPERATURE = 0.8
# The coder model's stock refusal, said with tools at hand that could do the job.
_REFUSAL = re.compile(r"\bI(?:'|\u2019)?m sorry, but I can(?:'|\u2019)?t (?:assist|help) with (?:that|this)\b", re.I)
_TALKS_ABOUT_CALLING = re.compile(r"\b(?:call|use|using)\s+(?:the\s+)?(?:following\s+)?(?:function|tool)s?\b", re.I)
_TOOL_CALL_BODY = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)


_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_log = logging.getLogger(__name__)


def _keep(store: list[Any]) -> Any:
    """A logits processor that keeps a copy of the scores it sees (the first token's, here)."""

    def processor(_tokens: Any, scores: Any) -> Any:
        store.append(scores.copy())
        return scores

    return processor


def _call_chance(logits: Any, openers: Any, bias: float) -> float:
    """P(the first token opens a call) under the model's raw distribution, shifted by ``bias`` log-odds."""
    import numpy as np

    shifted = logits - logits.max()
    weights = np.exp(shifted)
    chance = float(weights[openers].sum() / weights.sum())
    chance = min(max(chance, 1e-9), 1 - 1e-9)
    return 1.0 / (1.0 + math.exp(-(math.log(chance / (1.0 - chance)) + bias)))


def _chat_reply(content: str, reply: dict[str, Any], usage: dict[str, int]) -> dict[str, Any]:
    """A completion shaped like a chat completion, with the usage of every pass that made it."""
    finish = reply["choices"][0].get("finish_reason")
    return {"choices": [{"message": {"content": content}, "finish_reason": finish}], "usage": usage}


def _signature(name: Any, arguments: Any) -> str:
    return f"{name}:{json.dumps(arguments, sort_keys=True, ensure_ascii=False)}"


# Errors worth retrying with the same arguments; after any other result a repeat is pointless.
_TRANSIENT_ERRORS = {"rate_limited", "timeout", "server_error"}


def _answered_calls(messages: Sequence[LLMMessage]) -> set[str]:
    """Signatures of the calls in the chat that got an answer other than a transient error."""
    made: dict[str, str] = {}
    answered: set[str] = set()
    for message in messages:
        if isinstance(message, AssistantMessage) and not isinstance(message.content, str):
            made.update({c.id: _signature(c.name, _loads(c.arguments)) for c in message.content})
        elif isinstance(message, FunctionExecutionResultMessage):
            for result in message.content:
                outcome = _loads(result.content)
                error = outcome.get("error") if isinstance(outcome, dict) else None
                code = error.get("code") if isinstance(error, dict) else error
                if result.call_id in made and code not in _TRANSIENT_ERRORS:
                    answered.add(made[result.call_id])
    return answered


def _spoken(chat: list[dict[str, str]]) -> list[str]:
    """What the customer and the assistant said in ``chat``: no system prompt, no tool traffic."""
    return [
        turn["content"]
        for turn in chat
        if turn["role"] in ("user", "assistant") and not turn["content"].lstrip().startswith(("<tool_", "{"))
    ]


def _add_usage(total: dict[str, int], reply: dict[str, Any]) -> None:
    for key in total:
        total[key] += (reply.get("usage") or {}).get(key, 0)


def _evidence(messages: Sequence[LLMMessage]) -> list[str]:
    """What the customer said and what tools returned: where grounded identifiers come from."""
    texts: list[str] = []
    for message in messages:
        if isinstance(message, UserMessage) and isinstance(message.content, str):
            texts.append(message.content)
        elif isinstance(message, FunctionExecutionResultMessage):
            texts.extend(result.content for result in message.content)
    return texts


def _loads(text: str) -> Any:
    try:
        return json.loads(text, strict=False)  # raw control characters in strings: see json_text
    except ValueError:
        return text
