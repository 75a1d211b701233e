"""The lean OpenAI request path sends what AutoGen's client sends and reads replies as it does.

Both clients talk to one recording server on 127.0.0.1 that answers with canned replies; the
request bodies and the ``CreateResult`` of each must be equal.
"""

from __future__ import annotations

import asyncio
import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from autogen_core import FunctionCall, Image
from autogen_core.models import (
    AssistantMessage,
    CreateResult,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import FunctionTool
from autogen_ext.models.openai import OpenAIChatCompletionClient
from pydantic import BaseModel

from rolecall.models import ModelFactory
from rolecall.models._direct import DirectOpenAIChatCompletionClient


class _Recorder(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.reply: dict[str, Any] = {}
        self.status = 200


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.bodies.append(body)
        self.server.headers.append({name.lower(): value for name, value in self.headers.items()})
        if self.server.status != 200:
            payload = {"error": {"message": "slow down", "type": "rate_limit_error"}}
        else:
            payload = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                **self.server.reply,
            }
        data = json.dumps(payload).encode()
        self.send_response(self.server.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[_Recorder]:
    recorder = _Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.shutdown()
    recorder.server_close()


def _config(server: _Recorder, **extra: Any) -> dict[str, Any]:
    host, port = server.server_address[:2]
    return {
        "model": "test-model",
        "base_url": f"http://{host}:{port}/v1",
        "api_key": "test-key",
        "max_retries": 0,
        "model_info": {
            "vision": False,
            "function_calling": True,
            "json_output": True,
            "structured_output": True,
            "family": "unknown",
        },
        **extra,
    }


class Verdict(BaseModel):
    consistent: bool
    reason: str


def look_up_order(number: str) -> str:
    """Find an order by its number."""
    return number


LOOKUP = FunctionTool(look_up_order, description="Find an order by its number.")
HISTORY: list[LLMMessage] = [
    SystemMessage(content="You are a support agent."),
    SystemMessage(content="Be brief."),
    UserMessage(content="Where is order W-1?", source="user"),
    AssistantMessage(content=[FunctionCall(id="c1", name="look_up_order", arguments='{"number": "W-1"}')], source="a"),
    FunctionExecutionResultMessage(
        content=[FunctionExecutionResult(call_id="c1", name="look_up_order", content='{"status": "sent"}')]
    ),
    UserMessage(content="Thanks, and the refund?", source="user"),
]

REQUESTS: dict[str, dict[str, Any]] = {
    "text": {},
    "tools": {"tools": [LOOKUP]},
    "named tool": {"tools": [LOOKUP], "tool_choice": LOOKUP},
    "no tool": {"tools": [LOOKUP], "tool_choice": "none"},
    "a tool required": {"tools": [LOOKUP], "tool_choice": "required"},
    "tools as schemas": {"tools": [LOOKUP.schema, {"name": "close_ticket"}]},
    "json": {"json_output": True},
    "reply type": {"json_output": Verdict},
    "sampling": {"extra_create_args": {"temperature": 0.2, "seed": 7, "max_tokens": 50}},
}

REPLIES: dict[str, dict[str, Any]] = {
    "text": {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Sent."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14},
    },
    "calls with a thought": {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Let me look.",
                    "tool_calls": [
                        {"id": "c9", "type": "function", "function": {"name": "look_up_order", "arguments": "{}"}},
                        {
                            "id": "c10",
                            "type": "function",
                            "function": {"name": "look_up_order", "arguments": '{"number": "W-2"}'},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    },
    "reasoning, cut short, no usage": {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Sen", "reasoning_content": "The order shipped."},
                "finish_reason": "length",
            }
        ],
    },
    "log-probabilities": {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi"},
                "logprobs": {
                    "content": [
                        {
                            "token": "Hi",
                            "logprob": -0.1,
                            "bytes": [72, 105],
                            "top_logprobs": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105]}],
                        }
                    ]
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    },
}


