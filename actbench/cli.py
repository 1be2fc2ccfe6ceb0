"""The command line: parses, validates, delegates. No logic of its own.

Library errors (``ActbenchError``) become one line on stderr and their exit code:
0 success, 1 runtime failure (missing data, no results), 2 bad usage, 130 interrupted.

Starts without torch, pandas, scipy or matplotlib: each command imports what it needs
when it runs, and the help texts list the names in the registries (tasks, engines,
executors, formats, metrics), which are declared without them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from shlex import quote
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from actbench import __version__
from actbench.errors import ActbenchError, UsageError
from actbench.report.formats import FORMATS as REPORT_FORMATS
from actbench.report.metrics import known_metrics
from actbench.results.export import FORMATS as EXPORT_FORMATS
from actbench.run.engines import ENGINES
from actbench.run.executors import EXECUTORS
from actbench.run.stopping import ALPHA, LOOK_EVERY
from actbench.tasks import TASKS

app = typer.Typer(
    name="actbench",
    help="Compare activation functions honestly: train reference networks over seeds, "
    "store every trial, report means, spreads and curves.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
# Tables are meant to be read whole: when piped (CI logs, files) use a wide fixed width
# instead of rich's 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
# Messages are single lines: never hard-wrap them (users grep logs, tests compare lines).
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's errors into one line on stderr and the error's exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ActbenchError as exc:
            err.print(f"error: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted", markup=False)
            raise typer.Exit(130) from None

    return wrapper


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    err.print(f"warning: {message}", markup=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"actbench {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    # Plug-in activations (`--acts mymod:MyAct`) are imported by module path. As with
    # `python -m`, the current folder is importable, so a file next to the user works;
    # the console script alone would only see installed packages.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))


def _names(names: list[str], last: str = "or") -> str:
    """'a, b or c': a registry's names for a help text."""
    return ", ".join(names[:-1]) + f" {last} {names[-1]}" if len(names) > 1 else names[0]


def _table_or_json(format_: str, named: str = "--format") -> None:
    """The check of a command that prints a table, or JSON for scripts."""
    if format_ not in ("table", "json"):
        raise UsageError(f"unknown {named} {format_!r}; choose from: table, json")


# Options several commands share.
SpecsArgument = Annotated[str, typer.Argument(help="Comma-separated activation specs; plug-ins (pkg.mod:Name) too.")]
_THREADS_HELP = (
    "torch's CPU threads for training in this process; 1 where other work shares the cores, which more threads "
    "oversubscribe. [default: torch's: $OMP_NUM_THREADS, else the cores]"
)


def _results_dir(panel: str | None = None) -> Any:
    """The --results-dir option, shown in ``panel`` of its command's help."""
    help_ = "Folder of the results database and reports. [default: ./results]"
    return Annotated[Path | None, typer.Option("--results-dir", help=help_, rich_help_panel=panel)]


ResultsDir = _results_dir()

# Help panels for the commands with many options: one per concern.
_COMPARISON = "The comparison"
_UNTIL_DECIDED = "Until decided"
_EXECUTOR = "Executor (Ray)"
_CHECKPOINTS = "Checkpoints and resume"
_PERFORMANCE = "Engine and performance"
_DATA_OUTPUT = "Data and output"
_COMPARED = "What is compared"
_FILES = "Files and output"
_PLAN = "The plan"
_PILOT = "The pilot store"


