"""The aids for a weak simulated user, behind one object: :class:`UserAids`.

The dialogue loop asks it for the turn's opening request and for each reply. With the aids off
(:meth:`AssistPolicy.off`) each of those is one model reply, unchanged. With them on, a reply
may be redrafted, completed with values, replaced by a scripted line, or replaced by a reminder
of an undone goal; each such message carries its origin (``redrafted``, ``appended``,
``scripted``) so the record shows it. The 1.5B model needs them: as the customer it copies the
agent, answers as the agent, leaves out the order number it was given, and thanks the agent for
a lookup before the goal call is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rolecall.agents import Origin, UserReply, provenance
from rolecall.assist._heuristics import (
    asks_leave,
    asks_something,
    confirms,
    gives_new_value,
    is_closing,
    names_all_words,
)
from rolecall.assist._policy import AssistPolicy
from rolecall.prompts import render
from rolecall.text import repeats, sounds_like_agent

# (label as a customer says it, value as written): ("order number", "W-48213")
Detail = tuple[str, str]

# Reminders of an undone goal, worded differently since a repeated message counts as a stall.
GOAL_REMINDERS = ("assist/user_nudge_goal", "assist/user_nudge_goal_again")


class TurnUser(Protocol):
    """The simulated user of one turn, as the aids see it (the dialogue's user simulator)."""

    async def draft(
        self, *, opening: bool = False, correction: str = "", example: Sequence[Detail] = (), hint: str = ""
    ) -> UserReply:
        """One model reply. ``example``: values the opening should carry, shown as an example."""
        ...

    def unstated(self, texts: Sequence[str]) -> list[Detail]:
        """The turn's planned values that none of ``texts`` states."""
        ...

    def user_texts(self) -> list[str]:
        """What the user said so far in the dialogue."""
        ...

    def spoken(self) -> list[str]:
        """What the user and the agent said so far (no tool traffic)."""
        ...

    def request(self) -> str:
        """The turn's goal as the customer would say it ("I want my account unlocked.")."""
        ...


@dataclass
class UserTurn:
    """A user message for the record: its text, the user's status, and who wrote it."""

    message: str
    status: str
    origin: dict[str, Any]

    @classmethod
    def of(cls, reply: UserReply, drafts: int = 1) -> UserTurn:
        if reply.author == "human":
            return cls(reply.message, reply.status, provenance(Origin.HUMAN))
        origin = provenance(Origin.REDRAFTED, drafts=drafts) if drafts > 1 else provenance(Origin.MODEL)
        return cls(reply.message, reply.status, origin)


@dataclass
class TurnState:
    """What the loop knows about the turn when the user replies."""

    agent_text: str  # the agent's last message
    plan_done: bool  # every planned tool answered, the goal call this turn
    fault: bool  # an injected fault answered a call this turn
    reminders: int = 0  # goal reminders given so far this turn
    error: bool = False  # any error answered a call this turn (an injected fault, a rejected argument)
    unavailable: bool = False  # the goal's tool was withheld from the assistant (missing_function)


class UserAids:
    """Every aid for the simulated user; each one is off unless ``policy`` turns it on."""

    def __init__(self, policy: AssistPolicy):
        self.policy = policy

    # -- the opening request ------------------------------------------------------------------------

    async def opening(self, user: TurnUser, upfront: bool) -> UserTurn:
        """The turn's first request. ``upfront``: it should carry every planned value.

        Aided, a draft that speaks as the agent or (upfront) leaves out values is redrafted with
        the problem named; values still missing after the last draft are appended; a last draft
        that still speaks as the agent is replaced by the goal in the first person."""
        policy = self.policy
        said = user.user_texts()
        needed = user.unstated(said) if upfront and policy.user else []
        reply = await user.draft(opening=True, example=needed)
        drafts = 1
        while drafts < policy.opening_drafts:
            problem = self._voice_problem(user, reply.message)
            missing = user.unstated([*said, reply.message]) if upfront else []
            if problem:
                correction = render("assist/user_voice_correction", draft=reply.message, problem=problem)
            elif missing:
                correction = render("assist/user_correction", draft=reply.message, missing=_bullets(missing))
            else:
                break
            reply = await user.draft(opening=True, correction=correction, example=missing or needed)
            drafts += 1
        if not policy.user:
            return UserTurn.of(reply, drafts)
        stated = _sayable(user.unstated([*said, reply.message])) if upfront else []
        if policy.scripted_fallbacks and self._voice_problem(user, reply.message):
            # Every draft spoke as the agent ("Could you provide more details?") or copied the
            # chat: the agent would answer its own words. The request is scripted from the goal.
            message = render("assist/user_fallback_opening", request=user.request()).strip()
            template = "assist/user_fallback_opening"
            if stated:
                message = _with_details(message, stated)
                template += "+assist/user_opening_details"
            return UserTurn(message, "continue", provenance(Origin.SCRIPTED, template=template))
        if stated and policy.state_details:
            # Still short of values after every draft (the 1.5B user writes "please provide my
            # email" instead of giving it): the values follow the model's words.
            origin = provenance(Origin.APPENDED, drafts=drafts, template="assist/user_opening_details")
            return UserTurn(_with_details(reply.message, stated), reply.status, origin)
        return UserTurn.of(reply, drafts)

    # -- a reply to the agent -----------------------------------------------------------------------

    def hint(self, state: TurnState) -> str:
        """What the user is told of the turn's state (aided only): small users otherwise keep
        thanking the agent without ending, or keep asking after the system failed."""
        if not self.policy.state_hints:
            return ""
        if state.plan_done:
            return render("assist/user_reminder_done")
        return render("assist/user_reminder_fault") if state.fault else ""

    async def reply(self, user: TurnUser, state: TurnState) -> UserTurn:
        """The user's answer to the agent's last message."""
        policy = self.policy
        hint = self.hint(state)
        reply = await user.draft(hint=hint)
        drafts = 1
        for _ in range(policy.reply_redrafts):
            problem = self._voice_problem(user, reply.message, state.agent_text)
            if not problem:
                break
            correction = render("assist/user_voice_correction", draft=reply.message, problem=problem)
            reply = await user.draft(correction=correction, hint=hint)
            drafts += 1
        turn = UserTurn.of(reply, drafts)
        if not policy.user:
            return turn
        if not state.plan_done and policy.state_details:
            turn = self._with_asked_details(user, state.agent_text, turn)
        if policy.scripted_fallbacks and self._voice_problem(user, turn.message, state.agent_text):
            turn = _scripted_reply(state) or turn
        if self.would_leave_early(turn, state):
            # The 1.5B user thanks the agent for a lookup and leaves before the goal call (most
            # goal_calls_made rejections): it asks for what is still undone instead.
            template = GOAL_REMINDERS[state.reminders]
            message = render(template, request=user.request()).strip()
            state.reminders += 1
            return UserTurn(message, "continue", provenance(Origin.SCRIPTED, template=template))
        return turn

    def leaving(self, turn: UserTurn) -> bool:
        """Whether the user ends the turn: status ``done``; aided, also a plain thank-you."""
        if turn.status == "done":
            return True
        return self.policy.closing_heuristic and turn.status == "continue" and is_closing(turn.message)

    def would_leave_early(self, turn: UserTurn, state: TurnState) -> bool:
        """Whether a goal reminder replaces ``turn``: the user would leave with the goal undone and
        no error to explain it. Never when the reply says yes to the agent, or answers its request
        for leave ("Shall I close it now?" "Perfect, please go ahead."): that is the goal going ahead."""
        if state.reminders >= self.policy.goal_reminders or state.plan_done or state.fault or state.error:
            return False  # after an error, leaving is the customer's call, not a slip
        if state.unavailable:
            return False  # the agent cannot do it this turn: leaving is the expected end
        if confirms(turn.message) or asks_leave(state.agent_text):
            return False
        return self.leaving(turn)

    def _with_asked_details(self, user: TurnUser, agent_text: str, turn: UserTurn) -> UserTurn:
        """``turn`` with the planned values the agent just asked for, where it leaves them out.

        The 1.5B user answers "Please provide your email" with "I cannot provide your email" or
        by asking the agent for it; the agent then asks again until the dialogue stalls. A value
        counts as asked for when every word of its label ("order number") is in the agent's text.
        A reply that states none of them is replaced (it dodged the question, and a refusal
        followed by the values reads as nonsense); one that states some gets the rest appended."""
        if not asks_something(agent_text):  # "a label will be sent to your email" asks for nothing
            return turn
        asked = [pair for pair in _sayable(user.unstated([])) if names_all_words(agent_text, pair[0])]
        missing = [pair for pair in user.unstated([turn.message]) if pair in asked]
        if not missing:
            return turn
        if len(missing) == len(asked):
            message = render("assist/user_answer_details", details=_details(missing)).strip()
            return UserTurn(message, "continue", provenance(Origin.SCRIPTED, template="assist/user_answer_details"))
        origin = provenance(Origin.APPENDED, template="assist/user_opening_details", **_drafts(turn))
        return UserTurn(_with_details(turn.message, missing), "continue", origin)

    @staticmethod
    def _voice_problem(user: TurnUser, message: str, agent_text: str = "") -> str:
        """Why ``message`` is not a customer's next message, or "" when it is."""
        if sounds_like_agent(message):
            return "speaks as the support agent"
        spoken = user.spoken()
        # A new value, or a yes to the agent's request for leave ("Perfect, please go ahead." in
        # a second turn), is not a copy however familiar its words.
        said_yes = confirms(message) and asks_leave(agent_text)
        if repeats(message, spoken) and not gives_new_value(message, spoken) and not said_yes:
            return "repeats what was already said in the chat"
        return ""


def _scripted_reply(state: TurnState) -> UserTurn | None:
    """The customer's reply when the model could not write one of its own, where the state of
    the turn says what it must be: thanks once the plan is done, letting go after a fault."""
    if state.plan_done:
        template, status = "assist/user_fallback_done", "done"
    elif state.fault:
        template, status = "assist/user_fallback_fault", "give_up"
    else:
        return None
    return UserTurn(render(template).strip(), status, provenance(Origin.SCRIPTED, template=template))


def _drafts(turn: UserTurn) -> dict[str, Any]:
    return {"drafts": turn.origin["drafts"]} if "drafts" in turn.origin else {}


def _sayable(pairs: list[Detail]) -> list[Detail]:
    """The (label, value) pairs a customer would state in words: objects (an address as JSON) are not."""
    return [(label, value) for label, value in pairs if not value.startswith(("{", "["))]


def _details(pairs: Sequence[Detail]) -> str:
    return ", ".join(f"{label}: {value}" for label, value in pairs)


def _with_details(message: str, pairs: Sequence[Detail]) -> str:
    """``message`` followed by "My details: label: value, ..."."""
    return f"{message.rstrip()} {render('assist/user_opening_details', details=_details(pairs)).strip()}"


def _bullets(pairs: Sequence[Detail]) -> str:
    return "\n".join(f"- {label}: {value}" for label, value in pairs)
