"""Custom value types of the demo database and their handlers.

Importing this module registers the handlers (idempotently), so `mydb-tui --handlers
mydb_tui.demo_types` can decode them: `Money` (an inline handler), `Thumbnail` (a ref
handler: a tiny binary image format in refs/) and `Report` (a plain object whose large
`samples` field is pickled into refs/ through `use_refs`).
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dbengine.errors import HandlerAlreadyRegisteredError
from dbengine.handlers import BaseInlineHandler, BaseRefHandler, HandlerRegistry, handlers
from dbengine.serializer import SPECIAL

MONEY_TAG = "demo/money"
THUMBNAIL_TAG = "demo/thumbnail"
_THUMB_MAGIC = b"THMB"


@dataclass(frozen=True)
class Money:
    """An exact amount in a currency (stored inline as two strings)."""

    amount: Decimal
    currency: str = "EUR"

    def __str__(self) -> str:
        return f"{self.amount:.2f} {self.currency}"


@dataclass(frozen=True)
class Thumbnail:
    """A small grayscale image: width × height bytes of pixels."""

    width: int
    height: int
    pixels: bytes

    def to_bytes(self) -> bytes:
        return _THUMB_MAGIC + struct.pack(">HH", self.width, self.height) + self.pixels

    @classmethod
    def from_bytes(cls, data: bytes) -> Thumbnail:
        if data[:4] != _THUMB_MAGIC or len(data) < 8:
            raise ValueError("not a THMB thumbnail")
        width, height = struct.unpack(">HH", data[4:8])
        pixels = data[8:]
        if len(pixels) != width * height:
            raise ValueError(f"thumbnail of {width}x{height} has {len(pixels)} pixel bytes")
        return cls(width, height, pixels)


@dataclass
class Report:
    """A quarterly report; its bulky `samples` go to refs/ as a pickle (use_refs)."""

    title: str
    quarter: str
    summary: dict = field(default_factory=dict)
    samples: list = field(default_factory=list)

    def use_refs(self) -> list[str]:
        return ["samples"]


class MoneyHandler(BaseInlineHandler):
    def is_eligible_for(self, obj: Any) -> bool:
        return isinstance(obj, Money)

    def tag(self) -> str:
        return MONEY_TAG

    def serialize(self, obj: Money) -> dict:
        return {SPECIAL: MONEY_TAG, "amount": str(obj.amount), "currency": obj.currency}

    def deserialize(self, data: dict) -> Money:
        return Money(Decimal(data["amount"]), data["currency"])


class ThumbnailHandler(BaseRefHandler):
    def is_eligible_for(self, obj: Any) -> bool:
        return isinstance(obj, Thumbnail)

    def tag(self) -> str:
        return THUMBNAIL_TAG

    def serialize_to_bytes(self, obj: Thumbnail) -> bytes:
        return obj.to_bytes()

    def deserialize_from_bytes(self, data: bytes) -> Thumbnail:
        return Thumbnail.from_bytes(data)


def register(registry: HandlerRegistry = handlers) -> None:
    """Register the demo handlers unless their tags already are (safe to call twice)."""
    for handler in (MoneyHandler(), ThumbnailHandler()):
        if registry.get_handler_by_tag(handler.tag()) is None:
            with contextlib.suppress(HandlerAlreadyRegisteredError):  # another thread won
                registry.register_handler(handler)


register()
