"""The package's shape: subpackages import each other in one direction, through public names.

Read from the source with ``ast`` (nothing is imported): each ``rolecall.X`` import from inside
subpackage ``Y`` is an edge Y -> X. The graph must have no cycle, and no module may import
another subpackage's private module (``rolecall.X._name``).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import rolecall

PACKAGE = Path(rolecall.__file__).parent


def _area(module: str) -> str:
    """``rolecall.dialogue._session`` -> ``dialogue``; top-level modules are areas of their own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports() -> list[tuple[str, str, int]]:
    """(importing module, imported rolecall module, line) for every rolecall import in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rolecall"):
                names = [node.module]
                if node.module == "rolecall":  # "from rolecall import cli" imports a submodule
                    names = [f"rolecall.{alias.name}" for alias in node.names]
                found += [(module, name, node.lineno) for name in names]
            elif isinstance(node, ast.Import):
                found += [(module, a.name, node.lineno) for a in node.names if a.name.startswith("rolecall")]
    return found


def _private_reaches(imports: list[tuple[str, str, int]]) -> list[str]:
    """Imports of another subpackage's private module (``rolecall.X._name``)."""
    return [
        f"{module}:{line} imports {target}"
        for module, target, line in imports
        if any(part.startswith("_") and not part.startswith("__") for part in target.split(".")[2:])
        and _area(module) != _area(target)
    ]


def _layers(imports: list[tuple[str, str, int]]) -> tuple[dict[str, set[str]], list[str]]:
    """The subpackage graph and an order lowest first; raises ``graphlib.CycleError`` on a cycle."""
    graph: dict[str, set[str]] = {}
    for module, target, _ in imports:
        source, destination = _area(module), _area(target)
        if source != destination and "rolecall" not in (source, destination):
            graph.setdefault(source, set()).add(destination)
    return graph, list(graphlib.TopologicalSorter(graph).static_order())


def test_no_module_imports_another_subpackages_private_module() -> None:
    assert _private_reaches(_imports()) == []


def test_subpackages_depend_on_each_other_without_cycles() -> None:
    graph, order = _layers(_imports())
    # The layers named in the README, lowest first.
    for lower, higher in [
        ("scenario", "agents"),
        ("prompts", "models"),
        ("models", "agents"),
        ("agents", "assist"),
        ("assist", "dialogue"),
        ("dialogue", "run"),
        ("run", "cli"),
    ]:
        assert order.index(lower) < order.index(higher), (lower, higher)
    assert "agents" not in graph.get("models", set())  # the embedded client needs no role code


def test_the_structure_checks_see_a_cycle_and_a_private_reach() -> None:
    # The reach-in and the back edge this change removed, as the old code had them.
    old = [
        ("rolecall.simulator._tools", "rolecall.agents._protocols", 22),
        ("rolecall.models._llama", "rolecall.agents._templates", 44),
        ("rolecall.agents._autogen", "rolecall.models", 42),
        ("rolecall.dialogue._session", "rolecall.dialogue._tools", 23),  # its own package: fine
    ]
    assert _private_reaches(old) == [
        "rolecall.simulator._tools:22 imports rolecall.agents._protocols",
        "rolecall.models._llama:44 imports rolecall.agents._templates",
    ]
    with pytest.raises(graphlib.CycleError):
        _layers(old)
    assert any(target == "rolecall.planning" for _, target, _ in _imports())  # the reader finds imports


def test_the_format_checkers_load_without_the_slow_iri_parser() -> None:
    # rfc3987-syntax builds 38 parsers when imported (2.2 s at every start of the command); the
    # dependencies name jsonschema's format packages without it.
    import subprocess
    import sys

    code = "import rolecall.validators, sys; print('rfc3987_syntax' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False"
