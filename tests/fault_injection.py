"""Fault injection for the storage layer: make the Nth os call of the local storage modules fail.

Used in-process by tests/test_faults.py (`Faults`), and in `mydb` subprocesses through a
`sitecustomize` module (`write_sitecustomize`) driven by $MYDB_FAULT. Only calls made
directly by the modules of STORAGE_MODULES (storage.py and the modules it is made of) are
counted and failed: pytest, subprocess and the rest of the interpreter keep the real functions.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

#: The calls the storage module makes to change the disk (fdatasync: the journal), and its lock.
TARGETS = [(os, "write"), (os, "fsync"), (os, "fdatasync"), (os, "replace"), (os, "mkdir"), (os, "open"), (fcntl, "flock")]
ERRNOS = {"ENOSPC": errno.ENOSPC, "EIO": errno.EIO, "EACCES": errno.EACCES, "EROFS": errno.EROFS}
#: The modules of the local storage (`LocalStorage` and the parts it is composed of).
STORAGE_MODULES = frozenset({"dbengine.storage", "dbengine.local_objects", "dbengine.local_index",
                             "dbengine.safe_files", "dbengine.tenant_lock", "dbengine.journal_store",
                             "dbengine.journal_checkpoint", "dbengine.kept_journals", "dbengine.root_files"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class Faults:
    """Counts the storage module's os calls; fails call number `fail_at` with `err`.

    A failing `os.write` first writes half of its data (a short write, then the error, as
    a full disk does). `read_only=True` instead refuses every call that would change the
    disk (mkdir, replace, open for writing or creating, flock) as a read-only mount does.
    """

    def __init__(self, fail_at: int | None = None, err: int = errno.EIO, read_only: bool = False):
        self.fail_at = fail_at
        self.err = err
        self.read_only = read_only
        self.calls: list[str] = []
        self.fired: str | None = None
        self._guard = threading.Lock()

    def install(self, setattr_: Callable[[object, str, object], None]) -> Faults:
        """Wrap the targets with `setattr_` (monkeypatch.setattr, or plain setattr)."""
        for module, name in TARGETS:
            setattr_(module, name, self._wrap(name, getattr(module, name)))
        return self

    def _refuses(self, name: str, args: tuple) -> bool:
        if name in ("mkdir", "replace", "flock", "write"):
            return True
        if name == "open":
            flags = args[1] if len(args) > 1 else 0
            return bool(flags & _WRITE_FLAGS)
        return False

    def _wrap(self, name: str, real: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            if sys._getframe(1).f_globals.get("__name__") not in STORAGE_MODULES:
                return real(*args, **kwargs)
            with self._guard:  # the journal's fdatasync runs on a thread of its own
                self.calls.append(name)
                failing = (self._refuses(name, args) if self.read_only
                           else len(self.calls) == self.fail_at)
            if not failing:
                return real(*args, **kwargs)
            self.fired = name
            if name == "write" and not self.read_only and len(args[1]) > 1:
                real(args[0], bytes(args[1])[: len(args[1]) // 2])
            raise OSError(self.err, os.strerror(self.err))

        return wrapper


SITECUSTOMIZE = '''
"""Installed by tests/fault_injection.py: $MYDB_FAULT = "N:ERRNO" or "readonly:ERRNO"."""
import os, sys
spec = os.environ.get("MYDB_FAULT")
if spec:
    sys.path.insert(0, os.environ["MYDB_FAULT_HELPERS"])
    from fault_injection import ERRNOS, Faults
    where, name = spec.split(":")
    faults = Faults(None if where == "readonly" else int(where), ERRNOS[name], where == "readonly")
    faults.install(setattr)
    import atexit
    def _report():
        with open(os.environ["MYDB_FAULT_LOG"], "w") as out:
            out.write(f"{len(faults.calls)} {faults.fired or '-'}\\n")
    atexit.register(_report)
'''


def write_sitecustomize(folder: str) -> dict[str, str]:
    """Write the sitecustomize module into `folder`; returns the environment to use it."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "sitecustomize.py"), "w") as out:
        out.write(SITECUSTOMIZE)
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.pathsep.join(p for p in (folder, os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "MYDB_FAULT_HELPERS": here, "MYDB_FAULT_LOG": os.path.join(folder, "fault.log")}


def read_fault_log(env: dict[str, str]) -> tuple[int, str | None]:
    """(number of storage calls, name of the call that failed or None) of the last run."""
    with open(env["MYDB_FAULT_LOG"]) as handle:
        count, fired = handle.read().split()
    return int(count), None if fired == "-" else fired


def faulted(operation: Callable[[], object], faults: Faults | None,
            caught: type[Exception] | tuple[type[Exception], ...] = Exception) -> Exception | None:
    """Run `operation` with `faults` installed (None: none); the `caught` error it raised, or None."""
    import pytest  # (here: the sitecustomize of `mydb` subprocesses imports this module too)

    with pytest.MonkeyPatch.context() as mp:
        if faults is not None:
            faults.install(mp.setattr)
        try:
            operation()
        except caught as exc:
            return exc
    return None


def each_fault(template: Path, folder: Path, calls: int,
               run: Callable[[Path, Faults], Exception | None]) -> Iterator[tuple[int, str, Path, Exception | None]]:
    """For each n of 1..calls: a copy of `template` as folder/case{n}, `run` on it with its nth
    os call failing with EIO; yields (n, a label naming the call, the copy, run's error). The
    copy is removed once the caller has checked it."""
    for n in range(1, calls + 1):
        case = folder / f"case{n}"
        shutil.copytree(template, case)
        faults = Faults(fail_at=n, err=errno.EIO)
        error = run(case, faults)
        yield n, f"call {n}/{calls} ({faults.fired})", case, error
        shutil.rmtree(case)
