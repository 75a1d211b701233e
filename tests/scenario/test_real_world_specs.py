"""Every real third-party tool spec under ../shared/data goes through the scenario loader.

Each function either loads, or is refused with a precise and true error. "True" is checked
independently: the expected refusals are recomputed here from the raw JSON with plain code
(a regex for names, a counter for duplicates, jsonschema for schemas) and must match exactly.
"""

from __future__ import annotations

import collections
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from rolecall.scenario import ProblemsFound, load_tools_file

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("ROLECALL_SHARED_DATA", REPO.parent / "shared" / "data"))
SPEC_FILES = sorted(DATA.glob("**/*normalized*.json")) if DATA.is_dir() else []

pytestmark = pytest.mark.skipif(not SPEC_FILES, reason=f"no shared reference data at {DATA}")


def _expected_refusals(functions: list[dict]) -> dict[int, str]:
    """Index -> reason, computed without rolecall's code."""
    refused: dict[int, str] = {}
    seen: collections.Counter[str] = collections.Counter()
    for index, function in enumerate(functions):
        name = function["name"]
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
            refused[index] = "name"
            continue
        seen[name] += 1
        if seen[name] > 1:
            refused[index] = "duplicate"
        for key in ("parameters", "returns"):
            schema = function.get(key)
            if schema is not None and not jsonschema.Draft202012Validator(
                jsonschema.Draft202012Validator.META_SCHEMA
            ).is_valid(schema):
                refused[index] = "schema"
    return refused


def _reason(message: str) -> str:
    if "is not a valid tool name" in message:
        return "name"
    if "duplicate tool name" in message:
        return "duplicate"
    if "JSON Schema" in message:
        return "schema"
    return f"unexpected: {message}"


@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=lambda p: str(p.relative_to(DATA)))
def test_each_function_loads_or_is_refused_truthfully(spec_file: Path) -> None:
    functions = json.loads(spec_file.read_text(encoding="utf-8"))
    expected = _expected_refusals(functions)
    try:
        tools = load_tools_file(spec_file)
        got: dict[int, str] = {}
    except ProblemsFound as found:
        tools = []
        got = {}
        for problem in found.problems:
            index = int(re.match(r"\[(\d+)\]", problem.field).group(1))
            got[index] = _reason(problem.message)
            # The line points at the refused function's own text, not the top of the file.
            assert problem.file.endswith(spec_file.name)
            assert problem.line > 1
    assert got == expected
    if not expected:
        assert [tool.name for tool in tools] == [f["name"] for f in functions]
        assert all(tool.parameters.get("type") == "object" for tool in tools)


def test_totals_across_all_reference_specs() -> None:
    total = refused = 0
    for spec_file in SPEC_FILES:
        functions = json.loads(spec_file.read_text(encoding="utf-8"))
        total += len(functions)
        refused += len(_expected_refusals(functions))
    # 1,282 BFCL live functions plus the tau2-bench, BFCL multi-turn and ToolBench specs.
    assert total >= 1300
    assert refused < total
