"""Repeated timing of one operation: medians, 90th percentiles and bytes written."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Sample:
    """Timings (seconds) and bytes written per run of one operation."""

    seconds: list[float] = field(default_factory=list)
    file_bytes: list[int] = field(default_factory=list)
    write_bytes: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p90(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]

    @property
    def median_file_bytes(self) -> int | None:
        return int(statistics.median(self.file_bytes)) if self.file_bytes else None

    @property
    def median_write_bytes(self) -> int | None:
        return int(statistics.median(self.write_bytes)) if self.write_bytes else None


def written_chars() -> int:
    """Bytes this process has passed to write() so far (Linux /proc/self/io `wchar`)."""
    try:
        with open("/proc/self/io", "rb") as handle:
            for line in handle:
                if line.startswith(b"wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def measure(
    run: Callable[[int], object],
    *,
    reps: int,
    budget: float,
    min_reps: int = 3,
    setup: Callable[[int], object] | None = None,
    files: Callable[[], dict[str, tuple]] | None = None,
) -> Sample:
    """Call `run(i)` up to `reps` times (at least `min_reps`, stopping once `budget` s are spent).

    `setup(i)` runs untimed before each call (e.g. a fresh engine instance). `files()`
    maps path -> size; when given, the bytes of files created or grown by each call are
    recorded (files that are replaced, like the head, count with their full new size).
    """
    sample = Sample()
    spent = 0.0
    gc.collect()
    for i in range(reps):
        if i >= min_reps and spent >= budget:
            break
        if setup is not None:
            setup(i)
        before = files() if files is not None else None
        chars = written_chars()
        start = time.perf_counter()
        run(i)
        elapsed = time.perf_counter() - start
        chars = written_chars() - chars
        spent += elapsed
        sample.seconds.append(elapsed)
        if chars >= 0:
            sample.write_bytes.append(chars)
        if before is not None:
            after = files()
            sample.file_bytes.append(_new_bytes(before, after))
    return sample


def _new_bytes(before: dict[str, tuple], after: dict[str, tuple]) -> int:
    total = 0
    for path, (size, inode, mtime) in after.items():
        old = before.get(path)
        if old is None:
            total += size  # created
        elif old[1] != inode:
            total += size  # replaced as a whole (the head)
        elif (size, mtime) != (old[0], old[2]):
            total += max(size - old[0], 0)  # appended (the history index)
    return total


def file_stamps(paths: list[str]) -> dict[str, tuple]:
    """path -> (size, inode, mtime_ns) of each existing file, for `measure(files=...)`."""
    stamps = {}
    for path in paths:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        stamps[path] = (st.st_size, st.st_ino, st.st_mtime_ns)
    return stamps


def format_seconds(value: float) -> str:
    if value >= 1.0:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.0f} µs"


def format_bytes(value: int | None) -> str:
    if value is None:
        return ""
    if value >= 1_000_000:
        return f"{value / 1e6:.2f} MB"
    if value >= 10_000:
        return f"{value / 1e3:.1f} kB"
    return f"{value} B"


def machine(*extras: str) -> str:
    """One line naming the machine (cores, CPU model, OS, Python) plus `extras`."""
    model = ""
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        pass
    parts = [f"{os.cpu_count()} cores{f' ({model})' if model else ''}", f"{platform.system()} {platform.release()}",
             f"Python {platform.python_version()}", *extras]
    return ", ".join(parts)


def load_baseline(folder: str | None) -> type | None:
    """DbEngine of another copy of the engine (MYDB_BENCH_BASELINE=<its engine/ folder>, e.g.
    main's), imported as package `dbengine_baseline`, so that its writes are timed in the
    same process, turn by turn with this engine's (a fair before/after on a busy machine)."""
    if not folder:
        return None
    package = os.path.join(folder, "dbengine")
    spec = importlib.util.spec_from_file_location("dbengine_baseline", os.path.join(package, "__init__.py"),
                                                  submodule_search_locations=[package])
    module = importlib.util.module_from_spec(spec)
    sys.modules["dbengine_baseline"] = module
    spec.loader.exec_module(module)
    return importlib.import_module("dbengine_baseline.dbengine").DbEngine


#: The heading under which a RESULTS file keeps notes written by hand (analyses of earlier runs):
#: write_results() carries that section over to the new run's file.
KEPT_HEADING = "## Earlier runs and analyses (kept by hand)"


def write_results(path: str, text: str) -> None:
    """Write a bench's RESULTS file: `text` (this run), then the hand-kept section of the file
    it replaces, if any (from KEPT_HEADING to the end), so a run never drops those notes."""
    kept = ""
    try:
        with open(path, encoding="utf-8") as old:
            previous = old.read()
    except FileNotFoundError:
        previous = ""
    at = previous.find(KEPT_HEADING)
    if at >= 0:
        kept = "\n" + previous[at:]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.rstrip("\n") + "\n" + kept)
