"""Read commands: tenants, entries, log, show."""

from __future__ import annotations

from typing import Any

from dbengine import Version
from dbengine.errors import DbEngineError, RecordNotFoundError
from dbengine.utils import gc_paused

from mydb_tui.model.dates import INVALID_DATE, zoned_iso, zoned_iso_texts
from mydb_tui.model.entries import EntryListing, list_entries

from ..context import Context, did_you_mean, resolve
from ..errors import ERROR, OK, CliError, fail, message_of
from ..output import Cell, Column
from ..values import value_view


def tenants(ctx: Context) -> int:
    """`mydb tenants`: every tenant with its number of entries."""
    engine = ctx.engine()
    found = [{"name": t, "entries": len(engine.entries(t))} for t in engine.tenants()]
    if ctx.json:
        ctx.out.json({"root": ctx.root, "tenants": found})
        return OK
    ctx.out.table(
        [Column("tenant", style="bold"), Column("entries", justify="right")],
        [[t["name"], str(t["entries"])] for t in found],
    )
    return OK


NO_TENANT = ("the database at {root!r} has no tenant yet: add a record with "
             "`mydb put TENANT ENTRY KEY JSON`, e.g. mydb put acme users alice '{{\"age\": 31}}'")


def entries(ctx: Context) -> int:
    """`mydb entries [TENANT]`: name, kind, number of versions, head and when/who wrote it;
    without TENANT, every tenant's entries (a "tenant" field / first column says whose).

    An entry that cannot be read (a damaged head object, a name from a forged head that is
    not a valid entry name) is one error line on stderr; the others are still listed (exit 2).
    """
    with gc_paused():  # 100,000 rows of small objects: a full collection pass only costs time
        return _entries(ctx)


def _entries(ctx: Context) -> int:
    engine = ctx.engine()
    every = ctx.args.tenant is None
    if every:
        tenants_ = engine.tenants()
        if not tenants_:
            if ctx.json:
                ctx.out.json({"tenant": None, "entries": [], "errors": []})
            else:
                ctx.out.note(NO_TENANT.format(root=ctx.root))
            return OK
    else:
        ctx.check_tenant(engine, ctx.args.tenant)
        tenants_ = [ctx.args.tenant]
    if ctx.out.tty and not ctx.json:  # a person reads it: dates as the History pane shows them
        def format_dates(moments: dict) -> dict:
            return {text: ctx.short_date(moment) for text, moment in moments.items()}
    else:
        def format_dates(moments: dict) -> dict:
            return zoned_iso_texts(moments, ctx.utc)
    listed = [list_entries(engine, tenant, format_dates) for tenant in tenants_]
    status = _report_errors(ctx, [(f"{f'tenant {_clip(t.tenant)!r}: ' if every else ''}entry {_clip(name)!r}",
                                   message_of(error)) for t in listed for name, error in t.errors])
    if ctx.json:
        if every:
            ctx.out.json({"tenant": None, "entries": [row for t in listed for row in _json_rows(t, True)],
                          "errors": [{"tenant": t.tenant, "name": name, "message": message_of(error)}
                                     for t in listed for name, error in t.errors]})
        else:
            ctx.out.json({"tenant": listed[0].tenant, "entries": _json_rows(listed[0], False),
                          "errors": [{"name": name, "message": message_of(error)} for name, error in listed[0].errors]})
        return status
    if not ctx.out.tty:
        for t in listed:
            for i in _damaged_rows(t):
                where = f"tenant {_clip(t.tenant)!r}: " if every else ""
                ctx.out.note(f"warning: {where}entry {_clip(t.names[i])!r}: head {t.heads[i][:12]}: {t.damage[i]}")
            dates = [INVALID_DATE if d is None else d for d in t.dates] if None in t.dates else t.dates
            shift = 1 if every else 0  # kind, versions, head and date are the engine's and ours: ASCII
            ctx.out.columns([*([[t.tenant] * len(t.names)] if every else []), t.names, t.kinds, t.version_texts,
                             t.heads, dates, t.users], known=frozenset(range(shift + 1, shift + 5)))
        return status
    for t in listed:
        damaged = t.damage is not None
        cells = [[name, kind, versions, (head[:7], "yellow"), _date_cell(date), user,
                  *_damage_cells(damaged, t.damage[i] if damaged else None)]
                 for i, (name, kind, versions, head, date, user)
                 in enumerate(zip(t.names, t.kinds, t.version_texts, t.heads, t.dates, t.users, strict=True))]
        ctx.out.table([Column("entry", style="bold"), Column("kind"), Column("versions", justify="right"),
                       Column("head", no_wrap=True), Column("date", no_wrap=True), Column("user"),
                       *_damage_columns(damaged)], cells, title=f"tenant {t.tenant}")
    return status


def _damaged_rows(listing: EntryListing) -> list[int]:
    """The rows whose head has damaged metadata."""
    damage = listing.damage
    return [] if damage is None else [i for i, text in enumerate(damage) if text is not None]


