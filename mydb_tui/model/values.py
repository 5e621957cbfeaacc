"""One-line views of stored values: badges for tagged values, cells, record columns."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable
from itertools import islice
from typing import Any

from .pickle_scan import pickle_globals
from .pretty import pretty_text

SPECIAL = "__special__"
DIGEST = "__digest__"
_COLLECTIONS = {"py/tuple": "tuple", "py/set": "set", "py/frozenset": "frozenset", "py/dict": "dict"}


def is_special(value: Any) -> bool:
    """True for a tagged stored value (a JSON object with `__special__`)."""
    return type(value) is dict and SPECIAL in value


def pretty_json(stored: Any) -> str:
    """The stored value as pretty JSON (indent 2, non-ASCII kept), safe for deep values."""
    return pretty_text(stored)


def human_size(size: int) -> str:
    """`512 B`, `2.3 KB`, `8.0 MB`."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def describe_special(engine: Any, stored: dict) -> str:
    """A one-line badge for a tagged value, e.g. `⟨pickle 1a2b3c4 · 8.0 MB · numpy.ndarray⟩`.

    `engine` (may be None) is used to size refs and to scan pickles; nothing is decoded.
    """
    tag = stored.get(SPECIAL)
    if not isinstance(tag, str):
        return "⟨invalid tag⟩"
    if tag in _COLLECTIONS:
        items = stored.get("items")
        count = len(items) if isinstance(items, list) else 0
        return f"⟨{_COLLECTIONS[tag]} · {count} item{'' if count == 1 else 's'}⟩"
    if tag == "py/bytes":
        text = stored.get("base64")
        size = _b64_size(text) if isinstance(text, str) else 0
        return f"⟨bytes · {human_size(size)}⟩"
    if tag == "py/float":
        return f"⟨float {stored.get('value')}⟩"
    if tag == "py/enum":
        return f"⟨{_class_name(stored.get('class'))} = {_short(stored.get('value'))}⟩"
    if tag == "py/object":
        state = stored.get("state")
        fields = len(state) if isinstance(state, dict) else 0
        return f"⟨{_class_name(stored.get('class'))} · {fields} field{'' if fields == 1 else 's'}⟩"
    digest = stored.get(DIGEST)
    if isinstance(digest, str):
        parts = [f"{'pickle' if tag == 'py/pickle' else tag + ' ref'} {digest[:7]}"]
        parts.extend(_ref_facts(engine, digest, pickled=tag == "py/pickle"))
        return "⟨" + " · ".join(parts) + "⟩"
    if tag == "py/pickle":
        return "⟨pickle · no digest⟩"
    detail = _clip(" ".join(_short(v) for k, v in stored.items() if k != SPECIAL), 40)
    return f"⟨{tag} · {detail}⟩" if detail else f"⟨{tag}⟩"


def cell_text(value: Any, width: int = 40, engine: Any = None) -> str:
    """A one-line, truncated rendering of a stored value for a table cell."""
    if is_special(value):
        return describe_special(engine, value)
    if isinstance(value, str):
        text = value
    elif type(value) in (dict, list):
        text = _compact(value, width + 1)
    else:
        text = json.dumps(value)
    return _clip(" ".join(text.split()) if "\n" in text or "\t" in text else text, width)


def record_columns(values: Iterable[Any], limit: int = 8) -> list[str]:
    """The most common top-level field names of dict records (the first 2,000 of `values`),
    in first-seen order."""
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for stored in islice(values, 2000):
        if type(stored) is dict and SPECIAL not in stored:
            for name in stored:
                counts[name] += 1
                first_seen.setdefault(name, len(first_seen))
    chosen = sorted(counts, key=lambda n: (-counts[n], first_seen[n]))[:limit]
    return sorted(chosen, key=first_seen.__getitem__)


# ---------------------------------------------------------------- helpers
def _ref_facts(engine: Any, digest: str, pickled: bool) -> list[str]:
    if engine is None:
        return []
    try:
        facts = [human_size(engine.ref_size(digest))]
    except Exception:
        return ["missing"]
    if pickled:
        names = _pickle_names(engine, digest)
        if names:
            shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
            facts.append(shown)
    return facts


_NAMES: dict[str, tuple[str, ...]] = {}  # refs are content-addressed: digest -> names


def _pickle_names(engine: Any, digest: str) -> list[str]:
    """The globals a pickled ref names (scanned once per digest; unreadable: none)."""
    cached = _NAMES.get(digest)
    if cached is None:
        try:
            cached = tuple(pickle_globals(engine.read_ref(digest)))
        except Exception:
            return []
        _NAMES[digest] = cached
        if len(_NAMES) > 512:
            _NAMES.pop(next(iter(_NAMES)))
    return list(cached)


def _b64_size(text: str) -> int:
    try:
        return len(base64.b64decode(text, validate=True))
    except ValueError:
        return len(text) * 3 // 4


def _class_name(path: Any) -> str:
    if not isinstance(path, str):
        return "object"
    return path.split(":", 1)[-1]


def _short(value: Any, width: int = 20) -> str:
    if is_special(value):
        return f"⟨{value.get(SPECIAL)}⟩"
    text = value if isinstance(value, str) else _compact(value, width + 1)
    return _clip(text, width)


def _compact(value: Any, width: int) -> str:
    """Compact JSON, cut early for big values (never renders more than needed)."""
    try:
        if type(value) in (dict, list) and len(value) > width:
            value = dict(islice(value.items(), width)) if type(value) is dict else value[:width]
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError, RecursionError):
        return repr(value)[:width]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"
