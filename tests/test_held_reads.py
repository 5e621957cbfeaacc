"""The compare-and-swap check a commit skips (storage `_held_reads`): only for the token
`read_head` gave in the same hold of the tenant lock. A token read in an earlier hold (or
without the lock) is still compared with the journal and the head file as they are now."""

from __future__ import annotations

import os

T, E = "tenant_1", "config"


def test_a_token_of_an_earlier_hold_is_compared_again(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", E, {"n": 0})
    storage = engine.storage
    with storage.lock(T):
        data, token = storage.read_head(T)
    other = make_engine(engine.root, durable=True)
    moved = other.save(T, "bob", E, {"n": 1})  # another writer's commit between the two holds
    with storage.lock(T):
        assert not storage.write_head(T, data, expected=token)  # refused: the head moved
    assert make_engine(engine.root).get_digest(T, E) == moved


def test_a_token_of_this_hold_is_taken_as_read(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", E, {"n": 0})
    storage = engine.storage
    with storage.lock(T):
        data, token = storage.read_head(T)
        assert storage._held_reads[T][0] is token
        assert storage.write_head(T, data, expected=token)
        assert T not in storage._held_reads  # used once
    assert T not in storage._held_reads


def test_a_read_without_the_lock_is_not_remembered(make_engine):
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", E, {"n": 0})
    engine.storage.read_head(T)
    assert T not in engine.storage._held_reads


def test_a_checkpoint_nested_in_the_hold_makes_the_token_read_before_it_compared_again(make_engine):
    """A checkpoint (its own, nested hold of the lock) between the read and the write empties
    the journal into the head file: the token read before it names a journal that is gone, so
    the write compares it and refuses, and the database stays whole."""
    engine = make_engine(durable=True)
    engine.init(T)
    engine.save(T, "alice", E, {"n": 0})
    engine.save(T, "alice", E, {"n": 1})
    storage = engine.storage
    with storage.lock(T):
        data, token = storage.read_head(T)
        storage.checkpoint(T)  # nested hold: the journal emptied, the head file written
        assert os.path.getsize(storage.journal_path(T)) == 0
        assert not storage.write_head(T, data, expected=token)  # refused: compared
    fresh = make_engine(engine.root)
    assert fresh.load(T, E) == {"n": 1} and not fresh.verify().problems
    assert len(fresh.log(T, E, max_items=None)) == 2
