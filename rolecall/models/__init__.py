"""Model factory: AutoGen chat clients per role, from component configs, with secrets kept out of output.

``LlamaCppChatCompletionClient`` (the embedded local model) is loaded on first use, so
importing this package does not import AutoGen or llama-cpp-python.
"""

from typing import TYPE_CHECKING, Any

from rolecall.models._errors import NotAChatCompletion
from rolecall.models._factory import (
    REDACTED,
    ROLES,
    ModelConfigError,
    ModelFactory,
    embedded_default,
    expand_environment,
    is_embedded,
    is_secret_key,
    redact,
    redact_text,
)
from rolecall.models._weights import DEFAULT_MODEL, PACKAGED_MODELS, ModelUnavailable, ensure_model

if TYPE_CHECKING:
    from rolecall.models._direct import DirectOpenAIChatCompletionClient
    from rolecall.models._lenient import LenientOpenAIChatCompletionClient
    from rolecall.models._llama import LlamaCppChatCompletionClient


def __getattr__(name: str) -> Any:
    if name == "LlamaCppChatCompletionClient":
        from rolecall.models._llama import LlamaCppChatCompletionClient

        return LlamaCppChatCompletionClient
    if name == "DirectOpenAIChatCompletionClient":
        from rolecall.models._direct import DirectOpenAIChatCompletionClient

        return DirectOpenAIChatCompletionClient
    if name == "LenientOpenAIChatCompletionClient":
        from rolecall.models._lenient import LenientOpenAIChatCompletionClient

        return LenientOpenAIChatCompletionClient
    raise AttributeError(name)


__all__ = [
    "DEFAULT_MODEL",
    "PACKAGED_MODELS",
    "REDACTED",
    "ROLES",
    "DirectOpenAIChatCompletionClient",
    "LenientOpenAIChatCompletionClient",
    "LlamaCppChatCompletionClient",
    "ModelConfigError",
    "ModelFactory",
    "ModelUnavailable",
    "NotAChatCompletion",
    "embedded_default",
    "ensure_model",
    "expand_environment",
    "is_embedded",
    "is_secret_key",
    "redact",
    "redact_text",
]