@app.command()
@fail_cleanly
def run(
    task: Annotated[
        str | None,
        typer.Option(
            help=f"Task to train: {', '.join(TASKS.names())} (see 'actbench tasks'). [default: mnist]",
            rich_help_panel=_COMPARISON,
        ),
    ] = None,
    acts: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated activation specs, e.g. 'relu,gelu,ralu(alpha=2)'.", rich_help_panel=_COMPARISON
        ),
    ] = None,
    repeats: Annotated[
        int | None, typer.Option(help="Run seeds 0..N-1. [default: 1]", rich_help_panel=_COMPARISON)
    ] = None,
    seeds: Annotated[
        str | None, typer.Option(help="Explicit seeds, e.g. 0,3,7 (instead of --repeats).", rich_help_panel=_COMPARISON)
    ] = None,
    epochs: Annotated[
        float | None,
        typer.Option(
            help=(
                "Epochs per trial; fractions where the task allows them (airbench: 9.9). [default: the task's, 20 for "
                "mnist]"
            ),
            rich_help_panel=_COMPARISON,
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Training batch size. [default: the task's]", rich_help_panel=_COMPARISON)
    ] = None,
    lr: Annotated[
        float | None, typer.Option(help="Learning rate. [default: the task's]", rich_help_panel=_COMPARISON)
    ] = None,
    weight_decay: Annotated[
        float | None, typer.Option(help="Weight decay. [default: the task's]", rich_help_panel=_COMPARISON)
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Any task hyperparameter as key=value, e.g. --set 'hidden=[256,128]'. Repeatable.",
            rich_help_panel=_COMPARISON,
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML run config; options given here override it.", rich_help_panel=_COMPARISON)
    ] = None,
    until_decided: Annotated[
        bool,
        typer.Option(
            "--until-decided",
            help=(
                "Add seeds in blocks until each activation is better, worse or equivalent (--margin) against "
                "--baseline, or --max-repeats is reached; see the README."
            ),
            rich_help_panel=_UNTIL_DECIDED,
        ),
    ] = False,
    max_repeats: Annotated[
        int | None, typer.Option(help="--until-decided: seeds 0..N-1 at most.", rich_help_panel=_UNTIL_DECIDED)
    ] = None,
    look_every: Annotated[
        int | None,
        typer.Option(
            help=f"--until-decided: seeds added between looks. [default: {LOOK_EVERY}]", rich_help_panel=_UNTIL_DECIDED
        ),
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option(
            help="--until-decided: equivalence margin, in the metric's unit (accuracy: points).",
            rich_help_panel=_UNTIL_DECIDED,
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="--until-decided: compare with this activation. [default: relu if listed, else the first]",
            rich_help_panel=_UNTIL_DECIDED,
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="--until-decided: the metric compared. [default: the task's headline]", rich_help_panel=_UNTIL_DECIDED
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(
            help=f"--until-decided: error rate of the whole table. [default: {ALPHA:g}]", rich_help_panel=_UNTIL_DECIDED
        ),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            help=(
                f"Where the trials run: {_names(EXECUTORS.names())} (local: this process; ray: the workers of a Ray "
                "cluster, see the README). [default: local]"
            ),
            rich_help_panel=_EXECUTOR,
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            help=(
                "--executor ray: the cluster to join, e.g. 10.0.0.1:6379 or auto. [default: $RAY_ADDRESS, else a new "
                "local Ray instance]"
            ),
            rich_help_panel=_EXECUTOR,
        ),
    ] = None,
    gpus_per_trial: Annotated[
        float | None,
        typer.Option(
            help=(
                "--executor ray: GPUs per unit of work; a fraction (0.25) packs several on a GPU. [default: 1 where "
                "the cluster has GPUs, else 0]"
            ),
            rich_help_panel=_EXECUTOR,
        ),
    ] = None,
    cpus_per_trial: Annotated[
        float | None,
        typer.Option(
            help="--executor ray: CPUs per unit of work (its torch threads). [default: 1]", rich_help_panel=_EXECUTOR
        ),
    ] = None,
    max_retries: Annotated[
        int | None,
        typer.Option(
            help="--executor ray: attempts after the first when a worker dies mid-unit. [default: 2]",
            rich_help_panel=_EXECUTOR,
        ),
    ] = None,
    no_checkpoint: Annotated[
        bool,
        typer.Option(
            "--no-checkpoint",
            help="Do not save each unit's state after every epoch (a killed run then restarts its trials in flight).",
            rich_help_panel=_CHECKPOINTS,
        ),
    ] = False,
    checkpoint_dir: Annotated[
        Path | None,
        typer.Option(
            help=(
                "Folder of the epoch checkpoints; on a cluster, a shared one lets a retried unit resume on any node. "
                "[default: RESULTS/checkpoints]"
            ),
            rich_help_panel=_CHECKPOINTS,
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help=(
                f"auto or {_names(ENGINES.names())}: population trains every trial of the run as one batched model, "
                "sequential one model at a time. [default: auto = population where the task has one]"
            ),
            rich_help_panel=_PERFORMANCE,
        ),
    ] = None,
    compile_: Annotated[
        bool,
        typer.Option(
            "--compile",
            help=(
                "torch.compile the training step (about 30 s to compile; measured no faster on a 2-core CPU, see the "
                "README)."
            ),
            rich_help_panel=_PERFORMANCE,
        ),
    ] = False,
    threads: Annotated[int | None, typer.Option(help=_THREADS_HELP, rich_help_panel=_PERFORMANCE)] = None,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu, cuda, cuda:N or mps. [default: auto]", rich_help_panel=_PERFORMANCE)
    ] = None,
    memory_budget: Annotated[
        float | None,
        typer.Option(
            "--memory-budget",
            help=(
                "GB a population may use; larger runs are split into chunks. [default: a quarter of the RAM, half the "
                "free GPU memory]"
            ),
            rich_help_panel=_PERFORMANCE,
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Dataset folder (flat or torchvision layout). [default: $ACTBENCH_DATA, else the user cache]",
            rich_help_panel=_DATA_OUTPUT,
        ),
    ] = None,
    results_dir: _results_dir(_DATA_OUTPUT) = None,
    no_verify: Annotated[
        bool,
        typer.Option("--no-verify", help="Skip the MD5 check of dataset files (warns).", rich_help_panel=_DATA_OUTPUT),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print errors only.", rich_help_panel=_DATA_OUTPUT)
    ] = False,
) -> None:
    """Train every (activation, seed) trial not yet stored, committing each as it finishes.

    Rerunning a command skips the trials already stored and resumes the trials in flight
    from their last epoch's checkpoint, so an interrupted or killed run resumes. Several
    runs on one results folder split the trials between them (see 'actbench status').

    Examples:

        actbench run --task mnist --acts relu,gelu,srelu --epochs 20 --repeats 10

        actbench run --config configs/srelu-mnist.toml --data-dir ~/data

        actbench run --task mnist-mini --acts 'relu,ralu(alpha=2, learnable=false)' --repeats 3 --epochs 2

        actbench run --task cifar10-airbench94 --acts relu,gelu --repeats 5 --data-dir ~/data/cifar10

    The CIFAR-10 tasks are meant for a GPU (airbench94: 3.8 s a trial on an A100). On a CPU
    they run in float32 for smoke runs only: on 2 cores one full airbench94 trial takes
    about an hour (8 s per step of 1024 images, 476 steps), airbench96 about 17 hours
    (31 s per step, 1,920 steps).
    """
    from actbench.run.config import build_run_config, load_config_file, parse_assignments
    from actbench.run.progress import QuietReporter, RichReporter
    from actbench.run.runner import execute
    from actbench.run.stopping import check_options, stopping_rule

    cli_values = {
        "task": task,
        "acts": acts,
        "repeats": repeats,
        "seeds": seeds,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "device": device,
        "data_dir": data_dir,
        "results_dir": results_dir,
        "verify": False if no_verify else None,
        "hparams": parse_assignments(set_),
        "engine": engine,
        "executor": executor,
        "memory_budget_gb": memory_budget,
        "compile": compile_ or None,
        "checkpoint": False if no_checkpoint else None,
        "checkpoint_dir": checkpoint_dir,
        "address": address,
        "gpus_per_trial": gpus_per_trial,
        "cpus_per_trial": cpus_per_trial,
        "max_retries": max_retries,
        "threads": threads,
    }
    file_values = load_config_file(config) if config else {}
    rule_options = {
        "--max-repeats": max_repeats,
        "--look-every": look_every,
        "--margin": margin,
        "--baseline": baseline,
        "--metric": metric,
        "--alpha": alpha,
    }
    check_options(until_decided, rule_options, repeats, seeds)
    if until_decided:
        cli_values["repeats"] = max_repeats  # checks every trial it may train, up front
    run_config = build_run_config(file_values, cli_values)
    rule = stopping_rule(run_config, look_every, margin, baseline, metric, alpha) if until_decided else None
    reporter = QuietReporter() if quiet else RichReporter(err)
    try:
        if rule is not None:
            outcome = _run_until_decided(run_config, rule, reporter)
        else:
            outcome = execute(run_config, reporter)
    finally:
        reporter.close()
    if not quiet:
        extra = f"; {outcome.stored_elsewhere} stored meanwhile by another process" if outcome.stored_elsewhere else ""
        extra += f"; {outcome.by_others} trained by other runs on this folder" if outcome.by_others else ""
        failed = f", {outcome.failed} failed" if outcome.failed else ""
        err.print(
            f"done: {outcome.stored} trial(s) stored ({outcome.diverged} diverged{failed}), "
            f"{outcome.skipped} skipped as already stored{extra}. Next: actbench report"
            + ("" if run_config.results_dir == Path("results") else f" --results-dir {run_config.results_dir}"),
            markup=False,
        )


