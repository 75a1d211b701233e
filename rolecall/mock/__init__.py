"""A deterministic mock model that plays every role, served as an OpenAI-compatible HTTP server.

Like inspect_ai's ``mockllm``: runs, tests and benchmarks of the engine need no model and no
network, and every answer follows from the request alone, so runs are reproducible at any
concurrency. It stands behind the engine's real client (over HTTP on a loopback address)::

    with MockServer(confirm=True) as server:
        config = model_config(server.base_url)  # an AutoGen component config

or standalone: ``python -m rolecall.mock --port 8000``. Roles are recognised by the structure of
each request (its response-format name, or its tools), not by prompt wording; see ``_roles``.
A command line can name it with a spec, ``mock`` or ``mock:confirm,latency=0.5``
(:func:`parse_mock_spec`).
"""

from __future__ import annotations

from typing import Any

from rolecall.mock._server import MockServer
from rolecall.mock._settings import MODEL, MockSettings, parse_mock_spec

__all__ = ["MODEL", "MockServer", "MockSettings", "model_config", "parse_mock_spec"]


def model_config(base_url: str, structured_output: bool = True, api_key: str = "mock") -> dict[str, Any]:
    """An AutoGen component config for the mock at ``base_url``.

    ``structured_output=False`` makes the engine put reply schemas in the prompt instead of a
    response format, the path of servers without JSON-Schema support (the mock then falls back
    to reading roles from system prompts). The mock ignores the key; clients insist on one.
    """
    return {
        "provider": "autogen_ext.models.openai.OpenAIChatCompletionClient",
        "config": {
            "model": MODEL,
            "base_url": base_url,
            "api_key": api_key,
            "max_retries": 0,
            "model_info": {
                "vision": False,
                "function_calling": True,
                "json_output": True,
                "structured_output": structured_output,
                "family": "unknown",
            },
        },
    }
