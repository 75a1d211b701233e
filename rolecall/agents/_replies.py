"""The shapes of structured replies each role must produce (sent as JSON Schemas to the model)."""

from __future__ import annotations

import copy
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, RootModel

from rolecall.text import json_bytes

ModelT = TypeVar("ModelT", bound=BaseModel)


class PlannedCallReply(BaseModel):
    id: str = Field(max_length=8, description='"$" followed by a number, e.g. "$1".')
    name: str = Field(max_length=64)
    arguments: dict[str, Any] = Field(description='Literal values or references like "$1.customer_id".')


class PlanReply(BaseModel):
    # Calls first, then the goal: written after the calls, the goal describes what they do. Written
    # first, the 1.5B planner took the goal from the persona's story and then planned other calls.
    calls: list[PlannedCallReply] = Field(min_length=1, max_length=8)
    goal: str = Field(max_length=300, description="What the user wants, in their words.")


# "[$]" rather than "\\$": llama.cpp's grammar converter rejects the escape.
REFERENCE_PATTERN = r"^[$][0-9]+[.][A-Za-z0-9_.-]+$"


def reference_pattern(paths: Sequence[Sequence[str]] | None = None) -> str:
    """The pattern of a ``$k.field`` reference; with ``paths``, only to those output fields.

    A list index in a path ("orders", "0", "order_id") admits any index. Plain groups and
    character classes only: llama.cpp's grammar converter handles no other regex syntax.
    """
    parts = {part for path in paths or () for part in path}
    if not paths or not all(re.fullmatch(r"[A-Za-z0-9_-]+", part) for part in parts):
        return REFERENCE_PATTERN  # unknown outputs, or names the pattern would have to escape
    shown = sorted(
        {"[.]".join("[0-9]+" if part.isdigit() else part.replace("-", "[-]") for part in path) for path in paths}
    )
    return rf"^[$][0-9]+[.]({'|'.join(shown)})$"


def plan_reply_for(
    tools: list[dict[str, Any]],
    max_calls: int,
    min_calls: int = 1,
    reference_paths: Sequence[Sequence[str]] | None = None,
    parameter_paths: Mapping[str, Mapping[str, Sequence[Sequence[str]]]] | None = None,
) -> type[PlanReply]:
    """A :class:`PlanReply` whose advertised schema only admits ``tools`` and their parameters.

    Grammar-constrained models (and servers honouring JSON-Schema response formats) then cannot
    invent tools or parameter names; any argument may still be a ``$k.field`` reference, to one
    of ``reference_paths`` where they are given (the output fields of the tools the plan can use:
    the 1.5B planner otherwise references fields no tool returns, "$1.last_name").
    ``parameter_paths`` (tool -> parameter -> paths) narrows a parameter's references further,
    to the fields known to feed it (``order_id`` from an ``order_id``, not a ``member_since``);
    an empty list there admits no reference at all, only a literal.
    ``tools`` are OpenAI function dicts (name, parameters).
    """

    def argument(tool: str, parameter: str, schema: Any) -> dict[str, Any]:
        paths = (parameter_paths or {}).get(tool, {}).get(parameter)
        if paths is not None and not paths:
            return copy.deepcopy(schema)
        return {
            "anyOf": [copy.deepcopy(schema), {"type": "string", "pattern": reference_pattern(paths or reference_paths)}]
        }

    options = []
    for tool in tools:
        parameters = tool.get("parameters") or {}
        properties = {
            name: argument(tool["name"], name, schema) for name, schema in (parameters.get("properties") or {}).items()
        }
        options.append(
            {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "pattern": "^[$][0-9]+$"},
                    "name": {"const": tool["name"]},
                    "arguments": {
                        "type": "object",
                        "properties": properties,
                        "required": list(parameters.get("required") or []),
                        "additionalProperties": False,
                    },
                },
                "required": ["id", "name", "arguments"],
            }
        )
    schema = {
        "type": "object",
        "properties": {
            "calls": {"type": "array", "items": {"anyOf": options}, "minItems": min_calls, "maxItems": max_calls},
            "goal": {"type": "string", "maxLength": 300},
        },
        "required": ["calls", "goal"],
    }

    return _advertising(PlanReply, "plan", schema)


class UserReply(BaseModel):
    message: str = Field(max_length=600, description="What the customer says next.")
    status: Literal["continue", "done", "give_up"]

    # Who wrote it, for the record's provenance; not part of the schema a model sees.
    author: ClassVar[str] = "model"


class HumanUserReply(UserReply):
    """A user reply a person typed (``rolecall play --as user``)."""

    author: ClassVar[str] = "human"


class JudgeReply(BaseModel):
    # Reasoning before the verdict: small models judge better when they explain first.
    reasoning: str = Field(max_length=800)
    consistent: Literal["yes", "no"]


class JsonObjectReply(RootModel[dict[str, Any]]):
    """Any JSON object; subclasses made by :func:`json_object_reply` advertise a specific schema."""


# Reply types by (base, name, schema as canonical JSON), least recently used first: a type costs
# pydantic about 2 ms to build, and the tool simulator asks for one per call with one of a few
# schemas. Plan types differ by chain and by what earlier turns returned, so most are used once;
# each holds about 10 KB, so the cache is kept small (4,096 of them were 40 MB, the growth of
# a 5,000-dialogue run's memory).
_ADVERTISED: OrderedDict[tuple[type, str, bytes], type] = OrderedDict()
_ADVERTISED_MAX = 256


def _advertising(base: type[ModelT], name: str, schema: dict[str, Any]) -> type[ModelT]:
    """A subclass of ``base`` that shows models ``schema`` and validates as ``base`` (its
    ``model_validate`` returns a ``base`` instance); one per distinct schema, reused.

    The schema it shows is a fresh copy every time: openai's strict-schema conversion edits the
    schema it is given in place, and callers validate results against the original.
    """
    key = (base, name, json_bytes(schema, sort_keys=True, default=str))
    known = _ADVERTISED.get(key)
    if known is not None:
        _ADVERTISED.move_to_end(key)
        return known  # type: ignore[return-value]
    schema = copy.deepcopy(schema)  # the caller's dict may change later; this type's must not

    # Its own validator is never built (defer_build; validation is the base's): most plan types
    # are used once, and building one was most of a type's cost.
    class _Advertised(base):  # type: ignore[valid-type,misc]
        model_config = ConfigDict(title=name, defer_build=True)

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return copy.deepcopy(schema)

        @classmethod
        def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
            return copy.deepcopy(schema)

        @classmethod
        def model_validate(cls, obj: Any, **kwargs: Any) -> Any:
            return base.model_validate(obj, **kwargs)

        @classmethod
        def model_validate_json(cls, json_data: Any, **kwargs: Any) -> Any:
            return base.model_validate_json(json_data, **kwargs)

    _Advertised.__name__ = name
    _ADVERTISED[key] = _Advertised
    if len(_ADVERTISED) > _ADVERTISED_MAX:
        _ADVERTISED.popitem(last=False)
    return _Advertised


def json_object_reply(name: str, schema: dict[str, Any]) -> type[JsonObjectReply]:
    """A reply type that accepts any JSON object but shows the model ``schema``.

    Tool results and inferred output schemas have schemas known only at run time; pydantic
    accepts the object and the caller validates it against ``schema`` with jsonschema.
    """

    return _advertising(JsonObjectReply, name, schema)
