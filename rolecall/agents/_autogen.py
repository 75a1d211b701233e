"""The roles as autogen-agentchat agents.

Structured roles (planner, user, tool simulator, judge) are stateless: each request is a fresh
``AssistantAgent`` run whose prompt carries all the context, so no hidden state leaks between
requests. The assistant under simulation is one long-lived ``AssistantAgent`` per dialogue whose
tools are simulated: each call goes to the dialogue's tool simulator.
"""

from __future__ import annotations

import asyncio
import json
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import (
    TextMessage,
    ToolCallExecutionEvent,
    ToolCallRequestEvent,
)
from autogen_core import CancellationToken, FunctionCall
from autogen_core.model_context import UnboundedChatCompletionContext
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import BaseTool, ToolSchema
from pydantic import BaseModel, ValidationError

from rolecall.agents._clients import ToolObjectsClient
from rolecall.agents._limits import RateLimiter
from rolecall.agents._protocols import (
    AssistantStep,
    ExecutedCall,
    History,
    ReplyT,
    RoleError,
    ToolExecutor,
    Usage,
)
from rolecall.agents._provenance import INJECTED_CALL_PREFIX
from rolecall.agents._retry import Failure, RetryPolicy, RunAborted, classify
from rolecall.agents._timing import ModelTime, TimedClient
from rolecall.models import ModelFactory
from rolecall.planning import output_fields
from rolecall.scenario import Tool
from rolecall.tokens import count_tokens

# openai's structured-output parser round-trips our reply models through a field typed None and
# pydantic warns about it on every call; the value is right, the warning is noise.
warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)

DEFAULT_ASSISTANT_SYSTEM = "You are a helpful assistant. Use the tools when they help."


def _usage(messages: Sequence[Any]) -> Usage:
    usage = Usage()
    for message in messages:
        reported: RequestUsage | None = getattr(message, "models_usage", None)
        if reported is not None:
            usage.add(Usage(reported.prompt_tokens, reported.completion_tokens, calls=1))
    return usage


def extract_json_object(text: str) -> Any:
    """The first JSON object in ``text`` (models sometimes wrap it in prose or code fences)."""
    text = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    start = text.find("{")
    if start < 0:
        raise ValueError("the reply holds no JSON object")
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    return value


def _short(error: Exception | str, limit: int = 1000) -> str:
    text = str(error).replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "")


class _Attempts:
    """The retry bookkeeping of one model request: what failed last, and whether to go on."""

    def __init__(self, role: str, policy: RetryPolicy, scrub: Callable[[str], str]):
        self.role, self.policy, self.scrub = role, policy, scrub
        self.last = "no attempt made"
        self.cause = ""
        self.refused = 0  # attempts the server refused to connect

    def __iter__(self) -> Any:
        return iter(range(self.policy.retries + 1))

    def malformed(self, error: Exception) -> str:
        """A reply that does not parse: retried at once, with the problem told to the model."""
        self.last, self.cause = f"malformed reply: {_short(error, 300)}", "MalformedReply"
        return f"\n\nYour previous reply was not valid ({_short(error, 300)}). Reply again with valid JSON only."

    async def failed(self, attempt: int, error: Exception) -> None:
        """A failed call: raise if no retry can heal it, else wait before the next attempt."""
        failure: Failure = classify(error)
        message = self.scrub(_short(failure.message))
        self.last, self.cause = f"{failure.cause}: {message}", failure.cause
        if failure.healing == "abort":
            raise RunAborted(self.role, message, failure.cause)
        if failure.healing == "never":
            raise RoleError(self.role, self.last, failure.cause)
        self.refused += failure.refused
        if attempt < self.policy.retries:
            await asyncio.sleep(self.policy.wait(attempt, failure))

    def exhausted(self, what: str) -> Exception:
        """The error once every retry failed; a server that refused every attempt stops the run."""
        if self.refused == self.policy.retries + 1:
            return RunAborted(self.role, f"the server refused every connection ({self.refused} attempts)", self.cause)
        return RoleError(self.role, f"{what} after {self.policy.retries} retries; last: {self.last}", self.cause)


