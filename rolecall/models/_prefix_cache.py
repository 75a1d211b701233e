"""A RAM cache of evaluated prompt prefixes whose capacity counts every byte it holds.

llama-cpp-python's ``LlamaRAMCache`` counts only the llama.cpp state of each entry. Each saved
``LlamaState`` also carries a copy of the model's logits buffer: ``n_batch`` rows of vocabulary
floats, 311 MB for Qwen2.5's 151,936 tokens at the default ``n_batch`` of 512. A "1 GB" cache
of a dozen prefixes therefore held several more gigabytes, which is most of the embedded
model's peak memory. Those logits are never read back: a restored state is always decoded
again before the next token is sampled (``Llama.generate`` sets ``_requires_eval`` on load), so
this cache keeps one row of them and counts what remains.
"""

from __future__ import annotations

from typing import Any


def state_bytes(state: Any) -> int:
    """What one saved state occupies: the llama.cpp state, the logits and the token ids kept."""
    return int(state.llama_state_size) + int(state.scores.nbytes) + int(state.input_ids.nbytes)


def prefix_cache(capacity_bytes: int) -> Any:
    """A ``LlamaRAMCache`` of at most ``capacity_bytes``, really (imports llama-cpp-python)."""
    from llama_cpp import LlamaRAMCache

    class PrefixCache(LlamaRAMCache):  # type: ignore[misc]
        @property
        def cache_size(self) -> int:
            return sum(state_bytes(state) for state in self.cache_state.values())

        def __setitem__(self, key: Any, value: Any) -> None:
            if len(value.scores) > 1:
                value.scores = value.scores[-1:].copy()  # load_state broadcasts the row back
            super().__setitem__(key, value)

    return PrefixCache(capacity_bytes=capacity_bytes)
