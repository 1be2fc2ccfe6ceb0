"""A report folder holds what the last ``actbench report`` wrote, and nothing older.

Without this, a report in other formats or against another baseline leaves the files
of the one before beside its own (``compare.csv`` against relu next to ``compare.md``
against gelu), and a figure a paper includes can show data the tables no longer do.

So a report is written aside first, into a staging folder inside the destination, and
then published: the files the previous report wrote and this one did not are removed,
and the new ones are moved into place (``os.replace``, atomic per file, on one file
system since the staging folder sits inside the destination). A manifest,
``.actbench-report.json``, lists the files the last report wrote, relative to the
destination; the next report removes exactly those. An error while rendering leaves
the previous report untouched; an interruption while publishing (a few renames) is
recorded in the manifest, whose ``complete`` is false until the last rename, and the
next report cleans up both sets.

Only report files are ever removed: those the manifest lists or, in a results folder
reported before manifests existed, the names a report writes (REPORT_NAMES). The files
of other commands (``tune-*``, ``sensitivity-*``, ``decisions-*``), the store and
anything a user put there stay.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from actbench.results.store import DB_NAME

MANIFEST = ".actbench-report.json"
STAGING_PREFIX = ".actbench-report-staging-"

# What a report of an earlier release may have written (relative to the folder): per task,
# summary/compare/pairs tables and curves/seeds/cost/differences figures, with "-HASH" when
# the task held several protocols, and the default-and-tuned table; across the folder, the
# across-tasks table and figure and the html page.
_EXTENSIONS = r"(md|csv|tex|json|png|svg|pdf)"
REPORT_NAMES = (
    re.compile(rf"[^/]+/(summary|compare|pairs|curves|seeds|cost|differences)(-[0-9a-f]{{8}})?\.{_EXTENSIONS}"),
    re.compile(r"[^/]+/tuned-[0-9a-f]{8}\.md"),
    re.compile(rf"across-tasks\.{_EXTENSIONS}"),
    re.compile(r"report\.html"),
)


def staging_folder(destination: Path) -> Path:
    """A new, empty folder inside ``destination`` to write a report into before publishing."""
    destination.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=destination))


def _read_manifest(destination: Path) -> list[str]:
    """The files the last report wrote (both sets, if its publication was interrupted);
    for a results folder reported before manifests existed, its files with report names."""
    path = destination / MANIFEST
    if path.exists():
        try:
            saved = json.loads(path.read_text())
            return [*saved["files"], *saved.get("replacing", [])]
        except (ValueError, KeyError, TypeError):  # a damaged manifest: fall back to the names
            pass
    if not (destination / DB_NAME).exists():
        return []  # an --out folder actbench never wrote a manifest to: nothing there is known to be ours
    found = (p.relative_to(destination).as_posix() for p in destination.rglob("*") if p.is_file())
    found = (name for name in found if not name.startswith(STAGING_PREFIX))  # another report's, in progress
    return [name for name in found if any(pattern.fullmatch(name) for pattern in REPORT_NAMES)]


def _write_manifest(destination: Path, files: list[str], replacing: list[str], complete: bool) -> None:
    payload = {"complete": complete, "files": files, "replacing": replacing}
    part = destination / f"{MANIFEST}.{os.getpid()}.part"  # two reports at once never share one
    part.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(part, destination / MANIFEST)


def publish(staging: Path, destination: Path, tasks: set[str] | None = None) -> dict[Path, Path]:
    """Move every file of ``staging`` to the same place under ``destination``, remove the
    previous report's files that this one does not replace, and delete ``staging``. With
    ``tasks`` (a report of some tasks only, --task), the files of the other tasks' folders
    are theirs and stay; the folder's own files (the html page, across-tasks) are replaced.
    Returns each staged path's published path."""
    new = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    previous = [name for name in dict.fromkeys(_read_manifest(destination)) if name not in new]
    kept = [name for name in previous if tasks is not None and "/" in name and name.split("/")[0] not in tasks]
    old = [name for name in previous if name not in kept]
    _write_manifest(destination, new + kept, old, complete=False)
    for name in old:
        (destination / name).unlink(missing_ok=True)
    moved = {}
    for name in new:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, target)
        moved[staging / name] = target
    _write_manifest(destination, new + kept, [], complete=True)
    shutil.rmtree(staging, ignore_errors=True)
    return moved


def discard(staging: Path) -> None:
    """Remove a staging folder whose report failed: the previous report stays as it was."""
    shutil.rmtree(staging, ignore_errors=True)