class AutogenStructuredRole:
    """A structured role: each ``ask`` is one request to the AutoGen model client (bounded retries).

    The request goes to the client's ``create`` directly, not through an ``AssistantAgent`` run:
    a stateless one-shot request gains nothing from an agent, and building one per request cost
    about a millisecond of CPU per model call. The messages are what the agent would send.
    """

    def __init__(
        self,
        role: str,
        client: ChatCompletionClient,
        scrub: Callable[[str], str],
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ):
        self.role = role
        self.client = client
        self.usage = Usage()
        self._scrub = scrub
        self._retry = retry or RetryPolicy()
        self._limiter = limiter or RateLimiter()
        # Servers that support JSON-Schema-constrained output get the schema as response_format;
        # others get it in the prompt and we parse the text.
        self._native = bool(client.model_info.get("structured_output", False))

    async def ask(self, system: str, prompt: str, reply_type: type[ReplyT], history: History = ()) -> ReplyT:
        if not self._native:
            schema = json.dumps(reply_type.model_json_schema(), separators=(",", ":"))
            system = f"{system}\n\nThe JSON object must match this JSON Schema:\n{schema}"
        earlier: list[LLMMessage] = [
            UserMessage(content=text, source="other")
            if speaker == "user"
            else AssistantMessage(content=text, source=self.role)
            for speaker, text in history
        ]
        feedback = ""
        attempts = _Attempts(self.role, self._retry, self._scrub)
        for attempt in attempts:
            task = prompt + feedback
            messages = [SystemMessage(content=system), *earlier, UserMessage(content=task, source="user")]
            await self._limiter.acquire((len(system) + len(task) + sum(len(t) for _, t in history)) / 4)
            try:
                result = await self.client.create(messages, json_output=reply_type if self._native else None)
            except (ValidationError, json.JSONDecodeError) as error:
                feedback = attempts.malformed(error)
                continue
            except Exception as error:  # transport or server errors: retried, or the end
                await attempts.failed(attempt, error)
                continue
            reply_text = result.content if isinstance(result.content, str) else json.dumps(result.content, default=str)
            self.usage.add(self._measured(result.usage, system + task, reply_text))
            try:
                return reply_type.model_validate(extract_json_object(reply_text))
            except (ValidationError, ValueError) as error:
                feedback = attempts.malformed(error)
        raise attempts.exhausted("no usable reply")

    @staticmethod
    def _measured(reported: RequestUsage | None, prompt: str, reply: str) -> Usage:
        usage = Usage(reported.prompt_tokens, reported.completion_tokens, calls=1) if reported else Usage()
        if usage.prompt_tokens == 0 and usage.completion_tokens == 0:
            # The server reported nothing: count with tiktoken so budgets stay meaningful.
            return Usage(count_tokens(prompt), count_tokens(reply), calls=1, estimated=True)
        return usage


class _SimulatedTool(BaseTool[BaseModel, BaseModel]):
    """A tool whose schema comes from the scenario and whose calls go to the tool simulator."""

    def __init__(self, tool: Tool, execute: ToolExecutor):
        super().__init__(args_type=BaseModel, return_type=BaseModel, name=tool.name, description=tool.description)
        self._schema: ToolSchema = {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,  # type: ignore[typeddict-item]
        }
        # Not sent to any model: the embedded client routes a missing id to the tool that returns
        # it. The output fields as the planner's dataflow graph reads them, computed once.
        self.produces = frozenset(field.name for field in output_fields(tool.returns))
        # Likewise: the embedded assistant is not offered a change the customer did not ask for.
        self.changes_state = tool.effect[0] == "write"
        self._execute = execute

    @property
    def schema(self) -> ToolSchema:
        return self._schema

    async def run(self, args: BaseModel, cancellation_token: CancellationToken) -> BaseModel:
        raise NotImplementedError("simulated tools run through run_json")

    async def run_json(
        self, args: Mapping[str, Any], cancellation_token: CancellationToken, call_id: str | None = None
    ) -> Any:
        return await self._execute(self.name, dict(args), call_id or "")


