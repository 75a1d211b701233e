"""``rolecall eval``: assistant models against the same simulated users, tools and plans.

Every model plays the assistant in the same tasks (dialogue indexes: plans, personas, seeds and
faults come from the run seed and the other roles' models, which do not change); only the
assistant's model does. No aid for weak models acts on the assistant under study, whatever the
assist policy says of the other roles. Trial ``t`` of a model runs every task again with the
assistant's sampling seed moved by ``t``, so that pass^k means something for a model with a fixed
seed; each trial is an ordinary run folder, ``OUT/LABEL/trial-T``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolecall.agents import AutogenBackend
from rolecall.assist import AssistPolicy
from rolecall.evaluation._metrics import model_metrics
from rolecall.models import ModelFactory
from rolecall.run import RunOptions, read_run, run_scenario
from rolecall.scenario import LoadedScenario

EVAL_FILE = "eval.json"


@dataclass(frozen=True)
class AssistantUnderStudy:
    label: str
    config: dict[str, Any]  # an AutoGen component config
    # The other roles' configs for this model's runs, when they cannot be the shared ones: the
    # mock assistant replays the mock planner's plan, which only its own mock server knows.
    others: dict[str, dict[str, Any]] | None = None


def with_seed(config: dict[str, Any], trial: int) -> dict[str, Any]:
    """The config with its sampling seed moved by ``trial`` (trial 0: as given)."""
    if trial == 0:
        return config
    moved = copy.deepcopy(config)
    settings = moved.setdefault("config", {})
    settings["seed"] = int(settings.get("seed") or 0) + trial
    return moved


async def evaluate(
    scenario: LoadedScenario,
    configs: dict[str, dict[str, Any]],
    assistants: list[AssistantUnderStudy],
    out_dir: Path,
    dialogues: int,
    trials: int,
    seed: int,
    concurrency: int = 1,
    on_run: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Run every assistant ``trials`` times over ``dialogues`` tasks; write and return eval.json."""
    results: dict[str, Any] = {}
    for assistant in assistants:
        records = []
        for trial in range(trials):
            if on_run:
                on_run(assistant.label, trial)
            factory = ModelFactory({**(assistant.others or configs), "assistant": with_seed(assistant.config, trial)})
            factory.prepare()
            resolved = AssistPolicy.resolve(scenario.scenario.generation.assist, factory.embedded_roles())
            policy = AssistPolicy(resolved.settings, resolved.roles - {"assistant"})
            factory.steer_assistant = False
            target = out_dir / assistant.label / f"trial-{trial}"
            options = RunOptions(out_dir=target, dialogues=dialogues, seed=seed, concurrency=concurrency, assist=policy)
            await run_scenario(scenario, AutogenBackend(factory), options)  # closes the backend
            found = read_run(target)
            records.append(sorted((r for kind in found for r in found[kind]), key=lambda r: r["metadata"]["index"]))
        results[assistant.label] = model_metrics(records)
    report = {
        "scenario": scenario.name,
        "dialogues": dialogues,
        "trials": trials,
        "seed": seed,
        "models": {a.label: factory_describe(a.config) for a in assistants},
        "results": results,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / EVAL_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def factory_describe(config: dict[str, Any]) -> dict[str, Any]:
    """The assistant's model as the manifest names it (secrets scrubbed)."""
    return ModelFactory({"default": config}).describe()["assistant"]
