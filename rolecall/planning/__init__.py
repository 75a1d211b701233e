"""Planning: the dataflow graph over tools, turn plans with references, and the hidden split."""

from rolecall.planning._checks import (
    choose_hidden,
    copied_example_problems,
    distinctive_stems,
    goal_problems,
    plan_problems,
    repair_references,
    voice_problems,
)
from rolecall.planning._graph import DataflowGraph, Edge, OutputField, output_fields, schema_at
from rolecall.planning._outputs import (
    SchemaInferrer,
    fingerprint,
    heuristic_output_schema,
    resolve_output_schemas,
    usable_output_schema,
)
from rolecall.planning._plan import (
    PlannedCall,
    PriorCall,
    Reference,
    TurnPlan,
    descendants,
    literal_values,
)

__all__ = [
    "DataflowGraph",
    "Edge",
    "OutputField",
    "PlannedCall",
    "PriorCall",
    "Reference",
    "SchemaInferrer",
    "TurnPlan",
    "choose_hidden",
    "copied_example_problems",
    "descendants",
    "distinctive_stems",
    "fingerprint",
    "goal_problems",
    "heuristic_output_schema",
    "literal_values",
    "output_fields",
    "plan_problems",
    "repair_references",
    "resolve_output_schemas",
    "schema_at",
    "usable_output_schema",
    "voice_problems",
]
