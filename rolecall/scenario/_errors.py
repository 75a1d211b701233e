"""Turn pydantic validation errors into :class:`Problem` lines that point at YAML nodes.

Pydantic reports a ``loc`` such as ``("tools", 1, "openai", "function", "name")``: the union
tag ``openai`` is not a key in the file. We walk the model types alongside the data so that
tags are dropped, real keys kept, and unknown keys get a did-you-mean suggestion drawn from
the fields of the model they were found in.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, Tag, ValidationError

from rolecall.scenario._source import DataPath, Problem, SourceDocument

_ANNOTATED = type(typing.Annotated[int, "x"])


def _unwrap(tp: Any) -> Any:
    while isinstance(tp, _ANNOTATED):
        tp = typing.get_args(tp)[0]
    return tp


def _member_tag(member: Any) -> str:
    if isinstance(member, _ANNOTATED):
        for meta in member.__metadata__:
            if isinstance(meta, Tag):
                return meta.tag
    inner = _unwrap(member)
    return getattr(inner, "__name__", str(inner))


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _through_unions(tp: Any, segment: int | str) -> tuple[Any, bool]:
    """Steps into unions: to the member tagged ``segment``, or through ``X | None``."""
    while True:
        tp = _unwrap(tp)
        if not _is_union(tp):
            return tp, False
        members = typing.get_args(tp)
        chosen = next((m for m in members if _member_tag(m) == segment), None)
        if chosen is not None:
            return chosen, True
        not_none = [m for m in members if m is not type(None)]
        if len(not_none) != 1:
            return tp, False
        tp = not_none[0]


def _field_type(model: type[BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info.annotation
    return None


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items() if not (info.alias or "").startswith("__")]


class _LocWalker:
    """Follows a pydantic ``loc`` through the data and the model types at once."""

    def __init__(self, root_type: Any, data: Any):
        self.root_type = root_type
        self.data = data

    def walk(self, loc: tuple[int | str, ...]) -> tuple[DataPath, Any]:
        """Returns the data path of ``loc`` and the type found at its parent."""
        tp: Any = self.root_type
        value: Any = self.data
        path: list[str | int] = []
        parent_type: Any = None
        for segment in loc:
            tp, is_tag = _through_unions(tp, segment)
            if is_tag:
                continue  # a union tag, not a key in the file
            parent_type = tp
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                tp = _field_type(tp, str(segment))
            elif typing.get_origin(tp) in (list, tuple):
                tp = typing.get_args(tp)[0] if typing.get_args(tp) else None
            elif typing.get_origin(tp) is dict:
                tp = typing.get_args(tp)[1]
            else:
                tp = None
            path.append(segment)
            if isinstance(value, dict):
                value = value.get(segment)
            elif isinstance(value, list) and isinstance(segment, int) and 0 <= segment < len(value):
                value = value[segment]
            else:
                value = None
        return tuple(path), _unwrap(parent_type) if parent_type is not None else None


def _message(error: Any, parent_type: Any, key: str) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        if isinstance(parent_type, type) and issubclass(parent_type, BaseModel):
            allowed = _allowed_keys(parent_type)
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            if close:
                return f"unknown key {key!r}; did you mean {close[0]!r}?"
            return f"unknown key {key!r}; allowed keys: {', '.join(allowed)}"
        return f"unknown key {key!r}"
    if kind == "missing":
        return "required field is missing"
    message: str = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    message = message[:1].lower() + message[1:]
    if kind.endswith("_type"):
        message += f", got {_describe(error.get('input'))}"
    return message


def _describe(value: Any) -> str:
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a mapping",
    }
    if value is None:
        return "nothing (null)"
    text = repr(value) if isinstance(value, str | int | float | bool) else ""
    name = names.get(type(value), type(value).__name__)
    return f"{name} {text}".strip() if len(text) <= 40 else name


def validation_problems(
    error: ValidationError, document: SourceDocument, root_type: Any, base: DataPath = ()
) -> list[Problem]:
    """Problems for every error in ``error``; ``base`` is where the validated value sits in ``document``."""
    walker = _LocWalker(root_type, _at(document.data, base))
    problems = []
    for item in error.errors():
        path, parent_type = walker.walk(tuple(item["loc"]))
        full = (*base, *path)
        is_key = item["type"] == "extra_forbidden"
        key = str(path[-1]) if path else ""
        problems.append(document.problem(full, _message(item, parent_type, key), key=is_key))
    return problems


def _at(data: Any, path: DataPath) -> Any:
    for segment in path:
        data = data[segment]
    return data
