"""The ``rolecall`` command line.

Heavy modules (the scenario models, AutoGen) are imported inside the commands that need
them, so ``rolecall --help`` and ``rolecall validate`` start fast.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rolecall import __version__

if TYPE_CHECKING:
    from rolecall.evaluation import AssistantUnderStudy

app = typer.Typer(
    name="rolecall",
    help="Simulate multi-turn tool-calling dialogues by role-play between LLM agents (DiGiT-TC).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Exit codes of `rolecall run` (documented in the README).
EXIT_ALL_FAILED = 1  # the run finished, but every dialogue failed
EXIT_INVALID = 2  # bad input: a scenario, a model config, an option, the output directory
EXIT_ABORTED = 3  # a model error no retry can heal stopped the run; --resume continues it
EXIT_OUTPUT_FAILED = 4  # writing the records failed part way (a full disk); --resume continues
EXIT_CRASHED = 70  # a bug in rolecall (EX_SOFTWARE): the traceback is printed
EXIT_INTERRUPTED = 130  # Ctrl-C; --resume continues the run


class AssistChoice(enum.StrEnum):
    auto = "auto"
    none = "none"
    small_model = "small_model"


class ExecutorChoice(enum.StrEnum):
    local = "local"
    ray = "ray"


class ExportFormat(enum.StrEnum):
    openai = "openai"
    sharegpt = "sharegpt"
    hermes = "hermes"
    parquet = "parquet"


class CodeWrittenChoice(enum.StrEnum):
    drop = "drop"
    flag = "flag"
    keep = "keep"


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


def _model_spec(spec: str, stack: ExitStack, option: str) -> dict[str, object]:
    """A model config from a YAML path, or ``mock[:KNOBS]``: the mock model, started on 127.0.0.1
    for as long as ``stack`` lives."""
    from rolecall.scenario import load_model_config

    if spec == "mock" or spec.startswith("mock:"):
        from rolecall.mock import MockServer, model_config, parse_mock_spec

        try:
            settings = parse_mock_spec(spec)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint=option) from None
        server = stack.enter_context(MockServer.from_settings(settings))
        return model_config(server.base_url)
    return load_model_config(spec)


def _model_configs(
    scenario_configs: dict[str, dict[str, object]], model: str | None, role_models: list[str], stack: ExitStack
) -> dict[str, dict[str, object]]:
    """The scenario's model configs, overridden by --model (every role) and --role-model.

    ``--model mock[:KNOBS]`` starts the deterministic mock model on 127.0.0.1 for this run."""
    from rolecall.models import ROLES

    configs = dict(scenario_configs)
    if model is not None:
        configs = {"default": _model_spec(model, stack, "--model")}
    for item in role_models:
        role, _, path = item.partition("=")
        if role not in ROLES or not path:
            raise typer.BadParameter(
                f"expected ROLE=CONFIG with ROLE one of {', '.join(ROLES)}", param_hint="--role-model"
            )
        configs[role] = _model_spec(path, stack, "--role-model")
    return configs


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    dialogues: Annotated[
        int | None, typer.Option("--dialogues", "-n", min=1, help="How many dialogues (default: the scenario's).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="AutoGen component config (YAML) for every role, or 'mock[:KNOBS]' for the built-in mock model.",
        ),
    ] = None,
    role_model: Annotated[
        list[str], typer.Option("--role-model", help="ROLE=CONFIG: a model for one role (repeatable).")
    ] = [],  # noqa: B006 - typer reads the default, it is never mutated
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (default: the scenario's).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Dialogues in flight.")] = 1,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", "-w", min=1, help="Worker processes, to use every core (the dialogues in flight are shared)."
        ),
    ] = 1,
    executor: Annotated[
        ExecutorChoice,
        typer.Option(
            "--executor",
            help="Where dialogues run: local (this process, or --workers processes) or ray (--workers Ray "
            "actors; RAY_ADDRESS names a cluster, else Ray starts locally).",
        ),
    ] = ExecutorChoice.local,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="Answer requests seen before from this folder (and store new replies there)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a run in OUT, skipping dialogues written.")
    ] = False,
    assist: Annotated[
        AssistChoice | None,
        typer.Option(
            "--assist",
            help="Aids for weak models: auto (for roles on the embedded model), none, small_model "
            "(default: the scenario's generation.assist).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate dialogues: writes dialogues.jsonl, rejected.jsonl, failed.jsonl and manifest.json to OUT."""
    with ExitStack() as stack:
        _run(
            scenario, out, dialogues, model, role_model, seed, concurrency, workers, executor, cache, resume,
            assist, quiet, stack,
        )  # fmt: skip


