"""The report of a results folder as one self-contained HTML page: every task's tables,
notes and figures, and where its trials came from.

Self-contained so that the page can be mailed, archived or attached to a paper's
supplement on its own: CSS inline, figures inlined as SVG text, no scripts, no links out.
The page is a list of ``Section``s of blocks (``Table``, ``Figure``, ``Note``, ``Items``,
``Link``, ``Pre``); other parts of the report add theirs through
``write_html_report(extra=...)``, and a new kind of block is any object with a
``to_html()`` method.

It leads with the answer (each activation against the baseline, one line each: verdict,
Δ with the interval the verdict rests on, n), then every task's tables and figures; each
task's comparison and pairs method paragraphs are written once, in a Method section at
the end, and each table links to its own (the across-tasks method and the cost notes stay
under their tables).
"""

from __future__ import annotations

import html
import platform
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import matplotlib.pyplot as plt
import pandas as pd

from actbench import __version__
from actbench.report import comparison, cost_table, pairs, summary
from actbench.report.build import TaskReport
from actbench.report.figures import plot_cost, plot_curves, plot_differences, plot_seeds
from actbench.report.render import FLOAT_FORMAT, left_aligned
from actbench.results.store import ResultStore

PAGE_NAME = "report.html"


class Block(Protocol):
    """One block of a section: anything that renders itself as escaped HTML."""

    def to_html(self) -> str: ...


def _text(value: object) -> str:
    """A cell as text: floats to 6 significant digits (as the CSV files), NaN as '–'."""
    if isinstance(value, float):
        return "–" if value != value else FLOAT_FORMAT % value
    return str(value)


@dataclass(frozen=True)
class Table:
    """Rows as a DataFrame or as text cells (dicts of equal keys, as render.py's tables take);
    columns in ``left`` left-aligned, the others right-aligned (numbers), as in markdown_table."""

    rows: pd.DataFrame | list[dict[str, str]]
    left: tuple[int, ...] = (0,)

    def to_html(self) -> str:
        if isinstance(self.rows, pd.DataFrame):
            header = [str(c) for c in self.rows.columns]
            body = [[_text(v) for v in row] for row in self.rows.itertuples(index=False)]
        else:
            header = list(self.rows[0]) if self.rows else []
            body = [[_text(v) for v in row.values()] for row in self.rows]
        count = len(header)
        align = ["" if left_aligned(i, count, self.left) else ' class="num"' for i in range(count)]
        head = "".join(f"<th{a}>{html.escape(h)}</th>" for a, h in zip(align, header))
        rows = "".join(
            "<tr>" + "".join(f"<td{a}>{html.escape(v)}</td>" for a, v in zip(align, row)) + "</tr>\n" for row in body
        )
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"


@dataclass(frozen=True)
class Figure:
    """An SVG figure, inlined: its XML prolog and doctype dropped (not allowed inside HTML)."""

    svg: str
    caption: str = ""

    def to_html(self) -> str:
        start = self.svg.find("<svg")
        if start < 0:
            raise ValueError("not an SVG document: no <svg> element")
        caption = f"\n<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return f"<figure>\n{self.svg[start:].strip()}{caption}\n</figure>"


@dataclass(frozen=True)
class Note:
    """A paragraph. ``*words*`` are emphasised, as in the markdown files that show the same notes;
    with ``anchor``, links within the page can point at it (``Link``)."""

    text: str
    anchor: str = ""

    def to_html(self) -> str:
        start = f'<p id="{html.escape(self.anchor)}">' if self.anchor else "<p>"
        return start + re.sub(r"\*([^*\n]+)\*", r"<em>\1</em>", html.escape(self.text)) + "</p>"


@dataclass(frozen=True)
class Items:
    """A bulleted list of sentences."""

    items: Sequence[str]

    def to_html(self) -> str:
        return "<ul>\n" + "".join(f"<li>{html.escape(item)}</li>\n" for item in self.items) + "</ul>"


@dataclass(frozen=True)
class Link:
    """A paragraph that links to an element of this page by its id."""

    text: str
    anchor: str

    def to_html(self) -> str:
        return f'<p><a href="#{html.escape(self.anchor)}">{html.escape(self.text)}</a></p>'


@dataclass(frozen=True)
class Pre:
    """Preformatted text shown as it is: a run config, a log."""

    text: str

    def to_html(self) -> str:
        return f"<pre>{html.escape(self.text)}</pre>"


