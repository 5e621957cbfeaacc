"""The engine's shape: both storage backends implement the Storage protocol, and the
engine's modules import each other without circles (stdlib only: an AST walk)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from dbengine.s3storage import S3Storage
from dbengine.storage import LocalStorage
from dbengine.storage_protocol import Storage

ENGINE = Path(__file__).resolve().parents[1] / "engine" / "dbengine"
# the local backend: LocalStorage (storage.py) and the modules it is composed of
LOCAL_STORAGE_MODULES = ("storage", "local_objects", "local_index", "safe_files", "tenant_lock", "journal_store",
                         "journal_checkpoint", "kept_journals", "root_files")
# the S3 backend: S3Storage (s3storage.py) and the modules it is composed of
S3_STORAGE_MODULES = ("s3storage", "s3requests", "s3index", "s3packs")
PROTOCOL_MEMBERS = sorted(
    name for name in {*vars(Storage), *Storage.__annotations__}
    if not name.startswith("_") and name not in {"mro"}
)


def _shape(function) -> list[tuple[str, object, object]]:
    """Parameter names, kinds and defaults (annotations differ: each backend has its token type)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("backend", [LocalStorage, S3Storage])
def test_every_backend_provides_the_protocol_with_its_signatures(backend: type) -> None:
    assert len(PROTOCOL_MEMBERS) > 40  # the protocol itself is read right
    for name in PROTOCOL_MEMBERS:
        assert hasattr(backend, name), f"{backend.__name__} lacks {name}"
        expected = getattr(Storage, name, None)
        if callable(expected):
            assert _shape(getattr(backend, name)) == _shape(expected), f"{backend.__name__}.{name}"


def test_a_local_storage_is_a_storage(tmp_path: Path) -> None:
    assert isinstance(LocalStorage(str(tmp_path)), Storage)
    assert not isinstance(object(), Storage)


def _imports(path: Path, package: set[str]) -> set[str]:
    """The engine modules `path` imports, at module level or inside functions; imports under
    `if TYPE_CHECKING:` are left out (they never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [alias.name for alias in node.names]
            found.update(name.split(".")[0] for name in names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("dbengine."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("dbengine."))
    return found & package


def import_cycles(folder: Path) -> list[list[str]]:
    """Every elementary import circle among the modules of `folder`, each as a path."""
    modules = {p.stem: p for p in folder.glob("*.py") if p.stem != "__init__"}
    graph = {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}
    cycles: list[list[str]] = []
    for start in sorted(graph):  # each circle once: from its smallest module name
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start:
                    cycles.append(path + [start])
                elif nxt > start and nxt not in path:
                    stack.append((nxt, path + [nxt]))
    return cycles


def test_the_engine_modules_import_each_other_without_circles() -> None:
    cycles = import_cycles(ENGINE)
    assert cycles == [], "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_circle_made_by_a_function_level_import(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from .b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from .c import y\n")
    (tmp_path / "c.py").write_text("from . import a\n")
    (tmp_path / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import z\n")
    assert import_cycles(tmp_path) == [["a", "b", "c", "a"]]


# the modules that parse or build history index lines (backends store their bytes unparsed)
INDEX_FORMAT_MODULES = {"index_format", "index_columns", "index_state", "history_index", "index_window"}


def test_backends_know_no_index_format_and_transfer_verify_no_engine_internals() -> None:
    package = {p.stem for p in ENGINE.glob("*.py")}
    assert INDEX_FORMAT_MODULES <= package  # a renamed module would leave the check below empty
    for backend in (*LOCAL_STORAGE_MODULES, *S3_STORAGE_MODULES):
        assert not _imports(ENGINE / f"{backend}.py", package) & INDEX_FORMAT_MODULES, backend
    for module in ("transfer", "verify"):
        tree = ast.parse((ENGINE / f"{module}.py").read_text(encoding="utf-8"))
        assert "dbengine" not in _imports(ENGINE / f"{module}.py", package), module
        private = sorted({node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                          and node.attr.startswith("_") and not node.attr.startswith("__")})
        assert private == [], f"{module} reaches into private members {private}"
        imported = sorted({alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                           for alias in node.names if alias.name.startswith("_")})
        assert imported == [], f"{module} imports private helpers {imported}"


# Tests and benchmarks patch these limits where they are defined; a module importing one by
# name would hold a copy that such a patch never reaches.
JOURNAL_KNOBS = {"journal_store": {"JOURNAL_LIMIT", "OBJECT_JOURNAL_LIMIT", "PENDING_LIMIT", "WRITE_WORKERS",
                                   "OVERLAP_SYNC"},
                 "kept_journals": {"JOURNAL_INDEX_MAX"}}


# The S3 backend's limits tests patch (tests/s3): each where it is used, never imported by name.
S3_KNOBS = {"s3index": {"SEGMENT_LINES"},
            "s3requests": {"ATTEMPTS", "BACKOFF_BASE", "BACKOFF_CAP", "DEFAULT_DEADLINE", "CONNECT_TIMEOUT",
                           "READ_TIMEOUT"}}


@pytest.mark.parametrize("knobs_by_module", [JOURNAL_KNOBS, S3_KNOBS], ids=["journal", "s3"])
def test_the_knobs_tests_patch_live_in_one_module_each(knobs_by_module: dict[str, set[str]]) -> None:
    import importlib

    knobs = set().union(*knobs_by_module.values())
    for module, names in knobs_by_module.items():
        assert names <= set(vars(importlib.import_module(f"dbengine.{module}"))), module
    for path in ENGINE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        assert not imported & knobs, f"{path.name} imports {sorted(imported & knobs)} by name"
        if path.stem not in knobs_by_module:
            defined = {target.id for node in tree.body if isinstance(node, ast.Assign)
                       for target in node.targets if isinstance(target, ast.Name)}
            assert not defined & knobs, f"{path.name} defines its own {sorted(defined & knobs)}"


def test_fault_injection_counts_the_os_calls_of_every_local_storage_module() -> None:
    """tests/fault_injection.py counts and fails only the calls made from STORAGE_MODULES: every
    module of the local backend is there, and no other engine module makes one of its target calls."""
    from fault_injection import STORAGE_MODULES, TARGETS

    names = {name for _module, name in TARGETS}
    for path in ENGINE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = {node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                 and node.func.value.id in ("os", "fcntl") and node.func.attr in names}
        module = f"dbengine.{path.stem}"
        if path.stem in LOCAL_STORAGE_MODULES:
            assert module in STORAGE_MODULES, (module, calls)
        else:
            assert module not in STORAGE_MODULES and not calls, (module, calls)  # no other module writes files