def _run(
    scenario: Path,
    out: Path,
    dialogues: int | None,
    model: str | None,
    role_model: list[str],
    seed: int | None,
    concurrency: int,
    workers: int,
    executor: ExecutorChoice,
    cache: Path | None,
    resume: bool,
    assist: AssistChoice | None,
    quiet: bool,
    stack: ExitStack,
) -> None:
    import asyncio

    from rolecall.scenario import ProblemsFound, load_scenario
    from rolecall.validators import CHECK_NAMES

    try:
        loaded = load_scenario(scenario, known_rules=CHECK_NAMES)
        configs = _model_configs(loaded.model_configs, model, role_model, stack)
    except ProblemsFound as found:
        _print_problems(found.problems)
        raise typer.Exit(EXIT_INVALID) from None

    from rolecall.agents import AutogenBackend
    from rolecall.assist import AssistPolicy
    from rolecall.models import ModelConfigError, ModelFactory
    from rolecall.run import (
        Executor,
        OutputExists,
        OutputFailed,
        ProcessExecutor,
        RayExecutor,
        RunOptions,
        WorkerCrashed,
        concurrency_per_worker,
        run_scenario,
    )

    generation = loaded.scenario.generation
    assist_settings = generation.assist
    if assist is not None:
        assist_settings = assist_settings.model_copy(update={"mode": assist.value})
    try:
        # Each worker process keeps alive as many connections as it has dialogues in flight.
        factory = ModelFactory(configs, connections=concurrency_per_worker(concurrency, workers), cache_dir=cache)
        policy = AssistPolicy.resolve(assist_settings, factory.embedded_roles())
        factory.steer_assistant = policy.steer_assistant
        factory.prepare()  # fail now, before any output, on a bad config or missing weights
    except ModelConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    options = RunOptions(
        out_dir=out,
        dialogues=dialogues or generation.dialogues,
        seed=generation.seed if seed is None else seed,
        concurrency=concurrency,
        cache_dir=cache,
        resume=resume,
        assist=policy,
    )

    from rolecall._progress import RunDisplay
    from rolecall.agents import RunAborted

    display = RunDisplay(loaded.name, options.dialogues, enabled=not quiet)
    resume = f"rolecall run {scenario} -o {out} -n {options.dialogues} --resume"
    backend = AutogenBackend(factory)
    runs_dialogues: Executor | None = None
    if executor is ExecutorChoice.ray:
        try:
            import ray  # noqa: F401 - only to say what is missing before anything runs
        except ImportError:
            typer.echo("error: --executor ray needs Ray: pip install 'rolecall[ray]'", err=True)
            raise typer.Exit(EXIT_INVALID) from None
        runs_dialogues = RayExecutor(backend.recipe(), workers, concurrency)
    elif workers > 1:
        runs_dialogues = ProcessExecutor(backend.recipe(), workers, concurrency)
    try:
        with display:
            summary = asyncio.run(run_scenario(loaded, backend, options, display.update, runs_dialogues))
    except OutputExists as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except RunAborted as error:
        typer.echo(f"error: run aborted: model for {error.role}: {error.reason}", err=True)
        typer.echo(f"{display.written()} dialogues are written; once fixed, continue with: {resume}", err=True)
        raise typer.Exit(EXIT_ABORTED) from None
    except OutputFailed as error:
        typer.echo(f"error: {error}", err=True)
        typer.echo(f"{display.written()} dialogues are written whole; make room, then: {resume}", err=True)
        raise typer.Exit(EXIT_OUTPUT_FAILED) from None
    except WorkerCrashed as error:
        typer.echo(f"error: {error}", err=True)
        typer.echo(f"{display.written()} dialogues are written whole; continue with: {resume}", err=True)
        raise typer.Exit(EXIT_CRASHED) from None
    except KeyboardInterrupt:
        typer.echo(f"interrupted; {display.written()} dialogues are written; continue with: {resume}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    display.report(summary.manifest, out)
    if summary.progress.failed == summary.progress.requested:
        raise typer.Exit(EXIT_ALL_FAILED)


@app.command()
def check(
    records: Annotated[list[Path], typer.Argument(help="JSONL files of dialogues.", show_default=False)],
    scenario: Annotated[Path, typer.Option("--scenario", "-s", help="The scenario whose tools they use.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write dialogues.jsonl and rejected.jsonl with the new verdicts.")
    ] = None,
    with_judge: Annotated[
        bool, typer.Option("--judge", help="Also ask the LLM judge about every dialogue that passes the rules.")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option("--model", help="The judge's model: a component config (YAML) or 'mock' (default: scenario's)."),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Judge calls in flight.")] = 1,
) -> None:
    """Run the rule checks (and, with --judge, the judge) again on existing dialogues, rolecall's
    or any OpenAI-format ones with tools."""
    with ExitStack() as stack:
        _check(records, scenario, out, with_judge, model, concurrency, stack)


def _check(
    records: list[Path],
    scenario: Path,
    out: Path | None,
    with_judge: bool,
    model: str | None,
    concurrency: int,
    stack: ExitStack,
) -> None:
    import asyncio

    from rolecall.planning import resolve_output_schemas
    from rolecall.run import FILES, CheckSummary, check_record, checked_record, judge_record, read_records
    from rolecall.scenario import ProblemsFound, load_scenario
    from rolecall.validators import CHECK_NAMES

    try:
        loaded = load_scenario(scenario, known_rules=CHECK_NAMES)
        configs = _model_configs(loaded.model_configs, model, [], stack) if with_judge else {}
    except ProblemsFound as found:
        _print_problems(found.problems)
        raise typer.Exit(EXIT_INVALID) from None
    missing = [path for path in records if not path.is_file()]
    if missing:
        typer.echo(f"error: no such file: {', '.join(map(str, missing))}", err=True)
        raise typer.Exit(EXIT_INVALID)
    backend = None
    if with_judge:
        from rolecall.agents import AutogenBackend
        from rolecall.models import ModelConfigError, ModelFactory

        try:
            factory = ModelFactory(configs)
            factory.prepare()
        except ModelConfigError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(EXIT_INVALID) from None
        backend = AutogenBackend(factory)
    # Tools without `returns` get the offline heuristic schema here: no model is asked.
    schemas, _ = asyncio.run(resolve_output_schemas(list(loaded.tools), infer=None))
    tools = {tool.name: tool for tool in loaded.tools}
    validation = loaded.scenario.validation
    summary = CheckSummary()
    handles = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        handles = {kind: (out / FILES[kind]).open("w", encoding="utf-8") for kind in ("accepted", "rejected")}

    def batches() -> Iterator[list[dict[str, Any]]]:
        # Judge calls run `concurrency` at a time; records are written in input order.
        batch: list[dict[str, Any]] = []
        for path in records:
            for record in read_records(path):
                if record is None:
                    summary.unreadable += 1
                    continue
                batch.append(record)
                if len(batch) == concurrency:
                    yield batch
                    batch = []
        if batch:
            yield batch

    async def check_all() -> None:
        judge_role = backend.structured("judge") if backend else None
        try:
            for batch in batches():
                checked = [check_record(record, tools, schemas, validation.disabled_rules) for record in batch]
                if judge_role is not None:
                    policy = loaded.scenario.policy
                    checked = list(
                        await asyncio.gather(*(judge_record(c, judge_role, policy, validation.judge) for c in checked))
                    )
                for item in checked:
                    summary.add(item)
                    if handles:
                        kind = "accepted" if item.accepted else "rejected"
                        handles[kind].write(json.dumps(checked_record(item), ensure_ascii=False) + "\n")
                        handles[kind].flush()
        finally:
            if backend is not None:
                await backend.close()

    try:
        asyncio.run(check_all())
    finally:
        for handle in handles.values():
            handle.close()
    for line in summary.lines():
        typer.echo(line)


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run's output folder.", show_default=False)],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="Layout to write.")] = ExportFormat.openai,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write (default: RUN_DIR/export-FORMAT.jsonl|.parquet).")
    ] = None,
    include: Annotated[
        list[str], typer.Option("--include", help="Outcomes to export: accepted, rejected, failed (repeatable).")
    ] = ["accepted"],  # noqa: B006 - typer reads the default, it is never mutated
    code_written: Annotated[
        CodeWrittenChoice,
        typer.Option(
            "--code-written",
            help="Dialogues with user or assistant text written by code (the aids): drop them, flag them "
            "(a code_written field), or keep them.",
        ),
    ] = CodeWrittenChoice.drop,
) -> None:
    """Write a run's dialogues in a trainer's format: OpenAI/TRL messages, ShareGPT, Hermes or Parquet."""
    from rolecall.export import ExportError, export_run
    from rolecall.run import FILES

    unknown = [outcome for outcome in include if outcome not in FILES]
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)}: expected {', '.join(FILES)}", param_hint="--include")
    suffix = "parquet" if fmt is ExportFormat.parquet else "jsonl"
    target = out or run_dir / f"export-{fmt.value}.{suffix}"
    try:
        summary = export_run(run_dir, fmt.value, target, include, code_written.value)
    except ExportError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    for line in summary.lines():
        typer.echo(line)
    typer.echo(f"wrote {target}")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run's output folder.", show_default=False)],
    reference: Annotated[
        list[str],
        typer.Option(
            "--reference",
            "-r",
            help="[LABEL=]FILE: a JSONL of OpenAI-format conversations to compare with (repeatable).",
        ),
    ] = [],  # noqa: B006 - typer reads the default, it is never mutated
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML page with plots here.")
    ] = None,
) -> None:
    """Corpus statistics of a run (turns, calls, data dependencies, chains, provenance, cost) beside
    reference conversations, with Jensen-Shannon distances and their noise floors."""
    from rolecall.report import ReportError, build_report, print_report

    references = []
    for item in reference:
        label, _, path = item.rpartition("=")
        references.append((label or Path(path).stem, Path(path)))
    try:
        result = build_report(run_dir, references)
    except ReportError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    print_report(result)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {json_out}")
    if html_out is not None:
        from rolecall.report import render_html

        try:
            page = render_html(result)
        except ImportError:
            typer.echo("error: --html needs matplotlib: pip install 'rolecall[analysis]'", err=True)
            raise typer.Exit(EXIT_INVALID) from None
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(page, encoding="utf-8")
        typer.echo(f"wrote {html_out}")


