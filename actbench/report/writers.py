"""Writes a report's files: into ``<results>/<task>/`` (or ``--out``) summary.*, compare.*
(every activation against a baseline), pairs.* (with --pairs all) and the figures,
in the formats asked for (actbench.report.formats). A report is written aside and then
replaces the previous one's files (actbench.report.publish): a folder never holds a mix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from actbench.errors import UsageError
from actbench.report.across import (
    AcrossResult,
    across_frame,
    across_from_reports,
    across_json,
    across_markdown,
    across_method,
    across_rows,
)
from actbench.report.build import CompareSpec, TaskReport, build_reports
from actbench.report.comparison import comparison_frame, comparison_json, comparison_markdown
from actbench.report.figures import FigureFormat, plot_across, plot_cost, plot_curves, plot_differences, plot_seeds
from actbench.report.formats import FORMATS
from actbench.report.html import PageFormat
from actbench.report.pairs import pairs_frame, pairs_json, pairs_markdown
from actbench.report.publish import discard, publish, staging_folder
from actbench.report.render import csv_text
from actbench.report.side_by_side import default_and_tuned, side_by_side_markdown, side_by_side_note, side_by_side_rows
from actbench.report.summary import summary_json, summary_latex, summary_markdown
from actbench.results.store import ResultStore, StoreError

Render = Callable[[TaskReport], str]


@dataclass(frozen=True)
class TextFormat:
    """A table format: the text of each of a report's files, None where it has no such file."""

    extension: str
    summary: Render | None = None
    comparison: Render | None = None
    pairs: Render | None = None


MD = TextFormat("md", summary_markdown, comparison_markdown, pairs_markdown)
CSV = TextFormat(
    "csv",
    lambda r: csv_text(r.summary),
    lambda r: csv_text(comparison_frame(r)),
    lambda r: csv_text(pairs_frame(r)),
)
TEX = TextFormat("tex", summary_latex)
JSON = TextFormat("json", summary_json, comparison_json, pairs_json)


def _write_texts(report: TaskReport, stem: Path, part: str) -> list[Path]:
    """``stem.EXT`` for each requested table format that has this part of the report."""
    paths = []
    for text_format in (FORMATS.get(name) for name in FORMATS.names() if name in report.spec.formats):
        render = getattr(text_format, part) if isinstance(text_format, TextFormat) else None
        if render is not None:
            path = stem.with_suffix(f".{text_format.extension}")
            path.write_text(render(report))
            paths.append(path)
    return paths


def write_report(report: TaskReport, folder: Path, several_configs: bool) -> list[Path]:
    """Write the requested formats of summary, compare, pairs and the figures into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = f"-{report.config_hash[:8]}" if several_configs else ""
    # Figures are drawn only when some figure format was asked for: drawing is the slow part.
    figures = any(isinstance(FORMATS.get(name), FigureFormat) for name in report.spec.formats)
    files = _write_texts(report, folder / f"summary{suffix}", "summary")
    if figures:
        files += plot_curves(report, folder / f"curves{suffix}")
    if report.comparisons:
        files += _write_texts(report, folder / f"compare{suffix}", "comparison")
        if figures:
            files += plot_seeds(report, folder / f"seeds{suffix}")
            files += plot_cost(report, folder / f"cost{suffix}")
            if len(report.comparisons) > 1:
                files += plot_differences(report, folder / f"differences{suffix}")
    if report.pairs:
        files += _write_texts(report, folder / f"pairs{suffix}", "pairs")
    return files


@dataclass
class Written:
    """What make_reports wrote: each report's files, then the files of the whole folder."""

    reports: list[tuple[TaskReport, list[Path]]]
    side_by_side: list[tuple[TaskReport, TaskReport, Path]]  # (default, tuned, its markdown file)
    across: AcrossResult | None  # with across_tasks
    folder_files: list[Path]  # across-tasks tables and figure, the html page


