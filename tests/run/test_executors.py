"""The executor seam: engines plan units of plain data, an executor runs them anywhere,
the runner alone commits what comes back."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from cli_runner import cli

from actbench.api import TrainContext, Trial, WorkUnit
from actbench.results.store import ResultStore
from actbench.run.engines import ENGINES
from actbench.run.executors import EXECUTORS, UnitDone
from actbench.run.executors.local import LocalExecutor
from actbench.tasks import get_task

CPU = TrainContext(torch.device("cpu"), None)


def trials(acts, seeds, epochs=1):
    hp = get_task("mnist-mini").resolve_hparams({"epochs": epochs})
    return [Trial("mnist-mini", act, seed, hp) for seed in seeds for act in acts]


def test_each_engine_plans_units_of_plain_data():
    planned = trials(["relu", "gelu"], [0, 1])
    sequential = ENGINES.get("sequential").plan(planned, CPU, None)
    assert sequential == [WorkUnit("sequential", (t,)) for t in planned]
    population = ENGINES.get("population").plan(planned, CPU, None)
    assert population == [WorkUnit("population", tuple(planned))]  # one chunk fits the default budget
    for unit in (*sequential, *population):
        assert pickle.loads(pickle.dumps(unit)) == unit  # it can cross a process boundary


class Crossing(LocalExecutor):
    """An executor with room for two units at once, whose units and results cross a pickle
    boundary, as on a remote worker, and come back in reverse order: the runner must keep
    it filled and commit whatever arrives, in any order."""

    units: list[WorkUnit] = []

    def capacity(self):
        return 2

    def collect(self):
        crossed = [pickle.loads(pickle.dumps(u)) for u in self._queue]
        self._queue.clear()
        Crossing.units += crossed
        results = [r for unit in crossed for r in ENGINES.get(unit.engine).run(unit, self.ctx, None, None)]
        yield from (pickle.loads(pickle.dumps(r)) for r in reversed(results))
        yield from (UnitDone(unit) for unit in crossed)


@pytest.fixture
def crossing(monkeypatch):
    monkeypatch.setattr(EXECUTORS, "_entries", dict(EXECUTORS._entries))
    monkeypatch.setattr(EXECUTORS, "_lookup", dict(EXECUTORS._lookup))
    EXECUTORS.add("crossing", Crossing)
    Crossing.units = []


def stored(folder: str):
    with ResultStore(Path(folder), create=False) as store:
        epochs = store.epochs()
    return epochs.sort_values(["activation", "seed", "epoch"]).reset_index(drop=True)


@pytest.mark.parametrize("engine", ["sequential", "population"])
def test_a_new_executor_is_one_registry_entry_and_stores_what_local_stores(crossing, engine):
    args = [
        "run",
        "--task",
        "mnist-mini",
        "--acts",
        "relu,ralu",
        "--repeats",
        "2",
        "--epochs",
        "1",
        "--engine",
        engine,
        "-q",
    ]
    assert cli(*args, "--results-dir", "local").exit_code == 0
    result = cli(*args, "--results-dir", "crossed", "--executor", "crossing")
    assert result.exit_code == 0, result.output
    assert {u.engine for u in Crossing.units} == {engine}
    assert sum(len(u.trials) for u in Crossing.units) == 4
    assert len(Crossing.units) == (4 if engine == "sequential" else 2)  # a population split for two workers
    keys = ["activation", "seed", "epoch", "activation_params"]
    crossed, local = stored("crossed"), stored("local")
    assert crossed[keys].equals(local[keys])
    # A population cut in two trains the same experiments; its batched products may round
    # differently in the last bits (as the engine equivalence tests allow).
    for column in ("train_loss", "test_loss"):
        assert crossed[column].tolist() == pytest.approx(local[column].tolist(), rel=1e-5), column
    assert crossed["test_acc"].tolist() == pytest.approx(local["test_acc"].tolist(), abs=0.1)


def test_an_unknown_executor_is_one_line():
    result = cli("run", "--task", "mnist-mini", "--acts", "relu", "--executor", "slurm")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unknown executor 'slurm'; choose from: local, ray"
