"""The validator: named rule checks on a finished dialogue, then an LLM judge."""

from rolecall.validators._evidence import INVALID_ARGUMENTS, CheckResult, DialogueEvidence, ToolCallView
from rolecall.validators._judge import JudgeVerdict, judge, judge_summary, tally, transcript
from rolecall.validators._phenomena import DeclineOutcome, WithheldOutcome, decline_outcomes, withheld_outcomes
from rolecall.validators._rules import RULE_NAMES, RULES, run_rules, unstated_literals
from rolecall.validators._values import exempt, is_identifier

# The session's own check comes first; then the rule checks, in the order they run.
SESSION_CHECK = "session_completed"
CHECK_NAMES = (SESSION_CHECK, *RULE_NAMES)

__all__ = [
    "CHECK_NAMES",
    "INVALID_ARGUMENTS",
    "RULES",
    "RULE_NAMES",
    "SESSION_CHECK",
    "CheckResult",
    "DeclineOutcome",
    "DialogueEvidence",
    "JudgeVerdict",
    "ToolCallView",
    "WithheldOutcome",
    "decline_outcomes",
    "exempt",
    "is_identifier",
    "judge",
    "judge_summary",
    "run_rules",
    "tally",
    "transcript",
    "unstated_literals",
    "withheld_outcomes",
]
