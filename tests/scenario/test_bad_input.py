"""Bad scenario files through the real CLI: exit 2, one precise line per problem, no traceback.

Every test writes a small file into tmp_path and runs ``python -m rolecall validate FILE`` there,
then checks the reported ``FILE:LINE:COL: error: FIELD: MESSAGE`` line. Files are built from a
few fixed headers so that line numbers are easy to count:

    1 name: shop
    2 description: A shop.
    3 personas: [A customer.]
    4 tools: ...
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HEAD = "name: shop\ndescription: A shop.\npersonas: [A customer.]\n"
# HEAD plus a one-line tool list; whatever follows starts on line 5.
TOOL_A = HEAD + "tools: [{name: a}]\n"
# HEAD plus a tool with parameters and returns (lines 4-11); whatever follows starts on line 12.
GET_ORDER = HEAD + (
    "tools:\n"
    "  - name: get_order\n"
    "    parameters:\n"
    "      type: object\n"
    "      properties:\n"
    "        order_id: {type: string}\n"
    "      required: [order_id]\n"
    "    returns: {type: object, properties: {status: {type: string}}}\n"
)

LINE_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<field>.+?): (?P<message>.*)$")


@dataclass(frozen=True)
class Reported:
    file: str
    line: int
    col: int
    field: str
    message: str


def parse(stderr: str) -> list[Reported]:
    """Every stderr line must be a problem line; returns them in printed order."""
    reported = []
    for text in stderr.splitlines():
        match = LINE_RE.match(text)
        assert match, f"not a problem line: {text!r}"
        reported.append(
            Reported(match["file"], int(match["line"]), int(match["col"]), match["field"], match["message"])
        )
    assert reported, "no problem reported on stderr"
    return reported


def run_validate(rolecall, *files: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    try:
        return rolecall("validate", *files, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"rolecall validate {' '.join(files)} did not finish within {timeout} s")


def validate_bad(rolecall, *files: str, timeout: float = 60) -> list[Reported]:
    """Runs validate on files that must be refused: exit 2, no traceback, parsable lines."""
    result = run_validate(rolecall, *files, timeout=timeout)
    last = result.stderr.strip().splitlines()[-1:]
    assert "Traceback" not in result.stderr, f"traceback on stderr, ending in {last}"
    assert result.returncode == 2, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return parse(result.stderr)


def assert_reported(
    reported: list[Reported],
    line: int | None,
    col: int | None,
    field: str | None,
    word: str,
    file: str = "scenario.yaml",
) -> Reported:
    """One reported problem matches; ``None`` leaves that part unchecked. ``word`` ignores case."""
    for item in reported:
        if (
            item.file == file
            and line in (None, item.line)
            and col in (None, item.col)
            and field in (None, item.field)
            and word.lower() in item.message.lower()
        ):
            return item
    wanted = f"{file}:{line}:{col}: error: {field}: ...{word}..."
    got = "\n".join(f"{r.file}:{r.line}:{r.col}: error: {r.field}: {r.message}" for r in reported)
    pytest.fail(f"expected a line like\n  {wanted}\ngot\n{got}")


@pytest.fixture
def check(write, rolecall):
    """``check(content, line, col, field, word)``: scenario.yaml holding ``content`` is refused so."""

    def _check(content: str | bytes, line: int | None, col: int | None, field: str | None, word: str):
        write("scenario.yaml", content)
        return assert_reported(validate_bad(rolecall, "scenario.yaml"), line, col, field, word)

    return _check


# (content, line, col, field, key word of the message)
CASES = {
    # The aids' switch and the user's disclosure
    "assist-mode": (TOOL_A + "generation:\n  assist: bogus\n", 6, 11, "generation.assist.mode", "'small_model'"),
    "assist-bound": (
        TOOL_A + "generation:\n  assist: {mode: none, opening_drafts: 0}\n",
        6,
        40,
        "generation.assist.opening_drafts",
        "greater than or equal to 1",
    ),
    "disclosure": (
        TOOL_A + "generation:\n  user: {disclosure: sometimes}\n",
        6,
        22,
        "generation.user.disclosure",
        "'on_request'",
    ),
    # YAML syntax
    "bad-indentation": (
        "name: shop\ndescription: A shop.\npersonas:\n  - A customer.\n tools:\n  - name: a\n",
        5,
        2,
        "(document)",
        "syntax",
    ),
    "unclosed-bracket": (
        HEAD.replace("[A customer.]", "[A customer.") + "tools:\n  - name: a\n",
        4,
        None,
        "(document)",
        "syntax",
    ),
    "two-documents": ("name: shop\n---\nname: other\n", 2, 1, "(document)", "syntax"),
    # wrong types
    "string-for-int": (TOOL_A + 'generation:\n  seed: "3"\n', 6, 9, "generation.seed", "integer"),
    "bool-for-int": (TOOL_A + "generation:\n  seed: true\n", 6, 9, "generation.seed", "integer"),
    "list-for-string": (
        "name: [a, b]\ndescription: A shop.\npersonas: [A]\ntools: [{name: a}]\n",
        1,
        7,
        "name",
        "string",
    ),
    "list-for-tool-description": (
        HEAD + "tools:\n  - name: a\n    description: [x, y]\n",
        6,
        18,
        "tools[0].description",
        "string",
    ),
    "string-for-personas": (
        "name: shop\ndescription: A shop.\npersonas: A customer.\ntools: [{name: a}]\n",
        3,
        11,
        "personas",
        "list",
    ),
    # required things
    "missing-tool-name": (HEAD + "tools:\n  - description: Gets.\n", 5, 5, "tools[0].name", "required"),
    "empty-tool-list": (HEAD + "tools: []\n", 4, 8, "tools", "at least one tool"),
    "empty-persona-list": (
        "name: shop\ndescription: A shop.\npersonas: []\ntools: [{name: a}]\n",
        3,
        11,
        "personas",
        "at least one",
    ),
    # tool names
    "duplicate-tool-name": (
        HEAD + "tools:\n  - name: a\n  - name: b\n  - name: a\n",
        7,
        11,
        "tools[2].name",
        "duplicate tool name 'a' (first defined at scenario.yaml:5:5)",
    ),
    "tool-name-space": (HEAD + "tools:\n  - name: get order\n", 5, 11, "tools[0].name", "not a valid tool name"),
    "tool-name-65-chars": (
        HEAD + "tools:\n  - name: " + "a" * 65 + "\n",
        5,
        11,
        "tools[0].name",
        "not a valid tool name",
    ),
    "openai-tool-name-space": (
        HEAD + "tools:\n  - type: function\n    function:\n      name: get order\n",
        7,
        13,
        "tools[0].function.name",
        "not a valid tool name",
    ),
    "openai-tool-name-65-chars": (
        HEAD + "tools:\n  - type: function\n    function:\n      name: " + "b" * 65 + "\n",
        7,
        13,
        "tools[0].function.name",
        "not a valid tool name",
    ),
    # JSON Schemas of parameters and returns
    "parameters-type-strin": (
        HEAD + "tools:\n  - name: a\n    parameters:\n      type: object\n      properties:\n"
        "        x: {type: strin}\n",
        9,
        19,
        "tools[0].parameters.properties.x.type",
        "not a valid JSON Schema",
    ),
    "parameters-required-not-list": (
        HEAD + "tools:\n  - name: a\n    parameters:\n      type: object\n      required: x\n",
        8,
        17,
        "tools[0].parameters.required",
        "not a valid JSON Schema",
    ),
    "openai-parameters-type-strin": (
        HEAD + "tools:\n  - type: function\n    function:\n      name: a\n      parameters:\n"
        "        type: object\n        properties:\n          x: {type: strin}\n",
        11,
        21,
        "tools[0].function.parameters.properties.x.type",
        "not a valid JSON Schema",
    ),
    "returns-type-strin": (
        HEAD + "tools:\n  - name: a\n    returns:\n      type: object\n      properties:\n"
        "        status: {type: strin}\n",
        9,
        24,
        "tools[0].returns.properties.status.type",
        "not a valid JSON Schema",
    ),
    "returns-array": (
        HEAD + "tools:\n  - name: a\n    returns: {type: array}\n",
        6,
        21,
        "tools[0].returns.type",
        "type object",
    ),
    "parameters-array": (
        HEAD + "tools:\n  - name: a\n    parameters: {type: array}\n",
        6,
        24,
        "tools[0].parameters.type",
        "type object",
    ),
    "parameters-without-type": (
        HEAD + "tools:\n  - name: a\n    parameters: {properties: {}}\n",
        6,
        17,
        "tools[0].parameters",
        "no type",
    ),
    # encoding, emptiness, top level
    "latin-1-byte-on-line-3": (
        b"name: shop\ndescription: A shop.\npersonas: [A caf\xe9 owner.]\ntools: [{name: a}]\n",
        3,
        17,
        "(document)",
        "UTF-8",
    ),
    "empty-file": ("", 1, 1, "(document)", "empty"),
    "whitespace-only": ("  \n\n   \n", 1, 1, "(document)", "empty"),
    "comments-only": ("# just a comment\n\n# another one\n", 1, 1, "(document)", "empty"),
    "top-level-list": ("- name: shop\n- description: A shop.\n", 1, 1, "(document)", "mapping"),
    "top-level-scalar": ("hello\n", 1, 1, "(document)", "mapping"),
    "control-character": (TOOL_A + 'policy: "ok\x07"\n', 5, 12, "(document)", "not allowed"),
    # the position must count characters, not UTF-8 bytes
    "control-character-after-non-ascii": (
        HEAD.replace("A shop.", "A café, crème brûlée.") + 'tools: [{name: a}]\npolicy: "ok\x07"\n',
        5,
        12,
        "(document)",
        "not allowed",
    ),
    # duplicate keys
    "duplicate-top-level-key": (TOOL_A + "name: other\n", 5, 1, "name", "duplicate key"),
    "duplicate-nested-key": (HEAD + "tools:\n  - name: a\n    name: b\n", 6, 5, "tools[0].name", "duplicate key"),
    # ranges
    "turns-min-over-max": (
        TOOL_A + "generation:\n  turns: {min: 3, max: 2}\n",
        6,
        10,
        "generation.turns",
        "greater than",
    ),
    "plan-length-min-over-max": (
        TOOL_A + "generation:\n  plan_length:\n    min: 5\n    max: 1\n",
        7,
        5,
        "generation.plan_length",
        "greater than",
    ),
    # prior_calls
    "prior-call-unknown-tool": (
        GET_ORDER + "prior_calls:\n  - name: get_ordr\n",
        13,
        11,
        "prior_calls[0].name",
        "unknown tool 'get_ordr'; did you mean 'get_order'",
    ),
    "prior-call-unknown-tool-no-hint": (
        GET_ORDER + "prior_calls:\n  - name: zzz\n",
        13,
        11,
        "prior_calls[0].name",
        "unknown tool 'zzz'",
    ),
    "prior-call-argument-type": (
        GET_ORDER + "prior_calls:\n  - name: get_order\n    arguments: {order_id: 42}\n",
        14,
        27,
        "prior_calls[0].arguments.order_id",
        "does not match tool 'get_order'",
    ),
    "prior-call-argument-missing": (
        GET_ORDER + "prior_calls:\n  - name: get_order\n    arguments: {}\n",
        14,
        16,
        "prior_calls[0].arguments",
        "'order_id' is a required property",
    ),
    "prior-call-output-type": (
        GET_ORDER + "prior_calls:\n  - name: get_order\n    arguments: {order_id: W-1}\n    output: {status: 3}\n",
        15,
        22,
        "prior_calls[0].output.status",
        "does not match tool 'get_order'",
    ),
    # explicit scalar tags whose text does not fit the tag
    "int-tag-on-text": (TOOL_A + "policy: !!int abc\n", 5, 9, "policy", "scalar"),
    "int-tag-on-empty-string": (TOOL_A + 'policy: !!int ""\n', 5, 9, "policy", "scalar"),
    "float-tag-on-empty-string": (TOOL_A + 'policy: !!float ""\n', 5, 9, "policy", "scalar"),
    "bool-tag-on-maybe": (TOOL_A + "policy: !!bool maybe\n", 5, 9, "policy", "maybe"),
    # a $schema that is not a string must be refused, not crash the validator lookup
    "schema-keyword-int": (
        HEAD + "tools:\n  - name: a\n    parameters:\n      $schema: 5\n      type: object\n",
        7,
        None,
        "tools[0].parameters.$schema",
        "schema",
    ),
    "schema-keyword-list": (
        HEAD + "tools:\n  - name: a\n    parameters:\n      $schema: [1]\n      type: object\n",
        7,
        None,
        "tools[0].parameters.$schema",
        "schema",
    ),
}


@pytest.mark.parametrize(("content", "line", "col", "field", "word"), CASES.values(), ids=CASES.keys())
def test_refused_at_the_offending_node(check, content, line, col, field, word) -> None:
    check(content, line, col, field, word)


@pytest.mark.parametrize(
    ("content", "line", "col", "field", "expected", "absent"),
    [
        (
            HEAD + "tools:\n  - name: a\n    paramters: {type: object}\n",
            6,
            5,
            "tools[0].paramters",
            "unknown key 'paramters'; did you mean 'parameters'?",
            None,
        ),
        (
            HEAD + "tools:\n  - type: function\n    function:\n      name: a\n      paramters: {}\n",
            8,
            7,
            "tools[0].function.paramters",
            "did you mean 'parameters'?",
            None,
        ),
        (TOOL_A + "policyy: Be nice.\n", 5, 1, "policyy", "did you mean 'policy'?", None),
        (TOOL_A + "generation:\n  sed: 3\n", 6, 3, "generation.sed", "did you mean 'seed'?", None),
        (
            HEAD + "tools:\n  - name: a\n    zzzqqq: 1\n",
            6,
            5,
            "tools[0].zzzqqq",
            "unknown key 'zzzqqq'; allowed keys: name, description, parameters, returns",
            "did you mean",
        ),
        # the model's internal alias for x- extensions is not a key users may write
        (
            HEAD + "tools:\n  - name: a\n    __extensions__: {foo: 1}\n",
            6,
            5,
            "tools[0].__extensions__",
            "unknown key",
            None,
        ),
    ],
    ids=["bare-tool", "openai-function", "top-level", "generation", "no-suggestion", "internal-alias"],
)
def test_unknown_key_reported_at_the_key(check, content, line, col, field, expected, absent) -> None:
    found = check(content, line, col, field, expected)
    if absent:
        assert absent not in found.message


@pytest.mark.parametrize("missing", ["name", "description", "personas", "tools"])
def test_missing_required_top_level_field(check, missing) -> None:
    lines = {"name": "shop", "description": "A shop.", "personas": "[A customer.]", "tools": "[{name: a}]"}
    content = "".join(f"{key}: {value}\n" for key, value in lines.items() if key != missing)
    check(content, 1, 1, missing, "required field is missing")


@pytest.mark.parametrize(
    "content",
    [
        TOOL_A + 'policy: !!python/object/apply:os.system ["touch PWNED"]\n',
        '!!python/object/apply:os.system ["touch PWNED"]\n',
        TOOL_A + "policy: !!python/name:os.system\n",
        TOOL_A + 'policy: !!python/object/new:subprocess.check_call [["touch", "PWNED"]]\n',
    ],
    ids=["object-apply-value", "object-apply-document", "name-value", "object-new-value"],
)
def test_python_tags_are_refused_and_nothing_runs(check, tmp_path: Path, content: str) -> None:
    line, col, field = (1, 1, "(document)") if content.startswith("!!") else (5, 9, "policy")
    found = check(content, line, col, field, "is not allowed")
    assert "!!python/" in found.message
    assert not (tmp_path / "PWNED").exists()


def test_python_tag_on_a_key_is_refused(check) -> None:
    check(TOOL_A + "!!python/name:os.system policy: Be nice.\n", 5, 1, None, "is not allowed")


def test_missing_file_and_directory(rolecall, tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    reported = validate_bad(rolecall, "nothing-here.yaml", "adir")
    assert_reported(reported, 1, 1, "(document)", "file not found", file="nothing-here.yaml")
    assert_reported(reported, 1, 1, "(document)", "is a directory", file="adir")


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = [TOOL_A.rstrip("\n"), "x0: &x0 [" + ", ".join(['"lol"'] * width) + "]"]
    lines += [f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * width) + "]" for i in range(1, levels)]
    lines.append(f"policy: *x{levels - 1}")
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int = 9, width: int = 9) -> str:
    """Merge keys (<<) of empty mappings: no alias is ever expanded into a value, yet 9**8 merges."""
    lines = [TOOL_A.rstrip("\n"), "x0: &x0 {}"]
    lines += [f"x{i}: &x{i} {{<<: [" + ", ".join([f"*x{i - 1}"] * width) + "]}" for i in range(1, levels)]
    lines.append(f"policy: *x{levels - 1}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("content", [_alias_bomb(), _merge_bomb()], ids=["billion-laughs", "merge-keys"])
def test_alias_bombs_are_refused_quickly(write, rolecall, content: str) -> None:
    write("scenario.yaml", content)
    start = time.monotonic()
    validate_bad(rolecall, "scenario.yaml", timeout=10)
    assert time.monotonic() - start < 10


def test_alias_bomb_message_names_aliases(check) -> None:
    found = check(_alias_bomb(), None, None, None, "aliases expand to more than")
    assert found.field.startswith("x")


def test_file_over_the_size_limit(check) -> None:
    entries = []
    size = len(HEAD) + len("tools:\n")
    while size <= 1024 * 1024:
        entries.append(f"  - name: tool_{len(entries)}\n    description: Does thing {len(entries)} for the user.\n")
        size += len(entries[-1])
    found = check(HEAD + "tools:\n" + "".join(entries), 1, 1, "(document)", "over the limit")
    assert "1048576" in found.message


def test_deep_nesting(check) -> None:
    content = TOOL_A + "policy: " + "[" * 200 + "]" * 200 + "\n"
    # The value of `policy` is depth 1; the 101st bracket (column 9 + 100) is the first too deep.
    check(content, 5, 109, "policy" + "[0]" * 100, "nested more than 100 levels")


def test_very_deep_nesting_does_not_crash(check) -> None:
    # 400 KB, well under the size limit; the YAML composer must not overflow the C stack.
    check(TOOL_A + "policy: " + "[" * 200_000 + "]" * 200_000 + "\n", None, None, None, "nested")


def test_dangling_ref_in_parameters_checked_against_a_prior_call(check) -> None:
    content = HEAD + (
        "tools:\n  - name: a\n    parameters:\n      type: object\n      properties:\n"
        "        x: {$ref: '#/$defs/nope'}\n"
        "prior_calls:\n  - name: a\n    arguments: {x: 1}\n"
    )
    check(content, None, None, None, "#/$defs/nope")


@pytest.mark.parametrize(
    ("content", "line", "col", "field"),
    [
        (HEAD + "tools:\n  - {file: nope.json}\n", 5, 12, "tools[0].file"),
        ("name: shop\ndescription: A shop.\npersonas: {file: nope.yaml}\ntools: [{name: a}]\n", 3, 18, "personas.file"),
        (TOOL_A + "models:\n  default: nope.yaml\n", 6, 12, "models.default"),
    ],
    ids=["tools", "personas", "models"],
)
def test_missing_referenced_file(check, content, line, col, field) -> None:
    found = check(content, line, col, field, "not found")
    assert "nope." in found.message


@pytest.mark.parametrize(
    ("name", "content", "line", "col", "field", "word"),
    [
        (
            "tools/extra.json",
            '[\n  {"name": "ok"},\n  {"name": "bad name"}\n]\n',
            3,
            12,
            "[1].name",
            "not a valid tool name",
        ),
        (
            "tools/extra.yaml",
            "- type: function\n  function:\n    name: ok\n    parameters:\n      type: object\n      required: x\n",
            6,
            17,
            "[0].function.parameters.required",
            "not a valid JSON Schema",
        ),
        ("tools/extra.json", '{"name": "ok"}\n', 1, 1, "(document)", "must hold a list of tools"),
        ("tools/extra.json", "[]\n", 1, 1, "(document)", "holds no tools"),
        ("tools/extra.yaml", b"- name: ok\n  description: caf\xe9\n", 2, 19, "(document)", "UTF-8"),
    ],
    ids=["json-bad-name", "yaml-bad-schema", "not-a-list", "empty-list", "latin-1"],
)
def test_problem_inside_referenced_tools_file(write, rolecall, name, content, line, col, field, word) -> None:
    write(name, content)
    write("scenario.yaml", HEAD + f"tools:\n  - name: first\n  - file: {name}\n")
    reported = validate_bad(rolecall, "scenario.yaml")
    assert_reported(reported, line, col, field, word, file=name)
    assert all(item.file == name for item in reported)


def test_duplicate_across_scenario_and_tools_file(write, rolecall) -> None:
    write("extra.json", '[\n  {"name": "get_order"}\n]\n')
    write("scenario.yaml", GET_ORDER + "  - {file: extra.json}\n")
    reported = validate_bad(rolecall, "scenario.yaml")
    assert_reported(reported, 2, 12, "[0].name", "first defined at scenario.yaml:5:5", file="extra.json")


def test_problem_inside_referenced_personas_file(write, rolecall) -> None:
    write("people.yaml", "- A regular.\n- name: Ann\n  descripton: Calm.\n")
    write("scenario.yaml", "name: shop\ndescription: A shop.\npersonas: {file: people.yaml}\ntools: [{name: a}]\n")
    reported = validate_bad(rolecall, "scenario.yaml")
    assert_reported(reported, 3, 3, "[1].descripton", "did you mean 'description'", file="people.yaml")


def test_same_bad_file_referenced_twice_is_reported_once(write, rolecall) -> None:
    write("extra.json", '[\n  {"name": "bad name"}\n]\n')
    write("scenario.yaml", HEAD + "tools:\n  - file: extra.json\n  - file: extra.json\n")
    reported = validate_bad(rolecall, "scenario.yaml")
    assert [(r.file, r.line, r.field) for r in reported] == [("extra.json", 2, "[0].name")]


def test_several_problems_are_all_reported_sorted_by_line(write, rolecall) -> None:
    content = (
        "name: 5\n"  # 1
        "description: A shop.\n"
        "personas: [A customer.]\n"
        "tools:\n"
        "  - name: a b\n"  # 5
        "    paramters: {}\n"  # 6
        "generation:\n"
        '  seed: "3"\n'  # 8
        "  turns: {min: 3, max: 2}\n"  # 9
        "  dialogues: 0\n"  # 10
    )
    write("scenario.yaml", content)
    reported = validate_bad(rolecall, "scenario.yaml")
    assert [(r.line, r.field) for r in reported] == [
        (1, "name"),
        (5, "tools[0].name"),
        (6, "tools[0].paramters"),
        (8, "generation.seed"),
        (9, "generation.turns"),
        (10, "generation.dialogues"),
    ]


def test_a_scenario_path_that_is_a_symlink_loop_is_a_located_error(tmp_path: Path, rolecall) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    assert_reported(validate_bad(rolecall, "a.yaml"), 1, 1, "(document)", "symbolic link loop", file="a.yaml")


def test_a_file_reference_that_is_a_symlink_loop_is_a_located_error(tmp_path: Path, check) -> None:
    (tmp_path / "x.yaml").symlink_to(tmp_path / "y.yaml")
    (tmp_path / "y.yaml").symlink_to(tmp_path / "x.yaml")
    check(HEAD + "tools:\n  - file: x.yaml\n", 5, 11, "tools[0].file", "symbolic link loop")


PATTERN_TOOL = HEAD + (
    "tools:\n"
    "  - name: get_order\n"
    "    parameters:\n"
    "      type: object\n"
    "      properties:\n"
    "        order_id: {{type: string, pattern: '{pattern}'}}\n"
    "      required: [order_id]\n"
    "prior_calls:\n"
    "  - {{name: get_order, arguments: {{order_id: '{value}'}}}}\n"
)


def test_an_invalid_pattern_is_a_located_error_even_where_a_prior_call_uses_it(check) -> None:
    content = PATTERN_TOOL.format(pattern="([", value="W-1")
    check(content, 9, 43, "tools[0].parameters.properties.order_id.pattern", "'regex'")


def test_a_pattern_that_backtracks_catastrophically_cannot_hang_validation(check) -> None:
    started = time.monotonic()
    content = PATTERN_TOOL.format(pattern="^(a|aa)+$", value="a" * 39 + "!")
    check(content, 12, 45, "prior_calls[0].arguments.order_id", "backtracks catastrophically")
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    ("provider", "word"),
    [("no_such_package.Client", "no module 'no_such_package'"), ("not a path", "is not an import path")],
)
def test_a_provider_that_cannot_be_found_is_a_located_error(check, provider: str, word: str) -> None:
    check(TOOL_A + f"models:\n  default: {{provider: '{provider}'}}\n", 6, 23, "models.default.provider", word)


def test_validate_finds_a_provider_without_importing_it(write, rolecall) -> None:
    write("scenario.yaml", TOOL_A + "models:\n  default: {provider: this.Zen}\n")
    result = run_validate(rolecall, "scenario.yaml")
    assert result.returncode == 0 and "Beautiful is better" not in result.stdout + result.stderr


def test_run_refuses_a_provider_that_is_not_a_chat_client(write, rolecall, tmp_path: Path) -> None:
    write("scenario.yaml", TOOL_A + "models:\n  default: {provider: json.JSONDecoder}\n")
    result = rolecall("run", "scenario.yaml", "-o", tmp_path / "out", "-n", "1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'json.JSONDecoder' is not an AutoGen ChatCompletionClient" in result.stderr
