"""The dataflow graph over a scenario's tools: which output field can feed which input.

An edge ``A -> B`` exists when a field of A's output schema (top level, or inside the items of
an array of objects) has the name of one of B's parameters and a compatible type (and is not
just one of A's own inputs echoed back), or when A
returns a bare ``id`` and B takes ``<entity>_id`` where the entity is part of A's name
(``get_order`` returns ``id`` -> ``cancel_order(order_id)``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rolecall.scenario import Tool
from rolecall.text import topic_stems

_NUMERIC = {"integer", "number"}


@dataclass(frozen=True)
class OutputField:
    """A field of a tool's output: its path (list items as ``0``) and its schema."""

    path: tuple[str, ...]
    schema: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.path[-1]

    def reference(self, call_id: str) -> str:
        return f"{call_id}.{'.'.join(self.path)}"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    field: OutputField
    parameter: str


def output_fields(schema: Mapping[str, Any] | None) -> list[OutputField]:
    """Top-level fields and the fields of array-of-object items (first item stands for all)."""
    fields: list[OutputField] = []
    for name, sub in _properties(schema).items():
        fields.append(OutputField((name,), sub))
        items = sub.get("items") if isinstance(sub, Mapping) else None
        if isinstance(items, Mapping):
            for inner, inner_schema in _properties(items).items():
                fields.append(OutputField((name, "0", inner), inner_schema))
    return fields


def schema_at(schema: Mapping[str, Any] | None, path: Sequence[str]) -> Mapping[str, Any] | None:
    """The sub-schema at ``path`` (``0`` steps into ``items``); None if the schema does not declare it.

    A schema that declares no properties at all is open: any path is allowed there.
    """
    current: Mapping[str, Any] | None = schema
    for part in path:
        if not isinstance(current, Mapping):
            return None
        if part.isdigit() and isinstance(current.get("items"), Mapping):
            current = current["items"]
            continue
        properties = _properties(current)
        if not properties:
            return {} if _is_open(current) else None
        current = properties.get(part)
    return current


def _is_open(schema: Mapping[str, Any]) -> bool:
    return "properties" not in schema and schema.get("additionalProperties", True) is not False