def _run_until_decided(run_config, rule, reporter):
    """--until-decided: the looks' runs, then the decisions table; the looks' outcome."""
    from actbench.report.render import rich_table
    from actbench.run.until_decided import decisions_rows, rule_text, run_until_decided

    done = run_until_decided(run_config, rule, reporter)
    reporter.close()
    caption = rule_text(rule, done.design, done.metric, len(run_config.activations) - 1)
    title = f"{run_config.task}: against {rule.baseline}"
    out.print(rich_table(decisions_rows(done.decisions, done.design), title, caption=caption))
    err.print(f"wrote {done.path} and {done.path.with_suffix('.json').name}", markup=False)
    return done.outcome


@app.command()
@fail_cleanly
def tune(
    acts: Annotated[str, typer.Option(help="Comma-separated activation specs to tune, e.g. relu,selu,gelu.")],
    grid: Annotated[
        list[str],
        typer.Option(
            help=(
                "A hyperparameter and its values, e.g. lr=3e-4,1e-3,3e-3 or init=torch,lecun. Repeatable: every "
                "combination is tried."
            )
        ),
    ],
    task: Annotated[str, typer.Option(help="Task to tune on (every built-in task has a validation split).")] = "mnist",
    repeats: Annotated[int, typer.Option(help="Seeds per setting (1000..1000+N-1, disjoint from a comparison's).")] = 3,
    epochs: Annotated[
        float | None, typer.Option(help="Epochs per trial, the same for every setting. [default: the task's]")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any other task hyperparameter, shared by every setting, as key=value. Repeatable."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="The validation metric a setting is chosen by. [default: the task's headline]")
    ] = None,
    final_repeats: Annotated[
        int, typer.Option(help="Seeds the written run config asks for, for the comparison on the test set.")
    ] = 10,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda, cuda:N or mps. [default: auto]")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Dataset folder; its test files are not needed.")] = None,
    engine: Annotated[str | None, typer.Option(help=f"auto or {_names(ENGINES.names())}. [default: auto]")] = None,
    threads: Annotated[int | None, typer.Option(help=_THREADS_HELP)] = None,
    results_dir: ResultsDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only.")] = False,
) -> None:
    """Tune every activation with the same budget, on a validation split; write the tuned run config.

    Each activation trains at every setting of the grid over the same seeds, scored on a
    validation split carved from the training set (a fixed 10%, the same for every
    activation and seed; the test set is never read), and keeps its best. Writes into
    `RESULTS_DIR/TASK/`: tune-ID.toml, the run config of the comparison with each
    activation's chosen settings; tune-ID.md/.json, every setting's score; and
    sensitivity-ID.png/.svg. Tuning trials are stored and resumed like any others.

    Examples:

        actbench tune --task mnist-mini --acts relu,selu,gelu,srelu --grid lr=3e-4,1e-3,3e-3 --epochs 5

        actbench run --config results/mnist-mini/tune-ID.toml

        actbench tune --task mnist --acts relu,selu --grid lr=1e-3,3e-3 --grid init=torch,lecun
    """
    from actbench.activations import split_specs
    from actbench.report.render import rich_table
    from actbench.run.config import SEED_LIMIT, build_run_config, parse_assignments
    from actbench.run.progress import QuietReporter, RichReporter
    from actbench.tune.grid import parse_grid
    from actbench.tune.outputs import method_text, score_rows, write_outputs
    from actbench.tune.tuning import TUNE_SEED_START, make_tuning, run_tuning, scores, validation_label

    if repeats < 1 or final_repeats < 1:
        raise UsageError(f"--{'repeats' if repeats < 1 else 'final-repeats'} must be a positive integer")
    for flag, count, first in (("--repeats", repeats, TUNE_SEED_START), ("--final-repeats", final_repeats, 0)):
        if first + count > SEED_LIMIT:  # before the seeds are listed: that many overflow range()
            raise UsageError(f"{flag} {count} is too large: seeds must be below 2**63")
    hparams = parse_assignments(set_)  # before the specs: a bad --set is the error shown first
    cli_values = {
        "task": task,
        "acts": split_specs(acts),
        "seeds": list(range(TUNE_SEED_START, TUNE_SEED_START + repeats)),
        "epochs": epochs,
        "device": device,
        "data_dir": data_dir,
        "results_dir": results_dir,
        "hparams": hparams,
        "engine": engine,
        "threads": threads,
    }
    tuning = make_tuning(build_run_config({}, cli_values), parse_grid(grid), metric)
    reporter = QuietReporter() if quiet else RichReporter(err)
    try:
        run_tuning(tuning, reporter)
    finally:
        reporter.close()
    frame = scores(tuning)
    files = write_outputs(tuning, frame, final_repeats)
    if not quiet:
        title = f"{tuning.base.task}: tuning {tuning.id}, {validation_label(tuning.metric)}"
        out.print(rich_table(score_rows(tuning, frame), title, caption=method_text(tuning), left=(0, 1)))
        for path in files:
            err.print(f"wrote {path}", markup=False)
        # The config does not name the results folder: the command as printed must, to write where tune did.
        elsewhere = (
            ""
            if tuning.base.results_dir == Path("results")
            else f" --results-dir {quote(str(tuning.base.results_dir))}"
        )
        err.print(f"next: actbench run --config {quote(str(files[0]))}{elsewhere}", markup=False)


