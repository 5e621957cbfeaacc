"""The S3 backend moves index bytes only: an append is made when the index is still the
one the engine read (its token), whatever the lines say; the engine checks the lines."""

from __future__ import annotations

from dbengine.dbengine import DbEngine

T = "acme"


def test_an_append_lands_only_on_the_index_it_names(engine: DbEngine) -> None:
    engine.init(T)
    saved = [engine.save(T, "u", "e", {"v": i}) for i in range(3)]
    storage = engine.storage
    data, token = storage.read_index(T, "e")
    line = b"not an index line\n"  # the backend does not parse what it appends
    storage.append_index(T, "e", line, expected=token._replace(size=token.size - 1))
    assert storage.read_index(T, "e")[0] == data  # another index than the one named: skipped
    storage.append_index(T, "e", line, expected=token)
    assert storage.read_index(T, "e")[0] == data + line
    # the engine finds the damage and repairs its cache from the objects
    assert DbEngine(engine.root).history(T, "e") == saved[::-1]
    assert DbEngine(engine.root).verify().ok
