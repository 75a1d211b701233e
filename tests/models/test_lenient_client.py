"""The OpenAI path against servers that bend the protocol (llama_cpp.server's quirks)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from rolecall.models._lenient import fix_request, fix_response

TOOLS = {"find_order"}


def test_null_content_and_json_schema_formats_are_rewritten() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "schema": {"type": "object", "properties": {"id": {"type": "string", "pattern": r"^\d+\.x$"}}}
            },
        },
    }
    fixed = fix_request(body)
    assert fixed["messages"][1]["content"] == ""
    assert fixed["response_format"]["type"] == "json_object"
    assert fixed["response_format"]["schema"]["properties"]["id"]["pattern"] == "^[0-9]+[.]x$"


@pytest.mark.parametrize(
    "message",
    [
        {"role": "assistant", "content": '{"name": "find_order", "arguments": {"number": "W-1"}}'},
        {"role": "assistant", "content": '```json\n{"name": "find_order", "arguments": {"number": "W-1"}}\n```'},
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "find_order", "arguments": '{"number": "W-1"}'},
        },
    ],
    ids=["json-text", "fenced-json-text", "legacy-function-call"],
)
def test_tool_calls_written_as_text_or_legacy_field_become_tool_calls(message: dict) -> None:
    data = fix_response({"id": "r1", "choices": [{"message": dict(message), "finish_reason": "stop"}]}, TOOLS)
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]["function"]
    assert call["name"] == "find_order" and json.loads(call["arguments"]) == {"number": "W-1"}
    assert "function_call" not in choice["message"]


def test_plain_text_and_unknown_tools_are_left_alone() -> None:
    for content in ("Hello there.", '{"name": "drop_tables", "arguments": {}}', '{"message": "hi"}'):
        data = fix_response({"choices": [{"message": {"role": "assistant", "content": content}}]}, TOOLS)
        assert data["choices"][0]["message"] == {"role": "assistant", "content": content}
    both = {"choices": [{"message": {"content": None, "tool_calls": [{"id": "a"}], "function_call": {"name": "x"}}}]}
    assert fix_response(both, TOOLS)["choices"][0]["message"] == {"content": None, "tool_calls": [{"id": "a"}]}


def test_json_with_raw_newlines_in_strings_is_re_escaped() -> None:
    content = '{"reasoning": "First.\nSecond.", "consistent": "no"}'
    data = fix_response({"choices": [{"message": {"role": "assistant", "content": content}}]}, TOOLS)
    fixed = data["choices"][0]["message"]["content"]
    assert "\n" not in fixed and json.loads(fixed) == {"reasoning": "First.\nSecond.", "consistent": "no"}


# -- against a real llama_cpp.server ----------------------------------------------------------------

SCENARIO = {
    "name": "orders-mini",
    "description": "Order lookups.",
    "policy": "You help customers find their orders. Use the tools.",
    "personas": [{"name": "Ann", "description": "Short and direct.", "facts": {"order_number": "W-48213"}}],
    "tools": [
        {
            "name": "find_order",
            "description": "Finds an order by its number (like W-48213) and returns its id and status.",
            "parameters": {
                "type": "object",
                "properties": {"order_number": {"type": "string"}},
                "required": ["order_number"],
            },
            "returns": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}, "status": {"type": "string"}},
                "required": ["order_id", "status"],
            },
        }
    ],
    "generation": {
        "turns": {"min": 1, "max": 1},
        "plan_length": {"min": 1, "max": 1},
        "hidden_calls": {"enabled": False, "max": 0},
        "max_messages": 12,
    },
    "validation": {"judge": {"enabled": False}},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.real_model
def test_a_dialogue_through_llama_cpp_server(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp.server.app", reason='needs pip install -e ".[local-small]"')
    from rolecall.models import ensure_model

    try:
        model = ensure_model("qwen2.5-coder-0.5b", Path(os.environ.get("ROLECALL_CACHE_DIR", tmp_path)) / "models")
    except Exception as error:  # parts not installed
        pytest.skip(str(error))
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("llama_cpp.server did not start")
                time.sleep(0.5)
        config = {
            "provider": "rolecall.models.LenientOpenAIChatCompletionClient",
            "config": {
                "model": "local",
                "base_url": f"http://127.0.0.1:{port}/v1",
                "api_key": "none",
                "max_tokens": 300,
                "temperature": 0.2,
                "max_retries": 0,
                "model_info": {
                    "vision": False,
                    "function_calling": True,
                    "json_output": True,
                    "structured_output": True,
                    "family": "unknown",
                },
            },
        }
        (tmp_path / "server.yaml").write_text(yaml.safe_dump(config))
        (tmp_path / "mini.yaml").write_text(yaml.safe_dump(SCENARIO))
        out = tmp_path / "out"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "rolecall",
                "run",
                tmp_path / "mini.yaml",
                "-o",
                out,
                "-n",
                "1",
                "--model",
                tmp_path / "server.yaml",
                # A 0.5B model behind a server: `auto` cannot tell it is weak, so the aids are
                # asked for by name (the 0.5B user otherwise leaves the order number out).
                "--assist",
                "small_model",
                "-q",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "ROLECALL_CACHE_DIR": str(tmp_path)},
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    records = [
        json.loads(line)
        for name in ("dialogues", "rejected", "failed")
        for line in (out / f"{name}.jsonl").read_text().splitlines()
    ]
    assert len(records) == 1
    record = records[0]
    assert "error" not in record["metadata"], record["metadata"].get("error")
    calls = [m for m in record["messages"] if m["role"] == "assistant" and m.get("tool_calls")]
    assert calls, "the server's text tool call reached the transcript as tool_calls"
    assert calls[0]["content"] is None and calls[0]["tool_calls"][0]["function"]["name"] == "find_order"
    answered = {m["tool_call_id"] for m in record["messages"] if m["role"] == "tool"}
    assert {c["id"] for m in calls for c in m["tool_calls"]} <= answered