def _write_across(result: AcrossResult, folder: Path, formats: frozenset[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    texts = {"md": across_markdown(result), "csv": csv_text(across_frame(result)), "json": across_json(result)}
    files = []
    for extension, text in texts.items():
        if extension in formats:
            files.append(folder / f"across-tasks.{extension}")
            files[-1].write_text(text)
    return files + plot_across(result, folder / "across-tasks", formats)


def _html_sections(
    results_dir: Path, pairs: list[tuple[TaskReport, TaskReport, Path]], across: AcrossResult | None
) -> list:
    """The page's parts beyond each report's own: the side-by-side tables, the across-tasks
    table, and the run configs actbench tune wrote into the folder."""
    from actbench.report.html import Figure, Note, Pre, Section, Table, svg_text

    sections = [
        Section(
            f"{tuned.task}: default and tuned",
            [Table(side_by_side_rows(default, tuned), left=(0, 2, 3, 5)), Note(side_by_side_note(default, tuned))],
        )
        for default, tuned, _ in pairs
    ]
    if across is not None:
        figure = svg_text(lambda stem: plot_across(across, stem, frozenset({"svg"})))
        sections.append(
            Section(
                f"Across {len(across.strata)} tasks: against {across.baseline}",
                [
                    Table(across_rows(across), left=(0, -1)),
                    Note(across_method(across)),
                    Figure(figure),
                ],
            )
        )
    configs = sorted(Path(results_dir).glob("*/tune-*.toml"))
    if configs:
        blocks = [
            block for path in configs for block in (Note(str(path.relative_to(results_dir))), Pre(path.read_text()))
        ]
        sections.append(Section("Run configs written by actbench tune", blocks))
    return sections


def make_reports(
    results_dir: Path,
    task: str | None,
    activations: list[str] | None,
    spec: CompareSpec,
    out: Path | None = None,
    across_tasks: bool = False,
) -> Written:
    """Build and write the reports: into ``out/<task>/`` when given, else ``results_dir/<task>/``,
    each report with the files written for it; a task's default and tuned comparisons side
    by side; with ``across_tasks``, every task's default comparison (tuned ones only where
    there is no other) combined (actbench.report.across) into ``out/``; the html page of
    them all when asked for. The files of the previous report that this one does not
    rewrite are removed (actbench.report.publish)."""
    with ResultStore(results_dir, create=False) as store:
        reports = build_reports(store, task, activations, spec)
    # Across tasks: the default comparisons; a tuned one would weigh its task twice (a
    # results folder of tuned runs only combines those).
    untuned = [r for r in reports if r.tuned is None] or reports
    across = across_from_reports(untuned) if across_tasks else None  # its errors before any file is written
    destination = Path(out or results_dir)
    if destination.exists() and not destination.is_dir():
        raise UsageError(f"--out {destination} is a file, not a folder: a report is a folder of files (--out DIR)")
    try:
        folder = staging_folder(destination)  # written aside, then published in place of the last report
    except OSError as exc:
        raise StoreError(f"cannot write the report into {destination}: {exc.strerror or exc}") from None
    try:
        written = _write_all(results_dir, folder, reports, spec, across)
        moved = publish(folder, destination, None if task is None else {task})
    except OSError as exc:
        discard(folder)
        raise StoreError(f"cannot write the report into {destination}: {exc.strerror or exc}") from None
    except BaseException:
        discard(folder)
        raise
    return Written(
        [(report, [moved[p] for p in files]) for report, files in written.reports],
        [(default, tuned, moved[path]) for default, tuned, path in written.side_by_side],
        across,
        [moved[p] for p in written.folder_files],
    )


def _write_all(
    results_dir: Path, folder: Path, reports: list[TaskReport], spec: CompareSpec, across: AcrossResult | None
) -> Written:
    """Every file of the report into ``folder``: per task, then the folder's own."""
    written = Written([], [], across, [])
    for report in reports:
        several = sum(r.task == report.task for r in reports) > 1
        written.reports.append((report, write_report(report, folder / report.task, several)))
    for default, tuned in default_and_tuned(reports):
        path = folder / tuned.task / f"tuned-{tuned.config_hash[:8]}.md"
        path.write_text(side_by_side_markdown(default, tuned))
        written.side_by_side.append((default, tuned, path))
    if across is not None:
        written.folder_files += _write_across(across, folder, spec.formats)
    for page in (FORMATS.get(name) for name in FORMATS.names() if name in spec.formats):
        if isinstance(page, PageFormat):
            extra = _html_sections(results_dir, written.side_by_side, across)
            written.folder_files.append(page.write(results_dir, reports, folder, extra))
    return written
