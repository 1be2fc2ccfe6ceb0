"""actbench from Python: run a comparison, open a results folder, read its trials, summary
and comparison as pandas DataFrames, write its report. The same store, the same code and
the same numbers as the command line, which calls the same functions.

    import actbench

    results = actbench.compare(task="mnist-mini", acts=["relu", "gelu"], repeats=5, epochs=2)
    results.summary()                      # one row per activation: n, mean ± std, ...
    results.comparison(baseline="relu")    # Δ, its interval, p-values and the verdict
    results.report(formats=["md", "pdf"])  # the files `actbench report` writes

    results = actbench.open_results("results")   # a folder written before, by either

Errors are actbench's own exceptions (``actbench.errors.ActbenchError`` and its
subclasses), each with the one-line message the command line prints.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from actbench.errors import UsageError


def compare(
    task: str | None = None,
    acts: str | Iterable[str] | None = None,
    *,
    repeats: int | None = None,
    seeds: Iterable[int] | None = None,
    epochs: float | None = None,
    results_dir: str | Path = "results",
    hparams: dict[str, Any] | None = None,
    config: str | Path | None = None,
    **options: Any,
) -> Results:
    """Train every trial of a comparison that is not stored yet (as ``actbench run``) and
    return its results folder.

    Args:
        task: a task name (``actbench tasks``); default ``mnist``, or the config file's.
        acts: activation specs, as a list or one comma-separated string, plug-ins too
            (``"relu,gelu,myact:MySwish"``).
        repeats: seeds 0..repeats − 1; or ``seeds``: explicit seeds.
        epochs: epochs per trial (default: the task's).
        results_dir: the results folder (its store is shared with the command line).
        hparams: any task hyperparameter, as ``--set`` and a config's ``[hparams]`` take them.
        config: a TOML run config; the arguments given here override it.
        **options: any other key of a run config file: ``device``, ``data_dir``, ``engine``,
            ``executor``, ``memory_budget_gb``, ``checkpoint``, ``lr``, ... (see ``actbench run --help``).
    """
    from actbench.run.config import RUN_KEYS, build_run_config, load_config_file
    from actbench.run.progress import QuietReporter
    from actbench.run.runner import execute

    for key in options:
        if key not in RUN_KEYS:
            close = difflib.get_close_matches(key, RUN_KEYS, n=3)
            hint = f"; did you mean: {', '.join(close)}?" if close else f"; the keys are: {', '.join(RUN_KEYS)}"
            raise UsageError(f"unknown option {key!r}{hint}")
    given = {
        **options,
        "task": task,
        # A list as given; anything else (a string, or a wrong type) goes to the config's own check.
        "acts": list(acts) if isinstance(acts, (list, tuple)) else acts,
        "repeats": repeats,
        "seeds": None if seeds is None else list(seeds),
        "epochs": epochs,
        "results_dir": Path(results_dir),
        "hparams": hparams,
    }
    run_config = build_run_config(load_config_file(Path(config)) if config else {}, given)
    reporter = QuietReporter()
    try:
        execute(run_config, reporter)
    finally:
        reporter.close()
    return Results(run_config.results_dir)


def open_results(results_dir: str | Path = "results") -> Results:
    """A results folder written before (by ``compare`` or ``actbench run``); its store must exist."""
    from actbench.results.store import ResultStore

    with ResultStore(Path(results_dir), create=False):  # fails in one line when there is no store
        pass
    return Results(Path(results_dir))


class Results:
    """A results folder: its stored trials, and the report's tables computed from them.

    ``summary``, ``comparison`` and ``report`` take the options of ``actbench report``:
    ``task``, ``acts`` (specs), ``baseline``, ``metric``, ``alpha``, ``margin``, ``pairs``,
    ``target``; they compute exactly what the command writes to summary.csv and compare.csv.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Results({str(self.path)!r})"

    def trials(self) -> pd.DataFrame:
        """One row per stored trial (the store's ``trials`` table)."""
        from actbench.results.store import ResultStore

        with ResultStore(self.path, create=False) as store:
            return store.trials()

    def epochs(self) -> pd.DataFrame:
        """One row per stored trial and epoch, with every metric the trial recorded."""
        from actbench.results.store import ResultStore

        with ResultStore(self.path, create=False) as store:
            return store.epochs()

    def reports(self, task: str | None = None, acts: str | Iterable[str] | None = None, **compare: Any) -> list:
        """The report data (``actbench.report.build.TaskReport``), one per task and protocol."""
        from actbench.report.build import build_reports
        from actbench.report.options import compare_spec
        from actbench.results.store import ResultStore

        spec, chosen = compare_spec(compare), _stored(acts)  # bad options fail before the store is opened
        with ResultStore(self.path, create=False) as store:
            return build_reports(store, _task(task), chosen, spec)

    def summary(self, task: str | None = None, acts: str | Iterable[str] | None = None, **compare: Any) -> pd.DataFrame:
        """summary.csv's rows for every task and protocol: n, mean ± std, divergences, ..."""
        return pd.concat([r.summary for r in self.reports(task, acts, **compare)], ignore_index=True)

    def comparison(
        self, task: str | None = None, acts: str | Iterable[str] | None = None, **compare: Any
    ) -> pd.DataFrame:
        """compare.csv's rows for every task and protocol (columns ``task`` and ``config_hash``
        first): each activation against the baseline, with its verdict."""
        from actbench.report.comparison import comparison_frame

        frames = [
            comparison_frame(r).assign(task=r.task, config_hash=r.config_hash, baseline=r.baseline)
            for r in self.reports(task, acts, **compare)
        ]
        frame = pd.concat(frames, ignore_index=True)
        return frame[
            [
                "task",
                "config_hash",
                "baseline",
                *(c for c in frame.columns if c not in ("task", "config_hash", "baseline")),
            ]
        ]

    def report(
        self,
        task: str | None = None,
        acts: str | Iterable[str] | None = None,
        formats: Iterable[str] | None = None,
        out: str | Path | None = None,
        across_tasks: bool = False,
        **compare: Any,
    ) -> list[Path]:
        """Write the report files as ``actbench report`` does; the paths written."""
        from actbench.report.options import compare_spec
        from actbench.report.writers import make_reports

        spec = compare_spec({**compare, "formats": formats})  # "md,png" as --format takes it, or a list
        written = make_reports(self.path, _task(task), _stored(acts), spec, Path(out) if out else None, across_tasks)
        paths = [p for _, files in written.reports for p in files]
        return [*paths, *(path for _, _, path in written.side_by_side), *written.folder_files]


def _task(task: str | None) -> str | None:
    from actbench.tasks import TASKS

    return TASKS.primary(task) if task else None


def _stored(acts: str | Iterable[str] | None) -> list[str] | None:
    """Specs naming stored trials, as ``report --acts`` takes them (a plug-in without its
    @version names every stored version)."""
    from actbench.activations import stored_specs

    return None if acts is None else stored_specs(acts)
