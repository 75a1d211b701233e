"""The embedded client's prompt, constraint and reply handling, without loading a model."""

from __future__ import annotations

import json
import math

import pytest
from autogen_core import FunctionCall
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    SystemMessage,
    UserMessage,
)

pytest.importorskip("llama_cpp", reason='needs llama-cpp-python: pip install -e ".[local-small]"')
np = pytest.importorskip("numpy")

from rolecall.models._llama import LlamaCppChatCompletionClient, _state_changing  # noqa: E402
from rolecall.models._llama_tools import _call_chance, tool_step  # noqa: E402


def _tool(name: str, description: str, parameter: str, pattern: str) -> dict:
    """A one-parameter tool schema, as AutoGen hands it to the client."""
    properties = {parameter: {"type": "string", "pattern": pattern}}
    return {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": properties, "required": [parameter]},
    }


FIND = _tool("find_order_by_number", "Find an order by its customer-facing number.", "order_number", "^W-[0-9]{5}$")
TRACK = _tool("track_shipment", "Track an order's shipment.", "order_id", "^ord_[a-z0-9]{10}$")
ASKED = [SystemMessage(content="You are a shop assistant."), UserMessage(content="Where is W-20417?", source="user")]
LOOKED_UP = [
    *ASKED,
    AssistantMessage(
        content=[FunctionCall(id="c1", name=FIND["name"], arguments='{"order_number": "W-20417"}')], source="a"
    ),
    FunctionExecutionResultMessage(
        content=[FunctionExecutionResult(content='{"order_id": "ord_7h2k9x4m1q"}', name=FIND["name"], call_id="c1")]
    ),
]


def _offered(constraint: dict) -> list[str]:
    return list(constraint["tool_step"]["calls"])


def test_tool_traffic_is_written_in_the_models_own_tags() -> None:
    chat = LlamaCppChatCompletionClient()._chat(LOOKED_UP, [FIND, TRACK])
    assert [turn["role"] for turn in chat] == ["system", "user", "assistant", "user"]
    assert chat[0]["content"].startswith("You are a shop assistant.") and "<tools>" in chat[0]["content"]
    listed = [json.loads(line) for line in chat[0]["content"].split("<tools>\n")[1].split("\n</tools>")[0].splitlines()]
    assert [tool["function"]["name"] for tool in listed] == [FIND["name"], TRACK["name"]]
    call = chat[2]["content"]
    assert call.startswith("<tool_call>\n") and call.endswith("\n</tool_call>")
    assert json.loads(call.split("\n")[1]) == {"name": FIND["name"], "arguments": {"order_number": "W-20417"}}
    assert chat[3]["content"] == '<tool_response>\n{"order_id": "ord_7h2k9x4m1q"}\n</tool_response>'


def test_structured_requests_carry_no_tool_guide() -> None:
    chat = LlamaCppChatCompletionClient()._chat(ASKED, [])
    assert "<tools>" not in chat[0]["content"]


def test_a_tool_needing_an_unseen_identifier_is_not_offered() -> None:
    client = LlamaCppChatCompletionClient()
    assert _offered(client._constraint(ASKED, [FIND, TRACK], "auto", None)) == [FIND["name"]]
    assert _offered(client._constraint(LOOKED_UP, [FIND, TRACK], "auto", None)) == [FIND["name"], TRACK["name"]]
    grounded = client._constraint(LOOKED_UP, [TRACK], "auto", None)["tool_step"]["calls"][TRACK["name"]]
    assert grounded["properties"]["arguments"]["properties"]["order_id"]["enum"] == ["ord_7h2k9x4m1q"]


def test_grounding_can_be_turned_off() -> None:
    free = LlamaCppChatCompletionClient(ground_identifiers=False)
    assert _offered(free._constraint(ASKED, [FIND, TRACK], "auto", None)) == [FIND["name"], TRACK["name"]]


def test_with_nothing_callable_the_model_must_answer_unless_a_call_is_required() -> None:
    client = LlamaCppChatCompletionClient()
    step = client._constraint(ASKED, [TRACK], "auto", None)["tool_step"]
    assert step["calls"] == {} and step["text"] is not None
    # A required call is still made, ungrounded, rather than none at all.
    assert _offered(client._constraint(ASKED, [TRACK], "required", None)) == [TRACK["name"]]


