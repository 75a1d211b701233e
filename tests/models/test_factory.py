"""Model configs: environment expansion, redaction, per-role resolution, real AutoGen clients."""

from __future__ import annotations

import pytest

from rolecall.models import REDACTED, ModelConfigError, ModelFactory, embedded_default, expand_environment, redact

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
    assert type(factory.client_for("assistant")).__name__ == "OpenAIChatCompletionClient"
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
    with pytest.raises(ModelConfigError, match=r"cannot build 'no\.such\.module\.Client'"):
        broken.client_for("user")
