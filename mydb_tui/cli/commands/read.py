"""Read commands: tenants, entries, log, show."""

from __future__ import annotations

from typing import Any

from dbengine.errors import DbEngineError
from dbengine.history import Version

from mydb_tui.model.dates import INVALID_DATE, iso_date

from ..context import Context, resolve
from ..errors import ERROR, OK, fail, message_of
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


def entries(ctx: Context) -> int:
    """`mydb entries TENANT`: name, kind, number of versions, head and when/who wrote it.

    An entry that cannot be read (a damaged head object, a name from a forged head that is
    not a valid entry name) is one error line on stderr; the others are still listed (exit 2).
    """
    engine = ctx.engine()
    tenant = ctx.args.tenant
    rows, heads, errors = [], [], []
    for name in engine.entries(tenant):
        try:
            info = engine.entry_info(tenant, name)
            head = engine.version(tenant, name, info.head)
        except (DbEngineError, OSError, ValueError) as exc:
            errors.append({"name": name, "message": message_of(exc)})
            continue
        heads.append(head)
        rows.append({"name": name, "kind": info.kind, "versions": info.versions, "head": info.head,
                     "date": iso_date(head.date), "user": head.user_id, **_damage_field(head)})
    status = _report_errors(ctx, [(f"entry {_clip(e['name'])!r}", e["message"]) for e in errors])
    if ctx.json:
        ctx.out.json({"tenant": tenant, "entries": rows, "errors": errors})
        return status
    if not ctx.out.tty:
        for row in rows:
            if row.get("damage"):
                ctx.out.note(f"warning: entry {_clip(row['name'])!r}: head {row['head'][:12]}: {row['damage']}")
        ctx.out.table([], [[r["name"], r["kind"], str(r["versions"]), r["head"], r["date"] or INVALID_DATE,
                            r["user"]] for r in rows])
        return status
    from mydb_tui.model.timeline import row_for

    damaged = any(row.get("damage") for row in rows)
    cells = [[row["name"], row["kind"], str(row["versions"]), (row["head"][:7], "yellow"),
              _date_cell(row_for(head, head.digest)), row["user"], *_damage_cells(damaged, row.get("damage"))]
             for row, head in zip(rows, heads, strict=True)]
    ctx.out.table([Column("entry", style="bold"), Column("kind"), Column("versions", justify="right"),
                   Column("head", no_wrap=True), Column("date", no_wrap=True), Column("user"),
                   *_damage_columns(damaged)], cells, title=f"tenant {tenant}")
    return status


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


def _date_cell(row: Any) -> Cell:
    return (row.date, "bold red") if row.date == INVALID_DATE else row.date


def _damage_columns(shown: bool) -> list[Column]:
    """The ⚠ column of a table, there only when some row is damaged."""
    return [Column("damage")] if shown else []


def _damage_cells(shown: bool, damage: str | None) -> list[Cell]:
    if not shown:
        return []
    return [(f"⚠ {damage}", "bold red") if damage else ""]


def version_json(version: Version, head: str) -> dict[str, Any]:
    """The `--json` shape of one version (log); when the stored metadata is damaged, `date`
    may be null and a `damage` field says what is wrong."""
    summary = version.summary
    return {
        "digest": version.digest,
        "parents": list(version.parents),
        "user": version.user_id,
        "date": iso_date(version.date),
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
    head = engine.get_digest(tenant, entry)
    versions = engine.log(tenant, entry, max_items=ctx.args.max_count)
    if ctx.json:
        ctx.out.json({"tenant": tenant, "entry": entry, "head": head,
                      "versions": [version_json(v, head) for v in versions]})
        return OK
    if not ctx.out.tty:
        for v in versions:
            if damage_of(v):
                ctx.out.note(f"warning: version {v.digest[:12]}: {damage_of(v)}")
        ctx.out.table([], [[v.digest, iso_date(v.date) or INVALID_DATE, v.user_id,
                            str(v.summary) if v.summary is not None else "-",
                            v.restored_from or "-"] for v in versions])
        return OK
    from mydb_tui.model.timeline import timeline_rows

    rows = []
    timeline = timeline_rows(versions, head)
    damaged = any(row.damage for row in timeline)
    for row in timeline:
        marks = []
        if row.is_head:
            marks.append("HEAD")
        if row.restored_from:
            marks.append(f"restored from {row.restored_from}")
        rows.append([(row.short, "yellow"), _date_cell(row), row.user, (row.summary, "cyan"),
                     (", ".join(marks), "green"), *_damage_cells(damaged, row.damage)])
    ctx.out.table([Column("digest", no_wrap=True), Column("date", no_wrap=True), Column("user"),
                   Column("changes", no_wrap=True), Column(""), *_damage_columns(damaged)], rows,
                  title=f"{tenant} / {entry}")
    return OK


def show(ctx: Context) -> int:
    """`mydb show TENANT ENTRY [REV] [--raw]`: the value (or stored document) of a version as JSON."""
    engine = ctx.engine()
    args = ctx.args
    tenant, entry = args.tenant, args.entry
    digest = resolve(engine, tenant, entry, args.rev)
    document = engine.read_snapshot(tenant, digest)
    kind = document["__kind__"]
    records = engine.read_records(tenant, digest) if kind == "records" else None
    try:
        version: Version | None = engine.version(tenant, entry, digest)
        damage = damage_of(version)
    except DbEngineError as exc:  # the value is readable; say what is wrong with its metadata
        version, damage = None, message_of(exc)
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
    if damage is not None:
        result["damage"] = damage
    if ctx.json:
        ctx.out.json(result)
        return OK
    if damage:
        ctx.out.note(f"warning: version {digest[:12]}: {damage}")
    if ctx.out.tty:
        from mydb_tui.model.timeline import row_for

        head = engine.get_digest(tenant, entry)
        row = row_for(version, head) if version is not None else None
        ctx.out.styled([(f"{tenant} / {entry} ", "bold"), (digest[:12], "yellow"),
                        f"  {row.date if row else INVALID_DATE}  {row.user if row else '?'}  {kind}"
                        + ("  (HEAD)" if digest == head else "")])
    from mydb_tui.model.values import pretty_json

    from ..safe import safe_json

    ctx.out.json_text(safe_json(pretty_json(shown)))
    return OK
