"""Raw per-trial, per-epoch rows of the store as CSV or JSON Lines.

Columns: the trial's key, the epoch's loss and accuracy, then one column per task metric
stored (e.g. an airbench task's), then the trial's settings and provenance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from actbench.registry import Registry

if TYPE_CHECKING:  # imported by the caller: this module is read for --help too
    import pandas as pd

    from actbench.results.store import ResultStore

LEADING = ["task", "activation", "seed", "epoch", "train_loss", "test_loss", "test_acc", "elapsed_s"]
TRAILING = [
    "status", "diverged_epoch", "config_hash", "hparams", "activation_params", "wall_time_s", "engine", "device",
    "torch_version", "actbench_version", "finished_at", "code_revision", "definition", "error", "host", "node",
]


def export(store: ResultStore, fmt: str, out: TextIO) -> int:
    """Write every stored epoch row to ``out`` in format ``fmt`` (a name in FORMATS);
    returns the number of rows."""
    writer = FORMATS.get(fmt)
    trials, epochs = store.trials(), store.epochs()
    metrics = [c for c in epochs.columns if c not in {*LEADING, *TRAILING, "trial_id"}]
    # Every trial, by id: one row per epoch, and one row with no epoch for a trial that
    # failed before its first.
    epochs = epochs.drop(columns=["task", "activation", "seed", "config_hash", "status"])
    rows = trials.merge(epochs, left_on="id", right_on="trial_id", how="left")[[*LEADING, *metrics, *TRAILING]]
    rows["epoch"] = rows["epoch"].astype("Int64")
    rows["diverged_epoch"] = rows["diverged_epoch"].astype("Int64")  # an epoch number, or empty
    writer(rows, out)
    return len(rows)


def export_to_file(store: ResultStore, fmt: str, path: Path) -> int:
    """``export`` into the file ``path``, written beside it first and then renamed over it, so
    a failed export (a full disk) leaves no half-written file and any earlier one whole."""
    from actbench.results.store import StoreError

    part = path.with_name(path.name + ".part")
    try:
        with open(part, "w", newline="") as handle:
            rows = export(store, fmt, handle)
        os.replace(part, path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:  # interrupted, or the store failed: no half-written file stays
        part.unlink(missing_ok=True)
        raise
    return rows


def write_csv(rows: pd.DataFrame, out: TextIO) -> None:
    rows.to_csv(out, index=False, lineterminator="\n")


def write_jsonl(rows: pd.DataFrame, out: TextIO) -> None:
    import pandas as pd

    for record in rows.to_dict(orient="records"):
        # JSON has no NaN: missing values (a diverged epoch's loss) become null.
        clean = {k: None if pd.isna(v) else v for k, v in record.items()}
        clean["hparams"] = json.loads(clean["hparams"])
        clean["activation_params"] = json.loads(clean["activation_params"])
        out.write(json.dumps(clean) + "\n")


# Export formats: name -> writer(rows, out). Adding one: a function and a line here.
FORMATS: Registry = Registry("export format")
FORMATS.add("csv", write_csv)
FORMATS.add("jsonl", write_jsonl)