@app.command()
@fail_cleanly
def status(
    config: Annotated[Path | None, typer.Option(help="A run config: also list its trials still pending.")] = None,
    task: Annotated[str | None, typer.Option(help="With --acts: the run's task, as for 'actbench run'.")] = None,
    acts: Annotated[str | None, typer.Option(help="The run's activations: also list its trials still pending.")] = None,
    repeats: Annotated[int | None, typer.Option(help="The run's seeds 0..N-1.")] = None,
    seeds: Annotated[str | None, typer.Option(help="The run's explicit seeds.")] = None,
    epochs: Annotated[float | None, typer.Option(help="The run's epochs, if not the task's.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="The run's other hyperparameters, key=value.")] = None,
    results_dir: ResultsDir = None,
    format_: Annotated[str, typer.Option("--format", help="table, or json for scripts.")] = "table",
) -> None:
    """What a results folder holds: stored trials per activation, the trials being trained
    (by which run, on which host and pid, and when its lease was last renewed) and, given
    a run's options or config, its trials still pending.

    Examples:

        actbench status

        actbench status --config configs/srelu-mnist.toml
    """
    from actbench.results.store import ResultStore
    from actbench.run.config import build_run_config, load_config_file, parse_assignments
    from actbench.run.status import read_status, status_json, status_tables

    _table_or_json(format_)
    folder = results_dir or Path("results")
    trials = None
    if config or acts:
        cli_values = {
            "task": task,
            "acts": acts,
            "repeats": repeats,
            "seeds": seeds,
            "epochs": epochs,
            "hparams": parse_assignments(set_),
            "device": "cpu",
        }
        run_config = build_run_config(load_config_file(config) if config else {}, cli_values)
        folder = results_dir or run_config.results_dir
        trials = run_config.trials()
    with ResultStore(folder, create=False) as store:
        found = read_status(store, trials)
    if format_ == "json":
        out.print(status_json(found), markup=False, soft_wrap=True)
        return
    for shown in status_tables(found):
        if isinstance(shown, str):
            out.print(shown, markup=False)
        else:
            out.print(shown)


@app.command()
@fail_cleanly
def report(
    task: Annotated[str | None, typer.Option(help="Only this task.", rich_help_panel=_COMPARED)] = None,
    acts: Annotated[
        str | None, typer.Option(help="Only these activations (comma-separated specs).", rich_help_panel=_COMPARED)
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Compare every activation with this one. [default: relu when stored, else the first]",
            rich_help_panel=_COMPARED,
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help=(
                f"{_names(known_metrics())}: best_acc is selected on the test set, late_mean the mean over the last "
                "half of the epochs; a task's own metrics are listed by 'actbench tasks NAME'. [default: the task's "
                "headline]"
            ),
            rich_help_panel=_COMPARED,
        ),
    ] = None,
    alpha: Annotated[
        float, typer.Option(help="Significance level for the Holm-corrected p-values.", rich_help_panel=_COMPARED)
    ] = 0.05,
    margin: Annotated[
        float | None,
        typer.Option(
            help=(
                "Equivalence margin in the metric's unit: an activation within +-MARGIN of the baseline by TOST is "
                "'equivalent (+-MARGIN)'."
            ),
            rich_help_panel=_COMPARED,
        ),
    ] = None,
    pairs: Annotated[
        str,
        typer.Option(
            help=(
                "baseline: each activation against the baseline; all: also every pair (p-value matrix) and a ranking "
                "with ties."
            ),
            rich_help_panel=_COMPARED,
        ),
    ] = "baseline",
    target: Annotated[
        list[str] | None,
        typer.Option(
            help=(
                "Value of the compared metric to reach (a test accuracy in %; where lower is better, e.g. a loss, "
                "one to get down to): the epochs and seconds each trial took to get there. VALUE for every "
                "task, or TASK=VALUE (repeatable), e.g. --target mnist=97.5 --target cifar10-airbench94=94"
            ),
            rich_help_panel=_COMPARED,
        ),
    ] = None,
    across_tasks: Annotated[
        bool,
        typer.Option(
            "--across-tasks",
            help=(
                "Also combine the tasks: each activation's probability of beating the baseline on a random (task, "
                "seed), and its mean rank, with a stratified Wilson interval for the probability and "
                "stratified-bootstrap intervals for the ranks."
            ),
            rich_help_panel=_COMPARED,
        ),
    ] = False,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            help=(
                f"Files to write, comma-separated: {', '.join(REPORT_FORMATS.names())} (html: one self-contained page "
                "of everything). [default: all but html and pdf]"
            ),
            rich_help_panel=_FILES,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the files into OUT/TASK/. [default: RESULTS_DIR/TASK/]", rich_help_panel=_FILES
        ),
    ] = None,
    results_dir: _results_dir(_FILES) = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Write the files, print errors only.", rich_help_panel=_FILES)
    ] = False,
) -> None:
    """Summarise the stored trials and compare them with a baseline, per task.

    Prints the summary (mean ± std across seeds) and the comparison (paired per-seed
    differences with the t-intervals the verdicts rest on, simultaneous over the table;
    t-test, Wilcoxon and Holm-corrected p-values; unpaired rows marked), and writes into
    `RESULTS_DIR/TASK/` (or `--out`), replacing the previous report's files:
    summary.md/.csv/.tex/.json, compare.md/.csv/.json, pairs.* with `--pairs all`, and
    PNG + SVG figures (PDF with --format pdf): curves (accuracy per epoch, late epochs
    zoomed), seeds (every seed per activation), differences (paired differences to the
    baseline with their intervals), cost (metric against seconds per trial).

    Examples:

        actbench report

        actbench report --task mnist --acts relu,gelu,srelu --baseline gelu --metric late_mean

        actbench report --pairs all
    """
    from actbench.activations import stored_specs
    from actbench.report.across import across_method, across_rows
    from actbench.report.comparison import comparison_rich
    from actbench.report.cost_table import cost_rich
    from actbench.report.decisions import written_decisions
    from actbench.report.options import compare_spec
    from actbench.report.pairs import pairs_rich, ranking_rich
    from actbench.report.render import rich_table
    from actbench.report.side_by_side import side_by_side_note, side_by_side_rows
    from actbench.report.summary import summary_rich
    from actbench.report.writers import make_reports

    task_name = TASKS.primary(task) if task else None
    activations = stored_specs(acts) if acts else None
    options = {"metric": metric, "baseline": baseline, "alpha": alpha, "margin": margin, "pairs": pairs}
    spec = compare_spec({**options, "target": target, "formats": format_})
    written = make_reports(results_dir or Path("results"), task_name, activations, spec, out_dir, across_tasks)
    if quiet:
        return
    for task_report, files in written.reports:
        out.print(summary_rich(task_report))
        if task_report.comparisons:
            out.print(comparison_rich(task_report))
        if task_report.pairs:
            out.print(pairs_rich(task_report))
            out.print(ranking_rich(task_report))
        if task_report.time_to_target is not None:
            out.print(cost_rich(task_report))
        decided = written_decisions(results_dir or Path("results"), task_report.task, task_report.config_hash)
        if decided:  # a run --until-decided: its decisions, with intervals adjusted for its looks
            out.print(
                f"\nrun --until-decided ({decided}); its intervals are adjusted for the looks, the table "
                f"above's are not:\n\n{decided.read_text()}",
                markup=False,
            )
        for path in files:
            err.print(f"wrote {path}", markup=False)
    for default, tuned, path in written.side_by_side:
        out.print(
            rich_table(
                side_by_side_rows(default, tuned),
                f"{tuned.task}: default and tuned",
                caption=side_by_side_note(default, tuned),
                left=(0, 2, 3, 5),
            )
        )
        err.print(f"wrote {path}", markup=False)
    if written.across is not None:
        title = f"across {len(written.across.strata)} tasks: against {written.across.baseline}"
        out.print(rich_table(across_rows(written.across), title, caption=across_method(written.across), left=(0, -1)))
    for path in written.folder_files:
        err.print(f"wrote {path}", markup=False)


