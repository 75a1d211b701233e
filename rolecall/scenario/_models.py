"""The scenario file format, as pydantic models that round-trip to YAML.

Everything here is declarative: these models say what a scenario file may contain. Reading
files, resolving ``{file: PATH}`` references and cross-field checks live in ``_loader.py``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Strict,
    Tag,
    WithJsonSchema,
    model_serializer,
    model_validator,
)

TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
EXTENSION_PREFIX = "x-"

JsonSchemaObject = Annotated[
    dict[str, Any],
    Field(description="A JSON Schema (Draft 2020-12 unless it names another) whose type is object."),
]
_TOOL_NAME = re.compile(TOOL_NAME_PATTERN)


def _check_tool_name(name: str) -> str:
    if not _TOOL_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid tool name: use 1-64 letters, digits, '_' or '-'")
    return name


ToolName = Annotated[
    str,
    AfterValidator(_check_tool_name),
    WithJsonSchema({"type": "string", "pattern": TOOL_NAME_PATTERN, "description": "letters, digits, _ and -"}),
]


class StrictModel(BaseModel):
    """Base for every scenario model: unknown keys and silent type coercion are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class FileRef(StrictModel):
    """``{file: PATH}``: content kept in another YAML or JSON file, relative to this one."""

    file: str = Field(min_length=1, description="Path to a YAML or JSON file, relative to the scenario file.")


def _empty_object_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {}}


class _ExtensibleModel(StrictModel):
    """A model that also accepts vendor keys starting with ``x-`` and keeps them on round trips.

    Real tool specs carry such keys (``x-category``, ``x-source-entry``); any other unknown
    key stays an error, so typos like ``paramters`` are still caught.
    """

    model_config = ConfigDict(json_schema_extra={"patternProperties": {"^x-": {}}})

    _extensions: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def extensions(self) -> dict[str, Any]:
        return self._extensions

    @model_validator(mode="wrap")
    @classmethod
    def _split_extensions(cls, data: Any, handler: Any) -> Any:
        extensions: dict[str, Any] = {}
        if isinstance(data, dict):
            extensions = {k: v for k, v in data.items() if str(k).startswith(EXTENSION_PREFIX)}
            data = {k: v for k, v in data.items() if k not in extensions}
        model = handler(data)
        if extensions:
            model._extensions = extensions
        return model

    @model_serializer(mode="wrap")
    def _emit_extensions(self, handler: Any) -> Any:
        dumped = handler(self)
        if isinstance(dumped, dict):
            dumped.update(self._extensions)
        return dumped


class FunctionTool(_ExtensibleModel):
    """A tool in bare-function form: ``{name, description, parameters, returns?}``."""

    name: ToolName
    description: str = Field(default="", description="What the tool does and what it returns.")
    parameters: JsonSchemaObject = Field(
        default_factory=_empty_object_schema, description="JSON Schema (type object) of the arguments."
    )
    returns: JsonSchemaObject | None = Field(
        default=None, description="JSON Schema (type object) of the tool's successful result."
    )


class OpenAIFunction(_ExtensibleModel):
    name: ToolName
    description: str = Field(default="", description="What the tool does and what it returns.")
    parameters: JsonSchemaObject = Field(
        default_factory=_empty_object_schema, description="JSON Schema (type object) of the arguments."
    )
    strict: bool | None = Field(default=None, description="OpenAI strict mode flag; kept as given.")


class OpenAITool(_ExtensibleModel):
    """A tool in OpenAI form: ``{type: function, function: {...}, returns?}``."""

    type: Literal["function"] = Field(default="function", description="Always `function`.")
    function: OpenAIFunction = Field(description="The function: name, description, parameters.")
    returns: JsonSchemaObject | None = Field(
        default=None, description="JSON Schema (type object) of the tool's successful result."
    )


def _tool_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        if "file" in value:
            return "file"
        if "function" in value or "type" in value:
            return "openai"
        return "function"
    if isinstance(value, BaseModel):
        return {FileRef: "file", OpenAITool: "openai", FunctionTool: "function"}.get(type(value))
    return None