NOTE = _tool("add_order_note", "Add a note to an order.", "order_id", "^ord_[a-z0-9]{10}$")
REFUND = _tool("issue_refund", "Refund an order.", "order_id", "^ord_[a-z0-9]{10}$")


class _ChangingTool:
    """A tool as the simulator hands it over: a schema, and whether a call changes state."""

    def __init__(self, schema: dict, changes_state: bool):
        self.schema, self.changes_state = schema, changes_state


def test_a_change_the_customer_did_not_ask_for_is_not_offered() -> None:
    """Seen in the embedded retail run: asked to cancel an order, the 1.5B assistant added five
    order notes. A state-changing tool the customer's words do not ask for is held back; one they
    ask for, reading tools, and every tool with steering off are offered."""
    tools = [FIND, TRACK, NOTE, REFUND]
    writes = _state_changing([_ChangingTool(t, t in (NOTE, REFUND)) for t in tools])
    assert set(writes) == {NOTE["name"], REFUND["name"]}
    client = LlamaCppChatCompletionClient()
    assert _offered(client._constraint(LOOKED_UP, tools, "auto", None, {}, writes)) == [FIND["name"], TRACK["name"]]
    asked = [
        *LOOKED_UP[:1],
        UserMessage(content="It came broken, please refund W-20417.", source="user"),
        *LOOKED_UP[2:],
    ]
    offered = _offered(client._constraint(asked, tools, "auto", None, {}, writes))
    assert offered == [FIND["name"], TRACK["name"], REFUND["name"]]
    # A required call, or a client without steering (assist 'none'), is not narrowed.
    assert NOTE["name"] in _offered(client._constraint(LOOKED_UP, tools, "required", None, {}, writes))
    free = LlamaCppChatCompletionClient(steering=False)
    assert _offered(free._constraint(LOOKED_UP, tools, "auto", None, {}, writes)) == [t["name"] for t in tools]


def test_text_is_allowed_only_when_the_choice_is_auto() -> None:
    client = LlamaCppChatCompletionClient()
    assert client._constraint(ASKED, [FIND], "auto", None)["tool_step"]["text"] is not None
    assert client._constraint(ASKED, [FIND], "required", None)["tool_step"]["text"] is None


@pytest.mark.parametrize(
    ("result", "retryable"),
    [
        ('{"order_id": "ord_7h2k9x4m1q"}', False),
        ('{"error": {"code": "rate_limited", "message": "slow down"}}', True),
        ('{"error": {"code": "timeout", "message": "try again"}}', True),
        ('{"error": {"code": "invalid_argument", "message": "bad email"}}', False),
        ('{"error": {"code": "not_found", "message": "no such order"}}', False),
    ],
)
def test_only_transient_errors_leave_a_call_open_to_an_identical_retry(result: str, retryable: bool) -> None:
    chat = [
        *LOOKED_UP[:-1],
        FunctionExecutionResultMessage(
            content=[FunctionExecutionResult(content=result, name=FIND["name"], call_id="c1")]
        ),
    ]
    answered = LlamaCppChatCompletionClient()._constraint(chat, [FIND], "auto", None)["tool_step"]["answered"]
    assert answered == (set() if retryable else {'find_order_by_number:{"order_number": "W-20417"}'})


def test_replies_become_calls_or_text() -> None:
    client = LlamaCppChatCompletionClient()
    body = json.dumps({"name": FIND["name"], "arguments": {"order_number": "W-20417"}})
    reply = {"choices": [{"message": {"content": f"<tool_call>\n{body}\n</tool_call>"}}], "usage": {}}
    result = client._result(reply, with_tools=True)
    assert result.finish_reason == "function_calls"
    assert [(c.name, json.loads(c.arguments)) for c in result.content] == [(FIND["name"], {"order_number": "W-20417"})]
    text = {"choices": [{"message": {"content": " It is on its way. "}}], "usage": {"prompt_tokens": 5}}
    result = client._result(text, with_tools=True)
    assert result.content == "It is on its way." and result.usage.prompt_tokens == 5
    assert client.total_usage().prompt_tokens == 5