@app.command()
@fail_cleanly
def plan(
    delta: Annotated[
        float,
        typer.Option(
            help="The true difference to detect, in the metric's unit (accuracy: points).", rich_help_panel=_PLAN
        ),
    ],
    sd: Annotated[
        float | None,
        typer.Option(
            help="SD of the paired differences, given by hand instead of a pilot store.", rich_help_panel=_PLAN
        ),
    ] = None,
    comparisons: Annotated[
        int | None,
        typer.Option(
            help="Comparisons in the table (Holm). [default: the store's activations - 1; 1 with --sd]",
            rich_help_panel=_PLAN,
        ),
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option(
            help="Also the seeds to show equivalence within +-MARGIN (TOST) when the truth is 0.", rich_help_panel=_PLAN
        ),
    ] = None,
    alpha: Annotated[float, typer.Option(help="The table's significance level (Holm).", rich_help_panel=_PLAN)] = 0.05,
    power: Annotated[float, typer.Option(help="Power wanted.", rich_help_panel=_PLAN)] = 0.8,
    task: Annotated[str | None, typer.Option(help="Only this task.", rich_help_panel=_PILOT)] = None,
    acts: Annotated[
        str | None, typer.Option(help="Only these activations (comma-separated specs).", rich_help_panel=_PILOT)
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Pair every activation with this one. [default: relu when stored, else the first]",
            rich_help_panel=_PILOT,
        ),
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="The metric compared. [default: the task's headline]", rich_help_panel=_PILOT)
    ] = None,
    look_every: Annotated[
        int,
        typer.Option(
            help="Also the --max-repeats that run --until-decided needs with this --look-every.", rich_help_panel=_PLAN
        ),
    ] = LOOK_EVERY,
    results_dir: _results_dir(_PILOT) = None,
    format_: Annotated[str, typer.Option("--format", help="table, or json for scripts.")] = "table",
) -> None:
    """How many paired seeds a comparison needs, from a pilot store or a given SD.

    For each activation against the baseline: the SD of the stored paired differences
    (with its 95% interval), the seeds the paired t-test needs to detect a difference of
    DELTA at Holm's level with the given power (and at the interval's ends), the smallest
    difference the pilot's own seeds detect, and with --margin the seeds TOST needs to
    show equivalence. Exact: the noncentral t distribution, not a normal approximation.
    Also the until-decided budget: the --max-repeats with which run --until-decided
    (looking every --look-every seeds) reaches the same power, by simulation.

    Examples:

        actbench plan --delta 0.1 --task mnist

        actbench plan --delta 0.1 --margin 0.1 --task mnist --baseline gelu

        actbench plan --delta 0.2 --sd 0.15 --comparisons 3
    """
    from actbench.report.pilot import PlanOptions, plans, plans_json
    from actbench.report.plan import plan_method, plan_rows
    from actbench.report.render import rich_table

    options = PlanOptions(delta, alpha, power, look_every, sd, comparisons, margin)
    _table_or_json(format_)
    found, notes = plans(options, results_dir or Path("results"), task, acts, baseline, metric)
    for note in notes:
        err.print(note, markup=False)
    if format_ == "json":
        out.print(plans_json(found), markup=False, soft_wrap=True)
        return
    for plan_ in found:
        caption = plan_method(plan_.settings, plan_.label)
        out.print(rich_table(plan_rows(plan_.rows, plan_.settings), plan_.title, caption=caption, left=(0, -1)))