def _both(server: _Recorder, call: dict[str, Any], reply: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    """Each client's request body and result (or error type) for one call."""
    server.reply = reply
    outcomes = []
    for client_class in (OpenAIChatCompletionClient, DirectOpenAIChatCompletionClient):
        client = client_class(**_config(server))
        try:
            result: Any = asyncio.run(client.create(list(HISTORY), **call))
        except Exception as error:
            result = type(error)
        if isinstance(result, CreateResult):
            assert (client.total_usage().prompt_tokens, client.total_usage().completion_tokens) == (
                result.usage.prompt_tokens,
                result.usage.completion_tokens,
            )
            # rolecall's usage also carries the cached prompt tokens; compare what AutoGen knows.
            result = result.model_copy(
                update={"usage": RequestUsage(result.usage.prompt_tokens, result.usage.completion_tokens)}
            )
        outcomes.append((server.bodies.pop(), result))
    return outcomes


@pytest.mark.parametrize("name", REQUESTS)
def test_the_request_body_is_the_one_autogen_sends(server: _Recorder, name: str) -> None:
    reply = dict(REPLIES["text"])
    if name in ("json", "reply type"):
        text = json.dumps({"consistent": True, "reason": "ok"})
        reply = {**reply, "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    (autogen_body, autogen_result), (direct_body, direct_result) = _both(server, REQUESTS[name], reply)
    assert direct_body == autogen_body
    assert direct_result == autogen_result


@pytest.mark.parametrize("name", REPLIES)
def test_replies_are_read_as_autogen_reads_them(server: _Recorder, name: str) -> None:
    (_, autogen_result), (_, direct_result) = _both(server, {"tools": [LOOKUP]}, REPLIES[name])
    assert isinstance(direct_result, CreateResult)
    assert direct_result == autogen_result


def test_prompt_tokens_the_server_reused_are_counted(server: _Recorder) -> None:
    reply = dict(REPLIES["text"])
    reply["usage"] = {**reply["usage"], "prompt_tokens_details": {"cached_tokens": 8}}
    server.reply = reply
    result = asyncio.run(DirectOpenAIChatCompletionClient(**_config(server)).create(list(HISTORY)))
    assert (result.usage.prompt_tokens, result.usage.cached_prompt_tokens) == (12, 8)


def test_server_errors_raise_the_sdk_errors_the_retries_classify(server: _Recorder) -> None:
    server.status = 429
    outcomes = _both(server, {}, REPLIES["text"])
    assert [result for _, result in outcomes] == [openai.RateLimitError, openai.RateLimitError]


@pytest.mark.parametrize(
    "call",
    [
        {"tools": [LOOKUP.schema], "tool_choice": FunctionTool(lambda: None, "x", name="other_tool")},
        {"tool_choice": LOOKUP},
        {"tools": [{"name": "not a valid name"}]},
    ],
)
def test_a_tool_choice_or_tool_autogen_refuses_is_refused_before_sending(server: _Recorder, call: dict) -> None:
    for client_class in (OpenAIChatCompletionClient, DirectOpenAIChatCompletionClient):
        with pytest.raises(ValueError):
            asyncio.run(client_class(**_config(server)).create(list(HISTORY), **call))
    assert server.bodies == []


# Set per request by the SDK (its retry count and timeout) or by each HTTP library.
_PER_LIBRARY = {"host", "content-length", "accept-encoding", "connection", "x-stainless-retry-count"}


def test_the_headers_are_the_ones_the_sdk_sends(server: _Recorder) -> None:
    """API key, organisation, the config's default_headers, user agent: read once from the SDK client."""
    config = _config(server, organization="org-7", default_headers={"X-Team": "red", "Authorization": "Bearer own"})
    server.reply = REPLIES["text"]
    for client_class in (OpenAIChatCompletionClient, DirectOpenAIChatCompletionClient):
        client = client_class(**config)

        async def ask(client: OpenAIChatCompletionClient = client) -> None:
            await client.create(list(HISTORY))
            await client.close()

        asyncio.run(ask())
    sdk, direct = ({k: v for k, v in sent.items() if k not in _PER_LIBRARY} for sent in server.headers)
    sdk.pop("x-stainless-read-timeout", None)  # the SDK's note of its timeout, per request
    assert direct == sdk
    assert direct["openai-organization"] == "org-7" and direct["x-team"] == "red"
    assert direct["authorization"] == sdk["authorization"]


def test_the_factory_puts_openai_configs_on_the_lean_path(server: _Recorder) -> None:
    config = {"provider": "OpenAIChatCompletionClient", "config": _config(server)}
    for connections in (None, 8):
        factory = ModelFactory({"default": config}, connections=connections)
        assert type(factory.client_for("user")) is DirectOpenAIChatCompletionClient


def test_a_response_format_is_kept_only_while_its_reply_type_lives() -> None:
    """Reply types are bounded by their own cache; this one must not keep evicted ones alive."""
    import gc
    import weakref

    from rolecall.models._direct import _response_format

    class Passing(BaseModel):
        text: str

    first = _response_format(Passing)
    assert first["json_schema"]["name"] == "Passing" and _response_format(Passing) is first  # built once
    alive = weakref.ref(Passing)
    del Passing
    gc.collect()
    assert alive() is None


# A 1x1 PNG: an image in a user message, which a model without vision must refuse.
_PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

_INFO = {"vision": False, "function_calling": True, "json_output": True, "structured_output": True, "family": "unknown"}

# Cases of AutoGen's request preparation beyond the common one: (config changes, history, call).
SETUPS: dict[str, tuple[dict[str, Any], list[LLMMessage], dict[str, Any]]] = {
    "several system messages allowed": ({"model_info": {**_INFO, "multiple_system_messages": True}}, HISTORY, {}),
    "system messages apart": (
        {},
        [*HISTORY, SystemMessage(content="Answer in French.")],
        {},
    ),
    "only empty system messages": ({}, [SystemMessage(content=" "), *HISTORY[2:]], {}),
    "a claude model's last assistant text": (
        {"model": "claude-3-haiku-20240307"},
        [*HISTORY[:3], AssistantMessage(content="Let me check.  \n", source="a")],
        {},
    ),
    "a known model family": ({"model": "gpt-4o", "model_info": {**_INFO, "family": "gpt-4o"}}, HISTORY, {}),
    "names in messages": ({"add_name_prefixes": True, "include_name_in_message": False}, HISTORY, {}),
    "a reply type the older way": ({}, HISTORY, {"extra_create_args": {"response_format": Verdict}}),
    "a reply type and a response format": (
        {},
        HISTORY,
        {"json_output": Verdict, "extra_create_args": {"response_format": {"type": "json_object"}}},
    ),
    "two reply types": ({}, HISTORY, {"json_output": Verdict, "extra_create_args": {"response_format": Verdict}}),
    "text mode": ({}, HISTORY, {"json_output": False}),
    "json_output of another kind": ({}, HISTORY, {"json_output": dict}),
    "JSON from a model without it": ({"model_info": {**_INFO, "json_output": False}}, HISTORY, {"json_output": True}),
    "a reply type from a model without structured output": (
        {"model_info": {**_INFO, "structured_output": False}},
        HISTORY,
        {"json_output": Verdict},
    ),
    "an unknown create argument": ({}, HISTORY, {"extra_create_args": {"temperatur": 0.2}}),
    "an image for a model without vision": (
        {},
        [*HISTORY, UserMessage(content=["Is this it?", Image.from_base64(_PIXEL)], source="user")],
        {},
    ),
}


@pytest.mark.parametrize("name", SETUPS)
def test_the_request_is_prepared_as_autogen_prepares_it(server: _Recorder, name: str) -> None:
    """Same body, or the same error before sending, and the same warnings."""
    changes, history, call = SETUPS[name]
    text = json.dumps({"consistent": True, "reason": "ok"})
    server.reply = {**REPLIES["text"], "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    outcomes = []
    for client_class in (OpenAIChatCompletionClient, DirectOpenAIChatCompletionClient):
        client = client_class(**{**_config(server), **changes})
        messages = [message.model_copy(deep=True) for message in history]  # AutoGen strips Claude's text in place
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                asyncio.run(client.create(messages, **call))
                outcome: Any = server.bodies.pop()
            except ValueError as error:
                outcome = str(error)
                assert server.bodies == []
        # The preparation's own warnings; AutoGen's reading of the reply warns of other things.
        prepared = [(w.category, str(w.message)) for w in caught if "response_format" in str(w.message)]
        outcomes.append((outcome, prepared))
    (autogen, autogen_warnings), (direct, direct_warnings) = outcomes
    assert direct == autogen
    assert direct_warnings == autogen_warnings
    if "response_format" in call.get("extra_create_args", {}):
        assert autogen_warnings  # what the comparison is for
