"""Rate limits: a minute's quota per model, shared by every role and dialogue on that model."""

from __future__ import annotations

import asyncio
import time

from rolecall.agents import AutogenBackend
from rolecall.agents._limits import RateLimiter
from rolecall.mock import model_config
from rolecall.models import ModelFactory


def _elapsed(limiter: RateLimiter, amounts: list[float]) -> float:
    async def take_all() -> None:
        await asyncio.gather(*(limiter.acquire(amount) for amount in amounts))

    started = time.monotonic()
    asyncio.run(take_all())
    return time.monotonic() - started


def test_requests_beyond_a_minutes_quota_wait_for_it_to_refill() -> None:
    limiter = RateLimiter(requests_per_minute=60)  # one a second once the first minute's are used
    assert _elapsed(limiter, [1.0] * 60) < 0.5  # a full bucket: a burst goes at once
    assert 0.8 < _elapsed(limiter, [1.0]) < 2.0
    assert limiter.waited_s > 0.8


def test_tokens_beyond_the_quota_wait_too() -> None:
    limiter = RateLimiter(tokens_per_minute=6000)  # 100 tokens a second
    assert _elapsed(limiter, [6000]) < 0.5
    assert 0.8 < _elapsed(limiter, [100]) < 2.0


def test_no_limits_never_wait() -> None:
    assert _elapsed(RateLimiter(), [1e9] * 100) < 0.5


def test_roles_on_one_model_share_its_limits_and_other_models_have_their_own() -> None:
    limited = {**model_config("http://127.0.0.1:9/v1"), "limits": {"requests_per_minute": 30}}
    other = {**model_config("http://127.0.0.1:9/v1", api_key="other")}
    backend = AutogenBackend(ModelFactory({"default": limited, "judge": other}))
    assert backend.limiter_for("user") is backend.limiter_for("planner") is backend.limiter_for("assistant")
    assert backend.limiter_for("judge") is not backend.limiter_for("user")
    # The limits are rolecall's: AutoGen's client is built without them.
    assert "limits" not in backend.factory.model_key("user")
