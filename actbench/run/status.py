"""What a results folder holds and who is working on it: stored trials per activation,
the live claims (which run, on which host, how long ago its lease was renewed) and,
for a run config, the trials still pending."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pandas as pd
from rich.markup import escape
from rich.table import Table

from actbench.api import Trial
from actbench.results.store import ResultStore


@dataclass
class Status:
    stored: pd.DataFrame  # task, config, activation, ok, diverged, failed
    claims: pd.DataFrame  # store.claims(), with age_s (since claimed) and renewed_s (since renewed)
    pending: list[Trial] | None  # of the given trials: neither stored nor claimed; None: no config given


def read_status(store: ResultStore, trials: list[Trial] | None) -> Status:
    rows = store.trials()
    rows["config"] = rows["config_hash"].str[:8]
    counts = (
        rows.groupby(["task", "config", "activation"], sort=False)["status"]
        .value_counts()
        .unstack(fill_value=0)
        .reindex(columns=["ok", "diverged", "failed"], fill_value=0)
        .reset_index()
    )
    claims = store.claims()
    now = time.time()
    claims["age_s"] = now - claims["claimed_at"]
    claims["renewed_s"] = (now - claims["renewed_at"]).clip(lower=0)
    pending = store.unclaimed(trials) if trials is not None else None
    return Status(counts, claims, pending)


def pending_seeds(pending: list[Trial]) -> dict[str, list[int]]:
    """The pending trials' seeds by activation, in the order given: as the table and json list them."""
    by_act: dict[str, list[int]] = {}
    for trial in pending:
        by_act.setdefault(trial.activation, []).append(trial.seed)
    return by_act


def status_tables(status: Status) -> list[Table | str]:
    """What ``actbench status`` prints: the stored trials' table, then a line on the claims
    and one on the pending trials, each followed by its table when it has rows."""
    stored = Table(title="stored trials")
    for column in ("task [config]", "activation", "ok", "diverged", "failed"):
        stored.add_column(escape(column), justify="left" if column in ("task [config]", "activation") else "right")
    for row in status.stored.itertuples():
        stored.add_row(
            escape(f"{row.task} [{row.config}]"),
            escape(row.activation),
            str(row.ok),
            str(row.diverged),
            str(row.failed),
        )
    shown: list[Table | str] = [stored, f"claimed, being trained: {len(status.claims)} trial(s)"]
    if len(status.claims):
        claimed = Table()
        for column in ("task", "activation", "seed", "run (host:pid:id)", "claimed", "lease renewed"):
            claimed.add_column(column)
        for row in status.claims.itertuples():
            claimed.add_row(
                escape(row.task),
                escape(row.activation),
                str(row.seed),
                escape(row.owner),
                f"{row.age_s:.0f} s ago",
                f"{row.renewed_s:.0f} s ago",
            )
        shown.append(claimed)
    if status.pending is not None:
        shown.append(f"pending, neither stored nor claimed: {len(status.pending)} trial(s)")
        by_act = pending_seeds(status.pending)
        if by_act:
            pending = Table()
            pending.add_column("activation")
            pending.add_column("seeds")
            for act, seeds in by_act.items():
                pending.add_row(escape(act), ", ".join(map(str, seeds)))
            shown.append(pending)
    return shown


def status_json(status: Status) -> str:
    """What ``actbench status --format json`` prints: the same three parts as the tables, as
    one object (times as Unix seconds; ``pending`` null when no run was given)."""
    claims = status.claims[
        ["task", "activation", "seed", "config_hash", "owner", "host", "pid", "claimed_at", "renewed_at", "lease_until"]
    ]
    by_act = pending_seeds(status.pending or [])
    payload = {
        "stored": json.loads(status.stored.to_json(orient="records")),
        "claims": json.loads(claims.to_json(orient="records")),
        "pending": None if status.pending is None else [{"activation": a, "seeds": s} for a, s in by_act.items()],
    }
    return json.dumps(payload, indent=2)
