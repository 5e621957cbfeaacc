"""DaemonThreadPool: the event loop's default executor while the app runs (quitting never waits on a worker)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

#: Seconds quitting waits for workers still running (a write finishing); then they are left behind.
EXIT_GRACE = 0.25


class DaemonThreadPool(ThreadPoolExecutor):
    """The event loop's default executor while the app runs: Textual's thread workers run here.

    Textual runs a thread worker with `loop.run_in_executor(None, ...)`. The loop's own
    default executor is a ThreadPoolExecutor, whose threads asyncio.run() and then the
    interpreter join at exit with no timeout: one worker stuck in a call that never
    returns (a FIFO read, a handler's deserialize) kept the process alive after `q`.
    Here every thread is a daemon thread, and `shutdown(wait=True)` waits at most
    `grace` seconds for the jobs still running; the process then exits without them.

    (A ThreadPoolExecutor subclass only because asyncio accepts no other default
    executor; none of its machinery is used.)
    """

    def __init__(self, grace: float = EXIT_GRACE, max_workers: int = 64) -> None:
        super().__init__(max_workers=1)
        self.grace = grace
        self._limit = max_workers
        self._jobs: queue.SimpleQueue[tuple[Future, Callable, tuple, dict] | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # one release per thread waiting for a job
        self._state = threading.Condition()
        self._started = 0
        self._running = 0
        self._closed = False

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        with self._state:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._jobs.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and self._started < self._limit:
                self._started += 1
                threading.Thread(target=self._work, name=f"mydb-worker-{self._started}", daemon=True).start()
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args, kwargs = job
            del job
            if future.set_running_or_notify_cancel():
                with self._state:
                    self._running += 1
                try:
                    result = fn(*args, **kwargs)
                except BaseException as error:  # as ThreadPoolExecutor: the future carries it
                    future.set_exception(error)
                else:
                    future.set_result(result)
                finally:
                    with self._state:
                        self._running -= 1
                        self._state.notify_all()
            del future, fn, args, kwargs
            self._idle.release()

    @property
    def running(self) -> int:
        """Jobs running now."""
        with self._state:
            return self._running

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the threads once their jobs are done; with `wait`, wait for the running
        jobs at most `grace` seconds (a job that does not return is left behind)."""
        with self._state:
            if not self._closed:
                self._closed = True
                if cancel_futures:
                    while True:
                        try:
                            job = self._jobs.get_nowait()
                        except queue.Empty:
                            break
                        if job is not None:
                            job[0].cancel()
                for _ in range(self._started):
                    self._jobs.put(None)
            if wait:
                self._state.wait_for(lambda: self._running == 0, timeout=self.grace)
