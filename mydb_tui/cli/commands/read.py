"""Read commands: tenants, entries, log, show."""

from __future__ import annotations

from typing import Any

from dbengine.history import Version

from ..context import Context
from ..errors import OK
from ..output import Column
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
    """`mydb entries TENANT`: name, kind, number of versions, head and when/who wrote it."""
    engine = ctx.engine()
    tenant = ctx.args.tenant
    rows, heads = [], []
    for name in engine.entries(tenant):
        info = engine.entry_info(tenant, name)
        head = engine.version(tenant, name, info.head)
        heads.append(head)
        rows.append({"name": name, "kind": info.kind, "versions": info.versions, "head": info.head,
                     "date": head.date.isoformat(), "user": head.user_id})
    if ctx.json:
        ctx.out.json({"tenant": tenant, "entries": rows})
        return OK
    if not ctx.out.tty:
        ctx.out.table([], [[r["name"], r["kind"], str(r["versions"]), r["head"], r["date"], r["user"]]
                           for r in rows])
        return OK
    from mydb_tui.model.timeline import row_for

    cells = [[row["name"], row["kind"], str(row["versions"]), (row["head"][:7], "yellow"),
              row_for(head, head.digest).date, row["user"]] for row, head in zip(rows, heads, strict=True)]
    ctx.out.table([Column("entry", style="bold"), Column("kind"), Column("versions", justify="right"),
                   Column("head", no_wrap=True), Column("date", no_wrap=True), Column("user")],
                  cells, title=f"tenant {tenant}")
    return OK


def version_json(version: Version, head: str) -> dict[str, Any]:
    """The `--json` shape of one version (log)."""
    summary = version.summary
    return {
        "digest": version.digest,
        "parents": list(version.parents),
        "user": version.user_id,
        "date": version.date.isoformat(),
        "summary": None if summary is None else
        {"added": summary.added, "changed": summary.changed, "removed": summary.removed},
        "restored_from": version.restored_from,
        "is_head": version.digest == head,
    }


def log(ctx: Context) -> int:
    """`mydb log TENANT ENTRY [-n N]`: versions newest first."""
    engine = ctx.engine()
    tenant, entry = ctx.args.tenant, ctx.args.entry
    head = engine.get_digest(tenant, entry)
    versions = engine.log(tenant, entry, max_items=ctx.args.max_count)
    if ctx.json:
        ctx.out.json({"tenant": tenant, "entry": entry, "head": head,
                      "versions": [version_json(v, head) for v in versions]})
        return OK
    if not ctx.out.tty:
        ctx.out.table([], [[v.digest, v.date.isoformat(), v.user_id,
                            str(v.summary) if v.summary is not None else "-",
                            v.restored_from or "-"] for v in versions])
        return OK
    from mydb_tui.model.timeline import timeline_rows

    rows = []
    for row in timeline_rows(versions, head):
        marks = []
        if row.is_head:
            marks.append("HEAD")
        if row.restored_from:
            marks.append(f"restored from {row.restored_from}")
        rows.append([(row.short, "yellow"), row.date, row.user, (row.summary, "cyan"), (", ".join(marks), "green")])
    ctx.out.table([Column("digest", no_wrap=True), Column("date", no_wrap=True), Column("user"),
                   Column("changes", no_wrap=True), Column("")], rows, title=f"{tenant} / {entry}")
    return OK


def show(ctx: Context) -> int:
    """`mydb show TENANT ENTRY [REV] [--raw]`: the value (or stored document) of a version as JSON."""
    engine = ctx.engine()
    args = ctx.args
    tenant, entry = args.tenant, args.entry
    digest = engine.resolve(tenant, entry, args.rev)
    document = engine.read_snapshot(tenant, digest)
    kind = document["__kind__"]
    records = engine.read_records(tenant, digest) if kind == "records" else None
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
    if ctx.json:
        ctx.out.json(result)
        return OK
    if ctx.out.tty:
        version = engine.version(tenant, entry, digest)
        from mydb_tui.model.timeline import row_for

        row = row_for(version, engine.get_digest(tenant, entry))
        ctx.out.styled([(f"{tenant} / {entry} ", "bold"), (digest[:12], "yellow"),
                        f"  {row.date}  {row.user}  {kind}" + ("  (HEAD)" if row.is_head else "")])
    from mydb_tui.model.values import pretty_json

    from ..safe import safe_json

    ctx.out.json_text(safe_json(pretty_json(shown)))
    return OK