@app.command()
@fail_cleanly
def plot(
    acts: SpecsArgument,
    range_: Annotated[tuple[float, float], typer.Option("--range", help="x from LOW to HIGH.")] = (-6.0, 6.0),
    out_file: Annotated[
        Path, typer.Option("--out", help="Figure file, in the format its suffix names: .png, .svg or .pdf.")
    ] = Path("activations.png"),
    from_results: Annotated[
        bool,
        typer.Option(
            "--from-results",
            help=(
                "Draw learnable activations at their trained parameters: the last epoch's, averaged over the stored "
                "trials, per layer."
            ),
        ),
    ] = False,
    task: Annotated[str | None, typer.Option(help="With --from-results: only trials of this task.")] = None,
    results_dir: ResultsDir = None,
) -> None:
    """Draw f and f' of activations on shared axes (two panels), as PNG, SVG or PDF.

    Examples:

        actbench plot relu,gelu,srelu,ralu

        actbench plot 'ralu(alpha=9),squareplus(b=0)' --range -3 3 --out ralu.pdf

        actbench plot ralu,prelu --from-results --task mnist
    """
    from actbench.activations import split_specs
    from actbench.inspect.plot import plot_shapes, shapes
    from actbench.inspect.tables import shapes_table
    from actbench.report.formats import figure_file

    stem, figure_format = figure_file(out_file)
    low, high = range_
    stored = (results_dir or Path("results")) if from_results else None
    task_name = TASKS.primary(task) if task else None
    drawn = shapes(split_specs(acts), low, high, stored, task_name)
    out.print(shapes_table(drawn, low, high))
    for path in plot_shapes(drawn, stem, figure_format):
        err.print(f"wrote {path}", markup=False)


