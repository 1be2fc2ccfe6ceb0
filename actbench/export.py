"""Raw per-trial, per-epoch rows of the store as CSV or JSON Lines."""

from __future__ import annotations

import json
from typing import TextIO

import pandas as pd

from actbench.errors import UsageError
from actbench.store import ResultStore

FORMATS = ("csv", "jsonl")

COLUMNS = [
    "task", "activation", "seed", "epoch", "train_loss", "test_loss", "test_acc", "tta_acc", "timed_s", "status",
    "diverged_epoch", "config_hash", "hparams", "activation_params", "wall_time_s", "engine", "device",
    "torch_version", "actbench_version", "finished_at",
]  # fmt: skip


def export(store: ResultStore, fmt: str, out: TextIO) -> int:
    """Write every stored epoch row to ``out``; returns the number of rows."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose from: {', '.join(FORMATS)}")
    trials = store.trials().drop(columns=["task", "activation", "seed", "config_hash", "status"])
    rows = store.epochs().merge(trials, left_on="trial_id", right_on="id")[COLUMNS]
    rows["diverged_epoch"] = rows["diverged_epoch"].astype("Int64")  # an epoch number, or empty
    if fmt == "csv":
        rows.to_csv(out, index=False, lineterminator="\n")
    else:
        for record in rows.to_dict(orient="records"):
            # JSON has no NaN: missing values (a diverged epoch's loss) become null.
            clean = {k: None if pd.isna(v) else v for k, v in record.items()}
            clean["hparams"] = json.loads(clean["hparams"])
            clean["activation_params"] = json.loads(clean["activation_params"])
            out.write(json.dumps(clean) + "\n")
    return len(rows)
