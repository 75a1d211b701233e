"""The package's shape: subpackages import each other in one direction, through public names.

Read from the source with ``ast`` (nothing is imported): each ``rolecall.X`` import from inside
subpackage ``Y`` is an edge Y -> X. The graph must have no cycle, and no module may import
another subpackage's private module (``rolecall.X._name``).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

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


def test_no_module_imports_another_subpackages_private_module() -> None:
    reaches = [
        f"{module}:{line} imports {target}"
        for module, target, line in _imports()
        if any(part.startswith("_") and not part.startswith("__") for part in target.split(".")[2:])
        and _area(module) != _area(target)
    ]
    assert reaches == []


def test_subpackages_depend_on_each_other_without_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for module, target, _ in _imports():
        source, destination = _area(module), _area(target)
        if source != destination and destination != "rolecall" and source != "rolecall":
            graph.setdefault(source, set()).add(destination)
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
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


def test_the_structure_check_sees_a_cycle_and_a_private_reach() -> None:
    graph = {"a": {"b"}, "b": {"a"}}
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError:
        pass
    else:  # pragma: no cover - the check above would be worthless
        raise AssertionError("a cycle went unnoticed")
    assert any(target == "rolecall.planning" for _, target, _ in _imports())  # the reader finds imports
