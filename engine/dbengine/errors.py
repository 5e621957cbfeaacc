"""The engine's exceptions: one hierarchy under DbEngineError, each failure its own class."""

from __future__ import annotations


class DbEngineError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidNameError(DbEngineError, ValueError):
    """A tenant, entry, record key or user name that cannot be stored safely."""


class InvalidDigestError(InvalidNameError):
    """A digest that is not 64 lowercase hexadecimal characters."""


class AmbiguousDigestError(DbEngineError, LookupError):
    """A digest prefix that matches more than one version."""

    def __init__(self, message: str, candidates: list[str]):
        super().__init__(message)
        self.candidates = candidates


class NotADatabaseError(DbEngineError):
    """The root folder does not hold a MyDbEngine database."""


class NotInitializedError(DbEngineError):
    """The tenant was never initialized with init()."""


class EntryNotFoundError(DbEngineError, LookupError):
    """The tenant has no entry of that name."""


class RecordNotFoundError(DbEngineError, LookupError):
    """The record entry has no record with that key."""


class DigestNotFoundError(DbEngineError, LookupError):
    """No object, ref or version with that digest."""


class CorruptObjectError(DbEngineError):
    """A stored file whose bytes do not match its digest or cannot be parsed."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


class PatternMismatchError(DbEngineError, TypeError):
    """A record operation on a snapshot entry, or a snapshot save over a record entry."""


class HandlerAlreadyRegisteredError(DbEngineError):
    """A handler tag that is already registered (or reserved by the engine)."""


class SerializationError(DbEngineError, TypeError):
    """A value the serializer cannot store."""


class DeserializationError(DbEngineError):
    """A stored value that cannot be turned back into a Python value."""


class UnknownTagError(DeserializationError):
    """A `__special__` tag with no registered handler."""


class UntrustedPickleError(DeserializationError):
    """Unpickling was refused because the engine was not told to trust pickles."""


class InvalidDateError(DbEngineError, ValueError):
    """A date that cannot be stored or shown: text not in the stored format, or an instant
    outside the range every timezone can show (0001-01-02 to 9999-12-30 UTC)."""


class InvalidMetadataError(CorruptObjectError):
    """A version whose metadata (`__date__`, `__user_id__`, `__parent__`, `__restored_from__`)
    is malformed; `digest` names the version."""

    def __init__(self, message: str, path: str | None = None, digest: str | None = None):
        super().__init__(message, path)
        self.digest = digest


class InvalidDocumentError(DbEngineError, ValueError):
    """An edited stored-form document that fails validation; nothing was written."""


class ConflictError(DbEngineError):
    """The head moved since the caller read it (another writer won)."""


class LockTimeoutError(DbEngineError):
    """The tenant lock could not be taken in time."""


class StorageError(DbEngineError, OSError):
    """The file system refused an operation (disk full, I/O error, permission)."""


class CheckpointError(StorageError):
    """A checkpoint of every tenant that failed for some: `done` lists the tenants
    checkpointed, `failed` maps each other tenant to its error (the others were still done)."""

    def __init__(self, done: list[str], failed: dict[str, Exception]):
        reasons = "; ".join(f"{tenant!r}: {error}" for tenant, error in failed.items())
        count = len(failed)
        super().__init__(f"checkpoint failed for {count} tenant{'s' if count != 1 else ''} "
                         f"({len(done)} done): {reasons}")
        self.done = done
        self.failed = failed


class InvalidPathError(DbEngineError, ValueError):
    """A path that is not a JSON Pointer (RFC 6901), or one given where none applies."""
