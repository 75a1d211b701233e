"""One assistant step of the embedded client: a tool call or plain text, and its steering.

Whether to call is read off the model's first token; the reply is then constrained to one valid
call or to prose. With ``steering`` on (the assist policy's aids for a weak assistant), the step
also grounds identifiers, routes a wanted tool's missing id to the lookups that supply it, asks
the customer for values nothing supplies, and redraws repeats and stock refusals.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
from collections.abc import Sequence
from typing import Any

from autogen_core.models import AssistantMessage, FunctionExecutionResultMessage, LLMMessage

from rolecall.models._grammar import call_grammar
from rolecall.models._grounding import way_forward
from rolecall.prompts import render
from rolecall.text import repeats

TOOL_CALL = "<tool_call>\n{}\n</tool_call>"
_REDRAW_TEMPERATURE = 0.8
# The coder model's stock refusal, said with tools at hand that could do the job.
_REFUSAL = re.compile(r"\bI(?:'|\u2019)?m sorry, but I can(?:'|\u2019)?t (?:assist|help) with (?:that|this)\b", re.I)
_TALKS_ABOUT_CALLING = re.compile(r"\b(?:call|use|using)\s+(?:the\s+)?(?:following\s+)?(?:function|tool)s?\b", re.I)
_log = logging.getLogger(__name__)


def tool_step(
    engine: Any, chat: list[dict[str, str]], step: dict[str, Any], settings: dict[str, Any], config: Any
) -> dict[str, Any]:
    """A reply that is either one tool call or plain text.

    Whether to call is the model's own choice, read off its first token before any grammar
    applies: the probability mass of tokens that open a call (JSON, a tag, a code fence) is the
    chance of calling, shifted by ``tool_call_bias`` in log-odds and drawn with a seeded RNG.
    Only then is the reply constrained, to a valid call or to prose. A single grammar with both
    branches does not work for small models: forced to spell out JSON from the first token, the
    1.5B model picks the text branch almost every time.
    """
    from llama_cpp import LlamaGrammar

    prompt, stop = engine.prompt(chat)
    usage = _new_usage()
    calls: dict[str, Any] = dict(step["calls"])
    callable_now = dict(calls)  # before any narrowing to the tool the model names
    calling = step["text"] is None
    if not calling and calls:
        logits: list[Any] = []
        first = engine.llama.create_completion(
            prompt, max_tokens=1, temperature=0.0, logits_processor=[_keep(logits)], stop=stop
        )
        _add_usage(usage, first)
        bias = config.tool_call_bias if config.steering else 0.0
        chance = _call_chance(logits[0], engine.call_openers(), bias)
        draw = random.Random(hashlib.sha256(f"{settings['seed']}:{prompt}".encode()).digest()).random()
        calling = draw < chance
        _log.debug("tool-call chance %.3f, drew %.3f: %s", chance, draw, "call" if calling else "text")

    def generate(grammar_text: str, prompt: str = prompt, **override: Any) -> tuple[str, dict[str, Any]]:
        grammar = LlamaGrammar.from_string(grammar_text, verbose=False)
        reply = engine.llama.create_completion(prompt, grammar=grammar, stop=stop, **{**settings, **override})
        _add_usage(usage, reply)
        return reply["choices"][0]["text"].strip(), reply

    def ask(values: list[str]) -> dict[str, Any]:
        """A question for the values a wanted tool still lacks, prompted by a note only the model sees."""
        listed = " and ".join(value.replace("_", " ") for value in values)
        note = {"role": "system", "content": render("local/ask", values=listed)}
        text, reply = generate(step["text"], prompt=engine.prompt([*chat, note])[0])
        return _chat_reply(text, reply, usage)

    def route(wanted: list[str]) -> tuple[list[str], list[str]]:
        """For the tools the model wants: those it can call now, else (via :func:`way_forward`)
        the lookups that supply what they lack, else the values to ask the customer for."""
        offered = [name for name in wanted if name in calls]
        if offered or not wanted:
            return offered, []
        ready, values = way_forward(
            wanted[0], step.get("blocked", {}), step.get("descriptions", {}), step.get("produces", {})
        )
        return [name for name in ready if name in calls], values

    if calling and step.get("blocked"):
        # The model first names the tool it wants, out of all of them. Offered only the
        # callable ones, a 1.5B model calls whatever needs no id (a service status check, a
        # hotel search with made-up values) instead of asking for the email it lacks.
        names = [*calls, *step["blocked"]]
        text, _ = generate(
            call_grammar({"type": "object", "properties": {"name": {"enum": names}}, "required": ["name"]})
        )
        chosen = loads(text)
        offered, values = route([chosen["name"]] if isinstance(chosen, dict) and chosen.get("name") in names else [])
        if values:
            return ask(values)
        calls = {name: calls[name] for name in offered} or calls

    if not calling:
        text, reply = generate(step["text"])
        if not config.steering:
            return _chat_reply(text, reply, usage)
        names = [*calls, *step.get("blocked", {})]
        named = [name for name in names if re.search(rf"\b{re.escape(name)}\b", text)]
        # A canned refusal or a copy of an earlier message means the model is stuck.
        copied = repeats(text, _spoken(chat)) or _REFUSAL.search(text) is not None
        if copied and not calls:
            # Nothing to call and the model repeats itself: one fresh draw, hotter.
            _log.debug("text repeats an earlier message: drawing again")
            text, reply = generate(step["text"], temperature=max(settings["temperature"], _REDRAW_TEMPERATURE))
        if not (named or copied or _TALKS_ABOUT_CALLING.search(text)):
            return _chat_reply(text, reply, usage)
        # Prose that names a tool or says "call the function" is a call the draw turned into
        # text (customers never hear tool names), and a model that repeats an earlier message
        # word for word is stuck: in both cases the call, or a question for what it needs,
        # is the way forward.
        offered, values = route(named)
        if values:
            return ask(values)
        if not calls:
            return _chat_reply(text, reply, usage)
        _log.debug("text talks about calling %s or repeats itself: calling instead", named or "a tool")
        calls = {name: calls[name] for name in offered} or calls
    while True:
        text, reply = generate(call_grammar({"anyOf": list(calls.values())}))
        parsed = loads(text)
        name = parsed.get("name") if isinstance(parsed, dict) else None
        arguments = parsed.get("arguments") if isinstance(parsed, dict) else None
        if not config.steering or _signature(name, arguments) not in step["answered"]:
            return _chat_reply(TOOL_CALL.format(text), reply, usage)
        # Small models repeat the call they just made. Offer the other tools (all that can be
        # called, when the step had narrowed them to the one the model named), or let it answer.
        _log.debug("repeat of an answered call to %s: offering the other tools", name)
        calls.pop(name, None)
        callable_now.pop(name, None)
        calls = calls or callable_now
        if not calls:
            if step["text"] is None:
                return _chat_reply(TOOL_CALL.format(text), reply, usage)
            text, reply = generate(step["text"])
            return _chat_reply(text, reply, usage)


def _keep(store: list[Any]) -> Any:
    """A logits processor that keeps a copy of the scores it sees (the first token's, here)."""

    def processor(_tokens: Any, scores: Any) -> Any:
        store.append(scores.copy())
        return scores

    return processor


def _call_chance(logits: Any, openers: Any, bias: float) -> float:
    """P(the first token opens a call) under the model's raw distribution, shifted by ``bias`` log-odds."""
    import numpy as np

    shifted = logits - logits.max()
    weights = np.exp(shifted)
    chance = float(weights[openers].sum() / weights.sum())
    chance = min(max(chance, 1e-9), 1 - 1e-9)
    return 1.0 / (1.0 + math.exp(-(math.log(chance / (1.0 - chance)) + bias)))


def _chat_reply(content: str, reply: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """A completion shaped like a chat completion, with the usage of every pass that made it."""
    finish = reply["choices"][0].get("finish_reason")
    return {"choices": [{"message": {"content": content}, "finish_reason": finish}], "usage": usage}


def _signature(name: Any, arguments: Any) -> str:
    return f"{name}:{json.dumps(arguments, sort_keys=True, ensure_ascii=False)}"


# Errors worth retrying with the same arguments; after any other result a repeat is pointless.
_TRANSIENT_ERRORS = {"rate_limited", "timeout", "server_error"}


def answered_calls(messages: Sequence[LLMMessage]) -> set[str]:
    """Signatures of the calls in the chat that got an answer other than a transient error."""
    made: dict[str, str] = {}
    answered: set[str] = set()
    for message in messages:
        if isinstance(message, AssistantMessage) and not isinstance(message.content, str):
            made.update({c.id: _signature(c.name, loads(c.arguments)) for c in message.content})
        elif isinstance(message, FunctionExecutionResultMessage):
            for result in message.content:
                outcome = loads(result.content)
                error = outcome.get("error") if isinstance(outcome, dict) else None
                code = error.get("code") if isinstance(error, dict) else error
                if result.call_id in made and code not in _TRANSIENT_ERRORS:
                    answered.add(made[result.call_id])
    return answered


def _spoken(chat: list[dict[str, str]]) -> list[str]:
    """What the customer and the assistant said in ``chat``: no system prompt, no tool traffic."""
    return [
        turn["content"]
        for turn in chat
        if turn["role"] in ("user", "assistant") and not turn["content"].lstrip().startswith(("<tool_", "{"))
    ]


def _new_usage() -> dict[str, Any]:
    """An OpenAI-format usage object, summed over the passes of one step."""
    return {"prompt_tokens": 0, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 0}}


def _add_usage(total: dict[str, Any], reply: dict[str, Any]) -> None:
    usage = reply.get("usage") or {}
    total["prompt_tokens"] += usage.get("prompt_tokens", 0)
    total["completion_tokens"] += usage.get("completion_tokens", 0)
    total["prompt_tokens_details"]["cached_tokens"] += (usage.get("prompt_tokens_details") or {}).get(
        "cached_tokens", 0
    )


def loads(text: str) -> Any:
    try:
        return json.loads(text, strict=False)  # raw control characters in strings: see json_text
    except ValueError:
        return text
