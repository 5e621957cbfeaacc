"""A checkpoint of every tenant goes on past a tenant it cannot checkpoint, then names it."""

from __future__ import annotations

import os
import shutil

import pytest
from dbengine.errors import CheckpointError, StorageError


def test_a_failing_tenant_does_not_stop_the_checkpoint_of_the_others(make_engine):
    engine = make_engine(durable=True)
    for tenant in ("a", "b", "c"):
        engine.init(tenant)
        engine.save(tenant, "alice", "doc", {"tenant": tenant})
    for tenant in ("a", "c"):
        assert os.path.getsize(engine.storage.journal_path(tenant)) > 0
    broken = engine.storage.journal_path("b")
    saved = broken + ".kept"
    shutil.move(broken, saved)
    os.mkdir(broken)  # a folder where the journal should be: its checkpoint cannot run
    with pytest.raises(CheckpointError) as caught:
        engine.checkpoint()
    error = caught.value
    assert isinstance(error, StorageError)
    assert error.done == ["a", "c"] and list(error.failed) == ["b"]
    assert "'b'" in str(error) and "journal" in str(error) and "(2 done)" in str(error)
    for tenant in ("a", "c"):  # done despite b, which came between them
        assert os.path.getsize(engine.storage.journal_path(tenant)) == 0
    os.rmdir(broken)
    shutil.move(saved, broken)
    assert engine.checkpoint() == ["a", "b", "c"]
    fresh = make_engine()
    assert [fresh.load(t, "doc")["tenant"] for t in ("a", "b", "c")] == ["a", "b", "c"]
    assert fresh.verify().ok


def test_a_failing_automatic_checkpoint_is_tried_again_after_another_limit_of_journal(make_engine, monkeypatch):
    """A checkpoint that fails (a full disk, say) leaves the commit durable and is not tried
    on every following commit, only once the journal has grown by another JOURNAL_LIMIT;
    once it can run again, it does, and nothing was lost."""
    import errno

    from dbengine import journal_checkpoint, journal_store

    limit = 4096
    monkeypatch.setattr(journal_store, "JOURNAL_LIMIT", limit)
    real = journal_checkpoint.JournalCheckpoints._checkpoint
    tries: list[int] = []
    disk_full = [True]

    def checkpoint(self, tenant):
        tries.append(os.path.getsize(self.store.journal_path(tenant)))
        if disk_full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, tenant)

    monkeypatch.setattr(journal_checkpoint.JournalCheckpoints, "_checkpoint", checkpoint)
    engine = make_engine(durable=True)
    engine.init("a")
    versions = [engine.save("a", "alice", "doc", {"n": i, "body": "x" * 1000}) for i in range(60)]
    size = os.path.getsize(engine.storage.journal_path("a"))
    past_limit = 60 - limit // 1100  # commits that ended past the limit
    assert size > 10 * limit and 2 <= len(tries) <= size // limit + 1 < past_limit
    assert all(later - earlier >= limit for earlier, later in zip(tries, tries[1:], strict=False))
    disk_full[0] = False
    for i in range(60, 70):
        versions.append(engine.save("a", "alice", "doc", {"n": i, "body": "x" * 1000}))
    assert os.path.getsize(engine.storage.journal_path("a")) < size  # the retry ran, and emptied it
    fresh = make_engine()
    assert [fresh.load("a", "doc", v)["n"] for v in versions] == list(range(70))
    assert fresh.verify().ok