def _json_rows(listing: EntryListing, with_tenant: bool) -> list[dict]:
    """The `entries` objects of --json: name, kind, versions, head, date, user (and damage
    where there is some; tenant first without a TENANT argument)."""
    rows = [{"name": name, "kind": kind, "versions": versions, "head": head, "date": date, "user": user}
            for name, kind, versions, head, date, user in zip(listing.names, listing.kinds, listing.versions,
                                                              listing.heads, listing.dates, listing.users, strict=True)]
    for i in _damaged_rows(listing):
        rows[i]["damage"] = listing.damage[i]
    if with_tenant:
        rows = [{"tenant": listing.tenant, **row} for row in rows]
    return rows


def _clip(name: str, width: int = 60) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def damage_of(version: Version) -> str | None:
    """What is wrong with a version's metadata (the engine's `Version.damage`), None when fine."""
    return getattr(version, "damage", None)


def _damage_field(version: Version) -> dict[str, str]:
    """`{"damage": text}` for a version with damaged metadata, else nothing (the JSON shapes
    gain the field only where there is something to say)."""
    damage = damage_of(version)
    return {} if damage is None else {"damage": damage}


def _report_errors(ctx: Context, errors: list[tuple[str, str]]) -> int:
    """One `mydb: error:` line per (what, message); ERROR when there were any."""
    for what, message in errors:
        fail(f"{what}: {message}")
    return ERROR if errors else OK


def _date_cell(date: str) -> Cell:
    return (date, "bold red") if date == INVALID_DATE else date


def _damage_columns(shown: bool) -> list[Column]:
    """The ⚠ column of a table, there only when some row is damaged."""
    return [Column("damage")] if shown else []


def _damage_cells(shown: bool, damage: str | None) -> list[Cell]:
    if not shown:
        return []
    return [(f"⚠ {damage}", "bold red") if damage else ""]


def version_json(version: Version, head: str, utc: bool = False) -> dict[str, Any]:
    """The `--json` shape of one version (log); `date` is ISO 8601 in local time (UTC with
    `utc`); when the stored metadata is damaged, `date` may be null and a `damage` field says
    what is wrong."""
    summary = version.summary
    return {
        "digest": version.digest,
        "parents": list(version.parents),
        "user": version.user_id,
        "date": zoned_iso(version.date, utc),
        "summary": None if summary is None else
        {"added": summary.added, "changed": summary.changed, "removed": summary.removed},
        "restored_from": version.restored_from,
        "is_head": version.digest == head,
        **_damage_field(version),
    }


def log(ctx: Context) -> int:
    """`mydb log TENANT ENTRY [-n N]`: versions newest first (a damaged version's date shows as
    "invalid date" and its damage is marked: a note on stderr when piped)."""
    engine = ctx.engine()
    tenant, entry = ctx.args.tenant, ctx.args.entry
    ctx.check_entry(engine, tenant, entry)
    head = engine.get_digest(tenant, entry)
    versions = engine.log(tenant, entry, max_items=ctx.args.max_count)
    if ctx.json:
        ctx.out.json({"tenant": tenant, "entry": entry, "head": head,
                      "versions": [version_json(v, head, ctx.utc) for v in versions]})
        return OK
    if not ctx.out.tty:
        for v in versions:
            if damage_of(v):
                ctx.out.note(f"warning: version {v.digest[:12]}: {damage_of(v)}")
        ctx.out.table([], [[v.digest, ctx.iso(v.date) or INVALID_DATE, v.user_id,
                            str(v.summary) if v.summary is not None else "-",
                            v.restored_from or "-"] for v in versions])
        return OK
    from mydb_tui.model.timeline import timeline_rows

    rows = []
    timeline = timeline_rows(versions, head)
    damaged = any(row.damage for row in timeline)
    for row, version in zip(timeline, versions, strict=True):
        marks = []
        if row.is_head:
            marks.append("HEAD")
        if row.restored_from:
            marks.append(f"restored from {row.restored_from}")
        rows.append([(row.short, "yellow"), _date_cell(ctx.short_date(version.date)), row.user, (row.summary, "cyan"),
                     (", ".join(marks), "green"), *_damage_cells(damaged, row.damage)])
    ctx.out.table([Column("digest", no_wrap=True), Column("date", no_wrap=True), Column("user"),
                   Column("changes", no_wrap=True), Column(""), *_damage_columns(damaged)], rows,
                  title=f"{tenant} / {entry}")
    return OK


