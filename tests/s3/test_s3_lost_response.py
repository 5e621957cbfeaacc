"""A head PUT that lands but whose response is lost, while another writer writes meanwhile.

The injection goes through botocore's real path: a `before-send` handler sends the head
PUT itself (so S3 applies it), lets a second engine write to the same tenant, then raises
`ConnectionClosedError`. botocore retries the PUT, S3 answers 412 (the ETag moved), and
the storage reports the swap as lost. Every operation must then report success once and
never apply its change twice, whether the other writer wrote the same entry or another.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ConnectionClosedError
from dbengine.dbengine import DbEngine

T = "t"


class LoseHeadResponse:
    """Apply the next head PUT of `engine`, run `meanwhile()`, then lose the response."""

    def __init__(self, engine: DbEngine, meanwhile):
        self.engine = engine
        self.meanwhile = meanwhile
        self.armed = False
        self.fired = 0
        client = engine.storage.client
        self.session = client._endpoint.http_session
        client.meta.events.register("before-send.s3.PutObject", self.handler)

    def handler(self, request, **_kwargs):
        if not self.armed or not request.url.split("?")[0].endswith(f"/{T}/head"):
            return None
        response = self.session.send(request)
        if response.status_code != 200:  # not applied (init's If-None-Match on an existing head)
            return response
        self.armed = False
        self.fired += 1
        self.meanwhile()
        raise ConnectionClosedError(endpoint_url=request.url)


def _values(engine: DbEngine, entry: str) -> list:
    fresh = DbEngine(engine.root)
    kind = fresh.entry_kind(T, entry)
    read = fresh.load if kind == "snapshot" else fresh.get
    return [read(T, entry, digest=d) if kind == "snapshot" else read(T, entry, digest=d)
            for d in reversed(fresh.history(T, entry, max_items=None))]


OPERATIONS = ["save", "put", "put_many", "delete", "restore", "commit_document", "import"]


@pytest.mark.parametrize("same_entry", [True, False], ids=["same-entry", "other-entry"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_lost_head_response_is_reported_once_and_applied_once(make_engine, operation, same_entry, tmp_path):
    engine = make_engine()
    engine.init(T)
    other = DbEngine(engine.root)
    snapshot = operation in ("save", "restore", "commit_document", "import")
    entry = "e"
    if snapshot:
        engine.save(T, "alice", entry, {"v": 0})
        engine.save(T, "alice", entry, {"v": 1})
    else:
        engine.put_many(T, "alice", entry, {"a": 0, "b": 1})
    engine.save(T, "alice", "side", {"s": 0})
    first = engine.history(T, entry, max_items=None)[-1]
    before = _values(engine, entry)

    def meanwhile():
        if same_entry:
            if snapshot:
                other.save(T, "bob", entry, {"v": "bob"})
            else:
                other.put(T, "bob", entry, "z", "bob")
        else:
            other.save(T, "bob", "side", {"s": "bob"})

    if operation == "import":
        source = make_engine(str(tmp_path / "source"))
        source.init(T)
        source.save(T, "carol", "imported", {"i": 1})
        lines = list(source.export_jsonl(T, "imported"))
        entry = "imported"
        before = []
    lose = LoseHeadResponse(engine, meanwhile)
    lose.armed = True
    if operation == "save":
        result = engine.save(T, "alice", entry, {"v": 2})
        assert isinstance(result, str)
    elif operation == "put":
        assert engine.put(T, "alice", entry, "c", 2) is True
    elif operation == "put_many":
        assert engine.put_many(T, "alice", entry, {"c": 2, "d": 3}) is True
    elif operation == "delete":
        assert engine.delete(T, "alice", entry, "a") is True
    elif operation == "restore":
        result = engine.restore(T, "alice", entry, first)
    elif operation == "commit_document":
        head = engine.get_digest(T, entry)
        result = engine.commit_document(T, "alice", entry, {"__data__": {"v": "edited"}}, expected_head=head)
    else:
        assert engine.import_jsonl(lines, T).heads_updated == 1
    assert lose.fired == 1
    after = _values(engine, entry)
    history = DbEngine(engine.root).log(T, entry, max_items=None)
    users = [v.user_id for v in reversed(history)]
    mine = {"save": {"v": 2}, "restore": {"v": 0}, "commit_document": {"v": "edited"}, "import": {"i": 1}}
    if operation in mine:
        assert after.count(mine[operation]) == (2 if operation == "restore" else 1), after  # restore: v0 twice in all
    # exactly one new version of ours, plus bob's when he wrote this entry
    ours = len(after) - len(before) - (1 if same_entry else 0)
    assert ours == 1, (operation, same_entry, users, after)
    if same_entry:
        assert users[-1] == "bob"  # bob's write built on ours and is kept
    if operation in ("save", "restore", "commit_document"):
        assert result in [v.digest for v in history]
    side = DbEngine(engine.root).load(T, "side")
    assert side == ({"s": "bob"} if not same_entry else {"s": 0})
    assert DbEngine(engine.root).verify().ok
