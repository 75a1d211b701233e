"""Scenario files: the YAML format, its loader and its precise error reports."""

from rolecall.scenario._jsonschema import meta_validator, value_validator
from rolecall.scenario._loader import (
    LoadedScenario,
    Tool,
    load_model_config,
    load_scenario,
    load_tools_file,
    usable_schema,
)
from rolecall.scenario._models import (
    AssistSettings,
    CallBudget,
    FaultSettings,
    GenerationSettings,
    IntRange,
    JudgeSettings,
    ModelSettings,
    Persona,
    PriorCall,
    RateLimits,
    RetrySettings,
    Scenario,
    UserSettings,
    ValidationSettings,
)
from rolecall.scenario._names import READ_VERBS, name_words, names_other_thing
from rolecall.scenario._source import Problem, ProblemsFound, format_path

__all__ = [
    "READ_VERBS",
    "AssistSettings",
    "CallBudget",
    "FaultSettings",
    "GenerationSettings",
    "IntRange",
    "JudgeSettings",
    "LoadedScenario",
    "ModelSettings",
    "Persona",
    "PriorCall",
    "Problem",
    "ProblemsFound",
    "RateLimits",
    "RetrySettings",
    "Scenario",
    "Tool",
    "UserSettings",
    "ValidationSettings",
    "format_path",
    "load_model_config",
    "load_scenario",
    "load_tools_file",
    "meta_validator",
    "name_words",
    "names_other_thing",
    "usable_schema",
    "value_validator",
]