def _is_mock(config: dict[str, Any]) -> bool:
    from rolecall.mock import MODEL

    return (config.get("config") or {}).get("model") == MODEL


def _assistant_spec(item: str, stack: ExitStack) -> AssistantUnderStudy:
    """``[LABEL=]CONFIG`` or ``[LABEL=]mock[:KNOBS]``; the label defaults to the file's stem or the spec."""
    from rolecall.evaluation import AssistantUnderStudy

    label, spec = item.partition("=")[::2] if "=" in item.split(":", 1)[0] else ("", item)
    return AssistantUnderStudy(label or Path(spec).stem.replace(":", "-"), _model_spec(spec, stack, "--assistant"))


@app.command(name="eval")
def eval_assistants(
    scenario: Annotated[Path, typer.Argument(help="Scenario file.", show_default=False)],
    assistant: Annotated[
        list[str],
        typer.Option(
            "--assistant",
            "-a",
            help="[LABEL=]CONFIG or [LABEL=]mock[:KNOBS]: an assistant model to study (repeatable).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    dialogues: Annotated[int, typer.Option("--dialogues", "-n", min=1, help="Tasks (dialogues) per trial.")] = 5,
    trials: Annotated[int, typer.Option("--trials", "-k", min=1, help="Trials per model (pass^k up to k).")] = 1,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Model of the other roles: a config, or 'mock[:KNOBS]' (default: the scenario's)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (default: the scenario's).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Dialogues in flight.")] = 1,
) -> None:
    """Study assistant models: each plays the assistant in the same tasks, against the same
    simulated users and tools; prints a comparison table and writes OUT/eval.json."""
    import asyncio

    from rolecall.evaluation import evaluate
    from rolecall.models import ModelConfigError
    from rolecall.scenario import ProblemsFound, load_scenario
    from rolecall.validators import CHECK_NAMES

    with ExitStack() as stack:
        try:
            loaded = load_scenario(scenario, known_rules=CHECK_NAMES)
            configs = _model_configs(loaded.model_configs, model, [], stack)
            studied = [_assistant_spec(item, stack) for item in assistant]
            if model is not None and model.split(":", 1)[0] == "mock":
                # The mock assistant knows the plan only from its own server: there, the mock
                # plays every role (the planner, user and tool simulator ignore assistant knobs).
                studied = [replace(a, others={"default": a.config}) if _is_mock(a.config) else a for a in studied]
        except ProblemsFound as found:
            _print_problems(found.problems)
            raise typer.Exit(EXIT_INVALID) from None
        labels = [a.label for a in studied]
        if len(set(labels)) != len(labels):
            raise typer.BadParameter(f"labels must differ: {', '.join(labels)}", param_hint="--assistant")
        generation = loaded.scenario.generation
        try:
            report = asyncio.run(
                evaluate(
                    loaded,
                    configs,
                    studied,
                    out,
                    dialogues,
                    trials,
                    generation.seed if seed is None else seed,
                    concurrency,
                    on_run=lambda label, trial: typer.echo(f"{label}: trial {trial + 1} of {trials}", err=True),
                )
            )
        except ModelConfigError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(EXIT_INVALID) from None
    from rolecall.evaluation import print_eval

    print_eval(report)
    typer.echo(f"wrote {out / 'eval.json'}")


class PlayRole(enum.StrEnum):
    user = "user"
    assistant = "assistant"


@app.command()
def play(
    scenario: Annotated[Path, typer.Argument(help="Scenario file.", show_default=False)],
    role: Annotated[PlayRole, typer.Option("--as", help="The role you play.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (the record is written like a run's).")],
    dialogues: Annotated[int, typer.Option("--dialogues", "-n", min=1, help="How many dialogues to play.")] = 1,
    model: Annotated[
        str | None,
        typer.Option("--model", help="The other roles' model: a config or 'mock[:KNOBS]' (default: the scenario's)."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (default: the scenario's).")] = None,
) -> None:
    """Play the customer or the assistant yourself, against the simulated other roles. As the
    customer: type messages, /done when helped, /give_up to leave. As the assistant: type replies,
    /call TOOL {JSON} to call a tool, /tools to list them. Your messages are marked human."""
    import asyncio

    from rolecall.agents import AutogenBackend
    from rolecall.assist import AssistPolicy
    from rolecall.models import ModelConfigError, ModelFactory
    from rolecall.play import HumanBackend, Terminal
    from rolecall.run import RunOptions, run_scenario
    from rolecall.scenario import ProblemsFound, load_scenario
    from rolecall.validators import CHECK_NAMES

    with ExitStack() as stack:
        try:
            loaded = load_scenario(scenario, known_rules=CHECK_NAMES)
            configs = _model_configs(loaded.model_configs, model, [], stack)
            factory = ModelFactory(configs)
            factory.prepare()
        except ProblemsFound as found:
            _print_problems(found.problems)
            raise typer.Exit(EXIT_INVALID) from None
        except ModelConfigError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(EXIT_INVALID) from None
        generation = loaded.scenario.generation
        resolved = AssistPolicy.resolve(generation.assist, factory.embedded_roles())
        policy = AssistPolicy(resolved.settings, resolved.roles - {role.value})  # no aid rewrites a person
        factory.steer_assistant = policy.steer_assistant
        options = RunOptions(
            out_dir=out, dialogues=dialogues, seed=generation.seed if seed is None else seed, assist=policy
        )
        backend = HumanBackend(AutogenBackend(factory), role.value, Terminal(sys.stdin, sys.stdout))
        summary = asyncio.run(run_scenario(loaded, backend, options))
    progress = summary.progress
    typer.echo(f"{progress.accepted} accepted, {progress.rejected} rejected, {progress.failed} failed; see {out}")


@app.command()
def view(
    file: Annotated[
        Path, typer.Argument(help="A .jsonl file written by `rolecall run`, or a run's folder.", show_default=False)
    ],
    dialogue_id: Annotated[str | None, typer.Option("--id", help="Show only this dialogue.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-l", min=1, help="Show at most this many.")] = 5,
    width: Annotated[int, typer.Option("--width", help="Truncate tool results to this many characters.")] = 160,
    rejected: Annotated[
        bool, typer.Option("--rejected", help="Only dialogues not accepted, their failed checks first.")
    ] = False,
) -> None:
    """Print dialogues readably: roles coloured, tool calls compact, hidden calls marked, and a
    summary line (turns, calls, hidden calls made, verdict) under each."""
    from rolecall._view import show_file

    shown = show_file(file, dialogue_id=dialogue_id, limit=limit, width=width, rejected=rejected)
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
        sys.exit(EXIT_INTERRUPTED)
    except Exception:  # a bug: say so, and keep its exit code apart from the documented ones
        import traceback

        traceback.print_exc()
        sys.stderr.write("rolecall crashed (a bug); the records written so far are whole\n")
        sys.exit(EXIT_CRASHED)
