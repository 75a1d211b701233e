"""Read YAML/JSON files into plain data while remembering where every value came from.

PyYAML's ``safe_load`` throws positions away, so we compose the node graph ourselves
(libyaml when available) and construct plain Python data from it. That lets every later
check point at the exact ``line:column`` of the offending node. Constructing by hand also
lets us refuse what a plain-data file should never contain: tags naming Python objects,
alias bombs, absurd nesting and oversized files.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_COMPOSER_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A scenario file is hand-written; referenced tool files may hold thousands of functions.
MAX_SCENARIO_BYTES = 1 * 1024 * 1024
MAX_REFERENCED_BYTES = 16 * 1024 * 1024
# Nodes reached a second time through an alias. Real files use a handful; "billion laughs"
# needs millions, so this bounds time and memory without limiting honest use.
MAX_ALIAS_EXPANSION = 10_000
MAX_DEPTH = 100
MAX_FLOW_BRACKETS = 1_000

_STD = "tag:yaml.org,2002:"
_PLAIN_SCALAR_TAGS = {f"{_STD}{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")}
_COLLECTION_TAGS = {f"{_STD}seq", f"{_STD}map"}
_MERGE_TAG = f"{_STD}merge"

# A path into a document: mapping keys (str) and sequence indexes (int).
DataPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input file, pointing at the node that caused it."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: error: {self.field}: {self.message}"


class ProblemsFound(Exception):
    """Raised when a file (or a file it references) has one or more problems."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


