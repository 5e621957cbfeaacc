"""History questions on the command line: `log --key/--path/-S/--user/--since/--until`,
`blame` and `search` (see DbEngine.key_history, blame, search)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from dbengine import Version
from dbengine.queries import KeyChange, parse_when

from mydb_tui.model.dates import INVALID_DATE
from mydb_tui.model.escape import hidden_in_json

from ..context import Context
from ..errors import FOUND, OK, CliError
from ..output import Column
from ..safe import safe_json, safe_text
from ..values import value_view
from .read import damage_of, version_json


def filtered(ctx: Context) -> bool:
    """True when `mydb log` was given a history filter (this module answers it)."""
    args = ctx.args
    return any(getattr(args, name, None) is not None for name in ("key", "path", "pickaxe", "who", "since", "until")) \
        or args.exit_code


def log(ctx: Context) -> int:
    """`mydb log T E` with --key/--path (versions where that record or path changed), -S TEXT
    (where the number of occurrences of TEXT changed), --user, --since, --until."""
    args = ctx.args
    engine = ctx.engine()
    tenant, entry = args.tenant, args.entry
    ctx.check_entry(engine, tenant, entry)
    head = engine.get_digest(tenant, entry)
    since, until = _date(args.since, "--since"), _date(args.until, "--until")
    limit = args.max_count
    if args.pickaxe is not None:
        if args.key is not None or args.path is not None:
            raise CliError("-S searches every record and path: give it without --key/--path")
        rows = _pickaxe_rows(engine, tenant, entry, args.pickaxe, args.who, since, until)
    elif args.key is not None or args.path is not None:
        changes = engine.key_history(tenant, entry, key=args.key, path=args.path)
        rows = ((c.version, _change_json(engine, c, args.trust_pickle)) for c in changes
                if _kept(c.version, args.who, since, until))
    else:
        rows = ((v, None) for v in engine.log(tenant, entry, max_items=None) if _kept(v, args.who, since, until))
    shown = []
    for row in rows:
        shown.append(row)
        if limit is not None and len(shown) >= limit:
            break
    if ctx.json:
        versions = []
        for version, change in shown:
            item = version_json(version, head, ctx.utc)
            if change is not None:
                item["change"] = change
            versions.append(item)
        ctx.out.json({"tenant": tenant, "entry": entry, "head": head, "versions": versions})
    else:
        _print_versions(ctx, shown, head, f"{tenant} / {entry}")
    return FOUND if args.exit_code and not shown else OK


def _pickaxe_rows(engine: Any, tenant: str, entry: str, text: str, user: str | None,
                  since: dt.datetime | None, until: dt.datetime | None) -> Iterable[tuple[Version, Any]]:
    """One row per version where TEXT's count changed, naming the records or paths."""
    current: Version | None = None
    places: list[str] = []
    for hit in engine.search(tenant, entry, text, pickaxe=True, user=user, since=since, until=until):
        if current is not None and hit.version.digest != current.digest:
            yield current, {"pickaxe": places}
            places = []
        current = hit.version
        places.append(hit.key if hit.key is not None else hit.path)
    if current is not None:
        yield current, {"pickaxe": places}


def _change_json(engine: Any, change: KeyChange, trust: bool) -> dict[str, Any]:
    def view(value: Any) -> Any:
        return None if value is None else value_view(engine, value, trust)

    return {"kind": change.kind, "old": view(change.old) if change.kind != "added" else None,
            "new": view(change.new) if change.kind != "removed" else None}


def _kept(version: Version, user: str | None, since: dt.datetime | None, until: dt.datetime | None) -> bool:
    if user is not None and version.user_id != user:
        return False
    if since is None and until is None:
        return True
    date = version.date
    return date is not None and (since is None or date >= since) and (until is None or date <= until)


