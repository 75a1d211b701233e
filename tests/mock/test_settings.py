"""``mock[:knobs]`` specs, as a command line's --model would give them."""

from __future__ import annotations

import pytest

from rolecall.mock import MockSettings, parse_mock_spec


def test_bare_spec_is_the_defaults() -> None:
    assert parse_mock_spec("mock") == MockSettings()
    assert parse_mock_spec("mock:") == MockSettings()


def test_knobs() -> None:
    assert parse_mock_spec("mock:confirm,sloppy_every=3,latency=0.5") == MockSettings(
        confirm=True, sloppy_every=3, latency_s=0.5
    )
    assert parse_mock_spec(" mock: confirm=false , latency_s=2 ") == MockSettings(latency_s=2.0)
    assert parse_mock_spec("mock:fail=judge:2,fail=user").fail_roles == {"judge": 2, "user": -1}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt-4o", "not a mock model spec"),
        ("mockery", "not a mock model spec"),
        ("mock:bogus", "unknown mock option 'bogus'"),
        ("mock:sloppy_every=x", "integer"),
        ("mock:latency=fast", "number"),
        ("mock:sloppy_every", "needs a value"),
        ("mock:confirm=maybe", "true or false"),
        ("mock:latency=1,latency=2", "twice"),
        ("mock:confirm,,latency=1", "empty item"),
        ("mock:latency=-1", "greater than or equal to 0"),
        ("mock:fail=nobody:1", "unknown role"),
        ("mock:fail=judge:-2", "-1"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mock_spec(spec)
