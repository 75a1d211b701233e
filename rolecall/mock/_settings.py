"""The mock model's knobs, and the ``mock:key=value,...`` spec a command line can name it by.

A spec keeps the knobs next to the model choice (``--model mock:confirm,latency=0.5``), so a
run's model option alone says how the mock behaves, with no extra flags for a test-only model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MODEL = "rolecall-mock-1"
SPEC_PREFIX = "mock"
# Every role the mock plays; ``fail_roles`` may only name these.
ROLES = ("planner", "user", "assistant", "tool_simulator", "judge", "output_schema")


class MockSettings(BaseModel):
    """How the mock model behaves. The defaults give clean dialogues that validate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    confirm: bool = Field(
        default=False,
        description="The assistant asks before the goal call of a turn; the user says go ahead.",
    )
    sloppy_every: int = Field(
        default=0,
        ge=0,
        description="In about one dialogue in K the assistant invents an argument (0: never), so "
        "validators have something to reject.",
    )
    latency_s: float = Field(default=0.0, ge=0, description="Seconds to wait before every reply.")
    fault_rate: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of requests answered with a transport fault (500, 429 with Retry-After, an HTML "
        "page, no choices, truncated JSON, a dropped connection), decided from the request itself, so a "
        "run is reproducible.",
    )
    fail_roles: dict[str, int] = Field(
        default_factory=dict,
        description="Role -> how many of its requests get HTTP 500 (-1: all of them).",
    )

    @field_validator("fail_roles")
    @classmethod
    def _known_roles(cls, value: dict[str, int]) -> dict[str, int]:
        for role, count in value.items():
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
            if count < -1:
                raise ValueError(f"fail count for {role} must be -1 (all) or at least 0, not {count}")
        return value


_FLAG_WORDS = {"": True, "true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
# Spec keys -> settings fields; short names for the command line, the field names as well.
_KEYS = {
    "confirm": "confirm",
    "sloppy_every": "sloppy_every",
    "sloppy": "sloppy_every",
    "latency": "latency_s",
    "latency_s": "latency_s",
    "fail": "fail_roles",
    "faults": "fault_rate",
    "fault_rate": "fault_rate",
}


def parse_mock_spec(spec: str) -> MockSettings:
    """Settings from ``mock`` or ``mock:confirm,sloppy_every=3,latency=0.5,fail=judge:-1``.

    Items are comma-separated ``key`` or ``key=value``; a bare key is a flag set to true.
    ``fail=ROLE:N`` may repeat. Raises ``ValueError`` naming the bad part of the spec.
    """
    text = spec.strip()
    name, _, options = text.partition(":")
    if name.strip().lower() != SPEC_PREFIX:
        raise ValueError(f"not a mock model spec: {spec!r} (expected 'mock' or 'mock:key=value,...')")
    values: dict[str, Any] = {}
    fail_roles: dict[str, int] = {}
    for item in options.split(",") if options.strip() else []:
        key, has_value, raw = (part.strip() for part in item.partition("="))
        field = _KEYS.get(key.lower())
        if not key:
            raise ValueError(f"empty item in mock spec {spec!r}")
        if field is None:
            raise ValueError(f"unknown mock option {key!r} in {spec!r} (options: {', '.join(sorted(_KEYS))})")
        if field == "fail_roles":
            role, _, count = raw.partition(":")
            fail_roles[role.strip()] = _number(int, count.strip() or "-1", f"fail={raw}")
            continue
        if field in values:
            raise ValueError(f"mock option {key!r} given twice in {spec!r}")
        if field == "confirm":
            if raw.lower() not in _FLAG_WORDS:
                raise ValueError(f"confirm takes true or false, not {raw!r}")
            values[field] = _FLAG_WORDS[raw.lower()]
        elif not has_value or not raw:
            raise ValueError(f"mock option {key!r} needs a value ({key}=...)")
        else:
            values[field] = _number(int if field == "sloppy_every" else float, raw, key)
    if fail_roles:
        values["fail_roles"] = fail_roles
    return MockSettings(**values)


def _number(kind: type[int] | type[float], raw: str, key: str) -> Any:
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(
            f"mock option {key} takes {'an integer' if kind is int else 'a number'}, not {raw!r}"
        ) from None
