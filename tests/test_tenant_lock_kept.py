"""The tenant lock's file kept open (unlocked) between holds: a head.lock replaced meanwhile
is never the one locked (the lock must exclude a process locking the file the path names),
the files kept are bounded, and a storage let go closes its own."""

from __future__ import annotations

import fcntl
import gc
import os
from collections import OrderedDict

import pytest
from dbengine import tenant_lock
from dbengine.errors import LockTimeoutError

T = "tenant_1"


def test_a_replaced_lock_file_is_the_one_locked(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    storage = engine.storage
    with storage.lock(T):
        pass  # the file is kept open, unlocked
    path = os.path.join(storage.tenant_dir(T), "head.lock")
    os.replace(path, path + ".old")
    with open(path, "w"):
        pass
    holder = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another process holding the file the path names now
        with pytest.raises(LockTimeoutError), storage.lock(T, timeout=0.05):
            pass
    finally:
        os.close(holder)
    with storage.lock(T):
        other = os.open(path, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)


def test_idle_lock_files_are_bounded_and_closed_with_their_storage(make_engine, monkeypatch):
    monkeypatch.setattr(tenant_lock, "IDLE_MAX", 3)
    engine = make_engine(durable=True)
    root = engine.root
    for i in range(6):
        engine.init(f"t{i}")
        with engine.storage.lock(f"t{i}"):
            pass

    def open_lock_files() -> int:
        links = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                 if os.path.exists(f"/proc/self/fd/{fd}")]
        return sum(link.startswith(root) and link.endswith("head.lock") for link in links)

    assert open_lock_files() == 3
    del engine
    gc.collect()
    links = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}")]
    assert not [link for link in links if link.startswith(root)]


def test_a_collected_lock_frees_its_idle_slot(tmp_path, monkeypatch):
    """A lock collected closes its kept file and leaves the idle list: a dead entry kept there
    (its weak reference still alive inside __del__) took a slot, so a live lock's file was
    closed one lock too early."""
    monkeypatch.setattr(tenant_lock, "IDLE_MAX", 2)
    monkeypatch.setattr(tenant_lock, "_IDLE", OrderedDict())  # (other tests' idle locks left out)
    locks = [tenant_lock._TenantLock(str(tmp_path / f"{name}.lock"), 1.0) for name in "abc"]
    for lock in locks[:2]:
        with lock.hold():
            pass
    del lock, locks[1]  # b: collected (CPython: at once)
    gc.collect()
    with locks[1].hold():  # c: two idle files now, a's and c's, within IDLE_MAX
        pass
    assert locks[0]._kept is not None, "a's idle file was closed to make room for a collected lock"
    assert len(tenant_lock._IDLE) == 2
