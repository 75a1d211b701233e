"""The ``rolecall`` command line, run as a subprocess: --version, --help, schema, validate."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
import yaml

from rolecall import __version__

MINIMAL_DICT = {
    "name": "shop",
    "description": "A shop.",
    "personas": ["A customer."],
    "tools": [{"name": "get_order", "parameters": {"type": "object", "properties": {}}}],
}


def test_version(rolecall) -> None:
    result = rolecall("--version")
    assert result.returncode == 0, result.stderr
    assert __version__
    assert result.stdout.strip() == f"rolecall {__version__}"


def test_help_lists_commands(rolecall) -> None:
    result = rolecall("--help")
    assert result.returncode == 0, result.stderr
    assert "validate" in result.stdout
    assert "schema" in result.stdout


@pytest.fixture(scope="module")
def schema_document() -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "rolecall", "schema"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_schema_is_a_valid_draft_2020_12_schema(schema_document: dict) -> None:
    assert schema_document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema_document)


def test_schema_accepts_a_minimal_scenario(schema_document: dict) -> None:
    validator = jsonschema.Draft202012Validator(schema_document)
    assert list(validator.iter_errors(MINIMAL_DICT)) == []
    with_extension = {**MINIMAL_DICT, "tools": [{"name": "get_order", "x-category": "orders"}]}
    assert list(validator.iter_errors(with_extension)) == []


@pytest.mark.parametrize(
    "change",
    [{"toolz": []}, {"tools": [{"name": "get order"}]}, {"generation": {"seed": "3"}}],
    ids=["unknown-top-level-key", "bad-tool-name", "string-seed"],
)
def test_schema_rejects_invalid_scenarios(schema_document: dict, change: dict) -> None:
    assert not jsonschema.Draft202012Validator(schema_document).is_valid({**MINIMAL_DICT, **change})


def test_validate_valid_file(rolecall, write, minimal_scenario: str) -> None:
    write("scenario.yaml", minimal_scenario)
    result = rolecall("validate", "scenario.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == ["scenario.yaml: ok (1 tools, 1 personas, 10 dialogues)"]


def test_validate_quiet_prints_nothing_for_valid_files(rolecall, write, minimal_scenario: str) -> None:
    write("scenario.yaml", minimal_scenario)
    result = rolecall("validate", "--quiet", "scenario.yaml")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_validate_reports_only_the_bad_file(rolecall, write, minimal_scenario: str) -> None:
    write("good.yaml", minimal_scenario)
    write("bad.yaml", yaml.safe_dump({**MINIMAL_DICT, "generation": {"seed": "3", "dialogues": 0}}))
    result = rolecall("validate", "good.yaml", "bad.yaml")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    problems = result.stderr.splitlines()
    assert len(problems) == 2
    assert all(line.startswith("bad.yaml:") and ": error: generation." in line for line in problems)
    assert result.stdout.splitlines() == ["good.yaml: ok (1 tools, 1 personas, 10 dialogues)"]


def test_importing_the_cli_does_not_import_autogen() -> None:
    code = "import rolecall.cli, sys; print(any(m.startswith('autogen') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
