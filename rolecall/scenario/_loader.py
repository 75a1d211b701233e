"""Load a scenario file: parse, validate, resolve ``{file: PATH}`` references, check across fields.

Every problem found is collected (not just the first) and reported with the file, line and
column of the node that caused it, so a user can fix a file in one pass.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import TypeAdapter, ValidationError

from rolecall.scenario._errors import validation_problems
from rolecall.scenario._jsonschema import dialect_of, meta_validator, value_validator
from rolecall.scenario._models import (
    ComponentConfig,
    FileRef,
    FunctionTool,
    InlineTool,
    OpenAITool,
    Persona,
    PersonaEntry,
    Scenario,
)
from rolecall.scenario._names import READ_VERBS, name_words
from rolecall.scenario._source import (
    MAX_REFERENCED_BYTES,
    DataPath,
    Problem,
    ProblemsFound,
    SourceDocument,
    format_path,
    load_document,
)

_INLINE_TOOL: TypeAdapter[Any] = TypeAdapter(InlineTool)
_PERSONA_LIST = TypeAdapter(list[PersonaEntry])
_ROLES = ("default", "planner", "user", "assistant", "tool_simulator", "judge")


@dataclass(frozen=True)
class Tool:
    """A tool in one normal form, whatever form the scenario wrote it in."""

    name: str
    description: str
    parameters: dict[str, Any]
    returns: dict[str, Any] | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def effect(self) -> tuple[str, str]:
        """("read" | "write", how that is known): ``x-readonly`` when the scenario says, else
        inferred from the name's first word (get, find, list, search, check... read)."""
        declared = self.extensions.get("x-readonly")
        if isinstance(declared, bool):
            return ("read" if declared else "write"), "x-readonly"
        return ("read" if name_words(self.name)[0] in READ_VERBS else "write"), "inferred from the name"

    def openai_tool(self) -> dict[str, Any]:
        """The tool as it appears in a chat request and in output records."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with every reference resolved."""

    path: Path
    scenario: Scenario
    tools: tuple[Tool, ...]
    personas: tuple[Persona, ...]
    # Role -> a component config mapping (inline or read from its file); unset roles absent.
    model_configs: dict[str, dict[str, Any]]
    digest: str

    @property
    def name(self) -> str:
        return self.scenario.name

    def tool(self, name: str) -> Tool:
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(name)


