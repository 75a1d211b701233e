"""Token usage with the prompt tokens a server reused from its cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autogen_core.models import RequestUsage


@dataclass
class MeasuredUsage(RequestUsage):
    """AutoGen's ``RequestUsage`` plus ``cached_prompt_tokens``: prompt tokens the model did not
    evaluate again (an OpenAI server's ``prompt_tokens_details.cached_tokens``; the embedded
    model's prefix reuse). Code that knows only ``RequestUsage`` reads it as one."""

    cached_prompt_tokens: int = 0

    @classmethod
    def from_openai(cls, usage: dict[str, Any] | None) -> MeasuredUsage:
        """From an OpenAI-format ``usage`` object (missing counts are 0)."""
        usage = usage or {}
        details = usage.get("prompt_tokens_details") or {}
        return cls(
            prompt_tokens=usage.get("prompt_tokens") or 0,
            completion_tokens=usage.get("completion_tokens") or 0,
            cached_prompt_tokens=details.get("cached_tokens") or 0,
        )
