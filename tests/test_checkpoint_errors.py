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