def _date(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return parse_when(text)
    except ValueError as exc:
        raise CliError(f"{option}: {exc}") from None


def _print_versions(ctx: Context, rows: list[tuple[Version, Any]], head: str, title: str) -> None:
    table = []
    for version, change in rows:
        if not ctx.out.tty and damage_of(version):
            ctx.out.note(f"warning: version {version.digest[:12]}: {damage_of(version)}")
        what = "" if change is None else (", ".join(change["pickaxe"]) if "pickaxe" in change else change["kind"])
        digest = version.digest if not ctx.out.tty else version.digest[:12]
        date = (ctx.iso(version.date) if not ctx.out.tty else ctx.short_date(version.date)) or INVALID_DATE
        mark = "HEAD" if version.digest == head else ""
        table.append([(digest, "yellow"), date, version.user_id, (what, "cyan"), (mark, "green")])
    ctx.out.table([Column("digest", no_wrap=True), Column("date", no_wrap=True), Column("user"),
                   Column("change"), Column("")], table, title=title)


def blame(ctx: Context) -> int:
    """`mydb blame T E [KEY...]`: each record (or leaf path of a snapshot) and the version
    that last changed it."""
    args = ctx.args
    engine = ctx.engine()
    tenant, entry = args.tenant, args.entry
    ctx.check_entry(engine, tenant, entry)
    head = engine.get_digest(tenant, entry)
    kind = engine.entry_kind(tenant, entry)
    blamed = engine.blame(tenant, entry, keys=args.keys or None)
    field = "path" if kind == "snapshot" and not _seed_records(engine, tenant, head) else "key"
    if ctx.json:
        ctx.out.json_text(_safe(blame_json(tenant, entry, head, field, blamed, ctx.iso)))
    elif not ctx.out.tty:  # tab-separated lines, as Output.table writes them when piped
        sys.stdout.write(blame_lines(blamed, ctx.iso))
    else:
        shown: dict[str, tuple] = {}  # digest -> its cells, formatted once per version
        rows = []
        for name, version in blamed.items():
            cells = shown.get(version.digest)
            if cells is None:
                cells = shown[version.digest] = ((version.digest[:12], "yellow"), version.user_id,
                                                 ctx.short_date(version.date) or INVALID_DATE)
            rows.append([name, *cells])
        ctx.out.table([Column(field), Column("digest", no_wrap=True), Column("user"),
                       Column("date", no_wrap=True)], rows, title=f"{tenant} / {entry}")
    return FOUND if args.exit_code and not blamed else OK


def blame_json(tenant: str, entry: str, head: str, field: str, blamed: dict[str, Version],
               iso: Callable[[dt.datetime | None], str | None]) -> str:
    """The `blame --json` document exactly as json.dumps(indent=2, ensure_ascii=False) writes
    it, put together from C-encoded strings (json's indenting encoder is pure Python: seconds
    for 100,000 lines); each version's fields are encoded once."""
    encode = json.encoder.encode_basestring
    tails: dict[str, str] = {}
    for version in {id(v): v for v in blamed.values()}.values():
        date = iso(version.date)
        tails[version.digest] = (f',\n      "digest": {encode(version.digest)},\n      "user": {encode(version.user_id)},'
                                 f'\n      "date": {"null" if date is None else encode(date)}\n    }}')
    text = json.dumps({"tenant": tenant, "entry": entry, "head": head, "lines": []}, indent=2, ensure_ascii=False)
    if not blamed:
        return text
    start = f"    {{\n      {encode(field)}: "
    body = ",\n".join([start + encode(name) + tails[v.digest] for name, v in blamed.items()])
    return text[: -len("[]\n}")] + "[\n" + body + "\n  ]\n}"


def blame_lines(blamed: dict[str, Version], iso: Callable[[dt.datetime | None], str | None]) -> str:
    """`mydb blame` piped: a line per record or path, `name TAB digest TAB user TAB date`, every
    cell through safe_text unless it is printable ASCII; each version's cells made once."""
    tails: dict[str, str] = {}
    for version in {id(v): v for v in blamed.values()}.values():
        cells = (version.digest, version.user_id, iso(version.date) or INVALID_DATE)
        tails[version.digest] = "".join("\t" + _plain(cell) for cell in cells)
    lines = [_plain(name) + tails[v.digest] for name, v in blamed.items()]
    return "\n".join(lines) + "\n" if lines else ""


def _plain(text: str) -> str:
    return text if text.isascii() and text.isprintable() else safe_text(text)


#: ASCII characters safe_json escapes (DEL): text without them and without non-ASCII needs nothing.
_ASCII_HIDDEN = "".join(c for c in map(chr, range(128)) if hidden_in_json().search(c))


def _safe(text: str) -> str:
    """safe_json, skipped (a C-level scan) for ASCII text without a character it would escape."""
    if text.isascii() and not any(c in text for c in _ASCII_HIDDEN):
        return text
    return safe_json(text)


def _seed_records(engine: Any, tenant: str, head: str) -> bool:
    document = engine.read_snapshot(tenant, head)
    return document.get("__layout__") == "seed" and type(document.get("__data__")) is dict


def search(ctx: Context) -> int:
    """`mydb search T [E] TEXT [-S]`: hits streamed as they are found (version, entry, key or
    path, and the text around the match)."""
    args = ctx.args
    engine = ctx.engine()
    tenant, entry, text = args.tenant, args.entry, args.text
    if entry is None:
        ctx.check_tenant(engine, tenant)
    else:
        ctx.check_entry(engine, tenant, entry)
    since, until = _date(args.since, "--since"), _date(args.until, "--until")
    found = 0
    for hit in engine.search(tenant, entry, text, pickaxe=args.pickaxe, user=args.who, since=since, until=until):
        found += 1
        place = hit.key if hit.key is not None else hit.path
        if ctx.json:
            ctx.out.json_line({"entry": hit.entry, "digest": hit.version.digest, "user": hit.version.user_id,
                               "date": ctx.iso(hit.version.date), ("key" if hit.key is not None else "path"): place,
                               "before": hit.before, "after": hit.after, "snippet": hit.snippet})
        else:
            ctx.out.styled([(hit.version.digest[:12], "yellow"), " ", (hit.entry, "bold"), " ", (place, "cyan"),
                            " ", (f"{hit.before}→{hit.after}", "magenta") if args.pickaxe else "",
                            " " if args.pickaxe else "", hit.snippet.replace("\n", " ")])
        ctx.out.flush()  # streamed: `| head` shows the first hits at once
    return FOUND if args.exit_code and not found else OK
