"""dbengine.pool.daemon_map: order, errors, and threads that never hold up exit."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from dbengine.pool import daemon_map


def test_results_come_back_in_order_from_several_threads():
    seen = set()

    def work(i):
        seen.add(threading.current_thread().name)
        time.sleep(0.01)
        return i * i

    assert daemon_map(work, range(20), 4) == [i * i for i in range(20)]
    assert len(seen) > 1 and all(name.startswith("mydb-read") for name in seen)


def test_the_first_error_stops_the_items_not_started():
    started = []

    def work(i):
        started.append(i)
        if i == 2:
            raise ValueError("two")
        time.sleep(0.05)
        return i

    with pytest.raises(ValueError, match="two"):
        daemon_map(work, range(100), 2)
    assert len(started) < 10


STUCK = """
import threading, time
from dbengine.pool import daemon_map
gate = threading.Event()
def work(i):
    if i == 0:
        gate.wait()  # stuck for good, like a request to a silent endpoint
    return i
t = threading.Thread(target=lambda: daemon_map(work, [0, 1, 2], 2), daemon=True)
t.start()
time.sleep(0.2)
print("exiting", flush=True)
"""


def test_a_stuck_item_never_holds_up_the_interpreter_exit():
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", STUCK], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "exiting" in result.stdout, result.stderr
    assert time.monotonic() - started < 10  # a joined pool thread would never end