@dataclass
class _PlacedTool:
    """A tool plus where it was written, so later checks can point into the right file."""

    tool: Tool
    document: SourceDocument
    path: DataPath
    parameters_path: DataPath


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _resolved(path: Path) -> Path | None:
    """``path`` with links resolved, or None when they loop (which ``resolve`` reports as an error)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return None


class _Loader:
    def __init__(self, path: Path, known_rules: Sequence[str] | None = None):
        self.path = path
        self.known_rules = known_rules
        self.base_dir = (_resolved(path) or path.absolute()).parent
        self.problems: list[Problem] = []

    def _reference(self, owner: SourceDocument, where: DataPath, ref: str) -> Path | None:
        target = _resolved(self.base_dir / ref)
        if target is None:
            self.problems.append(owner.problem(where, f"referenced file {ref!r} is a symbolic link loop"))
            return None
        if not target.is_file():
            reason = "is not a file" if target.exists() else "not found"
            self.problems.append(owner.problem(where, f"referenced file {ref!r} {reason} (looked at {target})"))
            return None
        return target

    def _document(self, owner: SourceDocument, where: DataPath, ref: str) -> SourceDocument | None:
        target = self._reference(owner, where, ref)
        if target is None:
            return None
        try:
            return load_document(target, display_name=_display(target), max_bytes=MAX_REFERENCED_BYTES)
        except ProblemsFound as found:
            self.problems.extend(found.problems)
            return None

    def load(self) -> LoadedScenario:
        document = load_document(self.path)
        if not isinstance(document.data, dict):
            raise ProblemsFound([document.problem((), "the top level must be a mapping of scenario keys")])
        try:
            scenario = Scenario.model_validate(document.data)
        except ValidationError as error:
            raise ProblemsFound(validation_problems(error, document, Scenario)) from None

        personas = self._personas(document, scenario)
        placed = self._tools(document, scenario)
        if not placed and not self.problems:
            self.problems.append(document.problem(("tools",), "at least one tool is required"))
        self._check_tools(placed)
        self._check_prior_calls(document, scenario, {p.tool.name: p.tool for p in placed})
        model_configs = self._models(document, scenario)
        self._check_rule_names(document, scenario)
        if self.problems:
            raise ProblemsFound(self.problems)
        tools = tuple(p.tool for p in placed)
        return LoadedScenario(
            path=self.path,
            scenario=scenario,
            tools=tools,
            personas=tuple(personas),
            model_configs=model_configs,
            digest=_digest(scenario, tools, personas),
        )

    # -- personas -----------------------------------------------------------------------------

    def _personas(self, document: SourceDocument, scenario: Scenario) -> list[Persona]:
        entries: list[Any]
        if isinstance(scenario.personas, FileRef):
            where = ("personas", "file")
            persona_doc = self._document(document, where, scenario.personas.file)
            if persona_doc is None:
                return []
            if not isinstance(persona_doc.data, list):
                self.problems.append(persona_doc.problem((), "a personas file must hold a list of personas"))
                return []
            try:
                entries = _PERSONA_LIST.validate_python(persona_doc.data)
            except ValidationError as error:
                self.problems.extend(validation_problems(error, persona_doc, list[PersonaEntry]))
                return []
            owner, base = persona_doc, ()
        else:
            entries, owner, base = scenario.personas, document, ("personas",)
        if not entries:
            self.problems.append(owner.problem(base, "at least one persona is required"))
        return [
            entry if isinstance(entry, Persona) else Persona(name=f"persona-{index + 1}", description=entry)
            for index, entry in enumerate(entries)
        ]

    # -- tools --------------------------------------------------------------------------------

    def _tools(self, document: SourceDocument, scenario: Scenario) -> list[_PlacedTool]:
        placed: list[_PlacedTool] = []
        for index, entry in enumerate(scenario.tools):
            if isinstance(entry, FileRef):
                placed.extend(self._tool_file(document, ("tools", index, "file"), entry.file))
            else:
                placed.append(_place(entry, document, ("tools", index)))
        return placed

    def _tool_file(self, owner: SourceDocument, where: DataPath, ref: str) -> list[_PlacedTool]:
        tool_doc = self._document(owner, where, ref)
        return [] if tool_doc is None else self._tools_in(tool_doc)

    def _tools_in(self, tool_doc: SourceDocument) -> list[_PlacedTool]:
        """The tools of a standalone tools file: a YAML or JSON list of tools in either form."""
        if not isinstance(tool_doc.data, list):
            self.problems.append(tool_doc.problem((), "a tools file must hold a list of tools"))
            return []
        if not tool_doc.data:
            self.problems.append(tool_doc.problem((), "the tools file holds no tools"))
            return []
        placed = []
        # One tool at a time, so one bad tool does not hide the problems of the others.
        for index, item in enumerate(tool_doc.data):
            try:
                entry = _INLINE_TOOL.validate_python(item)
            except ValidationError as error:
                self.problems.extend(validation_problems(error, tool_doc, InlineTool, (index,)))
                continue
            placed.append(_place(entry, tool_doc, (index,)))
        return placed

    def _check_tools(self, placed: list[_PlacedTool]) -> None:
        first_seen: dict[str, _PlacedTool] = {}
        for item in placed:
            name_path = (*item.parameters_path[:-1], "name")
            earlier = first_seen.setdefault(item.tool.name, item)
            if earlier is not item:
                line, column = earlier.document.position(earlier.path)
                self.problems.append(
                    item.document.problem(
                        name_path,
                        f"duplicate tool name {item.tool.name!r} "
                        f"(first defined at {earlier.document.display_name}:{line}:{column})",
                    )
                )
            self.problems.extend(_schema_problems(item.tool.parameters, item.document, item.parameters_path))
            if item.tool.returns is not None:
                self.problems.extend(_schema_problems(item.tool.returns, item.document, (*item.path, "returns")))

    # -- prior calls --------------------------------------------------------------------------

    def _check_prior_calls(self, document: SourceDocument, scenario: Scenario, tools: dict[str, Tool]) -> None:
        for index, call in enumerate(scenario.prior_calls):
            base = ("prior_calls", index)
            tool = tools.get(call.name)
            if tool is None:
                close = difflib.get_close_matches(call.name, list(tools), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.problems.append(document.problem((*base, "name"), f"unknown tool {call.name!r}{hint}"))
                continue
            for schema, key, value in (
                (tool.parameters, "arguments", call.arguments),
                (tool.returns, "output", call.output),
            ):
                if schema is None or not usable_schema(schema):
                    continue
                for error in value_validator(schema).iter_errors(value):
                    path = (*base, key, *error.absolute_path)
                    self.problems.append(document.problem(path, f"does not match tool {tool.name!r}: {error.message}"))

    def _check_rule_names(self, document: SourceDocument, scenario: Scenario) -> None:
        if self.known_rules is None:
            return
        for index, name in enumerate(scenario.validation.disabled_rules):
            if name not in self.known_rules:
                close = difflib.get_close_matches(name, list(self.known_rules), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known checks: {', '.join(self.known_rules)}"
                where = ("validation", "disabled_rules", index)
                self.problems.append(document.problem(where, f"unknown check {name!r}; {hint}"))

    # -- models -------------------------------------------------------------------------------

    def _models(self, document: SourceDocument, scenario: Scenario) -> dict[str, dict[str, Any]]:
        configs: dict[str, dict[str, Any]] = {}
        for role in _ROLES:
            ref = getattr(scenario.models, role)
            if ref is None:
                continue
            if isinstance(ref, ComponentConfig):
                configs[role] = ref.model_dump(exclude_none=True)
                continue
            config_doc = self._document(document, ("models", role), ref)
            if config_doc is None:
                continue
            try:
                configs[role] = ComponentConfig.model_validate(config_doc.data).model_dump(exclude_none=True)
            except ValidationError as error:
                self.problems.extend(validation_problems(error, config_doc, ComponentConfig))
        return configs


def _place(entry: FunctionTool | OpenAITool, document: SourceDocument, path: DataPath) -> _PlacedTool:
    if isinstance(entry, OpenAITool):
        function = entry.function
        extensions = {**function.extensions, **entry.extensions}
        tool = Tool(function.name, function.description, function.parameters, entry.returns, extensions)
        return _PlacedTool(tool, document, path, (*path, "function", "parameters"))
    tool = Tool(entry.name, entry.description, entry.parameters, entry.returns, entry.extensions)
    return _PlacedTool(tool, document, path, (*path, "parameters"))


def usable_schema(schema: Any) -> bool:
    """Usable for validating values: a mapping, a string dialect (if any), meta-valid, every $ref resolvable."""
    if not isinstance(schema, dict) or not isinstance(schema.get("$schema", ""), str):
        return False
    return bool(meta_validator(schema).is_valid(schema)) and not _reference_problems(schema)


def _dialect(cls: type) -> str:
    """``Draft202012Validator`` -> ``Draft 2020-12``."""
    number = cls.__name__.removeprefix("Draft").removesuffix("Validator")
    return f"Draft {number[:4]}-{number[4:]}" if len(number) == 6 else f"Draft {number}"


def _schema_problems(schema: dict[str, Any], document: SourceDocument, path: DataPath) -> list[Problem]:
    """Meta-schema errors of a tool's ``parameters`` or ``returns``, dangling ``$ref``s, and the type-object rule."""
    dialect = schema.get("$schema")
    if dialect is not None and not isinstance(dialect, str):
        return [document.problem((*path, "$schema"), "$schema must be a string naming a JSON Schema dialect")]
    cls = dialect_of(schema)
    problems = []
    for error in meta_validator(schema).iter_errors(schema):
        # Inside anyOf/oneOf, the most relevant branch's complaint is the specific one.
        best = jsonschema.exceptions.best_match(error.context) if error.context else error
        problems.append(
            document.problem((*path, *best.absolute_path), f"not a valid JSON Schema ({_dialect(cls)}): {best.message}")
        )
    if problems:
        return problems
    problems.extend(document.problem((*path, *where), message) for where, message in _reference_problems(schema))
    if schema.get("type") != "object":
        where = (*path, "type") if "type" in schema else path
        found = f"type is {schema['type']!r}" if "type" in schema else "it has no type"
        problems.append(document.problem(where, f"must be a JSON Schema of type object, but {found}"))
    return problems