@dataclass
class Section:
    """A titled part of the page: its blocks, then its subsections one heading level down."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def to_html(self, level: int = 2, anchor: str = "") -> str:
        parts = [f"<h{level}>{html.escape(self.title)}</h{level}>", *(b.to_html() for b in self.blocks)]
        parts += [s.to_html(min(level + 1, 6)) for s in self.sections]
        start = f'<section id="{anchor}">' if anchor else "<section>"
        return start + "\n" + "\n".join(parts) + "\n</section>"


# Readable on screen, and printable: figures and table rows are not split across pages.
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; color: #222; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } tbody tr:nth-child(even) { background: #fafafa; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
figcaption, p { max-width: 80ch; } figcaption { font-size: 0.9em; color: #555; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
nav ol { columns: 2; }
@media print {
  body { max-width: none; margin: 0; font-size: 11pt; } nav { display: none; }
  figure, tr { break-inside: avoid; } h2, h3 { break-after: avoid; }
  pre { white-space: pre-wrap; }
}
"""


def render_page(title: str, sections: Sequence[Section], provenance: dict[str, str]) -> str:
    """The whole page: a title, a table of contents, the sections, and the provenance last."""
    rows = [{"what": k, "value": v} for k, v in provenance.items()]
    everything = [*sections, Section("Provenance", [Table(rows, left=(0, 1))])]
    contents = "".join(f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(everything, 1))
    body = "\n".join(s.to_html(anchor=f"s{i}") for i, s in enumerate(everything, 1))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<nav><ol>{contents}</ol></nav>\n{body}\n</body>\n</html>\n"
    )


# --- a task's report as sections ----------------------------------------------------------


def svg_text(draw: Callable[[Path], list[Path]]) -> str:
    """The figure ``draw(stem)`` writes as SVG, as text, drawn in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        # Text as <text>, not glyph outlines: the page stays searchable and a fraction of the size.
        with plt.rc_context({"svg.fonttype": "none"}):
            (path,) = draw(Path(folder) / "figure")
        return path.read_text(encoding="utf-8")


def _svg(plot: Callable[[TaskReport, Path], list[Path]], report: TaskReport) -> str:
    """A figure of figures.py drawn as SVG text, in memory."""
    svg_only = replace(report, spec=replace(report.spec, formats=frozenset({"svg"})))
    return svg_text(lambda stem: plot(svg_only, stem))


def _figures(report: TaskReport) -> list[Figure]:
    """The figures write_report draws, in its order and under its conditions."""
    label = report.compared.label
    name, unit = report.series.label.removesuffix(" (%)"), report.axis.name
    curves = f"Mean {name} per {unit}, ±1 std band over seeds; right: the late {unit}s zoomed."
    figures = [Figure(_svg(plot_curves, report), curves)]
    if report.comparisons:
        figures.append(Figure(_svg(plot_seeds, report), f"{label} of every seed per activation; bar: the mean."))
        front = (
            f"{label} against seconds per trial (training + evaluation), one point per trial; ringed: the Pareto front."
        )
        figures.append(Figure(_svg(plot_cost, report), front))
        if len(report.comparisons) > 1:
            intervals = next(c.ci_method for c in report.comparisons if c.ci_method)  # every compared row has it
            differences = (
                f"Difference to {report.baseline} per activation (paired by seed; unpaired where the "
                f"table marks §) with {intervals}: the intervals the verdicts rest on."
            )
            figures.append(Figure(_svg(plot_differences, report), differences))
    return figures


@dataclass
class Methods:
    """The page's method paragraphs, each written once: the tables link to them."""

    texts: dict[str, list[str]] = field(default_factory=dict)  # method text -> the tables it explains

    def link(self, text: str, table: str) -> Link:
        """A link to ``text``'s paragraph (recorded here the first time), for ``table``."""
        self.texts.setdefault(text, []).append(table)
        return Link("Method: how these numbers are computed and what they guarantee", self.anchor(text))

    def anchor(self, text: str) -> str:
        return f"method-{list(self.texts).index(text) + 1}"

    def section(self) -> Section:
        return Section(
            "Method",
            [Note(f"*{'; '.join(tables)}.* {text}", anchor=self.anchor(text)) for text, tables in self.texts.items()],
        )


def _headline(report: TaskReport, warning: str = "") -> list[Note]:
    """The sentences under every table's title (TaskReport.headline), emphasised."""
    return [Note(f"*{sentence}*") for sentence in report.headline(warning)]