def test_json_replies_with_raw_control_characters_in_strings_are_re_escaped() -> None:
    client = LlamaCppChatCompletionClient()
    raw = '{"reasoning": "Line one.\nLine two.\tEnd", "consistent": "yes"}'
    assert "\n" in raw  # a real newline inside the string, as the grammar allows
    with pytest.raises(ValueError):
        json.loads(raw)
    result = client._result({"choices": [{"message": {"content": raw}}], "usage": {}}, with_tools=False)
    assert json.loads(result.content) == {"reasoning": "Line one.\nLine two.\tEnd", "consistent": "yes"}
    # Tool-call arguments too; prose and strict JSON are left as they are.
    body = '{"name": "' + FIND["name"] + '", "arguments": {"order_number": "W-20417\n"}}'
    reply = {"choices": [{"message": {"content": f"<tool_call>{body}</tool_call>"}}], "usage": {}}
    assert json.loads(client._result(reply, with_tools=True).content[0].arguments) == {"order_number": "W-20417\n"}
    for text in ("Fine.\nThanks", '{"a": "b"}'):
        reply = {"choices": [{"message": {"content": text}}], "usage": {}}
        assert client._result(reply, with_tools=False).content == text


def test_call_chance_is_the_opening_mass_shifted_in_log_odds() -> None:
    logits = np.log(np.array([0.5, 0.3, 0.2]))
    openers = np.array([False, True, True])
    assert _call_chance(logits, openers, 0.0) == pytest.approx(0.5)
    assert _call_chance(logits, openers, math.log(3)) == pytest.approx(0.75)  # odds 1:1 -> 3:1
    assert _call_chance(logits, np.zeros(3, dtype=bool), 5.0) < 1e-6


@pytest.mark.parametrize(
    ("text", "about_calling"),
    [
        ("To refund it, you need to call the following function:", True),
        ("Use the function to look it up.", True),
        ("I will use the tools now.", True),
        ("Please call us back tomorrow.", False),
        ("The function of this lamp is to light the room.", False),
    ],
)
def test_prose_that_talks_about_calling_is_recognised(text: str, about_calling: bool) -> None:
    from rolecall.models._llama_tools import _TALKS_ABOUT_CALLING

    assert bool(_TALKS_ABOUT_CALLING.search(text)) is about_calling


