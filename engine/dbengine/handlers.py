"""Custom serialization handlers and the registry the serializer consults.

An inline handler stores a value as a small JSON object tagged with `__special__`;
a ref handler stores it as bytes in the shared `refs/` folder and keeps only the tag
and the digest in the snapshot.
"""

from __future__ import annotations

import threading
from typing import Any

from .errors import HandlerAlreadyRegisteredError

#: Tags the engine uses for its own encodings; no handler may claim them.
RESERVED_TAG_PREFIX = "py/"


class BaseHandler:
    """Common interface: which objects the handler takes, and the tag it writes."""

    def is_eligible_for(self, obj: Any) -> bool:
        raise NotImplementedError

    def tag(self) -> str:
        raise NotImplementedError


class BaseInlineHandler(BaseHandler):
    """Stores a value inline, as a JSON dict carrying `"__special__": tag()`."""

    def serialize(self, obj: Any) -> dict:
        raise NotImplementedError

    def deserialize(self, data: dict) -> Any:
        raise NotImplementedError


class BaseRefHandler(BaseHandler):
    """Stores a value as bytes in `refs/`; the snapshot holds the tag and digest."""

    def serialize_to_bytes(self, obj: Any) -> bytes:
        raise NotImplementedError

    def deserialize_from_bytes(self, data: bytes) -> Any:
        raise NotImplementedError


class HandlerRegistry:
    """The registered handlers, consulted in registration order; one handler per tag."""

    def __init__(self) -> None:
        self._handlers: list[BaseHandler] = []
        self._by_tag: dict[str, BaseHandler] = {}
        self._lock = threading.Lock()

    def register_handler(self, handler: BaseHandler) -> None:
        """Register `handler`; a tag already registered (or reserved) raises."""
        if not isinstance(handler, (BaseInlineHandler, BaseRefHandler)):
            raise TypeError("a handler must derive from BaseInlineHandler or BaseRefHandler")
        tag = handler.tag()
        if not isinstance(tag, str) or not tag:
            raise TypeError(f"handler tag must be a non-empty string, got {tag!r}")
        if tag.startswith(RESERVED_TAG_PREFIX):
            raise HandlerAlreadyRegisteredError(
                f"tag {tag!r} is reserved by the engine (tags starting with {RESERVED_TAG_PREFIX!r})"
            )
        with self._lock:
            if tag in self._by_tag:
                raise HandlerAlreadyRegisteredError(f"a handler for tag {tag!r} is already registered")
            self._handlers.append(handler)
            self._by_tag[tag] = handler

    def unregister_handler(self, tag: str) -> bool:
        """Remove the handler for `tag`; returns False if there was none."""
        with self._lock:
            handler = self._by_tag.pop(tag, None)
            if handler is None:
                return False
            self._handlers.remove(handler)
            return True

    def get_handler(self, obj: Any) -> BaseHandler | None:
        """The first registered handler eligible for `obj`, or None."""
        for handler in self._handlers:
            if handler.is_eligible_for(obj):
                return handler
        return None

    def get_handler_by_tag(self, tag: str) -> BaseHandler | None:
        return self._by_tag.get(tag)

    def tags(self) -> list[str]:
        return list(self._by_tag)

    def __bool__(self) -> bool:
        return bool(self._handlers)

    def __len__(self) -> int:
        return len(self._handlers)


#: The process-wide registry, as the spec uses it: `handlers.register_handler(...)`.
handlers = HandlerRegistry()