@app.command()
@fail_cleanly
def check(
    acts: SpecsArgument,
    format_: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    sweep: Annotated[
        str | None,
        typer.Option(
            help="NAME=LOW:HIGH: the range of a parameter over which each activation that has it is monotone."
        ),
    ] = None,
) -> None:
    """Properties of activations, computed numerically: f(0), f'(0), minimum, monotonicity,
    zero mean, bounds, asymptotic slopes, smoothness and breakpoints, gradcheck,
    finiteness in float16/bfloat16/float32, dead fraction.

    Examples:

        actbench check relu,gelu,srelu,ralu

        actbench check ralu --sweep alpha=-2:12 --format json
    """
    from actbench.activations import parse_activation, split_specs
    from actbench.inspect.check import monotone_range, parse_sweep, properties
    from actbench.inspect.tables import properties_table

    _table_or_json(format_, "format")
    swept = parse_sweep(sweep) if sweep else None
    specs = [parse_activation(s) for s in split_specs(acts)]
    if swept and not any(swept[0] in dict(spec.kwargs) for spec in specs):
        raise UsageError(f"none of these activations has a parameter {swept[0]!r} to sweep")
    rows = []
    for spec in specs:
        found = properties(spec)
        if swept and swept[0] in dict(spec.kwargs):  # the others have nothing to sweep
            found = dataclasses.replace(found, monotone_range=monotone_range(spec, *swept))
        rows.append(found)
    if format_ == "json":
        out.print_json(json.dumps([row.to_dict() for row in rows]))
        return
    out.print(properties_table(rows))


