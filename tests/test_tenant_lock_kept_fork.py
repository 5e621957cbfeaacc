"""The tenant lock's file kept open (unlocked) between holds, across a fork and between two
storages of one process: an flock belongs to the open file description, which a forked
child shares and two `open`s do not. So the child must lock a file description of its own
(never the parent's kept one: a second flock on the same description succeeds while the
parent holds it), its exit must not release the parent's hold, and two storages on one
root must exclude each other although each keeps its own file open."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from dbengine.errors import LockTimeoutError

T = "tenant_1"


def _try_lock(storage, timeout: float) -> bool:
    """True when `storage` took the tenant lock within `timeout` (then let it go)."""
    try:
        with storage.lock(T, timeout=timeout):
            return True
    except LockTimeoutError:
        return False


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_while_the_lock_file_is_kept_locks_a_file_of_its_own(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", "config", {"n": 0})  # the lock file is now kept open, unlocked
    storage = engine.storage
    assert storage._locks[T]._kept is not None
    to_parent, from_child = os.pipe()
    from_parent, to_child = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's kept lock file inherited
        code = 1
        try:
            os.close(to_parent)
            os.close(to_child)
            signal.alarm(20)
            os.read(from_parent, 1)  # the parent holds the lock now
            took = _try_lock(storage, 0.2)
            os.write(from_child, b"0" if took else b"1")
            with storage.lock(T, timeout=10):  # once the parent let go: the child's own hold
                os.write(from_child, b"2")
                os.read(from_parent, 1)  # (the parent tries meanwhile)
            code = 0
        finally:
            os._exit(code)
    os.close(from_parent)
    os.close(from_child)
    try:
        with storage.lock(T):
            os.write(to_child, b"h")
            assert os.read(to_parent, 1) == b"1"  # the child waited: it locked another file description
        assert os.read(to_parent, 1) == b"2"  # the child holds it
        assert not _try_lock(storage, 0.2)  # and the parent's kept file waits for it
        os.write(to_child, b"x")
        assert _try_lock(storage, 10)
        assert os.waitpid(pid, 0)[1] == 0
    finally:
        os.close(to_parent)
        os.close(to_child)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_that_exits_while_the_parent_holds_the_kept_lock_leaves_it_held(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", "config", {"n": 0})  # the lock file is now kept open, unlocked
    other = make_engine(engine.root, durable=True)
    with engine.storage.lock(T):  # held on the kept file description
        pid = os.fork()
        if pid == 0:
            os._exit(0)  # the child lets go of everything it inherited
        assert os.waitpid(pid, 0)[1] == 0
        assert not _try_lock(other.storage, 0.2)  # still held by the parent
    assert _try_lock(other.storage, 5)


def test_two_storages_of_one_process_exclude_each_other_on_their_kept_files(make_engine):
    first = make_engine(durable=True)
    first.init(T)
    second = make_engine(first.root, durable=True)
    for storage in (first.storage, second.storage):  # each keeps its own lock file open, unlocked
        with storage.lock(T):
            pass
    assert first.storage._locks[T]._kept is not None and second.storage._locks[T]._kept is not None
    for holder, waiter in ((first.storage, second.storage), (second.storage, first.storage)):
        holding, release = threading.Event(), threading.Event()

        def hold(storage=holder, holding=holding, release=release) -> None:
            with storage.lock(T):
                holding.set()
                release.wait(20)

        thread = threading.Thread(target=hold)
        thread.start()
        try:
            assert holding.wait(20)
            started = time.monotonic()
            assert not _try_lock(waiter, 0.2)  # another thread, another storage: it waits
            assert time.monotonic() - started >= 0.15
        finally:
            release.set()
            thread.join(20)
        assert _try_lock(waiter, 5)
