"""The HTML report page: self-contained, escaped, complete, deterministic, and drawn by a real browser."""

import dataclasses
import io
import platform
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import fake_result
from matplotlib.image import imread

from actbench.report.build import CompareSpec, build_reports
from actbench.report.formats import FORMATS
from actbench.report.html import HTML, Note, PageFormat, Pre, Section, Table, write_html_report
from actbench.report.writers import write_report
from actbench.results.store import ResultStore

RALU = "ralu(alpha=2.0, learnable=true)"
# Final accuracies per seed: relu 97.0..97.6 (mean 97.30, std 0.26), gelu 97.80 ± 0.29.
FINAL = {
    "relu": [97.0, 97.2, 97.4, 97.6],
    "gelu": [97.5, 97.6, 98.0, 98.1],
    RALU: [97.1, 97.0, 97.7, 97.6],
    "tanh": [95.0, 95.1, 95.2, 95.3],  # stored, not reported: its provenance must not show
}
WHERE = {  # activation -> (device, host, code revision, engine)
    "relu": ("cpu", "node-a", "git:abc123", "sequential"),
    "gelu": ("cuda (NVIDIA H100 80GB HBM3)", "node-b", "git:abc123", "population"),
    RALU: ("cpu", "node-a", "git:abc123+dirty:ff00", "sequential"),
    "tanh": ("cpu", "elsewhere", "git:old", "sequential"),
}
EXTRA = [Section("Notes", [Note("p < 0.05 & <b>not bold</b>"), Pre('[run]\nacts = "relu,gelu"  # a < b\n')])]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("html") / "results"
    with ResultStore(folder) as store:
        for act, finals in FINAL.items():
            device, host, revision, engine = WHERE[act]
            for seed, final in enumerate(finals):
                result = fake_result(act, seed, [80.0, 90.0, 95.0, final])
                month = 2 if act == "tanh" else 1
                store.add(
                    dataclasses.replace(
                        result,
                        device=device,
                        host=host,
                        code_revision=revision,
                        engine=engine,
                        finished_at=f"2026-0{month}-0{seed + 1}T00:00:00+00:00",
                    )
                )
    return folder


@pytest.fixture(scope="module")
def reports(results):
    with ResultStore(results, create=False) as store:
        return build_reports(store, None, ["relu", "gelu", RALU], CompareSpec(pairs="all"))


@pytest.fixture(scope="module")
def page(results, reports) -> Path:
    return write_html_report(results, reports, extra=EXTRA)


def test_the_page_is_one_self_contained_file(results, page):
    assert page == results / "report.html"
    text = page.read_text(encoding="utf-8")
    assert "src=" not in text and "<script" not in text and "<link" not in text and "<img" not in text
    assert set(re.findall(r'href="(.)', text)) == {"#"}  # only links within the page
    assert not re.search(r"url\((?!#)", text)  # no stylesheet or SVG reference outside the page
    # Curves, seeds, cost and differences (three activations: two comparisons), inline,
    # without the XML prolog and doctype an SVG file starts with.
    assert text.count("<svg ") == 4 and "<?xml" not in text and "<!DOCTYPE svg" not in text
    assert text.startswith("<!DOCTYPE html>\n") and text.count("<section") == text.count("</section>")


def test_the_page_shows_every_table_and_activation_as_the_markdown_does(page):
    text = page.read_text(encoding="utf-8")
    for act in ("relu", "gelu", RALU):
        assert f"<td>{act}</td>" in text
    assert '<td class="num">97.30 ± 0.26</td>' in text and '<td class="num">97.80 ± 0.29</td>' in text
    # gelu's Δ against relu with its simultaneous interval: two comparisons, each at 1 − 0.05/2;
    # differences 0.5, 0.4, 0.6, 0.5: 0.5 ± t(0.9875, 3) · 0.0408 = 0.5 ± 4.1765 · 0.0408.
    assert '<th class="num">Δ vs relu [simultaneous 97.5% CI]</th>' in text
    assert '<td class="num">+0.50 [+0.33, +0.67]</td>' in text
    headings = re.findall(r"<h([23])>([^<]*)</h", text)
    assert headings == [
        ("2", "Answer"),
        ("3", "mnist-mini [e30c7bcd]: final test accuracy (%) against relu"),
        ("2", "mnist-mini [e30c7bcd]"),
        ("3", "Summary"),
        ("3", "Against relu"),
        ("3", "Every pair"),
        ("3", "Figures"),
        ("2", "Notes"),
        ("2", "Method"),
        ("2", "Provenance"),
    ]
    assert "highest <em>test</em> accuracy" in text  # the markdown note's emphasis
    assert "tanh" not in text


