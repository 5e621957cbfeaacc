"""Maintenance commands: verify, export, import, demo."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

from ..context import Context
from ..errors import FOUND, OK, CliError
from ..output import Column


def _problem_json(problem) -> dict:
    return {"path": problem.path, "kind": problem.kind, "message": problem.message, "tenant": problem.tenant}


def checkpoint(ctx: Context) -> int:
    """`mydb checkpoint [TENANT]`: give durable commits' objects their files, empty the journals."""
    engine = ctx.engine()
    if ctx.args.tenant is not None:
        ctx.check_tenant(engine, ctx.args.tenant)
    done = engine.checkpoint(ctx.args.tenant)
    if ctx.json:
        ctx.out.json({"tenants": done})
    else:
        ctx.out.line(f"checkpointed {len(done)} tenant{'s' if len(done) != 1 else ''}: "
                     "every object has its file, the journals are empty")
    return OK


def verify(ctx: Context) -> int:
    """`mydb verify [TENANT]`: exit 1 and list every problem when the database is damaged."""
    engine = ctx.engine()
    if ctx.args.tenant is not None:
        ctx.check_tenant(engine, ctx.args.tenant)
    report = engine.verify(ctx.args.tenant)
    status = OK if report.ok else FOUND
    if ctx.json:
        ctx.out.json({
            "ok": report.ok, "tenants_checked": report.tenants_checked,
            "objects_checked": report.objects_checked, "refs_checked": report.refs_checked,
            "problems": [_problem_json(p) for p in report.problems],
            "notes": [_problem_json(n) for n in report.notes],
        })
        return status
    summary = (f"{len(report.problems)} problem{'s' if len(report.problems) != 1 else ''}, "
               f"{len(report.notes)} note{'s' if len(report.notes) != 1 else ''}; checked "
               f"{report.objects_checked} objects and {report.refs_checked} refs in "
               f"{report.tenants_checked} tenant{'s' if report.tenants_checked != 1 else ''}")
    if not ctx.out.tty:
        rows = [["problem", p.kind, p.path, p.message] for p in report.problems]
        rows += [["note", n.kind, n.path, n.message] for n in report.notes]
        ctx.out.table([], rows)
        ctx.out.note(summary)
        return status
    rows = [[("problem", "bold red"), p.kind, p.path, p.message] for p in report.problems]
    rows += [[("note", "dim"), n.kind, n.path, n.message] for n in report.notes]
    if rows:
        ctx.out.table([Column(""), Column("kind", no_wrap=True), Column("file"), Column("what")], rows)
    ctx.out.line(("OK: " if report.ok else "DAMAGED: ") + summary, style="green" if report.ok else "bold red")
    return status


def export(ctx: Context) -> int:
    """`mydb export TENANT [ENTRY]`: the JSON Lines export on stdout (format: engine/dbengine/transfer.py)."""
    engine = ctx.engine()
    if ctx.args.entry is None:
        ctx.check_tenant(engine, ctx.args.tenant)
    else:
        ctx.check_entry(engine, ctx.args.tenant, ctx.args.entry)
    lines = engine.export_jsonl(ctx.args.tenant, ctx.args.entry)
    out = sys.stdout
    for line in lines:
        out.write(line)
    out.flush()
    return OK


def import_(ctx: Context) -> int:
    """`mydb import FILE|- [--tenant NAME]`: import an export; the root is created if missing."""
    args = ctx.args
    engine = ctx.writable_engine()
    if args.file == "-":
        stream = sys.stdin.buffer
        result, tenant = _import(engine, stream, args.into)
    else:
        with open(args.file, "rb") as stream:
            result, tenant = _import(engine, stream, args.into)
    counts = {
        "objects_written": result.objects_written, "objects_present": result.objects_present,
        "refs_written": result.refs_written, "refs_present": result.refs_present,
        "heads_updated": result.heads_updated, "heads_unchanged": result.heads_unchanged,
    }
    if ctx.json:
        ctx.out.json({"tenant": tenant, **counts})
        return OK
    ctx.out.line(
        f"imported into tenant {tenant}: {result.objects_written} objects written "
        f"({result.objects_present} already present), {result.refs_written} refs written "
        f"({result.refs_present} already present), {result.heads_updated} heads moved "
        f"({result.heads_unchanged} unchanged)"
    )
    return OK


def _import(engine, stream, into: str | None):
    """Run the import, remembering which tenant its header named."""
    header: dict = {}

    def lines() -> Iterator[bytes]:
        for raw in stream:
            if not header and raw.strip():
                try:
                    parsed = json.loads(raw)
                    header.update(parsed if isinstance(parsed, dict) else {})
                except (ValueError, RecursionError):
                    pass  # the engine reports the malformed header
            yield raw

    result = engine.import_jsonl(lines(), tenant_id=into)
    return result, into if into is not None else header.get("tenant")


def demo(ctx: Context) -> int:
    """`mydb demo PATH`: build the demo database (nothing is changed if PATH already holds one)."""
    from dbengine.dbengine import DbEngine

    from mydb_tui.demo import build_demo

    path = ctx.args.path
    existed = os.path.isdir(path) and DbEngine(path).is_database()
    if not existed and os.path.exists(path) and not (os.path.isdir(path) and not os.listdir(path)):
        raise CliError(f"{path!r} exists and is not a MyDbEngine database: refusing to build the demo there")
    build_demo(path)
    if ctx.json:
        ctx.out.json({"path": path, "created": not existed})
    elif existed:
        ctx.out.line(f"{path} already holds a database: left as it is")
    else:
        ctx.out.line(f"demo database built in {path}: try `mydb --root {path} tenants`")
    return OK
