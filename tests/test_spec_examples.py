"""Every code example of MyDbEngine.md, run verbatim.

Each block is kept exactly as the spec prints it and executed, in spec order, in one
module namespace (like a user's script), so classes it defines get an importable path.
Handlers a block registers are unregistered after each test.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import types

import pytest
from dbengine.handlers import handlers

QUICK_START = '''
from dbengine.dbengine import DbEngine

# Initialize engine and tenant
engine = DbEngine(root=".mytools_db")
engine.init("tenant_1")

# Save and load data
engine.save("tenant_1", "user_1", "config", {"theme": "dark", "lang": "en"})
data = engine.load("tenant_1", "config")
print(data)  # {"theme": "dark", "lang": "en"}
'''

PATTERN_1 = '''
engine.save("tenant_1", "user_1", "config", {"theme": "dark", "lang": "en"})
config = engine.load("tenant_1", "config")
'''

PATTERN_2 = '''
engine.put("tenant_1", "user_1", "users", "john", {"name": "John", "age": 30})
engine.put("tenant_1", "user_1", "users", "jane", {"name": "Jane", "age": 25})
all_users = engine.get("tenant_1", "users")  # Returns list of all users
'''

SAVE_AND_LOAD = '''
# Save any Python object
data = {"users": ["alice", "bob"], "count": 2}
digest = engine.save("tenant_1", "user_1", "session", data)

# Load latest version
session = engine.load("tenant_1", "session")

# Load specific version by digest
old_session = engine.load("tenant_1", "session", digest=digest)
'''

RECORD_UPDATES = '''
# Add/update single record
engine.put("tenant_1", "user_1", "users", "alice", {"name": "Alice", "role": "admin"})

# Add/update multiple records
users = {
    "bob": {"name": "Bob", "role": "user"},
    "charlie": {"name": "Charlie", "role": "user"}
}
engine.put_many("tenant_1", "user_1", "users", users)

# Get specific record
alice = engine.get("tenant_1", "users", key="alice")

# Get all records as list
all_users = engine.get("tenant_1", "users")
'''

HISTORY_NAVIGATION = '''
# Get history chain (list of digests, newest first)
history = engine.history("tenant_1", "config", max_items=10)

# Load previous version
previous = engine.load("tenant_1", "config", digest=history[1])

# Check if entry exists
if engine.exists("tenant_1", "config"):
    print("Entry exists")
'''

DATE_HANDLER = '''
from dbengine.handlers import BaseInlineHandler, handlers
import datetime

class DateHandler(BaseInlineHandler):
    def is_eligible_for(self, obj):
        return isinstance(obj, datetime.date)

    def tag(self):
        return "Date"

    def serialize(self, obj):
        return {
            "__special__": self.tag(),
            "year": obj.year,
            "month": obj.month,
            "day": obj.day
        }

    def deserialize(self, data):
        return datetime.date(year=data["year"], month=data["month"], day=data["day"])

handlers.register_handler(DateHandler())
'''

DATAFRAME_HANDLER = '''
from dbengine.handlers import BaseRefHandler, handlers
import pandas as pd
import numpy as np
import json

class DataFrameHandler(BaseRefHandler):
    def is_eligible_for(self, obj):
        return isinstance(obj, pd.DataFrame)

    def tag(self):
        return "DataFrame"

    def serialize_to_bytes(self, df):
        """Convert DataFrame to compact binary format"""
        # Store metadata + numpy bytes
        metadata = {
            "columns": df.columns.tolist(),
            "index": df.index.tolist(),
            "dtype": str(df.values.dtype)
        }
        metadata_bytes = json.dumps(metadata).encode('utf-8')
        metadata_length = len(metadata_bytes).to_bytes(4, 'big')
        numpy_bytes = df.to_numpy().tobytes()
        return metadata_length + metadata_bytes + numpy_bytes

    def deserialize_from_bytes(self, data):
        """Reconstruct DataFrame from binary format"""
        # Read metadata
        metadata_length = int.from_bytes(data[:4], 'big')
        metadata = json.loads(data[4:4+metadata_length].decode('utf-8'))
        numpy_bytes = data[4+metadata_length:]

        # Reconstruct array and DataFrame
        array = np.frombuffer(numpy_bytes, dtype=metadata['dtype'])
        array = array.reshape(len(metadata['index']), len(metadata['columns']))
        return pd.DataFrame(array, columns=metadata['columns'], index=metadata['index'])

handlers.register_handler(DataFrameHandler())

# Now DataFrames are automatically stored in optimized binary format
df = pd.DataFrame({"col1": [1, 2, 3], "col2": [4, 5, 6]})
engine.save("tenant_1", "user_1", "data", df)
'''

USE_REFS = '''
class MyDataObject:
    def __init__(self, metadata, large_array):
        self.metadata = metadata
        self.large_array = large_array  # Large numpy array or similar

    @staticmethod
    def use_refs():
        """Fields to pickle instead of JSON-serialize"""
        return {"large_array"}

# metadata goes to JSON, large_array goes to refs/ (pickled)
obj = MyDataObject({"name": "dataset_1"}, np.zeros((1000, 1000)))
engine.save("tenant_1", "user_1", "my_data", obj)
'''

MODULE = "mydb_spec_session"


class Session:
    """A user's script: one module namespace in which spec blocks run in order."""

    def __init__(self):
        self.module = types.ModuleType(MODULE)
        sys.modules[MODULE] = self.module
        self.ns = self.module.__dict__

    def run(self, code: str) -> str:
        """Execute a block verbatim; returns what it printed."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"<MyDbEngine.md {MODULE}>", "exec"), self.ns)
        return out.getvalue()

    def __getitem__(self, name):
        return self.ns[name]


@pytest.fixture
def session(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sess = Session()
    yield sess
    sys.modules.pop(MODULE, None)
    for tag in ("Date", "DataFrame"):
        handlers.unregister_handler(tag)


def read_json(path: str) -> dict:
    with open(path, "rb") as handle:
        return json.loads(handle.read())


def test_quick_start(session, tmp_path):
    printed = session.run(QUICK_START)
    assert printed == "{'theme': 'dark', 'lang': 'en'}\n"
    assert list(session["data"].items()) == [("theme", "dark"), ("lang", "en")]
    root = tmp_path / ".mytools_db"
    engine = session["engine"]
    # durable: the head and the objects are in the tenant's journal until a checkpoint
    digest = json.loads(engine.storage.read_head("tenant_1")[0])["config"]
    assert engine.storage.read_object("tenant_1", digest)
    engine.storage.checkpoint("tenant_1")
    assert read_json(str(root / "tenant_1" / "head"))["config"] == digest  # the seed's layout after it
    assert (root / "tenant_1" / "objects" / digest[:24] / digest).is_file()
    assert (root / "refs").is_dir()


def test_two_usage_patterns(session):
    session.run(QUICK_START)
    first = session["engine"].get_digest("tenant_1", "config")
    session.run(PATTERN_1)
    assert session["config"] == {"theme": "dark", "lang": "en"}
    assert session["engine"].get_digest("tenant_1", "config") == first  # unchanged: no new snapshot
    session.run(PATTERN_2)
    assert session["all_users"] == [{"name": "John", "age": 30}, {"name": "Jane", "age": 25}]


def test_basic_usage(session):
    session.run(QUICK_START)
    session.run(SAVE_AND_LOAD)
    assert session["session"] == {"users": ["alice", "bob"], "count": 2}
    assert session["old_session"] == session["session"]
    assert isinstance(session["digest"], str) and len(session["digest"]) == 64
    session.run(RECORD_UPDATES)
    assert session["alice"] == {"name": "Alice", "role": "admin"}
    assert session["all_users"] == [
        {"name": "Alice", "role": "admin"},
        {"name": "Bob", "role": "user"},
        {"name": "Charlie", "role": "user"},
    ]
    assert len(session["engine"].history("tenant_1", "users")) == 2  # put_many: one snapshot


def test_history_navigation(session):
    session.run(QUICK_START)
    # The example reads history[1]: the config needs a second version first.
    session["engine"].save("tenant_1", "user_1", "config", {"theme": "light", "lang": "en"})
    printed = session.run(HISTORY_NAVIGATION)
    assert printed == "Entry exists\n"
    assert len(session["history"]) == 2
    assert session["previous"] == {"theme": "dark", "lang": "en"}


def test_date_handler(session, tmp_path):
    session.run(QUICK_START)
    session.run(DATE_HANDLER)
    engine = session["engine"]
    import datetime

    digest = engine.save("tenant_1", "user_1", "dates", {"born": datetime.date(1990, 5, 17)})
    assert engine.load("tenant_1", "dates") == {"born": datetime.date(1990, 5, 17)}
    stored = engine.read_snapshot("tenant_1", digest)["__data__"]["born"]
    assert stored == {"__special__": "Date", "year": 1990, "month": 5, "day": 17}
    from dbengine.errors import HandlerAlreadyRegisteredError

    with pytest.raises(HandlerAlreadyRegisteredError):  # 0.2.1: a handler can only be registered once
        session.run("handlers.register_handler(DateHandler())")


def test_dataframe_handler(session, tmp_path):
    pd = pytest.importorskip("pandas")
    session.run(QUICK_START)
    session.run(DATAFRAME_HANDLER)
    engine = session["engine"]
    digest = engine.get_digest("tenant_1", "data")
    stored = engine.read_snapshot("tenant_1", digest)["__data__"]
    assert set(stored) == {"__special__", "__digest__"} and stored["__special__"] == "DataFrame"
    ref = tmp_path / ".mytools_db" / "refs" / stored["__digest__"][:24] / stored["__digest__"]
    assert ref.is_file()
    assert ref.read_bytes()[4:5] == b"{"  # the handler's own format, not a pickle
    loaded = engine.load("tenant_1", "data")
    pd.testing.assert_frame_equal(loaded, session["df"], check_index_type=False)
    # Deduplication across tenants: the same frame in another tenant adds no ref.
    refs_before = sorted(os.listdir(tmp_path / ".mytools_db" / "refs"))
    engine.init("tenant_2")
    engine.save("tenant_2", "user_9", "data", session["df"])
    assert sorted(os.listdir(tmp_path / ".mytools_db" / "refs")) == refs_before


def test_use_refs(session, tmp_path):
    np = pytest.importorskip("numpy")
    session.run(QUICK_START)
    session.run("import numpy as np\n")  # the spec's earlier block imports numpy
    session.run(USE_REFS)
    engine = session["engine"]
    stored = engine.read_snapshot("tenant_1", engine.get_digest("tenant_1", "my_data"))["__data__"]
    assert stored["__special__"] == "py/object"
    assert stored["class"] == f"{MODULE}:MyDataObject"
    assert stored["state"]["metadata"] == {"name": "dataset_1"}
    pointer = stored["state"]["large_array"]
    assert pointer["__special__"] == "py/pickle"
    assert engine.ref_size(pointer["__digest__"]) > 8_000_000
    loaded = engine.load("tenant_1", "my_data")
    assert type(loaded) is session["MyDataObject"]
    assert loaded.metadata == {"name": "dataset_1"}
    assert isinstance(loaded.large_array, np.ndarray) and loaded.large_array.shape == (1000, 1000)
    assert not loaded.large_array.any()


def test_api_reference_return_types(session):
    session.run(QUICK_START)
    engine = session["engine"]
    assert engine.is_initialized("tenant_1") is True
    assert engine.is_initialized("tenant_2") is False
    assert isinstance(engine.save("tenant_1", "u", "e", [1]), str)
    assert engine.put("tenant_1", "u", "r", "k", 1) is True
    assert engine.put_many("tenant_1", "u", "r", {"k2": 2}) is True
    assert engine.get("tenant_1", "r") == [1, 2]
    assert engine.get("tenant_1", "r", key="k2") == 2
    assert engine.exists("tenant_1", "r") is True
    history = engine.history("tenant_1", "r")
    assert isinstance(history, list) and history[0] == engine.get_digest("tenant_1", "r")
