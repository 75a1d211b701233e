"""Model calls that fail: which errors heal with a retry, how long to wait, when to stop the run.

rolecall's retries are the only layer (the OpenAI client's own ``max_retries`` is set to 0), so
"retried N times" means N retries after the first attempt. Errors fall in three groups:

- heal with time: timeouts, 5xx, dropped connections, a page that is not a chat completion
  (exponential back-off with jitter), 429 (wait as long as ``Retry-After`` says);
- never heal for this request: 400/422 (the dialogue fails at once, with the cause);
- never heal for the run: 401/403 (credentials), 404 (unknown model or endpoint), a server that
  refuses connections through every retry. :class:`RunAborted` stops the run with one message
  instead of failing every dialogue in turn; the dialogues not yet run stay unwritten, so
  ``--resume`` can finish them once the cause is fixed.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any, Literal

from rolecall.models import NotAChatCompletion

Healing = Literal["retry", "never", "abort"]

_jitter = random.Random()  # back-off only: never touches what a dialogue contains


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing model call is retried (documented in the README)."""

    retries: int = 3  # retries after the first attempt
    backoff_s: float = 0.5  # the first wait; it doubles on each retry, with jitter
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0  # the longest Retry-After honoured

    def wait(self, attempt: int, failure: Failure) -> float:
        """Seconds to wait before retry ``attempt`` (0-based) after ``failure``."""
        if failure.retry_after is not None:
            return min(failure.retry_after, self.max_retry_after_s)
        return _jitter.uniform(0.5, 1.0) * min(self.max_backoff_s, self.backoff_s * 2**attempt)


class RunAborted(Exception):
    """A model error no retry can heal: the run stops (the manifest says ``aborted``)."""

    def __init__(self, role: str, reason: str, cause: str):
        self.role = role
        self.reason = reason
        self.cause = cause
        super().__init__(f"{role}: {reason}")


@dataclass(frozen=True)
class Failure:
    """What went wrong with one attempt, in words a reader can act on."""

    healing: Healing
    cause: str  # the underlying exception's class
    message: str
    retry_after: float | None = None
    refused: bool = False  # the server refused the connection (nothing listens there)


def classify(error: BaseException) -> Failure:
    """Sort an exception from a model call into what to do about it."""
    import openai

    cause = type(error).__name__
    status = getattr(error, "status_code", None)
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return Failure("abort", cause, f"the server refused the credentials (HTTP {status}): {_body(error)}")
    if isinstance(error, openai.NotFoundError):
        return Failure("abort", cause, f"unknown model or endpoint (HTTP 404): {_body(error)}")
    if isinstance(error, openai.RateLimitError):
        return Failure("retry", cause, f"rate limited (HTTP 429): {_body(error)}", _retry_after(error))
    if isinstance(error, openai.APITimeoutError):
        return Failure("retry", cause, "the server did not answer in time")
    if isinstance(error, openai.APIConnectionError):
        refused = _refused(error)
        message = "the server refused the connection" if refused else f"the connection failed: {_chain_text(error)}"
        return Failure("retry", _root_class(error), message, refused=refused)
    if isinstance(error, openai.InternalServerError):
        return Failure("retry", cause, f"server error (HTTP {status}): {_body(error)}")
    if isinstance(error, openai.APIStatusError):
        return Failure("never", cause, f"the server rejected the request (HTTP {status}): {_body(error)}")
    text = str(error)
    # rolecall's OpenAI path names it; AutoGen's own client fails on the text the SDK returns.
    if isinstance(error, NotAChatCompletion) or (
        isinstance(error, AttributeError) and "'str' object has no attribute" in text
    ):
        return Failure(
            "retry", "NotAChatCompletion", "the server returned a page of text (HTML?), not a chat completion"
        )
    if isinstance(error, IndexError | TypeError) and ("choices" in text or "list index" in text):
        return Failure("retry", "EmptyChoices", "the server returned a chat completion with no choices")
    return Failure("retry", cause, text or cause)


def _body(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(error, "message", "") or error)


def _retry_after(error: Any) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):  # neither seconds nor a date: back off as usual
        return None
    return max(0.0, parsed.timestamp() - time.time())


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions behind it (cause, else context), each once."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _refused(error: BaseException) -> bool:
    """Whether the connection was refused (nothing listens at the address), anywhere in the chain."""
    if any(isinstance(link, ConnectionRefusedError) for link in _chain(error)):
        return True
    text = _chain_text(error).lower()
    return "refused" in text or "errno 111" in text


def _chain_text(error: BaseException) -> str:
    return " <- ".join(str(link) or type(link).__name__ for link in _chain(error))


def _root_class(error: BaseException) -> str:
    current = error
    while current.__cause__ is not None:
        current = current.__cause__
    return type(current).__name__
