"""MyDbEngine: a git-inspired versioned document database (standard library only)."""

from .dbengine import DbEngine, EntryInfo
from .errors import DbEngineError
from .versions import ChangeSummary, Version  # re-exported: the public home of these two names

__all__ = ["DbEngine", "DbEngineError", "EntryInfo", "Version", "ChangeSummary"]
__version__ = "0.4.0"
