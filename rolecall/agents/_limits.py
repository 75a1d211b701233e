"""Requests and tokens per minute for one model, shared by every dialogue of the run.

A token bucket per limit: a call waits until the bucket holds what it needs, so a run of any
concurrency stays under the provider's quota instead of collecting 429s. Tokens are not known
before a call; each call is charged an estimate from its prompt's length (4 characters a token),
or for the assistant, whose prompt the agent framework holds, the prompt tokens of its previous
call: a cheap stand-in that errs on the safe side as dialogues grow.
"""

from __future__ import annotations

import asyncio
import time


class _Bucket:
    def __init__(self, per_minute: float):
        self.rate = per_minute / 60.0  # refill per second
        self.capacity = float(per_minute)
        self.level = float(per_minute)
        self.updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def shortfall_s(self, amount: float) -> float:
        """Seconds until ``amount`` is there (a call larger than a minute's quota waits for a full bucket)."""
        self._refill()
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= min(amount, self.capacity)


class RateLimiter:
    """``requests_per_minute`` and ``tokens_per_minute`` for one model (None: no limit)."""

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None):
        self._buckets: list[tuple[_Bucket, bool]] = []  # (bucket, counts tokens)
        if requests_per_minute:
            self._buckets.append((_Bucket(requests_per_minute), False))
        if tokens_per_minute:
            self._buckets.append((_Bucket(tokens_per_minute), True))
        self._lock = asyncio.Lock()
        self.waited_s = 0.0  # time calls have spent waiting for the quota

    async def acquire(self, tokens: float) -> None:
        """Wait until one request of about ``tokens`` tokens fits every limit, then take it."""
        if not self._buckets:
            return
        async with self._lock:  # first come, first served
            while True:
                wait = max(bucket.shortfall_s(tokens if counts else 1.0) for bucket, counts in self._buckets)
                if wait <= 0:
                    break
                self.waited_s += wait
                await asyncio.sleep(wait)
            for bucket, counts in self._buckets:
                bucket.take(tokens if counts else 1.0)
