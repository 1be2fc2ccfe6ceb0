"""Tables as text, whatever they show: markdown, LaTeX (booktabs), rich (the terminal), CSV
and JSON rows. A table is rows of text cells (dicts of equal keys); the features that
make them (summary, comparison, pairs, plan, cost, across, ...) own their rows and notes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

Rows = list[dict[str, str]]

FLOAT_FORMAT = "%.6g"  # numbers in the CSV files (and the html page's tables of frames)


def left_aligned(column: int, count: int, left: tuple[int, ...]) -> bool:
    """Whether column ``column`` of ``count`` is in ``left``, which may count from the end (-1: the last)."""
    return column in left or column - count in left


def markdown_table(rows: Rows, left: tuple[int, ...] = (0,)) -> list[str]:
    """Lines of a markdown table from rows of equal keys; columns in ``left`` left-aligned,
    the others right-aligned (numbers)."""
    header = list(rows[0])
    align = ["---" if left_aligned(i, len(header), left) else "---:" for i in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(r.values()) + " |" for r in rows),
    ]


def paragraphs(sentences: list[str]) -> list[str]:
    """Markdown lines of paragraphs: each sentence followed by a blank line."""
    return [line for sentence in sentences for line in (sentence, "")]


def bold_lines(sentences: list[str]) -> list[str]:
    """Markdown lines of bold sentences, each followed by a blank line."""
    return paragraphs([f"**{sentence}**" for sentence in sentences])


LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
}
# The marks that tie a column to its note, as LaTeX superscripts.
LATEX_MARKS = {"†": r"$^\dagger$", "‡": r"$^\ddagger$", "◊": r"$^\diamond$"}


def latex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped, ± and – in LaTeX's spelling."""
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text).replace("±", r"$\pm$").replace("–", "--")


def _latex_header(column: str) -> str:
    """A column name in LaTeX, its marks (" †") moved to superscripts at its end."""
    stripped = column
    for mark in LATEX_MARKS:
        stripped = stripped.replace(f" {mark}", "")
    return latex(stripped) + "".join(tex for mark, tex in LATEX_MARKS.items() if f" {mark}" in column)


def _latex_note(note: str) -> str:
    """A table note in LaTeX: its leading mark as a superscript, markdown emphasis dropped."""
    for mark, tex in LATEX_MARKS.items():
        if note.startswith(f"{mark} "):
            return tex + latex(note[len(mark) + 1 :].replace("*", ""))
    return latex(note.replace("*", ""))


def latex_table(rows: Rows, title: str, notes: list[str], left: tuple[int, ...] = (0,)) -> str:
    """A booktabs table (\\usepackage{booktabs}) with ``title: notes`` as its caption;
    columns in ``left`` left-aligned, the others right-aligned."""
    header = list(rows[0])
    columns = "".join("l" if left_aligned(i, len(header), left) else "r" for i in range(len(header)))
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{" + columns + "}",
        r"\toprule",
        " & ".join(map(_latex_header, header)) + r" \\",
        r"\midrule",
        *(" & ".join(latex(v) for v in r.values()) + r" \\" for r in rows),
        r"\bottomrule",
        r"\end{tabular}",
        r"\caption{" + latex(f"{title}: ") + " ".join(_latex_note(n) for n in notes) + "}",
        r"\end{table}",
        "",
    ]
    return "\n".join(lines)


def rich_title(title: str, sentences: list[str]) -> str:
    """A terminal table's title with ``sentences`` on lines of their own under it."""
    return "\n".join([title, *sentences])


def rich_table(
    rows: Rows,
    title: str,
    caption: str | None = None,
    left: tuple[int, ...] = (0,),
    row_style: Callable[[dict[str, str]], str | None] | None = None,
) -> Table:
    """The terminal twin of markdown_table: columns in ``left`` left-aligned, the rest right;
    with ``row_style``, each row styled as it says (None: unstyled)."""
    # Titles and cells are text, not rich markup: a config hash like [e1b2c3d4] is not a style.
    table = Table(title=escape(title), caption=escape(caption) if caption else None)
    count = len(rows[0])
    for i, column in enumerate(rows[0]):
        table.add_column(escape(column), justify="left" if left_aligned(i, count, left) else "right")
    for row in rows:
        table.add_row(*map(escape, row.values()), style=row_style(row) if row_style else None)
    return table


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT)


def json_rows(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows as JSON objects, NaN as null."""
    return json.loads(frame.to_json(orient="records"))


def json_text(saved: dict) -> str:
    """The text of a .json file of the report."""
    return json.dumps(saved, indent=2) + "\n"