def show(ctx: Context) -> int:
    """`mydb show TENANT ENTRY [REV] [--key KEY] [--raw]`: the value (or stored document) of a
    version as JSON; with --key, one record (as `mydb get`)."""
    if ctx.args.key is not None:
        return _show_record(ctx, ctx.args.key)
    args = ctx.args
    engine, tenant, entry, digest, document = _version_to_show(ctx)
    kind = document["__kind__"]
    records = engine.read_records(tenant, digest) if kind == "records" else None
    version, damage = _version_of(engine, tenant, entry, digest)
    if args.raw:
        shown: Any = document if records is None else {"document": document, "records": records}
        result = {"tenant": tenant, "entry": entry, "kind": kind, "digest": digest,
                  "document": document, "records": records}
    else:
        if records is None:
            shown = value_view(engine, document["__data__"], args.trust_pickle)
        else:
            shown = {key: value_view(engine, value, args.trust_pickle) for key, value in records.items()}
        result = {"tenant": tenant, "entry": entry, "kind": kind, "digest": digest, "value": shown}
    return _print_value(ctx, engine, result, shown, version, damage, f"{tenant} / {entry} ")


def _version_to_show(ctx: Context) -> tuple[Any, str, str, str, dict]:
    """(engine, tenant, entry, digest, stored document) of the TENANT ENTRY [REV] asked for."""
    engine = ctx.engine()
    tenant, entry = ctx.args.tenant, ctx.args.entry
    ctx.check_entry(engine, tenant, entry)
    digest = resolve(engine, tenant, entry, ctx.args.rev)
    return engine, tenant, entry, digest, engine.read_snapshot(tenant, digest)


def get(ctx: Context) -> int:
    """`mydb get TENANT ENTRY KEY [REV] [--raw]`: one record of a record entry as JSON."""
    return _show_record(ctx, ctx.args.key)


def _show_record(ctx: Context, key: str) -> int:
    """One record at REV: the same conventions as `show` (a header line on a terminal, the
    value as JSON; --json: the value inside a result object; --raw: the stored form)."""
    args = ctx.args
    engine, tenant, entry, digest, document = _version_to_show(ctx)
    kind = document["__kind__"]
    stored = _stored_record(ctx, engine, document, digest, key)
    version, damage = _version_of(engine, tenant, entry, digest)
    result: dict[str, Any] = {"tenant": tenant, "entry": entry, "kind": kind, "digest": digest, "key": key}
    if args.raw:
        shown = result["stored"] = stored
    else:
        shown = result["value"] = value_view(engine, stored, args.trust_pickle)
    return _print_value(ctx, engine, result, shown, version, damage, f"{tenant} / {entry} / {key} ")


def _stored_record(ctx: Context, engine: Any, document: dict, digest: str, key: str) -> Any:
    """The stored form of record `key` of the version `document`, or a one-line error (a
    snapshot entry, a missing record: with "did you mean …?" over the version's keys)."""
    from dbengine.versions import is_seed_layout

    args = ctx.args
    tenant, entry = args.tenant, args.entry
    if document["__kind__"] == "records":
        try:
            return engine.read_record(tenant, entry, key, digest)
        except RecordNotFoundError:
            known = engine.record_keys(tenant, digest)
    elif is_seed_layout(document) and type(document.get("__data__")) is dict:  # the seed's flat records
        data = document["__data__"]
        if key in data:
            return data[key]
        known = list(data)
    else:
        raise CliError(f"entry {entry!r} of tenant {tenant!r} is a snapshot entry: it has no records "
                       f"(its value: `mydb show {tenant} {entry}`)")
    at = "HEAD" if args.rev == "HEAD" else f"{args.rev} ({digest[:12]})"
    where = f"no record {key!r} in entry {entry!r} of tenant {tenant!r} at {at}"
    if not known:
        raise CliError(f"{where}: that version has no records")
    raise CliError(where + did_you_mean(key, known, f"mydb show {tenant} {entry}"))


def _version_of(engine: Any, tenant: str, entry: str, digest: str) -> tuple[Version | None, str | None]:
    """The version's metadata and what is wrong with it (None when fine)."""
    try:
        version = engine.version(tenant, entry, digest)
        return version, damage_of(version)
    except DbEngineError as exc:  # the value is readable; say what is wrong with its metadata
        return None, message_of(exc)


def _print_value(ctx: Context, engine: Any, result: dict, shown: Any, version: Version | None,
                 damage: str | None, title: str) -> int:
    """Print a `show` / `get` result: --json the result object; otherwise a header line on a
    terminal (digest, date, user, kind) and the value as JSON."""
    digest, kind = result["digest"], result["kind"]
    if damage is not None:
        result["damage"] = damage
    if ctx.json:
        ctx.out.json(result)
        return OK
    if damage:
        ctx.out.note(f"warning: version {digest[:12]}: {damage}")
    if ctx.out.tty:
        head = engine.get_digest(result["tenant"], result["entry"])
        date = ctx.short_date(version.date) if version is not None else INVALID_DATE
        ctx.out.styled([(title, "bold"), (digest[:12], "yellow"),
                        f"  {date}  {version.user_id if version is not None else '?'}  {kind}"
                        + ("  (HEAD)" if digest == head else "")])
    from mydb_tui.model.values import pretty_json

    from ..safe import safe_json

    ctx.out.json_text(safe_json(pretty_json(shown)))
    return OK
