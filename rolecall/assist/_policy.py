"""Which aids for weak models are on, for which role.

The scenario says a mode (``generation.assist``); the run knows which roles run on the embedded
model. This module turns the two into one frozen :class:`AssistPolicy` that the dialogue loop
consults at each seam. With every aid off the loop is model-agnostic: each message is what a
model wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rolecall.scenario import AssistSettings

# The roles an aid can act for. The tool simulator has none: what it changes in results for
# every model is marked ``edited`` in the record instead.
AIDED_ROLES = ("planner", "user", "assistant")


@dataclass(frozen=True)
class AssistPolicy:
    """The aids in force for one run: ``settings`` says how much, ``roles`` says for whom."""

    settings: AssistSettings
    roles: frozenset[str]

    @classmethod
    def resolve(cls, settings: AssistSettings, embedded_roles: Iterable[str]) -> AssistPolicy:
        """``auto``: aids for the roles on the embedded model only; ``none``: for no role;
        ``small_model``: for every role."""
        if settings.mode == "none":
            roles: frozenset[str] = frozenset()
        elif settings.mode == "small_model":
            roles = frozenset(AIDED_ROLES)
        else:
            roles = frozenset(embedded_roles) & frozenset(AIDED_ROLES)
        return cls(settings, roles)

    @classmethod
    def off(cls) -> AssistPolicy:
        return cls(AssistSettings(mode="none"), frozenset())

    @classmethod
    def full(cls) -> AssistPolicy:
        return cls(AssistSettings(mode="small_model"), frozenset(AIDED_ROLES))

    # -- per aid ---------------------------------------------------------------------------------

    @property
    def user(self) -> bool:
        return "user" in self.roles

    @property
    def opening_drafts(self) -> int:
        return self.settings.opening_drafts if self.user else 1

    @property
    def reply_redrafts(self) -> int:
        return self.settings.reply_redrafts if self.user else 0

    @property
    def goal_reminders(self) -> int:
        return self.settings.goal_reminders if self.user else 0

    @property
    def scripted_fallbacks(self) -> bool:
        return self.user and self.settings.scripted_fallbacks

    @property
    def state_hints(self) -> bool:
        return self.user and self.settings.state_hints

    @property
    def state_details(self) -> bool:
        return self.user and self.settings.state_details

    @property
    def closing_heuristic(self) -> bool:
        return self.user and self.settings.closing_heuristic

    @property
    def repair_plans(self) -> bool:
        return "planner" in self.roles and self.settings.repair_plans

    @property
    def steer_assistant(self) -> bool:
        return "assistant" in self.roles and self.settings.steer_assistant

    def describe(self) -> dict[str, Any]:
        """For the manifest and each record: the mode asked for and what it turned on."""
        return {
            "mode": self.settings.mode,
            "roles": sorted(self.roles),
            "aids": {
                "opening_drafts": self.opening_drafts,
                "reply_redrafts": self.reply_redrafts,
                "goal_reminders": self.goal_reminders,
                "scripted_fallbacks": self.scripted_fallbacks,
                "state_hints": self.state_hints,
                "state_details": self.state_details,
                "closing_heuristic": self.closing_heuristic,
                "repair_plans": self.repair_plans,
                "steer_assistant": self.steer_assistant,
            },
        }