def answer_section(reports: Sequence[TaskReport]) -> Section:
    """The page's first section: per report, each activation against the baseline in one line."""
    parts = []
    for report in reports:
        lines = comparison.answer_lines(report)
        alone = f"only {report.baseline} has finished trials" if report.baseline else "no trial finished"
        answer = [Items(lines)] if lines else [Note(f"Nothing compared: {alone}.")]
        title = f"{report.title}: {report.compared.label} against {report.baseline}"
        parts.append(Section(title, [*_headline(report), *answer]))
    return Section("Answer", sections=parts)


def task_sections(report: TaskReport, methods: Methods) -> list[Section]:
    """A report's parts, as its markdown files show them: summary, comparison, pairs, figures;
    the method paragraphs go to ``methods``, linked from the tables."""
    sections = [
        Section(
            "Summary",
            [
                *_headline(report),
                Note(summary.protocol_line(report)),
                Table(summary.display_rows(report)),
                *map(Note, summary.table_notes(report)),
            ],
        )
    ]
    if report.comparisons:
        sections.append(
            Section(
                f"Against {report.baseline}",
                [
                    *_headline(report, comparison.n_warning(report)),
                    Table(comparison.comparison_rows(report), left=(0, -1)),  # the verdict too
                    *map(Note, comparison.comparison_notes(report)),
                    methods.link(comparison.method_text(report), f"{report.title}: against {report.baseline}"),
                ],
            )
        )
    if report.pairs:
        sections.append(
            Section(
                "Every pair",
                [
                    *_headline(report),
                    Table(pairs.pairs_matrix(report)),
                    Table(pairs.ranking_rows(report), left=(1,)),
                    methods.link(pairs.pairs_method(report), f"{report.title}: every pair"),
                ],
            )
        )
    if report.time_to_target is not None:
        sections.append(
            Section(
                "Cost",
                [*_headline(report), Table(cost_table.cost_rows(report)), *map(Note, cost_table.cost_notes(report))],
            )
        )
    sections.append(Section("Figures", _figures(report)))
    return sections


# --- provenance and the page ------------------------------------------------------------


def _values(column: pd.Series) -> str:
    return ", ".join(sorted(set(column.dropna().astype(str)))) or "–"


def provenance(trials: pd.DataFrame) -> dict[str, str]:
    """Where the trials came from (the store's rows of the reported trials), and what wrote the page."""
    statuses = trials["status"].value_counts()
    return {
        "trials": f"{len(trials)} (" + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + ")",
        "finished": f"{trials['finished_at'].min()} to {trials['finished_at'].max()}",  # ISO 8601 UTC: sorts as text
        "actbench versions": _values(trials["actbench_version"]),
        "torch versions": _values(trials["torch_version"]),
        "code revisions": _values(trials["code_revision"]),
        "engines": _values(trials["engine"]),
        "devices": _values(trials["device"]),
        "hosts": _values(trials["host"]),
        "page written by": f"actbench {__version__}, Python {platform.python_version()}, {platform.platform()}",
    }


def _reported_trials(results_dir: Path, reports: Sequence[TaskReport]) -> pd.DataFrame:
    """The store's trials that the reports show."""
    ids = {i for r in reports for i in r.trial_ids}
    with ResultStore(results_dir, create=False) as store:
        trials = store.trials()
    return trials[trials["id"].isin(ids)]


def write_html_report(
    results_dir: Path, reports: Sequence[TaskReport], out: Path | None = None, extra: Sequence[Section] = ()
) -> Path:
    """``out/report.html`` (``out``: the results folder by default): the answer, one section
    per report in the order given, then ``extra``, the method and the provenance. The same
    results give the same bytes: the page holds no date of its own, and the figures are
    deterministic."""
    methods = Methods()
    sections = [Section(r.title, sections=task_sections(r, methods)) for r in reports]
    everything = [answer_section(reports), *sections, *extra, *([methods.section()] if methods.texts else [])]
    page = render_page(
        f"actbench report: {Path(results_dir).resolve().name}",
        everything,
        provenance(_reported_trials(results_dir, reports)),
    )
    path = Path(out or results_dir) / PAGE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")  # as its <meta charset> says, whatever the locale
    return path


@dataclass(frozen=True)
class PageFormat:
    """A page format of the report (actbench.report.formats): one file for the whole results
    folder, not one per task, so neither a writers.TextFormat nor a figures.FigureFormat."""

    extension: str
    write: Callable[..., Path]  # (results_dir, reports, out) -> the page's path


HTML = PageFormat("html", write_html_report)
