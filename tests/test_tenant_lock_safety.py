"""The tenant lock's edges (rev6): a lock collected while the fork guard is taken (a collection
runs in any thread, maybe the one holding it) neither deadlocks nor closes its kept file
behind the guard's back; a child forked while a thread holds the lock does not hold it."""

from __future__ import annotations

import gc
import os
import signal

import pytest
from dbengine import tenant_lock
from dbengine.errors import StorageError

T = "tenant_1"


def names_lock_file(fd: int, path: str) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == os.path.realpath(path)
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_lock_collected_while_the_fork_guard_is_held_closes_its_file_once_the_guard_is_free(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", "config", {"n": 0})  # the lock file is now kept open, unlocked
    lock = engine.storage._locks[T]
    fd, path = lock._kept[0], lock.path
    del lock
    with tenant_lock._FORK_GUARD:  # as during a fork, or another thread's open: this thread holds it
        del engine
        gc.collect()  # the lock's __del__ runs here, in the thread holding the guard: no deadlock
        assert names_lock_file(fd, path), "closed behind the guard's back"
        assert fd in tenant_lock._LOCK_FDS, "unlisted behind the guard's back (a fork would leak it)"
    other = make_engine(durable=True)
    with other.storage.lock(T):  # the guard's next holder closes it
        pass
    assert not tenant_lock._DEFERRED
    reopened = other.storage._locks[T]._kept[0]  # (may have been given the number just freed)
    assert fd == reopened or (fd not in tenant_lock._LOCK_FDS and not names_lock_file(fd, path))


def head_write_in_child(storage) -> bytes:
    """In a forked child: what writing the head did (b"wrote", b"refused" when refused for
    the fork, else the error)."""
    try:
        storage.write_head(T, b'{"config": "0000"}')
        return b"wrote"
    except StorageError as exc:
        return b"refused" if "fork" in str(exc) else str(exc).encode()


def fork_inside_a_hold(engine, child) -> bytes:
    """Fork while this thread holds the tenant's lock; the child runs `child(storage)` and the
    bytes it returns come back (the child exits 0 only once it returned)."""
    storage = engine.storage
    read_end, write_end = os.pipe()
    with storage.lock(T):
        pid = os.fork()
        if pid == 0:  # the child carries on inside the parent's hold
            code = 1
            try:
                os.close(read_end)
                signal.alarm(20)
                os.write(write_end, child(storage))
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        _pid, status = os.waitpid(pid, 0)
        said = os.read(read_end, 200)
        os.close(read_end)
    assert os.waitstatus_to_exitcode(status) == 0
    return said


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_inside_a_hold_does_not_hold_the_lock(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", "config", {"n": 0})
    before = engine.storage.read_head(T)[0]
    said = fork_inside_a_hold(engine, lambda storage: (b"held " if storage._locks[T].held_here() else b"free ")
                              + head_write_in_child(storage))
    assert said == b"free refused"
    assert engine.storage.read_head(T)[0] == before
    engine.save(T, "alice", "config", {"n": 1})  # the parent's hold was let go as usual
    assert make_engine(engine.root).verify().ok


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_grandchild_forked_by_a_child_still_inside_the_parents_hold_does_not_hold_it(make_engine):
    """The child is still inside the hold that is its parent's; a child of its own, forked
    there, is too (it was let write the head as if free)."""
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", "config", {"n": 0})
    before = engine.storage.read_head(T)[0]

    def child(storage) -> bytes:
        read_end, write_end = os.pipe()
        grandchild = os.fork()
        if grandchild == 0:  # still inside the first parent's hold
            try:
                os.write(write_end, head_write_in_child(storage))
            finally:
                os._exit(0)
        os.close(write_end)
        os.waitpid(grandchild, 0)
        said = os.read(read_end, 200)
        os.close(read_end)
        return said

    assert fork_inside_a_hold(engine, child) == b"refused"
    assert engine.storage.read_head(T)[0] == before