class AutogenAssistant:
    """The assistant under simulation: an ``AssistantAgent`` run one inference per step."""

    def __init__(
        self,
        client: ChatCompletionClient,
        system_message: str | None,
        tools: Sequence[Tool],
        execute: ToolExecutor,
        scrub: Callable[[str], str],
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ):
        self.usage = Usage()
        self._scrub = scrub
        self._retry = retry or RetryPolicy()
        self._limiter = limiter or RateLimiter()
        self._last_prompt_tokens = 0.0  # what the next call is charged against a token quota
        self._system_message = system_message or DEFAULT_ASSISTANT_SYSTEM
        self._tools = [_SimulatedTool(tool, execute) for tool in tools]
        # So that what a simulated tool declares beside its schema reaches the model client.
        self._client = ToolObjectsClient(client, self._tools)
        self._context = UnboundedChatCompletionContext()
        # One agent per set of offered tools, all on one memory: a turn that withholds a tool
        # (missing_function) gets an agent without it, and the next turn has it back.
        self._agents: dict[frozenset[str], AssistantAgent] = {}
        self.agent = self._agent_without(frozenset())

    def _agent_without(self, withheld: frozenset[str]) -> AssistantAgent:
        if withheld not in self._agents:
            # One tool iteration per step: the session decides whether to continue, so it can
            # bound tool calls and spot stalls between inferences.
            self._agents[withheld] = AssistantAgent(
                name="assistant",
                model_client=self._client,
                tools=[tool for tool in self._tools if tool.name not in withheld],
                model_context=self._context,
                system_message=self._system_message,
                max_tool_iterations=1,
                reflect_on_tool_use=False,
            )
        return self._agents[withheld]

    def withhold(self, names: frozenset[str]) -> None:
        self.agent = self._agent_without(frozenset(names))

    async def step(self, user_message: str | None) -> AssistantStep:
        messages = [TextMessage(content=user_message, source="user")] if user_message is not None else []
        attempts = _Attempts("assistant", self._retry, self._scrub)
        for attempt in attempts:
            await self._limiter.acquire(self._last_prompt_tokens + sum(len(m.content) for m in messages) / 4)
            try:
                response = await self.agent.on_messages(messages, CancellationToken())
                return self._read(response)
            except RunAborted:  # the tool simulator's model stopped the run
                raise
            except Exception as error:
                # The agent stored the user message before the failing model call.
                messages = []
                await attempts.failed(attempt, error)
        raise attempts.exhausted("the model call failed")

    async def insert_failed_call(self, name: str, arguments: str, result: str) -> None:
        # The agent's memory ends with its latest step: the call message and its results.
        context = self._context
        messages = await context.get_messages()
        call_id = f"{INJECTED_CALL_PREFIX}{len(messages)}"
        injected: list[LLMMessage] = [
            AssistantMessage(content=[FunctionCall(id=call_id, arguments=arguments, name=name)], source="assistant"),
            FunctionExecutionResultMessage(
                content=[FunctionExecutionResult(call_id=call_id, content=result, is_error=True, name=name)]
            ),
        ]
        await context.clear()
        for message in [*messages[:-2], *injected, *messages[-2:]]:
            await context.add_message(message)

    def _read(self, response: Response) -> AssistantStep:
        inner = list(response.inner_messages or [])
        used = _usage([*inner, response.chat_message])
        self.usage.add(used)
        self._last_prompt_tokens = float(used.prompt_tokens)
        results = {
            result.call_id: result.content
            for event in inner
            if isinstance(event, ToolCallExecutionEvent)
            for result in event.content
        }
        step = AssistantStep()
        for event in inner:
            if isinstance(event, ToolCallRequestEvent):
                for call in event.content:
                    step.calls.append(ExecutedCall(call.id, call.name, call.arguments, results.get(call.id, "")))
        if not step.calls:
            final = response.chat_message
            step.text = final.content if isinstance(final, TextMessage) else final.to_model_text()
        return step


@dataclass(frozen=True)
class AutogenRecipe:
    """An :class:`AutogenBackend` as picklable data (the model configs as written, ``${NAME}``
    references unexpanded), from which another process builds its own clients."""

    configs: dict[str, dict[str, Any]]
    steer_assistant: bool = True
    connections: int | None = None
    cache_dir: Path | None = None

    def build(self, quota_share: float = 1.0) -> AutogenBackend:
        factory = ModelFactory(self.configs, self.connections, self.cache_dir)
        factory.steer_assistant = self.steer_assistant
        return AutogenBackend(factory, quota_share)


class AutogenBackend:
    """Builds the roles of a dialogue from a :class:`ModelFactory`.

    ``quota_share``: the share of each model's rate limits this backend may use (one of K
    worker processes gets 1/K)."""

    def __init__(self, factory: ModelFactory, quota_share: float = 1.0):
        self.factory = factory
        self.quota_share = quota_share
        self._limiters: dict[str, RateLimiter] = {}  # model key -> the quota its roles share
        self.time = ModelTime()

    def recipe(self) -> AutogenRecipe:
        """How to build this backend again elsewhere (a worker process)."""
        factory = self.factory
        return AutogenRecipe(factory.configs, factory.steer_assistant, factory.connections, factory.cache_dir)

    def limiter_for(self, role: str) -> RateLimiter:
        """The rate limiter of ``role``'s model, shared by every role on that model."""
        key = self.factory.model_key(role)
        if key not in self._limiters:
            limits, share = self.factory.limits_for(role), self.quota_share
            self._limiters[key] = RateLimiter(
                limits.requests_per_minute and limits.requests_per_minute * share,
                limits.tokens_per_minute and limits.tokens_per_minute * share,
            )
        return self._limiters[key]

    def _retry(self, role: str) -> RetryPolicy:
        settings = self.factory.retry_for(role)
        return RetryPolicy(settings.retries, settings.backoff_s, settings.max_backoff_s)

    def _client(self, role: str) -> ChatCompletionClient:
        """``role``'s model client, timed into this backend's :class:`ModelTime`."""
        return TimedClient(self.factory.client_for(role), self.time.of(role))

    def structured(self, role: str) -> AutogenStructuredRole:
        client = self._client(role)
        return AutogenStructuredRole(role, client, self.factory.scrub, self._retry(role), self.limiter_for(role))

    def assistant(self, system_message: str | None, tools: Sequence[Tool], execute: ToolExecutor) -> AutogenAssistant:
        client = self._client("assistant")
        retry = self._retry("assistant")
        limiter = self.limiter_for("assistant")
        return AutogenAssistant(client, system_message, tools, execute, self.factory.scrub, retry, limiter)

    def describe(self) -> dict[str, object]:
        return self.factory.describe()

    def model_time(self) -> dict[str, dict[str, Any]]:
        return self.time.summary()

    async def close(self) -> None:
        await self.factory.close()