def _reference_problems(schema: Any) -> list[tuple[DataPath, str]]:
    """Every ``$ref`` must point inside the schema itself: tools cannot fetch remote schemas."""
    found: list[tuple[DataPath, str]] = []

    def walk(node: Any, where: DataPath) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if not ref.startswith("#"):
                    found.append(
                        ((*where, "$ref"), f"$ref {ref!r} is not local: only '#/...' references are supported")
                    )
                elif not _resolves(schema, ref):
                    found.append(((*where, "$ref"), f"$ref {ref!r} points to nothing in this schema"))
            for key, value in node.items():
                walk(value, (*where, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*where, index))

    walk(schema, ())
    return found


def _resolves(schema: Any, ref: str) -> bool:
    node = schema
    for token in [t for t in ref[1:].split("/") if t]:
        token = urllib.parse.unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def _digest(scenario: Scenario, tools: tuple[Tool, ...], personas: list[Persona]) -> str:
    """A content digest of the resolved scenario: formatting changes do not alter it."""
    payload = {
        "scenario": scenario.model_dump(mode="json", exclude={"tools", "personas"}),
        "tools": [{"tool": t.openai_tool(), "returns": t.returns} for t in tools],
        "personas": [p.model_dump(mode="json") for p in personas],
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_scenario(path: str | Path, known_rules: Sequence[str] | None = None) -> LoadedScenario:
    """Load and check a scenario file; raises :class:`ProblemsFound` listing every problem.

    ``known_rules``: the validator's check names, to catch typos in ``validation.disabled_rules``
    (passed in by callers so this package does not depend on the validator).
    """
    return _Loader(Path(path), known_rules).load()


def load_tools_file(path: str | Path) -> list[Tool]:
    """Load a standalone tools file (a YAML/JSON list of tools) with the same checks as a scenario's."""
    target = Path(path)
    loader = _Loader(target)
    placed = loader._tools_in(load_document(target, max_bytes=MAX_REFERENCED_BYTES))
    loader._check_tools(placed)
    if loader.problems:
        raise ProblemsFound(loader.problems)
    return [p.tool for p in placed]


def load_model_config(path: str | Path) -> dict[str, Any]:
    """Read an AutoGen component config file (YAML/JSON) into a mapping, or raise :class:`ProblemsFound`."""
    document = load_document(Path(path))
    try:
        return ComponentConfig.model_validate(document.data).model_dump(exclude_none=True)
    except ValidationError as error:
        raise ProblemsFound(validation_problems(error, document, ComponentConfig)) from None


__all__ = [
    "LoadedScenario",
    "Tool",
    "format_path",
    "load_model_config",
    "load_scenario",
    "load_tools_file",
]
