"""The ``rolecall`` command line.

Heavy modules (the scenario models, AutoGen) are imported inside the commands that need
them, so ``rolecall --help`` and ``rolecall validate`` start fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rolecall import __version__

app = typer.Typer(
    name="rolecall",
    help="Simulate multi-turn tool-calling dialogues by role-play between LLM agents (DiGiT-TC).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_INVALID = 2


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rolecall {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Simulate multi-turn tool-calling dialogues by role-play between LLM agents (DiGiT-TC)."""


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario files to check.", show_default=False)],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print problems only.")] = False,
) -> None:
    """Check scenario files; print one line per problem as FILE:LINE:COL: error: FIELD: MESSAGE.

    Exits 0 when every file is valid, 2 otherwise.
    """
    from rolecall.scenario import ProblemsFound, load_scenario
    from rolecall.validators import CHECK_NAMES

    failed = False
    for path in files:
        try:
            loaded = load_scenario(path, known_rules=CHECK_NAMES)
        except ProblemsFound as found:
            failed = True
            _print_problems(found.problems)
            continue
        if not quiet:
            typer.echo(
                f"{path}: ok ({len(loaded.tools)} tools, {len(loaded.personas)} personas, "
                f"{loaded.scenario.generation.dialogues} dialogues)"
            )
    if failed:
        raise typer.Exit(EXIT_INVALID)


def _print_problems(problems: list[object]) -> None:
    for problem in problems:
        typer.echo(str(problem), err=True)


def _model_configs(
    scenario_configs: dict[str, dict[str, object]], model: Path | None, role_models: list[str]
) -> dict[str, dict[str, object]]:
    """The scenario's model configs, overridden by --model (every role) and --role-model."""
    from rolecall.models import ROLES
    from rolecall.scenario import load_model_config

    configs = dict(scenario_configs)
    if model is not None:
        configs = {"default": load_model_config(model)}
    for item in role_models:
        role, _, path = item.partition("=")
        if role not in ROLES or not path:
            raise typer.BadParameter(
                f"expected ROLE=CONFIG with ROLE one of {', '.join(ROLES)}", param_hint="--role-model"
            )
        configs[role] = load_model_config(path)
    return configs


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    dialogues: Annotated[
        int | None, typer.Option("--dialogues", "-n", min=1, help="How many dialogues (default: the scenario's).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="AutoGen component config (YAML) for every role.")
    ] = None,
    role_model: Annotated[
        list[str], typer.Option("--role-model", help="ROLE=CONFIG: a model for one role (repeatable).")
    ] = [],  # noqa: B006 - typer reads the default, it is never mutated
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (default: the scenario's).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Dialogues in flight.")] = 1,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a run in OUT, skipping dialogues written.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate dialogues: writes dialogues.jsonl, rejected.jsonl, failed.jsonl and manifest.json to OUT."""
    import asyncio

    from rolecall.scenario import ProblemsFound, load_scenario
    from rolecall.validators import CHECK_NAMES

    try:
        loaded = load_scenario(scenario, known_rules=CHECK_NAMES)
        configs = _model_configs(loaded.model_configs, model, role_model)
    except ProblemsFound as found:
        _print_problems(found.problems)
        raise typer.Exit(EXIT_INVALID) from None

    from rolecall.agents import AutogenBackend
    from rolecall.models import ModelConfigError, ModelFactory
    from rolecall.simulator import OutputExists, RunOptions, run_scenario

    generation = loaded.scenario.generation
    options = RunOptions(
        out_dir=out,
        dialogues=dialogues or generation.dialogues,
        seed=generation.seed if seed is None else seed,
        concurrency=concurrency,
        resume=resume,
    )
    try:
        factory = ModelFactory(configs)
        factory.prepare()  # fail now, before any output, on a bad config or missing weights
    except ModelConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None

    from rolecall._progress import RunDisplay

    display = RunDisplay(loaded.name, options.dialogues, enabled=not quiet)
    try:
        with display:
            summary = asyncio.run(run_scenario(loaded, AutogenBackend(factory), options, display.update))
    except OutputExists as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    display.report(summary.manifest, out)
    if summary.progress.failed == summary.progress.requested:
        raise typer.Exit(1)


@app.command()
def view(
    file: Annotated[Path, typer.Argument(help="A .jsonl file written by `rolecall run`.", show_default=False)],
    dialogue_id: Annotated[str | None, typer.Option("--id", help="Show only this dialogue.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-l", min=1, help="Show at most this many.")] = 5,
    width: Annotated[int, typer.Option("--width", help="Truncate tool results to this many characters.")] = 160,
) -> None:
    """Print dialogues readably: roles coloured, tool calls compact, hidden calls marked."""
    from rolecall._view import show_file

    shown = show_file(file, dialogue_id=dialogue_id, limit=limit, width=width)
    if shown == 0:
        typer.echo("no dialogue to show" + (f" with id {dialogue_id}" if dialogue_id else ""), err=True)
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors and other tools)."""
    from rolecall.scenario import Scenario

    document = Scenario.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    typer.echo(json.dumps(document, indent=2))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
