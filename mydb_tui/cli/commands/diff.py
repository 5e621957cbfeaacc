"""`mydb diff`: key-level changes between two versions, from the shared comparison model."""

from __future__ import annotations

import json
from typing import Any

from ..context import Context, resolve
from ..errors import FOUND, OK, CliError
from ..output import Column

_SIGN = {"added": "+", "removed": "-", "changed": "~"}
_STYLE = {"added": "green", "removed": "red", "changed": "yellow"}
CELL_WIDTH = 60


def diff(ctx: Context) -> int:
    """No REV: HEAD vs its parent; one REV: REV vs HEAD; two: A vs B (older always on the left)."""
    from mydb_tui.model.compare import compare_versions, in_shown_order

    engine = ctx.engine()
    args = ctx.args
    tenant, entry = args.tenant, args.entry
    ctx.check_entry(engine, tenant, entry)
    if len(args.revs) > 2:
        raise CliError("diff takes at most two revisions")
    head = engine.get_digest(tenant, entry)
    if not args.revs:
        new = head
        old = engine.version(tenant, entry, head).parent
    elif len(args.revs) == 1:
        old, new = resolve(engine, tenant, entry, args.revs[0]), head
    else:
        old, new = (resolve(engine, tenant, entry, rev) for rev in args.revs)
    comparison = in_shown_order(compare_versions(engine, tenant, entry, old, new))  # stable, as the TUI lists them
    found = FOUND if args.exit_code and comparison.changes else OK
    old_digest = comparison.old.digest if comparison.old is not None else None
    if ctx.json:
        ctx.out.json({
            "tenant": tenant, "entry": entry, "kind": comparison.kind,
            "old": old_digest, "new": comparison.new.digest,
            "added": comparison.added, "changed": comparison.changed, "removed": comparison.removed,
            "changes": [{"path": c.path, "kind": c.kind, "record_key": c.record_key, "old": c.old, "new": c.new}
                        for c in comparison.changes],
        })
        return found
    if not ctx.out.tty:
        for change in comparison.changes:
            ctx.out.line(_plain_line(engine, change))
        return found
    ctx.out.styled([(f"{tenant} / {entry}  ", "bold"), (old_digest[:7] if old_digest else "(nothing)", "yellow"),
                    " → ", (comparison.new.digest[:7], "yellow"),
                    (f"  +{comparison.added} ~{comparison.changed} -{comparison.removed}", "cyan")])
    if not comparison.changes:
        ctx.out.line("no changes", style="dim")
        return found
    rows = [[(_SIGN[c.kind], _STYLE[c.kind]), c.path,
             (_cell(engine, c.old) if c.kind != "added" else "", "red"),
             (_cell(engine, c.new) if c.kind != "removed" else "", "green")]
            for c in comparison.changes]
    ctx.out.table([Column(""), Column("path", style="bold"), Column("old"), Column("new")], rows)
    return found


def _cell(engine: Any, value: Any) -> str:
    from mydb_tui.model.values import cell_text

    return cell_text(value, CELL_WIDTH, engine)


def _plain_line(engine: Any, change: Any) -> str:
    """`~ path: old → new`, `+ path: new`, `- path: old` (values as compact JSON, specials as badges)."""
    sign = _SIGN[change.kind]
    if change.kind == "added":
        return f"{sign} {change.path}: {_compact(engine, change.new)}"
    if change.kind == "removed":
        return f"{sign} {change.path}: {_compact(engine, change.old)}"
    return f"{sign} {change.path}: {_compact(engine, change.old)} → {_compact(engine, change.new)}"


def _compact(engine: Any, value: Any) -> str:
    from mydb_tui.model.values import describe_special, is_special

    if is_special(value):
        return describe_special(engine, value)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
