"""Model configs: environment expansion, redaction, per-role resolution, real AutoGen clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rolecall.models import (
    REDACTED,
    ModelConfigError,
    ModelFactory,
    embedded_default,
    expand_environment,
    is_secret_key,
    redact,
)

CONFIG = {
    "provider": "autogen_ext.models.openai.OpenAIChatCompletionClient",
    "config": {
        "model": "m",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": "${ROLECALL_FACTORY_KEY}",
        "model_info": {
            "vision": False,
            "function_calling": True,
            "json_output": True,
            "structured_output": True,
            "family": "unknown",
        },
    },
}


def test_environment_references_expand_and_missing_ones_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLECALL_FACTORY_KEY", "sk-live-123456")
    assert expand_environment(CONFIG)["config"]["api_key"] == "sk-live-123456"
    monkeypatch.delenv("ROLECALL_FACTORY_KEY")
    with pytest.raises(ModelConfigError, match="ROLECALL_FACTORY_KEY is not set"):
        expand_environment(CONFIG)


def test_redact_masks_literal_secrets_but_keeps_variable_names() -> None:
    literal = {"config": {"api_key": "sk-abc", "headers": {"Authorization": "Bearer x"}, "model": "m"}}
    cleaned = redact(literal)
    assert cleaned["config"]["api_key"] == REDACTED and cleaned["config"]["headers"]["Authorization"] == REDACTED
    assert cleaned["config"]["model"] == "m"
    assert redact(CONFIG)["config"]["api_key"] == "${ROLECALL_FACTORY_KEY}"


def test_roles_fall_back_to_default_and_share_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLECALL_FACTORY_KEY", "sk-live-123456")
    judge = {**CONFIG, "config": {**CONFIG["config"], "model": "judge-model"}}
    factory = ModelFactory({"default": CONFIG, "judge": judge})
    assert factory.client_for("planner") is factory.client_for("user")
    assert factory.client_for("judge") is not factory.client_for("user")
    # AutoGen's OpenAI client, on rolecall's lean request path (tests/models/test_direct_client.py)
    assert type(factory.client_for("assistant")).__mro__[1].__name__ == "OpenAIChatCompletionClient"
    assert factory.scrub("failed with key sk-live-123456") == f"failed with key {REDACTED}"
    assert factory.describe()["judge"]["config"]["model"] == "judge-model"


def test_without_configs_every_role_uses_the_embedded_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLECALL_LOCAL_MODEL", raising=False)
    factory = ModelFactory({})
    assert factory.config_for("judge") == embedded_default()
    assert embedded_default()["config"] == {"model": "qwen2.5-coder-1.5b"}
    monkeypatch.setenv("ROLECALL_LOCAL_MODEL", "/models/mine.gguf")
    assert embedded_default()["config"] == {"model_path": "/models/mine.gguf"}
    client = ModelFactory({}).client_for("user")
    assert type(client).__name__ == "LlamaCppChatCompletionClient"  # built without loading any weights


def test_missing_and_broken_configs_are_clear_errors() -> None:
    with pytest.raises(ModelConfigError, match="unknown roles"):
        ModelFactory({"narrator": CONFIG})
    broken = ModelFactory({"default": {"provider": "no.such.module.Client", "config": {}}})
    with pytest.raises(ModelConfigError, match=r"cannot import provider 'no\.such\.module\.Client'"):
        broken.client_for("user")


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "api-key",
        "apiKey",
        "X-API-Key",
        "APIKEY",
        "client_secret",
        "Authorization",
        "access_token",
        "token",
        "password",
        "subscription-key",
        "Ocp-Apim-Subscription-Key",
    ],
)
def test_secret_keys_are_recognised_in_any_spelling(key: str) -> None:
    assert is_secret_key(key)
    assert redact({"config": {key: "s3cr3t-value"}})["config"][key] == REDACTED


@pytest.mark.parametrize("key", ["max_tokens", "prompt_tokens", "tokens", "token_limit", "model", "keywords", "monkey"])
def test_counters_and_ordinary_keys_are_not_secrets(key: str) -> None:
    assert not is_secret_key(key)
    assert redact({key: "kept"}) == {key: "kept"}


def test_every_header_value_is_masked_and_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    azure = {
        "provider": "autogen_ext.models.openai.OpenAIChatCompletionClient",
        "config": {
            "model": "gpt-4o",
            "api_key": "${ROLECALL_FACTORY_KEY}",
            "default_headers": {"api-key": "azure-literal-key-123", "X-Tenant": "tenant-secret-789"},
            "max_tokens": 300,
        },
    }
    cleaned = redact(azure)["config"]
    assert cleaned["default_headers"] == {"api-key": REDACTED, "X-Tenant": REDACTED}
    assert cleaned["max_tokens"] == 300 and cleaned["api_key"] == "${ROLECALL_FACTORY_KEY}"
    monkeypatch.setenv("ROLECALL_FACTORY_KEY", "sk-live-123456")
    factory = ModelFactory({"default": azure})
    factory.client_for("user")
    text = factory.scrub("401 for azure-literal-key-123 / tenant-secret-789 / sk-live-123456")
    assert "azure-literal" not in text and "tenant-secret" not in text and "sk-live" not in text
    assert "azure-literal" not in json.dumps(factory.describe())


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_the_embedded_model_uses_the_cores_the_process_may_run_on() -> None:
    """A process pinned to one core (``taskset -c 0``) gets one llama.cpp thread, not one per core
    of the machine: extra threads on a shared core only wait for each other."""

    def printed(code: str) -> list[str]:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return result.stdout.split()

    report = "from rolecall.models._llama import usable_cores; print(usable_cores(), len(os.sched_getaffinity(0)))"
    assert printed(f"import os; os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}}); {report}") == ["1", "1"]
    threads, allowed = printed(f"import os; {report}")
    assert threads == allowed
