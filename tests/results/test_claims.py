"""Claims in the store: a run claims the trials it trains, under a lease."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from actbench.results.store import Owner, ResultStore, network_filesystem
from fakes import fake_result


def trial(act: str, seed: int):
    return fake_result(act, seed, [90.0]).trial


@pytest.fixture
def store(tmp_path):
    with ResultStore(tmp_path) as opened:
        yield opened


def other_owner(pid: int | None = None) -> Owner:
    """A run that is alive: this test process (or ``pid``) on this machine."""
    mine = Owner.this_process()
    return Owner(f"{mine.host}:{pid or mine.pid}:other", mine.host, pid or mine.pid, mine.machine)


def test_a_claim_is_all_or_nothing_and_excludes_other_runs(store):
    me, other = Owner.this_process(), other_owner()
    a, b, c = trial("relu", 0), trial("relu", 1), trial("gelu", 0)
    assert store.claim([a, b], me, 60)
    assert not store.claim([b, c], other, 60)  # b is mine: nothing of it is taken
    assert store.unclaimed([a, b, c]) == [c]
    assert store.claim([c], other, 60)
    assert store.claim([a], me, 60)  # claiming again what one holds is fine
    assert sorted(store.claims()["owner"]) == sorted([me.id, me.id, other.id])


def test_storing_a_trial_frees_its_claim_and_a_stored_trial_cannot_be_claimed(store):
    me = Owner.this_process()
    result = fake_result("relu", 0, [90.0])
    assert store.claim([result.trial], me, 60)
    assert store.add(result)
    assert store.claims().empty and store.unclaimed([result.trial]) == []
    assert not store.claim([result.trial], me, 60)


def test_a_lapsed_lease_is_free_and_a_renewed_one_is_not(store):
    me, other = Owner.this_process(), other_owner()
    assert store.claim([trial("relu", 0), trial("relu", 1)], other, 0.5)
    claimed = store.claims()
    store.renew(other, 60)  # both leases now run for a minute, however late this comes
    renewed = store.claims()
    assert (renewed["renewed_at"] > claimed["renewed_at"]).all()  # what status shows as the last renewal
    assert (renewed["claimed_at"] == claimed["claimed_at"]).all()
    time.sleep(0.6)
    assert not store.claim([trial("relu", 0)], me, 60)
    assert store.claim([trial("relu", 0)], other, 0.2)  # its owner shortens it again; it lapses
    time.sleep(0.3)
    assert store.claim([trial("relu", 0)], me, 60)
    assert not store.claim([trial("relu", 1)], me, 60)  # still renewed


def test_the_claims_of_a_process_gone_from_this_machine_are_free_at_once(store):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = other_owner(int(done.stdout))
    assert dead.is_gone() and not Owner.this_process().is_gone()
    assert store.claim([trial("relu", 0)], dead, 3600)
    assert store.claims().empty  # freed without waiting for the lease
    assert store.claim([trial("relu", 0)], Owner.this_process(), 60)


def test_a_claim_from_another_machine_waits_for_its_lease(store):
    remote = Owner("gpu-node-7:12:abc", "gpu-node-7", 1, "another-boot-id")
    assert not remote.is_gone()  # its pid means nothing here
    assert store.claim([trial("relu", 0)], remote, 60)
    assert not store.claim([trial("relu", 0)], Owner.this_process(), 60)


def test_release_drops_only_the_owners_claims(store):
    me, other = Owner.this_process(), other_owner()
    store.claim([trial("relu", 0)], me, 60)
    store.claim([trial("relu", 1)], other, 60)
    store.release(me)
    assert store.claims()["owner"].tolist() == [other.id]


def test_network_filesystems_are_recognised(tmp_path, monkeypatch):
    assert network_filesystem(tmp_path) is None
    mounts = f"server:/export {tmp_path} nfs4 rw 0 0\nuser@h:/d {tmp_path}/s fuse.sshfs rw 0 0\n"
    real_read_text = type(tmp_path).read_text
    monkeypatch.setattr(type(tmp_path), "read_text", lambda self, *a, **k: mounts if str(self) == "/proc/mounts" else real_read_text(self, *a, **k))
    assert network_filesystem(tmp_path / "results") == "nfs4"
    assert network_filesystem(tmp_path / "s" / "results") == "fuse.sshfs"
    assert network_filesystem(tmp_path.parent) is None
