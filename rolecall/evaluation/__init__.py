"""Studying assistant models: the same tasks, users and tools; only the assistant changes."""

from rolecall.evaluation._eval import EVAL_FILE, AssistantUnderStudy, evaluate, with_seed
from rolecall.evaluation._metrics import dialogue_metrics, model_metrics, pass_hat_k, print_eval

__all__ = [
    "EVAL_FILE",
    "AssistantUnderStudy",
    "dialogue_metrics",
    "evaluate",
    "model_metrics",
    "pass_hat_k",
    "print_eval",
    "with_seed",
]
