"""One-line views of stored values: badges for tagged values, cells, record columns."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable
from itertools import islice
from typing import Any

from dbengine.serializer import (
    DIGEST,
    SPECIAL,
    TAG_BYTES,
    TAG_DICT,
    TAG_ENUM,
    TAG_FLOAT,
    TAG_FROZENSET,
    TAG_INT,
    TAG_OBJECT,
    TAG_PICKLE,
    TAG_SET,
    TAG_TUPLE,
)

from .pickle_scan import pickle_globals
from .pretty import pretty_text

_COLLECTIONS = {TAG_TUPLE: "tuple", TAG_SET: "set", TAG_FROZENSET: "frozenset", TAG_DICT: "dict"}


def is_special(value: Any) -> bool:
    """True for a tagged stored value (a JSON object with `__special__`)."""
    return type(value) is dict and SPECIAL in value


def is_plain_dict(value: Any) -> bool:
    """True for a JSON object that is not a tagged value: its keys are its fields."""
    return type(value) is dict and SPECIAL not in value


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
    if tag == TAG_BYTES:
        text = stored.get("base64")
        size = _b64_size(text) if isinstance(text, str) else 0
        return f"⟨bytes · {human_size(size)}⟩"
    if tag == TAG_FLOAT:
        return f"⟨float {stored.get('value')}⟩"
    if tag == TAG_ENUM:
        return f"⟨{_class_name(stored.get('class'))} = {_short(stored.get('value'))}⟩"
    if tag == TAG_OBJECT:
        state = stored.get("state")
        fields = len(state) if isinstance(state, dict) else 0
        return f"⟨{_class_name(stored.get('class'))} · {fields} field{'' if fields == 1 else 's'}⟩"
    digest = stored.get(DIGEST)
    if isinstance(digest, str):
        parts = [f"{'pickle' if tag == TAG_PICKLE else tag + ' ref'} {digest[:7]}"]
        parts.extend(_ref_facts(engine, digest, pickled=tag == TAG_PICKLE))
        return "⟨" + " · ".join(parts) + "⟩"
    if tag == TAG_PICKLE:
        return "⟨pickle · no digest⟩"
    detail = _clip(" ".join(_short(v) for k, v in stored.items() if k != SPECIAL), 40)
    return f"⟨{tag} · {detail}⟩" if detail else f"⟨{tag}⟩"


# ---------------------------------------------------------------- dict keys
class DictKey(str):
    """The shown name of a dict key that is not a string: its Python form in ⟨⟩ (``⟨1⟩``,
    ``⟨None⟩``, ``⟨(1, 2)⟩``), so that it never looks like the string key ``"1"``."""

    __slots__ = ()


KEY_WIDTH = 200  # characters of a key's Python form shown (longer: cut with "…")


def key_name(stored_key: Any) -> str:
    """The name a stored dict key shows under: a string key is itself, any other key a DictKey."""
    if type(stored_key) is str:
        return stored_key
    return DictKey(f"⟨{_clip(key_repr(stored_key), KEY_WIDTH)}⟩")


def unique_names(keys: list[Any], name_of: Any = key_name) -> list[str]:
    """The names of `keys` (in order), all distinct: string keys keep their text; a key whose
    name is taken (a string key "⟨1⟩" next to the int 1, a forged duplicate) gets " (2)"..."""
    taken = {key for key in keys if type(key) is str}
    used: set[str] = set()
    names: list[str] = []
    for key in keys:
        name = key if type(key) is str else name_of(key)
        if name in used or (type(key) is not str and name in taken):
            base, n = name, 2
            while name in used or name in taken:
                name, n = DictKey(f"{base} ({n})"), n + 1
        used.add(name)
        names.append(name)
    return names


def dict_entries(stored: Any) -> list[tuple[str, Any]] | None:
    """The entries of a stored `py/dict` (a dict with non-string keys) as (name, stored value)
    pairs in order, names from `unique_names`; None when `stored` is not a well-formed py/dict."""
    if not is_special(stored) or stored.get(SPECIAL) != TAG_DICT:
        return None
    items = stored.get("items")
    if type(items) is not list or not all(type(p) is list and len(p) == 2 for p in items):
        return None
    names = unique_names([pair[0] for pair in items])
    return [(name, pair[1]) for name, pair in zip(names, items, strict=True)]


def key_repr(stored: Any, depth: int = 0) -> str:
    """A stored value written as Python would write it (for dict keys): `1`, `None`, `'a'`,
    `(1, 2)`, `frozenset({1})`, `b'x'`; other tagged values as their badge text."""
    kind = type(stored)
    if kind is str:
        return repr(stored)
    if stored is None or kind is bool or kind is float:
        return repr(stored)
    if kind is int:
        return _int_text(stored)
    if depth > 20:
        return "…"
    if kind is list:
        return "[" + ", ".join(key_repr(item, depth + 1) for item in stored[:50]) + (", …]" if len(stored) > 50 else "]")
    if kind is not dict:
        return repr(stored)
    tag = stored.get(SPECIAL)
    items = stored.get("items")
    if tag in (TAG_TUPLE, TAG_FROZENSET, TAG_SET) and type(items) is list:
        inner = ", ".join(key_repr(item, depth + 1) for item in items[:50]) + (", …" if len(items) > 50 else "")
        if tag == TAG_TUPLE:
            return f"({inner},)" if len(items) == 1 else f"({inner})"
        if not items:
            return "frozenset()" if tag == TAG_FROZENSET else "set()"
        return f"frozenset({{{inner}}})" if tag == TAG_FROZENSET else f"{{{inner}}}"
    if tag == TAG_INT and type(stored.get("hex")) is str:
        try:
            return _int_text(int(stored["hex"], 16))
        except ValueError:
            pass
    if tag == TAG_FLOAT and stored.get("value") in ("nan", "inf", "-inf"):
        return str(stored["value"])
    if tag == TAG_BYTES and type(stored.get("base64")) is str:
        try:
            return repr(base64.b64decode(stored["base64"], validate=True)[:100])
        except ValueError:
            pass
    if tag == TAG_ENUM:
        return f"{_class_name(stored.get('class'))}({key_repr(stored.get('value'), depth + 1)})"
    if SPECIAL not in stored:  # a plain dict cannot be a key; shown anyway (forged data)
        return "{" + ", ".join(f"{k!r}: {key_repr(v, depth + 1)}" for k, v in islice(stored.items(), 50)) + "}"
    return describe_special(None, stored)[1:-1]


def _int_text(value: int) -> str:
    return str(value) if value.bit_length() <= 10_000 else f"int · {value.bit_length()} bits"


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
