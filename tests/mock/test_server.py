"""The server's knobs and the standalone command line."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.error
from http.client import HTTPException
from pathlib import Path

import pytest

from rolecall.mock import MODEL, MockServer, MockSettings, model_config
from tests.mock.bodies import judge_body, post, structured
from tests.support.scripted_server import ScriptedServer
from tests.support.scripted_server import model_config as shim_model_config

REPO = Path(__file__).resolve().parents[2]


def test_latency_delays_every_reply() -> None:
    with MockServer(latency_s=0.3) as server:
        started = time.monotonic()
        assert structured(server.base_url, judge_body())["consistent"] == "yes"
        assert time.monotonic() - started >= 0.3


def test_fail_roles_fails_that_many_requests_of_the_role() -> None:
    with MockServer(fail_roles={"judge": 1}) as server:
        status, reply = post(server.base_url, judge_body())
        assert status == 500 and reply["error"]["type"] == "server_error"
        assert post(server.base_url, judge_body())[0] == 200
        assert server.role_counts == {"judge": 2}


def test_keywords_override_settings() -> None:
    with MockServer(MockSettings(confirm=True, latency_s=0.1), sloppy_every=3) as server:
        assert server.settings == MockSettings(confirm=True, latency_s=0.1, sloppy_every=3)
    assert MockServer.from_settings(MockSettings(confirm=True)).settings.confirm


def test_reply_shape_and_usage() -> None:
    with MockServer() as server:
        status, reply = post(server.base_url, judge_body())
        assert status == 200 and reply["object"] == "chat.completion"
        assert reply["choices"][0]["finish_reason"] == "stop"
        assert reply["usage"]["total_tokens"] == reply["usage"]["prompt_tokens"] + reply["usage"]["completion_tokens"]
        assert len(server.requests) == 1


def test_standalone_servers_keep_no_request_bodies() -> None:
    """A benchmark sends the standalone mock millions of tokens: it must not keep them (it grew
    to 1.3 GB in a 5,000-dialogue run), yet each completion still gets its own id."""
    with MockServer.from_settings(MockSettings()).start() as server:
        ids = [post(server.base_url, judge_body())[1]["id"] for _ in range(3)]
        assert server.requests == [] and server.role_counts == {"judge": 3}
    assert ids == ["chatcmpl-1", "chatcmpl-2", "chatcmpl-3"]


def test_only_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        MockServer(host="0.0.0.0")


def test_model_configs() -> None:
    config = model_config("http://127.0.0.1:9/v1")
    assert config["config"]["api_key"] == "mock" and config["config"]["model"] == MODEL
    assert config["config"]["model_info"]["structured_output"] is True
    assert model_config("u", structured_output=False)["config"]["model_info"]["structured_output"] is False
    assert shim_model_config("u")["config"]["api_key"] == "${ROLECALL_TEST_KEY}"
    assert ScriptedServer is MockServer


def _read_line(process: subprocess.Popen[str], timeout: float = 20) -> str:
    """The first stdout line of ``process``, failing rather than hanging."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline() if process.stdout else ""))
    reader.start()
    reader.join(timeout)
    assert lines, "the mock printed no URL"
    return lines[0].strip()


def test_command_line_serves_until_terminated() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "rolecall.mock", "--port", "0", "--confirm", "--latency", "0.01"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _read_line(process)
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert structured(url, judge_body())["consistent"] == "yes"
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


@pytest.mark.parametrize(
    "arguments",
    [
        ["--host", "0.0.0.0"],
        ["--host", "example.com"],
        ["--fail-role", "nobody=1"],
        ["--sloppy-every", "-1"],
        ["--faults", "1.5"],
    ],
)
def test_command_line_refuses_bad_options(arguments: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rolecall.mock", "--port", "0", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""


def test_command_line_faults_answer_some_requests_with_transport_faults() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "rolecall.mock", "--port", "0", "--faults", "1.0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _read_line(process)
        # Every request fails in transport: an HTTP error, a page that is not JSON, no choices,
        # truncated JSON, or a connection closed with no answer.
        failures = (
            AssertionError,
            urllib.error.URLError,
            ValueError,
            KeyError,
            IndexError,
            ConnectionError,
            HTTPException,
        )
        with pytest.raises(failures):
            structured(url, judge_body())
    finally:
        process.terminate()
        process.wait(timeout=10)
