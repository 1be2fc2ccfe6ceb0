"""Summaries of stored trials: per-trial metrics, per-activation means and stds, mean curves.

Conventions, stated once here and in every table: accuracy is in percent; std is the
sample standard deviation across seeds (ddof=1); diverged trials are counted apart and
excluded from the accuracy statistics, so n is the number of trials that finished.
"""

from __future__ import annotations

import pandas as pd

GROUP = ["task", "config_hash", "activation"]


def per_trial(epochs: pd.DataFrame) -> pd.DataFrame:
    """One row per trial: final and best-epoch test accuracy, final test loss.

    ``best_acc`` is the maximum over epochs of the *test* accuracy: selected on the test
    set, hence optimistic. It is reported as such, never as the headline.
    """
    grouped = epochs.sort_values("epoch").groupby("trial_id", sort=False)
    last = grouped.tail(1).set_index("trial_id")
    out = last[[*GROUP, "seed", "status", "epoch"]].rename(columns={"epoch": "epochs_run"})
    out["final_acc"] = last["test_acc"]
    out["final_loss"] = last["test_loss"]
    out["best_acc"] = grouped["test_acc"].max()
    return out.reset_index()


def summarise(trials: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, config_hash, activation), activations in the order first stored."""
    metrics = per_trial(epochs).merge(trials[["id", "wall_time_s"]], left_on="trial_id", right_on="id")
    rows = []
    for key, group in metrics.groupby(GROUP, sort=False):
        ok = group[group["status"] == "ok"]
        rows.append(
            {
                **dict(zip(GROUP, key)),
                "n": len(ok),
                "trials": len(group),
                "diverged": int((group["status"] == "diverged").sum()),
                "epochs": int(ok["epochs_run"].max()) if len(ok) else int(group["epochs_run"].max()),
                "final_acc_mean": ok["final_acc"].mean(),
                "final_acc_std": ok["final_acc"].std(ddof=1),
                "best_acc_mean": ok["best_acc"].mean(),
                "best_acc_std": ok["best_acc"].std(ddof=1),
                "final_loss_mean": ok["final_loss"].mean(),
                "time_mean_s": group["wall_time_s"].mean(),
                "first_id": group["trial_id"].min(),
            }
        )
    table = pd.DataFrame(rows).sort_values("first_id", kind="stable")
    return table.drop(columns="first_id").reset_index(drop=True)


def mean_curves(epochs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy per (task, config_hash, activation, epoch) across finished trials:
    columns mean, std (ddof=1) and n."""
    ok = epochs[epochs["status"] == "ok"]
    curves = ok.groupby([*GROUP, "epoch"], sort=False)["test_acc"].agg(["mean", "std", "count"])
    return curves.rename(columns={"count": "n"}).reset_index()