def test_the_page_leads_with_the_answer_and_gives_each_method_once(page):
    text = page.read_text(encoding="utf-8")
    answer = text[text.index("<h2>Answer</h2>") : text.index("<h2>mnist-mini [e30c7bcd]</h2>")]
    assert re.findall(r"<li>(.*?)</li>", answer) == [
        "gelu: better than relu, Δ +0.50 [+0.33, +0.67] (simultaneous 97.5%), n = 4 paired seeds",
        f"{RALU}: inconclusive against relu, Δ +0.05 [-0.38, +0.48] (simultaneous 97.5%), n = 4 paired seeds",
    ]
    # The comparison's and the pairs' method paragraphs: once each, at the end, linked from their tables.
    assert text.count("Metric: final test accuracy (%). Against relu, paired by seed") == 1
    assert text.count("Cell (row a, column b): p (Holm)") == 1
    assert text.index("<h2>Method</h2>") < text.index(
        '<p id="method-1"><em>mnist-mini [e30c7bcd]: against relu.</em> Metric: final test accuracy (%). Against relu'
    )
    link = '<p><a href="#method-{}">Method: how these numbers are computed and what they guarantee</a></p>'
    assert text.count(link.format(1)) == 1 and text.count(link.format(2)) == 1
    assert text.index(link.format(1)) < text.index("<h3>Every pair</h3>") < text.index(link.format(2))
    assert "paired t-interval at 1 − 0.05/2 = 97.5%, simultaneous" in text
    assert (
        "Difference to relu per activation (paired by seed; unpaired where the table marks §) with simultaneous "
        "97.5% t-intervals (Bonferroni over 2): the intervals the verdicts rest on.</figcaption>"
    ) in text


def test_notices_show_under_every_tables_title_in_md_the_terminal_and_html(results, reports, tmp_path):
    from rich.console import Console

    from actbench.report.comparison import comparison_markdown, comparison_rich
    from actbench.report.pairs import pairs_markdown
    from actbench.report.summary import summary_markdown, summary_rich

    notices = ["Trials from 2 code revisions: git:abc123 (8), git:abc123+dirty:ff00 (4).", "A second notice."]
    report = dataclasses.replace(reports[0], notices=notices)
    bold = "**Trials from 2 code revisions: git:abc123 (8), git:abc123+dirty:ff00 (4).**\n\n**A second notice.**\n\n"
    assert summary_markdown(report).startswith("## mnist-mini\n\n" + bold + "Hyperparameters: ")
    against = "## mnist-mini: activations against relu\n\n"
    assert comparison_markdown(report).startswith(against + bold + "| activation |")
    assert pairs_markdown(report).startswith("## mnist-mini: every pair\n\n" + bold + "| activation |")
    console = Console(width=250, record=True, file=io.StringIO())
    for table in (summary_rich(report), comparison_rich(report)):
        console.print(table)
        lines = [line.strip() for line in console.export_text().splitlines()]
        assert lines[1:3] == notices, lines[:4]  # right under the title
    page = write_html_report(results, [report], tmp_path).read_text(encoding="utf-8")
    emphasised = "".join(f"<p><em>{n}</em></p>\n" for n in notices)
    # Under the answer's title, and the summary's, the comparison's and the pairs' (Figures have none).
    assert page.count(emphasised) == 4
    answer = "mnist-mini [e30c7bcd]: final test accuracy (%) against relu"
    for title in (answer, "Summary", "Against relu", "Every pair"):
        assert f"<h3>{title}</h3>\n{emphasised}" in page, title