InlineTool = Annotated[
    Annotated[FunctionTool, Tag("function")] | Annotated[OpenAITool, Tag("openai")],
    Discriminator(_tool_kind, custom_error_type="tool", custom_error_message="a tool must be a mapping"),
]
ToolEntry = Annotated[
    Annotated[FunctionTool, Tag("function")] | Annotated[OpenAITool, Tag("openai")] | Annotated[FileRef, Tag("file")],
    Discriminator(
        _tool_kind,
        custom_error_type="tool",
        custom_error_message="a tool must be a mapping: a function, an OpenAI tool or {file: PATH}",
    ),
]


def _scalar_fact(value: Any) -> Any:
    if isinstance(value, str | int | float | bool):
        return value
    raise ValueError("a fact must be a string, number or boolean")


FactValue = Annotated[Any, AfterValidator(_scalar_fact)]


class Persona(StrictModel):
    """A simulated user: who they are and the literal values they know."""

    name: str = Field(min_length=1, description="The persona's name.")
    description: str = Field(min_length=1, description="Voice, temperament, situation.")
    facts: dict[str, FactValue] = Field(
        default_factory=dict, description="Literal values this user knows (an email, an order number...)."
    )


def _text_or_object(value: Any) -> str | None:
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict | Persona):
        return "object"
    return None


PersonaEntry = Annotated[
    Annotated[str, Tag("text")] | Annotated[Persona, Tag("object")],
    Discriminator(
        _text_or_object,
        custom_error_type="persona",
        custom_error_message="a persona must be a string or a mapping {name, description, facts?}",
    ),
]


def _list_or_file(value: Any) -> str | None:
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict | FileRef):
        return "file"
    return None


PersonaList = Annotated[
    Annotated[list[PersonaEntry], Tag("list")] | Annotated[FileRef, Tag("file")],
    Discriminator(
        _list_or_file,
        custom_error_type="personas",
        custom_error_message="personas must be a list or {file: PATH}",
    ),
]


class PriorCall(StrictModel):
    """A call that happened before every dialogue; its output is state the user and tools share."""

    name: ToolName
    arguments: dict[str, Any] = Field(default_factory=dict, description="The arguments it was called with.")
    output: dict[str, Any] = Field(default_factory=dict, description="The result it returned.")
    note: str = Field(default="", description="How the user knows about it, in words.")


class IntRange(StrictModel):
    min: int = Field(ge=1, description="Lower bound (inclusive).")
    max: int = Field(ge=1, description="Upper bound (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class CallBudget(StrictModel):
    enabled: bool = Field(default=True, description="Whether the planner makes such calls at all.")
    max: int = Field(default=2, ge=0, description="At most this many per turn.")


class PriorCallSettings(CallBudget):
    """Prior state: upstream calls of a dialogue's first plan moved to before the dialogue."""

    max: int = Field(default=1, ge=0, description="At most this many calls moved before the dialogue.")
    share: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="The share of dialogues that start with prior state: the user remembers those calls' "
        "outputs and the tool simulator's results agree with them.",
    )


class ErrorRecoverySettings(StrictModel):
    """Injected mistakes: a plausible wrong call, a short error that hints at the fix, then the
    assistant's own right call. Both injected messages are marked ``injected`` in provenance."""

    share: float = Field(default=0.0, ge=0.0, le=1.0, description="The share of dialogues that get mistakes.")
    max_per_dialogue: int = Field(default=1, ge=1, le=3, description="Mistakes per such dialogue: 1 to this many.")


class MissingParameterSettings(StrictModel):
    """A turn whose request leaves out one value a call needs; the user gives it when asked."""

    share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="The share of upfront turns played this way (a third disclosure, next to upfront and "
        "on_request: the opening states every value but one).",
    )


class FollowUpSettings(StrictModel):
    """Later turns that build on an earlier turn's results ("cancel that order")."""

    share: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="The share of turns after the first whose plan must take at least one value from an earlier "
        "turn's call output, where the tool graph connects the two (DiGiT-TC's planner requires it). The user "
        "refers to such values indirectly.",
    )


class MissingFunctionSettings(StrictModel):
    """A turn whose goal tool the assistant is not given: it must say it cannot do that part."""

    share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="The share of turns whose goal call's tool is left out of the assistant's tools for that "
        "turn (the record's tools still list it; it is back in later turns).",
    )


