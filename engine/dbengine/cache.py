"""A bounded LRU cache of parsed immutable objects, keyed by (tenant, digest)."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Any

#: True when a GIL makes each OrderedDict call atomic (ObjectCache.get then takes no lock);
#: a free-threaded build (3.13t) gives no such promise for OrderedDict: get locks there.
GIL = getattr(sys, "_is_gil_enabled", lambda: True)()


class ObjectCache:
    """Parsed objects never change (their name is their hash), so caching them is safe.

    The bound is the sum of the stored sizes of the cached objects.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        if not GIL:
            self.get = self._locked_get  # type: ignore[method-assign]

    def get(self, key: tuple[str, str]) -> Any | None:
        """The cached value, or None. No lock under the GIL (half the cost: a write asks
        ~1,000 times): each OrderedDict call is atomic there, and an item evicted by another
        thread between the two is still returned (its value never changes)."""
        items = self._items
        item = items.get(key)
        if item is None:
            return None
        try:
            items.move_to_end(key)
        except KeyError:  # evicted meanwhile by another thread's put
            pass
        return item[0]

    def _locked_get(self, key: tuple[str, str]) -> Any | None:
        """get() under the lock: a build without a GIL (each instance picks one when made)."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: tuple[str, str], value: Any, size: int) -> None:
        if size > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _key, (_value, old_size) = self._items.popitem(last=False)
                self._bytes -= old_size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