def test_text_is_escaped(page):
    text = page.read_text(encoding="utf-8")
    assert "<p>p &lt; 0.05 &amp; &lt;b&gt;not bold&lt;/b&gt;</p>" in text and "<b>" not in text
    assert "<pre>[run]\nacts = &quot;relu,gelu&quot;  # a &lt; b\n</pre>" in text


def test_provenance_names_the_reported_trials_and_the_writer(page):
    text = page.read_text(encoding="utf-8")
    rows = dict(re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>", text))
    assert rows["trials"] == "12 (12 ok)"  # tanh's four are not reported
    assert rows["finished"] == "2026-01-01T00:00:00+00:00 to 2026-01-04T00:00:00+00:00"
    assert rows["devices"] == "cpu, cuda (NVIDIA H100 80GB HBM3)"
    assert rows["hosts"] == "node-a, node-b"
    assert rows["code revisions"] == "git:abc123, git:abc123+dirty:ff00"
    assert rows["engines"] == "population, sequential"
    assert rows["actbench versions"] == "test"
    writer = rows["page written by"]
    assert writer.startswith("actbench ") and f"Python {platform.python_version()}, {platform.platform()}" in writer


def test_the_same_results_give_the_same_page_wherever_it_is_written(results, reports, page, tmp_path):
    again = write_html_report(results, reports, tmp_path / "elsewhere", extra=EXTRA)
    assert again == tmp_path / "elsewhere" / "report.html"
    assert again.read_bytes() == page.read_bytes()


def test_html_is_a_page_format_the_per_task_writer_leaves_alone(reports, tmp_path):
    assert FORMATS.get("html") is HTML and isinstance(HTML, PageFormat) and HTML.extension == "html"
    only_html = dataclasses.replace(reports[0], spec=CompareSpec(formats=frozenset({"html"})))
    assert write_report(only_html, tmp_path / "task", several_configs=False) == []


def test_a_dataframe_table_formats_numbers_as_the_csv_files_do():
    frame = pd.DataFrame({"activation": ["relu", "a<b"], "p": [0.0123456789, float("nan")]})
    assert Table(frame).to_html().splitlines()[3:5] == [
        '<tr><td>relu</td><td class="num">0.0123457</td></tr>',
        '<tr><td>a&lt;b</td><td class="num">–</td></tr>',
    ]


# --- a real browser ----------------------------------------------------------------------


def _chromium(page: Path, screenshot: Path, profile: Path) -> list[str]:
    """Render ``page`` in headless Chromium into ``screenshot``; the console messages it logged.
    Chromium writes each console message (uncaught errors included) to stderr as an
    INFO line "...:INFO:CONSOLE:1] "Uncaught Error: x", source: ..." with --log-level=0."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--log-level=0",
            f"--screenshot={screenshot}",
            "--window-size=1200,2000",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and screenshot.exists(), done.stderr[-2000:]
    return [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def _inked(screenshot: Path) -> tuple[float, int]:
    """(fraction of pixels that are not near-white, number of distinct colours)."""
    rgb = imread(screenshot)[..., :3]  # (H, W, 3), floats in [0, 1]
    bytes_ = (rgb * 255).round().astype(np.uint32)
    colours = bytes_[..., 0] << 16 | bytes_[..., 1] << 8 | bytes_[..., 2]  # one int per colour: fast to count
    return float((rgb < 0.9).any(axis=-1).mean()), len(np.unique(colours))


@pytest.mark.slow
def test_chromium_draws_the_page_without_console_errors(page, tmp_path):
    console = _chromium(page, tmp_path / "page.png", tmp_path / "profile")
    assert console == []
    inked, colours = _inked(tmp_path / "page.png")
    assert inked > 0.03 and colours > 200, (inked, colours)

    # The same checks catch a broken page: its error is logged, its screenshot is blank.
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html>\n<html><body><script>throw new Error("x")</script></body></html>\n')
    console = _chromium(broken, tmp_path / "broken.png", tmp_path / "profile")
    assert any('"Uncaught Error: x"' in line for line in console), console
    inked, colours = _inked(tmp_path / "broken.png")
    assert inked < 0.001 and colours < 10, (inked, colours)
