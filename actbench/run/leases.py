"""Keeping a run's claims alive while it trains: a thread that renews the leases.

A claim lapses LEASE_S seconds after its last renewal; the keeper renews every
RENEW_S, from its own connection (SQLite connections are not shared across threads).
A run killed with SIGKILL renews nothing: its claims lapse, and on the same machine
they are freed at once because its process is gone (store.Owner.is_gone).
"""

from __future__ import annotations

import threading
from pathlib import Path

from actbench.errors import ActbenchError
from actbench.results.store import Owner, ResultStore

LEASE_S = 120.0  # long enough to ride out a busy disk or a slow epoch's GIL-bound step
RENEW_S = 10.0


class LeaseKeeper:
    """``with LeaseKeeper(results_dir, owner):`` renews ``owner``'s leases until the block ends."""

    def __init__(self, results_dir: Path, owner: Owner, renew_s: float = RENEW_S, lease_s: float = LEASE_S):
        self.results_dir, self.owner = results_dir, owner
        self.renew_s, self.lease_s = renew_s, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="actbench-leases", daemon=True)

    def _renew(self) -> None:
        with ResultStore(self.results_dir, create=False) as store:
            while not self._stop.wait(self.renew_s):
                try:
                    store.renew(self.owner, self.lease_s)
                except ActbenchError:
                    pass  # a write refused for now (disk full): the next renewal tries again

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