class UserBehaviourSettings(StrictModel):
    """Difficult users: each behaviour is given to this share of the dialogues' users."""

    change_of_mind: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="The user changes one value of a turn's goal call once, before the call is made; the "
        "turn's plan is updated (the new value is what the rules check) and the change recorded.",
    )
    tangent: float = Field(
        default=0.0, ge=0.0, le=1.0, description="The user drifts to an unrelated topic once, then comes back."
    )
    impatient: float = Field(
        default=0.0, ge=0.0, le=1.0, description="The user is in a hurry: curt messages, may complain about the wait."
    )


class DateRange(StrictModel):
    start: Annotated[dt.date, Strict(False)] = Field(description="First possible date (YYYY-MM-DD).")
    end: Annotated[dt.date, Strict(False)] = Field(description="Last possible date (YYYY-MM-DD).")

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.start > self.end:
            raise ValueError(f"start ({self.start}) is after end ({self.end})")
        return self


AssistMode = Literal["auto", "none", "small_model"]


class AssistSettings(StrictModel):
    """Aids for weak models: code that redrafts, completes or replaces what a model wrote.

    ``auto`` turns them on only for roles that run on the embedded model; ``none`` turns every
    one off (a user message is exactly one model reply); ``small_model`` turns them on for every
    role. Whatever an aid writes is marked in the record's ``metadata.provenance``. The bounds
    below apply where the aids are on. A plain string (``assist: none``) sets the mode alone.
    """

    mode: AssistMode = Field(default="auto", description="auto | none | small_model.")
    opening_drafts: int = Field(
        default=4, ge=1, description="Drafts of a turn's opening request before its values are appended."
    )
    reply_redrafts: int = Field(
        default=1, ge=0, description="Redrafts of a user reply that speaks as the agent or repeats the chat."
    )
    goal_reminders: int = Field(
        default=2, ge=0, le=2, description="Scripted reminders of an undone goal per turn, when the user would leave."
    )
    scripted_fallbacks: bool = Field(
        default=True, description="Script a user message when every draft still speaks as the agent."
    )
    state_hints: bool = Field(
        default=True, description="Tell the simulated user when the plan's calls have answered or failed."
    )
    state_details: bool = Field(
        default=True, description="State planned values the agent asked for and the user's reply left out."
    )
    closing_heuristic: bool = Field(
        default=True, description="A plain thank-you ends a turn whose calls are all answered."
    )
    repair_plans: bool = Field(
        default=True, description="Move a plan's references to fields their call does not return."
    )
    steer_assistant: bool = Field(
        default=True, description="The embedded client's call steering (grounded ids, routing, redraws)."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_mode(cls, data: Any) -> Any:
        return {"mode": data} if isinstance(data, str) else data


Disclosure = Literal["upfront", "on_request", "mixed"]


class UserSettings(StrictModel):
    """How the simulated user behaves."""

    disclosure: Disclosure = Field(
        default="upfront",
        description="upfront: the opening request states every value the plan needs (DiGiT-TC); on_request: "
        "the user opens with the goal and gives each value when the agent asks; mixed: on_request with "
        "probability on_request_share per turn.",
    )
    on_request_share: float = Field(
        default=0.5, ge=0.0, le=1.0, description="With disclosure mixed: the share of turns played on_request."
    )


class GenerationSettings(StrictModel):
    dialogues: int = Field(default=10, ge=1, description="How many dialogues `rolecall run` generates.")
    seed: int = Field(default=0, description="Seed for every random choice; same seed, same dialogues.")
    turns: IntRange = Field(
        default_factory=lambda: IntRange(min=1, max=2), description="User goals (planned turns) per dialogue."
    )
    plan_length: IntRange = Field(
        default_factory=lambda: IntRange(min=2, max=4), description="Tool calls planned per turn."
    )
    hidden_calls: CallBudget = Field(
        default_factory=lambda: CallBudget(enabled=True, max=2),
        description=(
            "Upstream calls the user never mentions; the assistant must discover them. "
            "Only read-only tools' calls are hidden."
        ),
    )
    prior_calls: PriorCallSettings = Field(
        default_factory=PriorCallSettings,
        description="Upstream calls moved to before the dialogue: state the user remembers and the tools keep.",
    )
    error_recovery: ErrorRecoverySettings = Field(
        default_factory=ErrorRecoverySettings,
        description="Injected wrong calls with hint-like errors, followed by the assistant's right call.",
    )
    missing_parameter: MissingParameterSettings = Field(
        default_factory=MissingParameterSettings,
        description="Turns whose request leaves out one value; the assistant must ask for it.",
    )
    follow_up: FollowUpSettings = Field(
        default_factory=FollowUpSettings,
        description="Later turns whose plan takes a value from an earlier turn's output.",
    )
    missing_function: MissingFunctionSettings = Field(
        default_factory=MissingFunctionSettings,
        description="Turns whose goal tool the assistant lacks; it must say it cannot do that part.",
    )
    user_behaviours: UserBehaviourSettings = Field(
        default_factory=UserBehaviourSettings,
        description="Difficult users: a change of mind, a tangent, impatience (shares of dialogues).",
    )
    max_messages: int = Field(default=40, ge=4, description="Hard bound on messages per dialogue.")
    max_tool_calls_per_turn: int = Field(default=8, ge=1, description="Hard bound on tool calls per user turn.")
    dates: DateRange | None = Field(default=None, description="The dialogue's 'today' is drawn from this range.")
    user: UserSettings = Field(default_factory=UserSettings, description="The simulated user's behaviour.")
    assist: AssistSettings = Field(
        default_factory=AssistSettings, description="Aids for weak models: `auto`, `none`, `small_model`, or settings."
    )


FaultKind = Literal[
    "not_found", "rate_limited", "invalid_argument", "permission_denied", "timeout", "server_error", "conflict"
]


class FaultSettings(StrictModel):
    """Deterministic error injection in tool results, drawn from the seeded RNG."""

    rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Probability that a tool call fails.")
    kinds: list[FaultKind] = Field(
        default_factory=lambda: ["not_found", "rate_limited", "invalid_argument"],
        min_length=1,
        description="Error kinds drawn from when a call fails.",
    )


class RetrySettings(StrictModel):
    """rolecall's own retries for one model (the client's own retries are turned off)."""

    retries: int = Field(default=3, ge=0, le=20, description="Retries after the first attempt of a model call.")
    backoff_s: float = Field(
        default=0.5, ge=0.0, description="The first wait before a retry; it doubles each time, with jitter."
    )
    max_backoff_s: float = Field(default=30.0, ge=0.0, description="The longest wait between two attempts.")


class RateLimits(StrictModel):
    """A model's quota, kept by every dialogue of the run together."""

    requests_per_minute: float | None = Field(default=None, gt=0, description="Model calls a minute; none: no limit.")
    tokens_per_minute: float | None = Field(
        default=None, gt=0, description="Prompt tokens a minute (estimated before each call); none: no limit."
    )


class ModelPrices(StrictModel):
    """What a model's tokens cost, for the cost figures of `rolecall report`."""

    prompt_per_million: float = Field(ge=0.0, description="Price of a million prompt tokens.")
    completion_per_million: float = Field(ge=0.0, description="Price of a million completion tokens.")
    currency: str = Field(default="USD", min_length=1, description="Currency of both prices.")


# Chat clients rolecall knows (AutoGen's well-known names included); any other provider must
# name a module that can be found, checked without importing it (validate runs nothing).
KNOWN_PROVIDERS = frozenset(
    {
        "autogen_ext.models.openai.OpenAIChatCompletionClient",
        "autogen_ext.models.openai.AzureOpenAIChatCompletionClient",
        "autogen_ext.models.ollama.OllamaChatCompletionClient",
        "autogen_ext.models.anthropic.AnthropicChatCompletionClient",
        "autogen_ext.models.replay.ReplayChatCompletionClient",
        "rolecall.models.LlamaCppChatCompletionClient",
        "rolecall.models.LenientOpenAIChatCompletionClient",
        "rolecall.models.DirectOpenAIChatCompletionClient",
        "OpenAIChatCompletionClient",
        "openai_chat_completion_client",
        "AzureOpenAIChatCompletionClient",
        "azure_openai_chat_completion_client",
        "OllamaChatCompletionClient",
    }
)


def _check_provider(provider: str) -> str:
    if provider in KNOWN_PROVIDERS:
        return provider
    module, _, name = provider.rpartition(".")
    if not module or not name.isidentifier() or not all(part.isidentifier() for part in module.split(".")):
        raise ValueError(f"{provider!r} is not an import path such as 'package.module.ClientClass'")
    top = module.split(".")[0]
    if importlib.util.find_spec(top) is None:  # the top-level package only: finding it imports nothing
        known = ", ".join(sorted(p for p in KNOWN_PROVIDERS if "." in p))
        raise ValueError(f"no module {top!r} is installed for provider {provider!r}; known providers: {known}")
    return provider


class ComponentConfig(StrictModel):
    """An AutoGen component config, e.g. ``{provider: ...OpenAIChatCompletionClient, config: {...}}``."""

    model_config = ConfigDict(strict=False)

    provider: Annotated[str, AfterValidator(_check_provider)] = Field(
        min_length=1, description="Import path of the client class."
    )
    component_type: str | None = Field(default=None, description="AutoGen component type (`model`).")
    version: int | None = Field(default=None, description="AutoGen component schema version.")
    component_version: int | None = Field(default=None, description="Version of the provider's config.")
    description: str | None = Field(default=None, description="Free text.")
    label: str | None = Field(default=None, description="Free text.")
    config: dict[str, Any] = Field(default_factory=dict, description="The provider's own settings.")
    retry: RetrySettings | None = Field(
        default=None, description="rolecall's retries for this model (not part of the AutoGen config)."
    )
    limits: RateLimits | None = Field(
        default=None, description="rolecall's rate limits for this model (not part of the AutoGen config)."
    )
    prices: ModelPrices | None = Field(
        default=None,
        description="What this model's tokens cost, for `rolecall report` (not part of the AutoGen config).",
    )


def _path_or_inline(value: Any) -> str | None:
    if isinstance(value, str):
        return "path"
    if isinstance(value, dict | ComponentConfig):
        return "inline"
    return None


ModelRef = Annotated[
    Annotated[str, Tag("path")] | Annotated[ComponentConfig, Tag("inline")],
    Discriminator(
        _path_or_inline,
        custom_error_type="model",
        custom_error_message="a model is a path to an AutoGen component config file, or such a config inline",
    ),
    Field(description="Path to an AutoGen component config YAML (relative to the scenario), or one inline."),
]


class ModelSettings(StrictModel):
    """Which chat model each role uses; a role left unset uses ``default``."""

    default: ModelRef | None = Field(default=None, description="Model for every role not set below.")
    planner: ModelRef | None = Field(default=None, description="Plans the calls of each turn.")
    user: ModelRef | None = Field(default=None, description="Plays the simulated user.")
    assistant: ModelRef | None = Field(default=None, description="The assistant under simulation.")
    tool_simulator: ModelRef | None = Field(default=None, description="Invents tool results.")
    judge: ModelRef | None = Field(default=None, description="The validator's LLM judge.")


class JudgeSettings(StrictModel):
    enabled: bool = Field(default=True, description="Run the LLM judge on dialogues the rules accept.")
    votes: int = Field(default=1, ge=1, le=15, description="Independent judge samples per dialogue.")
    mode: Literal["majority", "strict"] = Field(
        default="majority", description="majority: most votes win; strict: every vote must accept."
    )


class ValidationSettings(StrictModel):
    disabled_rules: list[str] = Field(default_factory=list, description="Rule checks to skip, by name.")
    judge: JudgeSettings = Field(default_factory=JudgeSettings, description="The LLM judge.")


class Scenario(StrictModel):
    """A rolecall scenario: a domain's tools, its users and how to generate dialogues in it."""

    model_config = ConfigDict(title="rolecall scenario")

    name: str = Field(min_length=1, description="Short name; recorded in every output record.")
    description: str = Field(description="What the domain is.")
    policy: str | None = Field(default=None, description="The assistant's system prompt.")
    personas: PersonaList = Field(description="Simulated users: strings, objects, or {file: PATH}.")
    tools: list[ToolEntry] = Field(description="The tools: functions, OpenAI tools, or {file: PATH} entries.")
    prior_calls: list[PriorCall] = Field(
        default_factory=list, description="Calls that happened before every dialogue (shared state)."
    )
    generation: GenerationSettings = Field(default_factory=GenerationSettings, description="Generation knobs.")
    faults: FaultSettings = Field(default_factory=FaultSettings, description="Injected tool errors.")
    models: ModelSettings = Field(default_factory=ModelSettings, description="Chat model per role.")
    validation: ValidationSettings = Field(
        default_factory=ValidationSettings, description="Rule checks and the LLM judge."
    )
