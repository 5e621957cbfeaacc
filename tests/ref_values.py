"""Values the engine stores with a ref: shared by the engine, fault and S3 tests."""

from __future__ import annotations

from typing import Any


class Blob:
    """A value whose `payload` field is pickled into refs/ (so a write includes a ref)."""

    def __init__(self, payload: Any):
        self.payload = payload

    @staticmethod
    def use_refs() -> set[str]:
        return {"payload"}

    def __eq__(self, other: object) -> bool:
        return type(other) is Blob and other.payload == self.payload

    __hash__ = None  # type: ignore[assignment]  # compared by payload, which may be a list
