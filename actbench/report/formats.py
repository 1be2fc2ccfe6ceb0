"""The report's file formats, by name: md, csv, tex, json (tables), png, svg, pdf (figures)
and html (one page per results folder).

Listed without importing pandas or matplotlib (``--help`` reads the names); each entry
is loaded from its module (writers, figures, html) when a report is written. Adding one:

- a table format: a ``TextFormat`` in writers.py giving the text of the summary, the
  comparison and the pairs (any of them None where the format has no such file);
- a figure format: a ``FigureFormat`` in figures.py, any extension matplotlib saves, and
  its name in FIGURE_FORMATS (the suffixes ``plot --out`` and ``flow --out`` accept);
- a page format (one file for all the tasks of a results folder): a ``PageFormat``
  like html.py's, with the function that writes it;

and one ``FORMATS.add`` line below; ``--format NAME`` then writes it.
"""

from pathlib import Path

from actbench.errors import UsageError
from actbench.registry import Registry

FIGURE_FORMATS = ("png", "svg", "pdf")
# Written only when named in --format: the page gathers a whole folder, and a PDF copy of
# every figure is for papers (LaTeX), not for every report.
ON_REQUEST = frozenset({"html", "pdf"})

FORMATS: Registry = Registry("format")
for _name, _module in (
    ("csv", "writers"),
    ("html", "html"),
    ("json", "writers"),
    ("md", "writers"),
    ("pdf", "figures"),
    ("png", "figures"),
    ("svg", "figures"),
    ("tex", "writers"),
):
    FORMATS.add(_name, f"actbench.report.{_module}:{_name.upper()}")


def figure_file(path: Path, option: str = "--out") -> tuple[Path, frozenset[str]]:
    """The stem and the format of the figure file ``path`` names by its suffix (``x.pdf``:
    ``x``, pdf), so that a command writes exactly the file asked for; any other suffix is
    a UsageError, before anything is computed."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FIGURE_FORMATS:
        found = f"unknown figure format {suffix!r}" if suffix else "no suffix to name the figure format"
        raise UsageError(f"{option} {path}: {found}; choose from: {', '.join(FIGURE_FORMATS)}")
    return path.with_suffix(""), frozenset({suffix})