def format_path(path: Iterable[str | int]) -> str:
    """``("tools", 2, "parameters", "type")`` -> ``tools[2].parameters.type``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(document)"


@dataclass
class SourceDocument:
    """Plain data from one file plus the position of every node in it (1-based)."""

    path: Path
    display_name: str
    data: Any
    value_positions: dict[DataPath, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[DataPath, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: DataPath, *, key: bool = False) -> tuple[int, int]:
        """Position of the node at ``path``, or of its nearest ancestor that exists."""
        if key and path in self.key_positions:
            return self.key_positions[path]
        for end in range(len(path), -1, -1):
            found = self.value_positions.get(path[:end])
            if found is not None:
                return found
        return (1, 1)

    def problem(self, path: DataPath, message: str, *, key: bool = False, field: str | None = None) -> Problem:
        line, column = self.position(path, key=key)
        return Problem(self.display_name, line, column, field or format_path(path), message)


def _offset_to_position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _display_tag(tag: str) -> str:
    return "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag


class _Builder:
    """Turns a composed node graph into plain data, recording positions as it goes."""

    def __init__(self, display_name: str):
        self.display_name = display_name
        self.values: dict[DataPath, tuple[int, int]] = {}
        self.keys: dict[DataPath, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self._seen: set[int] = set()
        self._expanded = 0
        self._scalars = SafeConstructor()

    def _fail(self, node: Node, path: DataPath, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.display_name, mark.line + 1, mark.column + 1, format_path(path), message))

    def build(self, node: Node, path: DataPath = (), depth: int = 0, record: bool = True) -> Any:
        if depth > MAX_DEPTH:
            self._fail(node, path, f"nested more than {MAX_DEPTH} levels deep")
            raise _Abort
        if id(node) in self._seen:
            # The same node again: reached through an alias. Count everything it expands to.
            self._expanded += 1
        self._seen.add(id(node))
        if self._expanded > MAX_ALIAS_EXPANSION:
            self._fail(node, path, f"aliases expand to more than {MAX_ALIAS_EXPANSION} nodes (alias bomb?)")
            raise _Abort
        if record:
            self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if node.tag not in _COLLECTION_TAGS:
            self._fail(node, path, f"YAML tag {_display_tag(node.tag)} is not allowed: files hold plain data only")
            return None
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        return self._mapping(node, path, depth)

    def _scalar(self, node: ScalarNode, path: DataPath) -> Any:
        if node.tag not in _PLAIN_SCALAR_TAGS:
            self._fail(node, path, f"YAML tag {_display_tag(node.tag)} is not allowed: files hold plain data only")
            return None
        if node.tag == f"{_STD}timestamp":
            # Keep dates as written; the models parse them where a date is expected.
            return node.value
        try:
            return self._scalars.construct_object(node)
        except Exception:  # PyYAML raises KeyError/IndexError for e.g. `!!bool maybe`, `!!int ""`
            self._fail(node, path, f"{node.value!r} is not a valid {_display_tag(node.tag)} scalar")
            return None

    def _mapping(self, node: MappingNode, path: DataPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.update(self._merge_source(value_node, path, depth))
                continue
            if not isinstance(key_node, ScalarNode):
                self._fail(key_node, path, "mapping keys must be plain scalars")
                continue
            if key_node.tag not in _PLAIN_SCALAR_TAGS:
                self._fail(
                    key_node, path, f"YAML tag {_display_tag(key_node.tag)} is not allowed: files hold plain data only"
                )
                continue
            # Keys keep their literal text: `on:` stays "on", not True (YAML 1.1 booleans).
            key = key_node.value
            child = (*path, key)
            if key in result:
                self._fail(key_node, child, "duplicate key")
                continue
            self.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child, depth + 1)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_source(self, node: Node, path: DataPath, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                self._fail(source, path, "a merge key (<<) must name a mapping")
                continue
            # Through build(), so merged content counts against the alias budget and depth.
            for key, value in self.build(source, path, depth + 1, record=False).items():
                merged.setdefault(key, value)
        return merged


class _Abort(Exception):
    """Stops construction after a problem that makes the rest meaningless."""


def _flow_nesting_problem(text: str, display_name: str) -> Problem | None:
    """Refuse absurd ``[``/``{`` nesting before libyaml sees it: its composer recurses in C and
    crashes the process (no RecursionError) at some tens of thousands of levels. Brackets inside
    strings are counted too, so the bound is far above the real limit checked later."""
    depth = 0
    for offset, char in enumerate(text):
        if char in "[{":
            depth += 1
            if depth > MAX_FLOW_BRACKETS:
                line, column = _offset_to_position(text, offset)
                return Problem(
                    display_name, line, column, "(document)", f"nested more than {MAX_FLOW_BRACKETS} brackets deep"
                )
        elif char in "]}" and depth:
            depth -= 1
    return None


def _decode(path: Path, raw: bytes, display_name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        bad = raw[error.start : error.start + 1].hex()
        raise ProblemsFound(
            [
                Problem(
                    display_name, line, column, "(document)", f"not valid UTF-8 (byte 0x{bad}); save the file as UTF-8"
                )
            ]
        ) from None


def load_document(
    path: Path, *, display_name: str | None = None, max_bytes: int = MAX_SCENARIO_BYTES
) -> SourceDocument:
    """Read ``path`` (YAML or JSON) into a :class:`SourceDocument`, or raise :class:`ProblemsFound`."""
    name = display_name or str(path)

    def fail(message: str, line: int = 1, column: int = 1, where: str = "(document)") -> ProblemsFound:
        return ProblemsFound([Problem(name, line, column, where, message)])

    try:
        if path.is_dir():
            raise fail("is a directory, not a file")
        size = path.stat().st_size
        if size > max_bytes:
            raise fail(f"file is {size} bytes, over the limit of {max_bytes} bytes")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise fail("file not found") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise fail("is a symbolic link loop") from None
        raise fail(f"cannot read file: {error.strerror or error}") from None
    text = _decode(path, raw, name)
    too_deep = _flow_nesting_problem(text, name) if text.count("[") + text.count("{") > MAX_FLOW_BRACKETS else None
    if too_deep:
        raise ProblemsFound([too_deep])
    try:
        root = yaml.compose(text, Loader=_COMPOSER_LOADER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        detail = " ".join(part for part in (error.context, error.problem) if part)
        raise fail(f"YAML syntax error: {detail}", line, column) from None
    except yaml.reader.ReaderError as error:
        offset = error.position
        if _COMPOSER_LOADER is not yaml.SafeLoader:  # libyaml counts UTF-8 bytes, not characters
            offset = len(text.encode("utf-8")[:offset].decode("utf-8", "ignore"))
        line, column = _offset_to_position(text, offset)
        raise fail(f"character {error.character!r} is not allowed in YAML", line, column) from None
    except yaml.YAMLError as error:
        raise fail(f"YAML syntax error: {error}") from None
    except RecursionError:
        raise fail(f"nested more than {MAX_DEPTH} levels deep") from None
    if root is None:
        raise fail("file is empty")
    builder = _Builder(name)
    try:
        data = builder.build(root)
    except _Abort:
        data = None
    if builder.problems:
        raise ProblemsFound(builder.problems)
    return SourceDocument(path, name, data, builder.values, builder.keys)