class ScriptedEngine:
    """Stands in for the loaded model in ``tool_step``: the first-token pass sees ``logits``,
    and each constrained generation returns the next scripted text, recording its settings."""

    def __init__(self, logits: list[float], openers: list[bool], texts: list[str]):
        self.logits = np.array(logits)
        self.openers = np.array(openers)
        self.texts = list(texts)
        self.generations: list[dict] = []
        self.llama = self

    def prompt(self, chat: list[dict[str, str]]) -> tuple[str, list[str]]:
        return "\n".join(turn["content"] for turn in chat), []

    def call_openers(self) -> object:
        return self.openers

    def create_completion(self, prompt: str, **settings: object) -> dict:
        if settings.get("max_tokens") == 1:  # the decision pass
            for processor in settings["logits_processor"]:  # type: ignore[union-attr]
                processor(None, self.logits)
            return {"choices": [{"text": ""}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
        self.generations.append({**settings, "prompt": prompt})
        text = self.texts.pop(0)
        return {"choices": [{"text": text, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1}}


TEXT_ONLY = ([5.0, -5.0], [False, True])  # chance of calling ~0: the draw always picks text
SETTINGS = {"temperature": 0.3, "top_p": 0.9, "seed": 0, "max_tokens": 64}
ANSWER = "Your order W-20417 left our warehouse and is on its way to you."


def _step(client: LlamaCppChatCompletionClient, messages: list, tools: list, engine: ScriptedEngine) -> str:
    chat = client._chat(messages, tools)
    constraint = client._constraint(messages, tools, "auto", None)["tool_step"]
    reply = tool_step(engine, chat, constraint, dict(SETTINGS), client._config)
    return reply["choices"][0]["message"]["content"]


def test_a_fresh_answer_is_kept() -> None:
    engine = ScriptedEngine(*TEXT_ONLY, texts=[ANSWER])
    assert _step(LlamaCppChatCompletionClient(tool_call_bias=0.0), LOOKED_UP, [FIND, TRACK], engine) == ANSWER
    assert len(engine.generations) == 1


def test_an_answer_that_repeats_the_chat_becomes_a_call_when_one_is_possible() -> None:
    said = [*LOOKED_UP, AssistantMessage(content=ANSWER, source="a"), UserMessage(content="And then?", source="user")]
    call = json.dumps({"name": TRACK["name"], "arguments": {"order_id": "ord_7h2k9x4m1q"}})
    engine = ScriptedEngine(*TEXT_ONLY, texts=[ANSWER.upper(), call])
    content = _step(LlamaCppChatCompletionClient(tool_call_bias=0.0), said, [FIND, TRACK], engine)
    assert content == f"<tool_call>\n{call}\n</tool_call>"
    assert len(engine.generations) == 2  # wrapped in call tags: it came from the call branch


def test_an_answer_that_repeats_the_chat_is_drawn_again_hotter_when_nothing_is_callable() -> None:
    said = [*ASKED, AssistantMessage(content=ANSWER, source="a"), UserMessage(content="Sorry?", source="user")]
    engine = ScriptedEngine(*TEXT_ONLY, texts=[ANSWER, "Let me put it differently: it ships today."])
    # TRACK needs an order id nobody has mentioned: nothing can be called.
    content = _step(LlamaCppChatCompletionClient(tool_call_bias=0.0), said, [TRACK], engine)
    assert content == "Let me put it differently: it ships today."
    assert [g["temperature"] for g in engine.generations] == [0.3, 0.8]


def test_a_stock_refusal_with_a_tool_at_hand_becomes_a_call() -> None:
    call = json.dumps({"name": TRACK["name"], "arguments": {"order_id": "ord_7h2k9x4m1q"}})
    engine = ScriptedEngine(*TEXT_ONLY, texts=["I'm sorry, but I can't assist with that.", call])
    content = _step(LlamaCppChatCompletionClient(tool_call_bias=0.0), LOOKED_UP, [FIND, TRACK], engine)
    assert content == f"<tool_call>\n{call}\n</tool_call>"


CALL_ALWAYS = ([-5.0, 5.0], [False, True])  # chance of calling ~1: the draw always calls
# FIND's description says it returns the order_id TRACK needs.
FIND_SAYS = {**FIND, "description": "Find an order by its customer-facing number. Returns the order_id."}
NO_NUMBER = [SystemMessage(content="You are a shop assistant."), UserMessage(content="Where is my parcel?", source="u")]


def test_a_wanted_tool_that_lacks_an_id_leads_to_the_lookup_that_supplies_it() -> None:
    number_only = [*NO_NUMBER[:1], UserMessage(content="My order is W-20417.", source="u")]
    call = json.dumps({"name": FIND["name"], "arguments": {"order_number": "W-20417"}})
    engine = ScriptedEngine(*CALL_ALWAYS, texts=[json.dumps({"name": TRACK["name"]}), call])
    content = _step(LlamaCppChatCompletionClient(), number_only, [FIND_SAYS, TRACK], engine)
    assert content == f"<tool_call>\n{call}\n</tool_call>"
    assert len(engine.generations) == 2  # the name, then the lookup


def test_a_wanted_tool_that_nothing_can_feed_yet_makes_the_model_ask_for_the_value() -> None:
    question = "Could you tell me your order number?"
    engine = ScriptedEngine(*CALL_ALWAYS, texts=[json.dumps({"name": TRACK["name"]}), question])
    # Nothing callable is wanted: FIND needs an order number nobody said.
    status = _tool("get_store_hours", "Opening hours.", "city", "^[A-Z][a-z]+$")
    status["parameters"]["properties"]["city"] = {"type": "string"}
    content = _step(LlamaCppChatCompletionClient(), NO_NUMBER, [status, FIND_SAYS, TRACK], engine)
    assert content == question
    assert "order number" in engine.generations[1]["prompt"]  # the note only the model sees
    assert "order number" not in engine.generations[0]["prompt"]


def test_a_wanted_tool_that_can_be_called_is_the_only_one_offered() -> None:
    call = json.dumps({"name": TRACK["name"], "arguments": {"order_id": "ord_7h2k9x4m1q"}})
    engine = ScriptedEngine(*CALL_ALWAYS, texts=[json.dumps({"name": TRACK["name"]}), call])
    blocked = _tool("get_invoice", "An invoice.", "invoice_id", "^inv_[0-9]{4}$")
    content = _step(LlamaCppChatCompletionClient(), LOOKED_UP, [FIND_SAYS, TRACK, blocked], engine)
    assert content == f"<tool_call>\n{call}\n</tool_call>"
    # The call's grammar (llama.cpp's GBNF text) spells only the wanted tool's name.
    grammar = engine.generations[1]["grammar"]._grammar
    assert TRACK["name"] in grammar and FIND["name"] not in grammar
    # The name pass chose among all three, the one that cannot be called yet included.
    assert all(t["name"] in engine.generations[0]["grammar"]._grammar for t in (FIND, TRACK, blocked))


def test_a_wanted_tool_whose_call_repeats_an_answered_one_gives_way_to_the_other_tools() -> None:
    # Seen in the embedded IT run: the model named the e-mail lookup it had already made, its
    # call repeated the answered one, and with only that tool offered the step fell back to
    # prose: "I'm sorry, but I can't assist with that.", twice, and the dialogue ended there.
    again = json.dumps({"name": FIND["name"], "arguments": {"order_number": "W-20417"}})
    track = json.dumps({"name": TRACK["name"], "arguments": {"order_id": "ord_7h2k9x4m1q"}})
    engine = ScriptedEngine(*CALL_ALWAYS, texts=[json.dumps({"name": FIND["name"]}), again, track])
    blocked = _tool("get_invoice", "An invoice.", "invoice_id", "^inv_[0-9]{4}$")
    content = _step(LlamaCppChatCompletionClient(), LOOKED_UP, [FIND_SAYS, TRACK, blocked], engine)
    assert content == f"<tool_call>\n{track}\n</tool_call>"
    grammar = engine.generations[2]["grammar"]._grammar  # the repeated tool is no longer offered
    assert TRACK["name"] in grammar and FIND["name"] not in grammar


def test_with_steering_off_the_models_own_text_and_call_stand() -> None:
    # A stock refusal with a tool at hand stays a refusal: no conversion into a call.
    engine = ScriptedEngine(*TEXT_ONLY, texts=["I'm sorry, but I can't assist with that."])
    client = LlamaCppChatCompletionClient(steering=False)
    assert _step(client, LOOKED_UP, [FIND, TRACK], engine) == "I'm sorry, but I can't assist with that."
    assert len(engine.generations) == 1
    # A call with an id nobody said is not blocked, and no lookup is chosen for the model.
    invented = json.dumps({"name": TRACK["name"], "arguments": {"order_id": "ord_made_up"}})
    engine = ScriptedEngine(*CALL_ALWAYS, texts=[invented])
    assert _step(client, NO_NUMBER, [FIND_SAYS, TRACK], engine) == f"<tool_call>\n{invented}\n</tool_call>"
    assert len(engine.generations) == 1  # no name pass, no routing


def test_with_steering_off_the_call_chance_is_the_models_own() -> None:
    from rolecall.models._llama_tools import _call_chance as chance

    even = ([0.0, 0.0], [False, True])  # the model itself: one call in two
    texts = [json.dumps({"name": FIND["name"], "arguments": {"order_number": "W-20417"}})] * 40 + ["ok"] * 40
    client = LlamaCppChatCompletionClient(steering=False, tool_call_bias=5.0)  # the bias is ignored
    assert chance(np.array(even[0]), np.array(even[1]), 0.0) == pytest.approx(0.5)
    calls = 0
    for n in range(40):
        engine = ScriptedEngine(*even, texts=list(texts))
        said = [*NO_NUMBER[:1], UserMessage(content=f"My order is W-20417 ({n}).", source="u")]
        calls += _step(client, said, [FIND], engine).startswith("<tool_call>")
    assert 8 <= calls <= 32  # about half, not the ~99% a bias of 5 would give