def _properties(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        return {}
    properties = schema.get("properties")
    return dict(properties) if isinstance(properties, Mapping) else {}


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return set()


def compatible(output: Mapping[str, Any], parameter: Mapping[str, Any]) -> bool:
    """Could a value of schema ``output`` be passed where ``parameter`` is expected?"""
    if "enum" in parameter:
        # A closed parameter takes only outputs whose every possible value it accepts.
        return "enum" in output and set(map(str, output["enum"])) <= set(map(str, parameter["enum"]))
    produced, expected = _types(output), _types(parameter)
    if not produced or not expected:
        return True  # untyped on either side: let the plan validator decide on values
    if produced & expected:
        return True
    return bool(produced & _NUMERIC and expected & _NUMERIC)


def _entity_words(tool_name: str) -> set[str]:
    verbs = {"get", "find", "lookup", "search", "list", "fetch", "create", "read", "retrieve", "by", "show"}
    return {word for word in tool_name.lower().split("_") if word and word not in verbs}


class DataflowGraph:
    """Which tool outputs can feed which tool inputs, for one scenario."""

    def __init__(self, tools: Sequence[Tool], output_schemas: Mapping[str, Mapping[str, Any]]):
        self.tools = {tool.name: tool for tool in tools}
        self.output_schemas = output_schemas
        self.edges: list[Edge] = list(self._find_edges())
        self._stems: tuple[dict[str, set[str]], dict[str, float]] | None = None  # see _tool_stems
        # Indexes of the fixed edges and inputs: the planner samples a dozen chains per turn.
        self._edges_out: dict[str, list[Edge]] = {name: [] for name in self.tools}
        self._edges_in: dict[str, list[Edge]] = {name: [] for name in self.tools}
        for edge in self.edges:
            self._edges_out[edge.source].append(edge)
            self._edges_in[edge.target].append(edge)
        self._internal: dict[str, frozenset[str]] = {name: self._required_ids(name) for name in self.tools}
        self._producers = sorted({edge.source for edge in self.edges})
        self._starts = [name for name in self._producers if not self._internal[name]] or self._producers

    def _find_edges(self) -> Iterator[Edge]:
        for source in self.tools.values():
            fields = output_fields(self.output_schemas.get(source.name))
            for target in self.tools.values():
                if target.name == source.name:
                    continue
                for parameter, parameter_schema in _properties(target.parameters).items():
                    for field in fields:
                        if self._feeds(source, field, parameter, parameter_schema):
                            yield Edge(source.name, target.name, field, parameter)
                            break

    @staticmethod
    def _feeds(source: Tool, field: OutputField, parameter: str, parameter_schema: Any) -> bool:
        if not isinstance(parameter_schema, Mapping) or not compatible(field.schema, parameter_schema):
            return False
        if field.name in _properties(source.parameters):
            return False  # an echoed input is not something the source produces
        if field.name == parameter:
            return True
        # A bare "id" from get_order feeds "order_id".
        return (
            field.path == ("id",)
            and parameter.endswith("_id")
            and parameter[: -len("_id")] in _entity_words(source.name)
        )

    def edges_from(self, tool: str) -> list[Edge]:
        return list(self._edges_out.get(tool, ()))

    def edges_between(self, sources: Sequence[str], target: str) -> list[Edge]:
        return [edge for edge in self._edges_in.get(target, ()) if edge.source in sources]

    def edges_into(self, target: str, parameter: str) -> list[Edge]:
        """The outputs that can feed ``target``'s ``parameter``."""
        return [edge for edge in self._edges_in.get(target, ()) if edge.parameter == parameter]

    def _required_ids(self, tool: str) -> frozenset[str]:
        """Required parameters that hold ids a user cannot know (``*_id``): another call must supply them."""
        required = self.tools[tool].parameters.get("required") or []
        return frozenset(name for name in required if name == "id" or name.endswith("_id"))

    def _fed(self, tool: str, chosen: list[str]) -> bool:
        wanted = self._internal[tool]
        return not wanted or wanted <= {edge.parameter for edge in self._edges_in[tool] if edge.source in chosen}

    def sample_chain(self, rng: random.Random, length: int) -> list[str]:
        """A connected set of up to ``length`` tools, in an order where producers come first.

        Starts from a tool the user can drive alone (no required ``*_id`` input) and grows by
        following random edges out of the tools already chosen, adding only tools whose required
        ids those tools can supply: every plan can then be written without inventing an id.
        Falls back to any producer when a domain has no such start.
        """
        if length <= 1 or not self._producers:
            names = sorted(self.tools)
            single = [name for name in names if not self._internal[name]] or names
            return [rng.choice(single)]
        chain = [rng.choice(self._starts)]
        while len(chain) < length:
            options = sorted(
                {
                    edge.target
                    for source in chain
                    for edge in self._edges_out[source]
                    if edge.target not in chain and self._fed(edge.target, chain)
                }
            )
            if not options:
                break
            chain.append(rng.choice(options))
        return chain

    def sample_chain_about(self, rng: random.Random, length: int, topic: str, draws: int = 12) -> list[str]:
        """A chain as :meth:`sample_chain` draws it, favouring chains about ``topic`` (a persona).

        Draws ``draws`` chains and picks one with weight ``e ** overlap``. ``overlap`` adds up
        the topic's word stems found in the chain's tools (names and descriptions), each stem
        weighted by how rare it is among all the tools (inverse document frequency: "order" is
        in every shop tool and says little, "refund" in one), and the last tool, the goal,
        counts twice. A persona who "wants a refund for the skillet" then mostly gets a plan
        that ends in a refund, and the simulated customer, who reads the persona too, asks for
        what was planned. A persona with no wish, only a manner, shares few words with any tool
        and keeps a near-uniform draw.
        """
        about = topic_stems(topic)
        chains = [self.sample_chain(rng, length) for _ in range(draws)]
        weights = [math.exp(self._overlap(chain, about)) for chain in chains]
        return rng.choices(chains, weights=weights)[0]

    def _overlap(self, chain: list[str], about: set[str]) -> float:
        stems, rarity = self._tool_stems()
        shared = set().union(*(stems[name] for name in chain)) & about
        return sum(rarity[stem] for stem in shared) + sum(rarity[stem] for stem in stems[chain[-1]] & about)

    def _tool_stems(self) -> tuple[dict[str, set[str]], dict[str, float]]:
        """Each tool's word stems, and each stem's rarity among the tools (log inverse document
        frequency); worked out once, on first use."""
        if self._stems is None:
            stems = {name: topic_stems(f"{name.replace('_', ' ')} {t.description}") for name, t in self.tools.items()}
            counts: dict[str, int] = {}
            for found in stems.values():
                for stem in found:
                    counts[stem] = counts.get(stem, 0) + 1
            rarity = {stem: math.log((1 + len(stems)) / (1 + count)) for stem, count in counts.items()}
            self._stems = (stems, rarity)
        return self._stems
