"""What the embedded model holds in RAM: its weights once, and saved prompt states counted in full.

Measured on the 1.5B model (2 cores, llama-cpp-python 0.3.36), three things made a 1.1 GB model
peak at 4.3 GB in the README's first run:

- **Weights twice.** llama.cpp repacks quantised CPU weights into a second, interleaved copy
  (its "extra buffer types") while the file stays mapped: about 600 MB more. Without the
  repacking, prompt evaluation was also faster here (about 125 against 90 tokens/s; generation
  about 13.5 against 16 tokens/s), and the embedded roles send more than thirty prompt tokens
  for each token they generate. ``repack_weights`` in the client config turns it back on.
- **Logits in every saved state.** ``Llama.save_state`` copies the logits buffer (``n_batch``
  rows of vocabulary floats, 311 MB for Qwen2.5's 151,936 tokens) into each state, and
  ``load_state`` writes it back, touching all of it. Those logits are never read: without
  ``logits_all`` a restored state is always decoded again before the next token is sampled
  (``load_state`` sets ``_requires_eval``). States saved here hold none.
- **Three copies per save.** The stock ``save_state`` allocates the state, copies it to a
  compact array, then to ``bytes``. Here the llama.cpp state is copied once.

``LlamaRAMCache`` counts only the llama.cpp state of each entry; the cache here counts every
byte an entry holds, so ``prefix_cache_bytes`` means what it says.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
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

    return PrefixCache(capacity_bytes=capacity_bytes)


def load_llama(path: str, *, repack_weights: bool, **settings: Any) -> Any:
    """A ``Llama`` for ``path`` that saves and restores states without logits (see above)."""
    import numpy as np
    from llama_cpp import Llama, LlamaState
    from llama_cpp import llama_cpp as native

    class CompactStateLlama(Llama):  # type: ignore[misc]
        evaluated = 0  # tokens run through the model: prompt tokens not reused, and generated ones

        def eval(self, tokens: Any) -> None:
            self.evaluated += len(tokens)
            super().eval(tokens)

        def create_completion(self, *args: Any, **kwargs: Any) -> Any:
            """Also reports, OpenAI's way, the prompt tokens reused rather than evaluated: each
            generated token but the last is evaluated too (within a token per completion)."""
            before = self.evaluated
            completion = super().create_completion(*args, **kwargs)
            if isinstance(completion, dict):  # not a stream
                usage = completion["usage"]
                generated = max(0, usage["completion_tokens"] - 1)
                evaluated_prompt = max(0, self.evaluated - before - generated)
                cached = max(0, usage["prompt_tokens"] - evaluated_prompt)
                usage["prompt_tokens_details"] = {"cached_tokens": cached}
            return completion

        def save_state(self) -> LlamaState:
            size = int(native.llama_state_get_size(self._ctx.ctx))
            data = (ctypes.c_uint8 * size)()
            written = int(native.llama_state_get_data(self._ctx.ctx, data, size))
            if written > size:
                raise RuntimeError("Failed to copy llama state data")
            return LlamaState(
                input_ids=self.input_ids.copy(),
                scores=np.empty((0, self._n_vocab), dtype=np.single),
                n_tokens=self.n_tokens,
                llama_state=data if written == size else bytes(memoryview(data)[:written]),
                llama_state_size=written,
                seed=self._seed,
            )

        def load_state(self, state: LlamaState) -> None:
            self.input_ids = state.input_ids.copy()
            self.n_tokens = state.n_tokens
            self._requires_eval = True  # the next token's logits are computed afresh
            self._seed = state.seed
            size = state.llama_state_size
            data = (ctypes.c_uint8 * size).from_buffer_copy(state.llama_state)
            if native.llama_state_set_data(self._ctx.ctx, data, size) != size:
                raise RuntimeError("Failed to set llama state data")

    with _model_defaults(use_extra_bufts=repack_weights):
        llama = CompactStateLlama(model_path=path, logits_all=False, **settings)
    return llama


@contextmanager
def _model_defaults(**fields: Any) -> Iterator[None]:
    """llama-cpp-python (0.3.36, pinned) has no argument for some llama.cpp model settings
    (``use_extra_bufts``); ``Llama`` starts from ``llama_model_default_params()``, so the
    defaults are changed for the one load inside this block. Callers serialise loads."""
    import llama_cpp.llama as module

    original = module.llama_cpp.llama_model_default_params

    def defaults() -> Any:
        params = original()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    module.llama_cpp.llama_model_default_params = defaults
    try:
        yield
    finally:
        module.llama_cpp.llama_model_default_params = original
