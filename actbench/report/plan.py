"""actbench plan's table: design.py's PlanRows as text cells, and the method paragraph under them."""

from __future__ import annotations

import math

from actbench.report.design import MAX_SEEDS, PlanRow, PlanSettings
from actbench.report.sequential import MOST_LOOKS, POWER_RUNS


def seeds_text(count: int | None) -> str:
    """A planned seed count; None (more than design.py searches) as "> 100,000"."""
    return f"> {MAX_SEEDS:,}" if count is None else str(count)


def plan_rows(rows: list[PlanRow], settings: PlanSettings) -> list[dict[str, str]]:
    """One row per activation: the pilot's SD of the paired differences with its interval,
    the seeds to detect ±delta (and at the interval's ends), the pilot's detectable
    difference, with a margin the seeds to show equivalence, and with a --look-every the
    budget of run --until-decided."""
    table = []
    for row in rows:
        cells = {"activation": row.activation, "pilot pairs": str(row.pilot_pairs) if row.pilot_pairs else "–"}
        if math.isnan(row.sd):
            cells.update({"SD of differences": "–", f"seeds for ±{settings.delta:g}": "–"})
        else:
            interval = "" if math.isnan(row.sd_low) else f" [{row.sd_low:.3f}, {row.sd_high:.3f}]"
            cells["SD of differences"] = f"{row.sd:.3f}{interval}"
            ends = f" [{seeds_text(row.seeds_low)}, {seeds_text(row.seeds_high)}]" if row.pilot_pairs else ""
            cells[f"seeds for ±{settings.delta:g}"] = "–" if row.sd == 0 else f"{seeds_text(row.seeds)}{ends}"
        cells["detectable with the pilot"] = "–" if math.isnan(row.detectable) else f"±{row.detectable:.3f}"
        if settings.margin is not None:
            equivalent = "–" if math.isnan(row.sd) or row.sd == 0 else seeds_text(row.seeds_equivalent)
            cells[f"seeds for equivalence ±{settings.margin:g}"] = equivalent
        if settings.look_every is not None:  # --max-repeats for --until-decided
            if math.isnan(row.sd) or row.sd == 0:
                budget = "–"
            elif row.seeds_until_decided is not None:
                budget = str(row.seeds_until_decided)
            elif row.seeds is None:
                budget = seeds_text(None)
            else:  # not reached by the designs searched: more than their most pairs
                budget = f"> {max(MOST_LOOKS * settings.look_every, row.seeds)}"
            cells[f"until-decided budget (look every {settings.look_every})"] = budget
        cells["note"] = row.note
        table.append(cells)
    return table


def plan_method(settings: PlanSettings, label: str) -> str:
    holm = (
        f"α = {settings.alpha:g} / {settings.comparisons} = {settings.level:.4g} (Holm's first step over "
        f"{settings.comparisons} comparisons)"
        if settings.comparisons > 1
        else f"α = {settings.alpha:g}"
    )
    text = (
        f"Metric: {label}. Seeds: pairs (the activation and the baseline each trained on them) for the "
        f"two-sided paired t-test at {holm} to detect a true difference of ±{settings.delta:g} with power "
        f"{settings.power:g}, exact (noncentral t). In brackets: the 95% interval of the pilot's SD (chi²) and "
        f"the seeds at its ends. Detectable: the smallest difference the pilot's own pairs detect with that power."
    )
    if settings.margin is not None:
        text += (
            f" Equivalence: seeds for TOST (two one-sided t-tests, each at the α above) to show the difference "
            f"lies within ±{settings.margin:g} when it is 0, exact (integral over the SD's chi² law)."
        )
    if settings.look_every is not None:
        text += (
            f" Until-decided budget: the --max-repeats with which run --until-decided --look-every "
            f"{settings.look_every} (no --margin) decides better against a true +{settings.delta:g} with power "
            f"{settings.power:g}, at the α above (Bonferroni there), by simulating its group-sequential design "
            f"({POWER_RUNS:,} runs, seeded); usually more than the seeds above, as the looks spend α. Designs of "
            f'more than {MOST_LOOKS} looks are not searched ("> N": a larger --look-every).'
        )
    return text
