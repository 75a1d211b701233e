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


def test_the_capacity_counts_every_byte_a_state_holds() -> None:
    from rolecall.models._prefix_cache import prefix_cache, state_bytes

    one = 1000 + ROWS * VOCABULARY * 4 + 100 * 4  # a stock state: llama.cpp's, the logits, the token ids
    cache = prefix_cache(capacity_bytes=2 * one)
    cache[tuple(range(100))] = _state(100)
    assert cache.cache_size == state_bytes(cache[tuple(range(100))]) == one
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


def test_model_defaults_change_for_one_load_only() -> None:
    import llama_cpp.llama as module

    from rolecall.models._prefix_cache import _model_defaults

    assert module.llama_cpp.llama_model_default_params().use_extra_bufts is True
    with _model_defaults(use_extra_bufts=False):
        assert module.llama_cpp.llama_model_default_params().use_extra_bufts is False
    assert module.llama_cpp.llama_model_default_params().use_extra_bufts is True
    with pytest.raises(RuntimeError), _model_defaults(use_extra_bufts=False):
        raise RuntimeError("a failed load")
    assert module.llama_cpp.llama_model_default_params().use_extra_bufts is True
