"""The report's file formats, by name: md, csv, tex, json (tables), png, svg (figures) and
html (one page per results folder).

Listed without importing pandas or matplotlib (``--help`` reads the names); each entry
is loaded from its module (writers, figures, html) when a report is written. Adding one:

- a table format: a ``TextFormat`` in writers.py giving the text of the summary, the
  comparison and the pairs (any of them None where the format has no such file);
- a figure format: a ``FigureFormat`` in figures.py, any extension matplotlib saves;
- a page format (one file for all the tasks of a results folder): a ``PageFormat``
  like html.py's, with the function that writes it;

and one ``FORMATS.add`` line below; ``--format NAME`` then writes it.
"""

from actbench.registry import Registry

FORMATS: Registry = Registry("format")
for _name, _module in (("csv", "writers"), ("html", "html"), ("json", "writers"), ("md", "writers"),
                      ("png", "figures"), ("svg", "figures"), ("tex", "writers")):  # fmt: skip
    FORMATS.add(_name, f"actbench.report.{_module}:{_name.upper()}")
