"""The prefix cache counts every byte a saved state holds, so its capacity means what it says."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs llama-cpp-python")

VOCABULARY = 151_936  # Qwen2.5's
ROWS = 512  # llama-cpp-python's default n_batch: the logits buffer a state copies


def _state(tokens: int, seed: int = 0):
    from llama_cpp.llama import LlamaState

    return LlamaState(
        input_ids=np.arange(tokens, dtype=np.intc),
        scores=np.full((ROWS, VOCABULARY), seed, dtype=np.single),
        n_tokens=tokens,
        llama_state=b"\0" * 1000,
        llama_state_size=1000,
        seed=seed,
    )


def test_a_saved_state_keeps_one_row_of_logits_and_the_capacity_counts_it() -> None:
    from rolecall.models._prefix_cache import prefix_cache, state_bytes

    cache = prefix_cache(capacity_bytes=2 * (1000 + VOCABULARY * 4 + 400))
    cache[tuple(range(100))] = _state(100)
    kept = cache[tuple(range(100))]
    assert kept.scores.shape == (1, VOCABULARY)
    assert cache.cache_size == state_bytes(kept) == 1000 + VOCABULARY * 4 + 100 * 4
    cache[tuple(range(1, 101))] = _state(100, seed=1)
    cache[tuple(range(2, 102))] = _state(100, seed=2)  # a third does not fit: the oldest goes
    assert len(cache.cache_state) == 2 and cache.cache_size <= cache.capacity_bytes
    assert tuple(range(100)) not in cache.cache_state


def test_llama_cpp_s_own_cache_leaves_the_logits_out_of_its_capacity() -> None:
    # What this module exists for: with the stock cache, a 1 MB capacity "holds" 311 MB.
    from llama_cpp import LlamaRAMCache

    stock = LlamaRAMCache(capacity_bytes=1 << 20)
    stock[tuple(range(100))] = _state(100)
    held = sum(state.scores.nbytes for state in stock.cache_state.values())
    assert stock.cache_size <= 1 << 20 < held


def test_a_restored_state_broadcasts_the_kept_row_into_the_models_buffer() -> None:
    # Llama.load_state copies state.scores into scores[:n_tokens]; one row must broadcast there.
    from rolecall.models._prefix_cache import prefix_cache

    cache = prefix_cache(capacity_bytes=1 << 30)
    cache[tuple(range(100))] = _state(100, seed=3)
    buffer = np.zeros((ROWS, VOCABULARY), dtype=np.single)
    restored = cache[tuple(range(100))]
    buffer[: restored.n_tokens, :] = restored.scores.copy()
    assert float(buffer[99, 0]) == 3.0 and float(buffer[100, 0]) == 0.0