@app.command()
@fail_cleanly
def speed(
    acts: SpecsArgument,
    size: Annotated[
        int, typer.Option(help="Elements of the input tensor (default 2^24: 64 MB in float32, beyond the caches).")
    ] = 2**24,
    dtype: Annotated[str, typer.Option(help="float32, float16, bfloat16 or float64.")] = "float32",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    repeats: Annotated[int, typer.Option(help="Timed repeats per measurement (the median is kept).")] = 20,
    no_compile: Annotated[
        bool,
        typer.Option(
            "--no-compile", help="Skip the torch.compile variant (it compiles for seconds per activation on a CPU)."
        ),
    ] = False,
    format_: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Forward and forward+backward throughput of activations (eager, plain composite where
    the module is a custom autograd Function, torch.compile), memory kept for backward, and
    the fraction of the memory-bandwidth roofline measured in the same run.

    Examples:

        actbench speed relu,gelu,srelu,ralu --no-compile

        actbench speed srelu --dtype bfloat16 --device cuda --format json
    """
    import torch

    from actbench.activations import parse_activation, split_specs
    from actbench.inspect.speed import copy_bandwidth, measure
    from actbench.inspect.tables import speed_table
    from actbench.run.config import resolve_device

    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}
    if dtype not in dtypes:
        raise UsageError(f"unknown dtype {dtype!r}; choose from: {', '.join(dtypes)}")
    _table_or_json(format_, "format")
    if size < 1 or repeats < 1:
        raise UsageError(f"size and repeats must be >= 1, got size {size}, repeats {repeats}")
    where = resolve_device(device)
    specs = [parse_activation(s) for s in split_specs(acts)]
    bandwidth = copy_bandwidth(size, dtypes[dtype], where, repeats)  # the same size: the same caches
    rows = [t for spec in specs for t in measure(spec, size, dtypes[dtype], where, repeats, bandwidth, not no_compile)]
    if format_ == "json":
        out.print_json(
            json.dumps(
                {
                    "device": str(where),
                    "dtype": dtype,
                    "size": size,
                    "copy_bandwidth_bytes_per_s": bandwidth,
                    "rows": [r.to_dict() for r in rows],
                }
            )
        )
        return
    out.print(
        speed_table(
            rows, f"{size:,} {dtype} elements on {where}; copy bandwidth {bandwidth / 1e9:.1f} GB/s (read + write)"
        )
    )


@app.command()
@fail_cleanly
def flow(
    acts: SpecsArgument,
    depth: Annotated[int, typer.Option(help="Layers of the MLP.")] = 50,
    width: Annotated[int, typer.Option(help="Units per layer.")] = 256,
    out_file: Annotated[
        Path, typer.Option("--out", help="Figure file, in the format its suffix names: .png, .svg or .pdf.")
    ] = Path("flow.png"),
) -> None:
    """Signal propagation at initialisation in a deep MLP: per-layer activation variance and
    gradient norm, a figure, and a verdict per activation (vanishing / stable / exploding).

    LeCun init for SELU, identity, tanh, sigmoid and RaLU; He init otherwise.

    Examples:

        actbench flow relu,selu,tanh,gelu

        actbench flow 'srelu,ralu(alpha=2)' --depth 100 --width 128 --out deep.png
    """
    from actbench.activations import split_specs
    from actbench.inspect.flow import plot_flows, signal_flow
    from actbench.inspect.tables import flow_table
    from actbench.report.formats import figure_file

    if depth < 2 or width < 1:
        raise UsageError(f"depth must be >= 2 and width >= 1, got depth {depth}, width {width}")
    stem, figure_format = figure_file(out_file)
    flows = [signal_flow(spec, depth, width) for spec in split_specs(acts)]
    out.print(flow_table(flows, f"{depth} layers x {width} units, first to last layer"))
    for path in plot_flows(flows, stem, figure_format):
        err.print(f"wrote {path}", markup=False)


@app.command()
@fail_cleanly
def acts(
    name: Annotated[str | None, typer.Argument(help="Show one activation (a name or a spec).")] = None,
) -> None:
    """List the registered activations: parameters, defaults, learnable parts, formula, reference.

    Examples:

        actbench acts

        actbench acts ralu
    """
    from actbench.activations import list_activations, parse_activation

    if name:
        spec = parse_activation(name)
        info = spec.info
        lines = [f"[bold]{escape(spec.canonical)}[/bold]"]
        if info is not None:
            lines += [
                f"aliases:   {', '.join(info.aliases) or '-'}",
                f"formula:   {escape(info.formula)}",
                f"learnable: {escape(info.learnable) or 'nothing'}",
                f"reference: {escape(info.reference)}",
            ]
            for p in info.params:
                lines.append(
                    f"  {p.name} ({p.kind.__name__}, default {p.default_text}){': ' + escape(p.doc) if p.doc else ''}"
                )
        out.print("\n".join(lines))
        return
    table = Table(title="actbench activations")
    for column in ("name", "aliases", "parameters (defaults)", "learnable", "formula", "reference"):
        table.add_column(column, overflow="fold")
    for info in list_activations():
        params = ", ".join(f"{p.name}={p.default_text}" for p in info.params) or "-"
        table.add_row(
            info.name, ", ".join(info.aliases) or "-", params, info.learnable or "-", info.formula, info.reference
        )
    out.print(table)


@app.command()
@fail_cleanly
def tasks(
    name: Annotated[str | None, typer.Argument(help="Show one task's hyperparameters.")] = None,
) -> None:
    """List the tasks, or one task's hyperparameters and their defaults (override them with
    --set key=value or a config file's [hparams]).

    Examples:

        actbench tasks

        actbench tasks cifar10-airbench94
    """
    if name:
        task = TASKS.get(name)
        out.print(f"[bold]{escape(task.name)}[/bold]: {escape(task.description)}")
        for key, value in task.hyperparams.items():
            out.print(f"  {key} = {json.dumps(value)}", markup=False)  # as --set and TOML write it
        metrics = ", ".join(f"{m.name} ({m.label})" for m in task.metrics) or "none beyond loss and accuracy"
        out.print(f"metrics: {metrics}; headline: {task.headline}", markup=False)
        return
    table = Table(title="actbench tasks")
    table.add_column("name")
    table.add_column("description", overflow="fold")
    for task in map(TASKS.get, TASKS.names()):
        table.add_row(task.name, task.description)
    out.print(table)


@app.command()
@fail_cleanly
def export(
    format: Annotated[str, typer.Option("--format", help=f"{_names(EXPORT_FORMATS.names())}.")] = "csv",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    results_dir: ResultsDir = None,
) -> None:
    """Write the raw per-trial, per-epoch rows of the store (task, activation, seed, epoch, losses,
    test_acc, status, hyperparameters, ...).

    Examples:

        actbench export --format csv --out trials.csv

        actbench export --format jsonl | head
    """
    from actbench.results.export import export as export_rows
    from actbench.results.export import export_to_file
    from actbench.results.store import ResultStore

    EXPORT_FORMATS.primary(format)  # an unknown format fails before the store is opened
    if out_file is not None and out_file.is_dir():
        raise UsageError(f"--out {out_file} is a folder; give a file name, e.g. {out_file / ('trials.' + format)}")
    if out_file is not None and not out_file.parent.is_dir():
        raise UsageError(f"--out {out_file}: the folder {out_file.parent} does not exist")
    with ResultStore(results_dir or Path("results"), create=False) as store:
        if out_file is None:
            export_rows(store, format, sys.stdout)
            return
        rows = export_to_file(store, format, out_file)
        err.print(f"wrote {rows} rows to {out_file}", markup=False)


def main() -> None:
    warnings.showwarning = _show_warning
    app()
