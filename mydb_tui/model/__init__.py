"""The Textual-free model of the browser: comparisons, timeline rows, value badges.

Shared by the TUI and the `mydb` CLI; it must never import textual.
"""

from .compare import (
    Change,
    Comparison,
    DiffRow,
    Segment,
    compare_versions,
    compare_with_head,
    compare_with_parent,
)
from .pickle_scan import pickle_globals
from .timeline import TimelineRow, row_for, timeline_rows
from .values import cell_text, describe_special, is_special, pretty_json, record_columns

__all__ = [
    "Change",
    "Comparison",
    "DiffRow",
    "Segment",
    "TimelineRow",
    "cell_text",
    "compare_versions",
    "compare_with_head",
    "compare_with_parent",
    "describe_special",
    "is_special",
    "pickle_globals",
    "pretty_json",
    "record_columns",
    "row_for",
    "timeline_rows",
]
