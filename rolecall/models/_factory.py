"""Chat model clients per role, built from AutoGen component configs.

A config is the mapping AutoGen's ``ChatCompletionClient.load_component`` takes
(``{provider, config}``). String values may name environment variables as ``${NAME}``, so
keys never need to be written into files; manifests get a redacted copy of the config as
written, never the expanded one.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rolecall.scenario import RateLimits, RetrySettings

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

ROLES = ("planner", "user", "assistant", "tool_simulator", "judge")
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
REDACTED = "<redacted>"
# Keys of a model config that are rolecall's own, not AutoGen's: kept out of the client's config.
ROLECALL_KEYS = ("retry", "limits", "prices")
# Words that make a config key a secret in any spelling (api_key, api-key, apiKey, X-API-Key,
# client_secret, Authorization, access_token), but not a counter (max_tokens, prompt_tokens).
_SECRET_WORDS = frozenset({"secret", "password", "passwd", "authorization", "credential", "credentials", "cookie"})
_KEY_QUALIFIERS = frozenset({"api", "access", "secret", "private", "auth", "subscription", "client"})


def _words(key: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    return [word for word in re.split(r"[^a-z0-9]+", spaced.lower()) if word]


def is_secret_key(key: object) -> bool:
    """Whether a config or header name holds a secret."""
    words = _words(str(key))
    if not words:
        return False
    if _SECRET_WORDS & set(words) or "apikey" in "".join(words):
        return True
    if words[-1] == "token":
        return True
    return words[-1] == "key" and len(words) > 1 and words[-2] in _KEY_QUALIFIERS


def _is_headers(key: object) -> bool:
    """``headers``, ``default_headers``, ``extra_headers``: every value in them may be a credential."""
    return _words(str(key))[-1:] == ["headers"]


def embedded_default() -> dict[str, Any]:
    """The model every role uses when nothing is configured: the in-process local model.

    ``ROLECALL_LOCAL_MODEL`` picks another packaged model (``qwen2.5-coder-0.5b``) or a GGUF path.
    """
    choice = os.environ.get("ROLECALL_LOCAL_MODEL", "qwen2.5-coder-1.5b")
    key = "model_path" if choice.endswith(".gguf") else "model"
    return {"provider": "rolecall.models.LlamaCppChatCompletionClient", "config": {key: choice}}


class ModelConfigError(Exception):
    """A model config cannot be turned into a client (unset variable, unknown provider...)."""


def expand_environment(value: Any, where: str = "config") -> Any:
    """Replace ``${NAME}`` in every string with the environment variable's value."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ModelConfigError(f"{where}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REFERENCE.sub(substitute, value)
    if isinstance(value, Mapping):
        return {key: expand_environment(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [expand_environment(item, f"{where}[{index}]") for index, item in enumerate(value)]
    return value


def redact(value: Any, secret: bool = False) -> Any:
    """A copy safe to write out: literal values under secret-looking keys, and every header
    value, are masked. ``${NAME}`` references are kept: they name a variable, not the secret."""
    if isinstance(value, Mapping):
        return {key: redact(item, secret or is_secret_key(key) or _is_headers(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, secret) for item in value]
    if secret and isinstance(value, str) and not _ENV_REFERENCE.fullmatch(value.strip()):
        return REDACTED
    return value


EMBEDDED_PROVIDER = "LlamaCppChatCompletionClient"
# AutoGen's OpenAI client (by any of its names) and rolecall's: built on the lean request path,
# with an ``http_client`` whose pool is sized to the run.
_OPENAI_PROVIDERS = (
    "OpenAIChatCompletionClient",
    "openai_chat_completion_client",
    "DirectOpenAIChatCompletionClient",
    "LenientOpenAIChatCompletionClient",
)


def is_openai_provider(provider: str) -> bool:
    """Whether ``provider`` names AutoGen's OpenAI client or one of rolecall's (not Azure's)."""
    return provider.rsplit(".", 1)[-1] in _OPENAI_PROVIDERS


def is_embedded(config: Mapping[str, Any]) -> bool:
    """Whether a component config builds the embedded in-process client."""
    return str(config.get("provider", "")).rsplit(".", 1)[-1] == EMBEDDED_PROVIDER


class ModelFactory:
    """Builds (and shares) one client per distinct config; each role asks for its own."""

    def __init__(
        self,
        configs: Mapping[str, Mapping[str, Any]],
        connections: int | None = None,
        cache_dir: Path | None = None,
    ):
        unknown = set(configs) - {"default", *ROLES}
        if unknown:
            raise ModelConfigError(f"unknown roles in model configs: {sorted(unknown)}")
        self._configs = {role: copy.deepcopy(dict(config)) for role, config in configs.items()}
        self._clients: dict[str, ChatCompletionClient] = {}
        self._secrets: set[str] = set()
        self.steer_assistant = True  # the embedded client's call steering, for the assistant role
        # Requests a run may have in flight at once: OpenAI-family clients keep that many
        # connections alive (None: the SDK's pool, 100).
        self.connections = connections
        # Replies answered from disk for requests seen before (AutoGen's ChatCompletionCache).
        self.cache_dir = cache_dir

    @property
    def configs(self) -> dict[str, dict[str, Any]]:
        """The configs as given (role or ``default`` -> component config), a copy."""
        return copy.deepcopy(self._configs)

    def config_for(self, role: str) -> dict[str, Any]:
        config = self._configs.get(role) or self._configs.get("default") or embedded_default()
        if role == "assistant" and is_embedded(config) and not self.steer_assistant:
            # The assist policy turned the steering off: the embedded assistant answers as it
            # would, with no grounding of ids, routing or redraws.
            config = copy.deepcopy(config)
            config.setdefault("config", {})["steering"] = False
        return config

    def limits_for(self, role: str) -> RateLimits:
        """``role``'s model quota (its config's ``limits``); roles on one model share it."""
        return RateLimits.model_validate(self.config_for(role).get("limits") or {})

    def _client_config(self, role: str) -> dict[str, Any]:
        """``role``'s config as AutoGen takes it: rolecall's own keys left out."""
        return {key: value for key, value in self.config_for(role).items() if key not in ROLECALL_KEYS}

    def model_key(self, role: str) -> str:
        """Names ``role``'s model: roles with the same key share a client and its rate limits."""
        return json.dumps(self._client_config(role), sort_keys=True, default=str)

    def retry_for(self, role: str) -> RetrySettings:
        """rolecall's retries for ``role``'s model (its config's ``retry``, else the defaults)."""
        return RetrySettings.model_validate(self.config_for(role).get("retry") or {})

    def embedded_roles(self) -> set[str]:
        """The roles that run on the embedded model (the aids' ``auto`` mode turns on for these)."""
        return {role for role in ROLES if is_embedded(self.config_for(role))}

    def client_for(self, role: str) -> ChatCompletionClient:
        from autogen_core.models import ChatCompletionClient

        config, key = self._client_config(role), self.model_key(role)
        if key not in self._clients:
            expanded = expand_environment(config, where=f"model for {role}")
            provider = str(expanded.get("provider", ""))
            if provider.endswith("OpenAIChatCompletionClient") or is_openai_provider(provider):
                # rolecall's retries are the only layer: "retried N times" means N.
                expanded["config"] = {**expanded.get("config", {}), "max_retries": 0}
            self._secrets.update(s for s in _secret_values(expanded) if len(s) >= 4)
            _check_client_class(role, provider)
            try:
                if is_openai_provider(provider):
                    from rolecall.models._openai import openai_client

                    self._clients[key] = openai_client(expanded, self.connections or None)
                else:
                    self._clients[key] = ChatCompletionClient.load_component(expanded)
            except Exception as error:  # AutoGen raises many kinds; report them as config errors
                message = redact_text(str(error), expanded)
                raise ModelConfigError(
                    f"model for {role}: cannot build {config.get('provider')!r}: {message}"
                ) from None
            if self.cache_dir is not None:
                shown = json.dumps(redact(config), sort_keys=True)  # no secret in the cache folder
                self._clients[key] = _cached(self._clients[key], self.cache_dir, key, shown)
        return self._clients[key]

    def prepare(self) -> None:
        """Build every role's client now and let local ones fetch their weights, so a bad setup
        fails before any output is written rather than once per dialogue."""
        for role in ROLES:
            client = self.client_for(role)
            inner = getattr(client, "client", client)  # under a ChatCompletionCache
            ready = getattr(inner, "ensure_ready", None)
            if ready is not None:
                try:
                    ready()
                except Exception as error:
                    raise ModelConfigError(f"model for {role}: {error}") from None

    def scrub(self, text: str) -> str:
        """``text`` with every secret this factory has seen replaced (for error messages)."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def describe(self) -> dict[str, Any]:
        """Role -> redacted config, for the manifest."""
        return {role: redact(self.config_for(role)) for role in ROLES}

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


def _cached(client: ChatCompletionClient, cache_dir: Path, model_key: str, shown: str) -> ChatCompletionClient:
    """``client`` behind AutoGen's ``ChatCompletionCache`` with a disk store.

    AutoGen's key covers the messages, tools, reply schema and per-request arguments, not the
    model: each model config (as written, sampling parameters included) gets its own folder.
    diskcache is safe to share between processes (worker processes, runs side by side)."""
    import hashlib

    import diskcache
    from autogen_ext.cache_store.diskcache import DiskCacheStore
    from autogen_ext.models.cache import ChatCompletionCache

    folder = cache_dir / hashlib.sha256(model_key.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(shown + "\n", encoding="utf-8")  # which model, for a reader
    return ChatCompletionCache(client, DiskCacheStore(diskcache.Cache(str(folder))))


def _check_client_class(role: str, provider: str) -> None:
    """Import the provider and check it is a chat client, so a wrong class fails with its name."""
    import importlib

    from autogen_core.models import ChatCompletionClient

    module, _, name = provider.rpartition(".")
    if not module:  # one of AutoGen's own short names ("OpenAIChatCompletionClient"): its classes
        return
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError as error:
        raise ModelConfigError(f"model for {role}: cannot import provider {provider!r}: {error}") from None
    if not (isinstance(found, type) and issubclass(found, ChatCompletionClient)):
        raise ModelConfigError(f"model for {role}: provider {provider!r} is not an AutoGen ChatCompletionClient")


def redact_text(text: str, expanded_config: Any) -> str:
    """Remove any secret value of ``expanded_config`` that appears in ``text`` (error messages)."""
    for secret in _secret_values(expanded_config):
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def _secret_values(value: Any, secret: bool = False) -> list[str]:
    """The literal strings :func:`redact` would mask, to scrub them from error messages."""
    if isinstance(value, Mapping):
        return [
            found
            for key, item in value.items()
            for found in _secret_values(item, secret or is_secret_key(key) or _is_headers(key))
        ]
    if isinstance(value, list):
        return [found for item in value for found in _secret_values(item, secret)]
    return [value] if secret and isinstance(value, str) else []
