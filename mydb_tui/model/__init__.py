"""The Textual-free model of the browser: comparisons, timeline rows, value badges.

Shared by the TUI and the `mydb` CLI; it must never import textual.
"""

from importlib import import_module
from typing import Any

# Names load on first use: `compare` pulls in DeepDiff (~0.4 s), which only diffs need.
_HOMES = {
    "Change": "compare", "Comparison": "compare", "DiffRow": "compare", "Segment": "compare",
    "compare_versions": "compare", "compare_with_head": "compare", "compare_with_parent": "compare",
    "pickle_globals": "pickle_scan",
    "TimelineRow": "timeline", "row_for": "timeline", "timeline_rows": "timeline",
    "cell_text": "values", "describe_special": "values", "is_special": "values",
    "pretty_json": "values", "record_columns": "values",
    "DictKey": "values", "dict_entries": "values", "key_name": "values", "unique_names": "values",
    "INVALID_DATE": "dates", "iso_date": "dates", "local_time": "dates",
    "display_safe": "escape", "json_escapes": "escape",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)


__all__ = [
    "INVALID_DATE",
    "Change",
    "Comparison",
    "DictKey",
    "DiffRow",
    "Segment",
    "TimelineRow",
    "cell_text",
    "compare_versions",
    "compare_with_head",
    "compare_with_parent",
    "describe_special",
    "dict_entries",
    "display_safe",
    "is_special",
    "iso_date",
    "json_escapes",
    "key_name",
    "local_time",
    "pickle_globals",
    "pretty_json",
    "record_columns",
    "row_for",
    "timeline_rows",
    "unique_names",
]
