"""Write commands: restore, put, save. Each writes as --user and prints the new HEAD digest."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from dbengine.dbengine import DbEngine

from ..context import Context, did_you_mean, resolve
from ..errors import OK, CliError


def restore(ctx: Context) -> int:
    """`mydb restore TENANT ENTRY REV`: a new version with REV's content (history kept)."""
    engine = ctx.engine()
    args = ctx.args
    ctx.check_entry(engine, args.tenant, args.entry)
    digest = resolve(engine, args.tenant, args.entry, args.rev)
    previous = engine.get_digest(args.tenant, args.entry)
    new = engine.restore(args.tenant, args.user, args.entry, digest, key=args.key, path=args.path)
    what = args.entry if args.key is None and args.path is None else " ".join(
        part for part in (f"record {args.key!r}" if args.key is not None else "", args.path or "") if part)
    _report(ctx, engine, previous, new, f"restored {what} from {digest[:12]}", restored_from=digest)
    return OK


def put(ctx: Context) -> int:
    """`mydb put TENANT ENTRY KEY JSON`: add or update one record."""
    args = ctx.args
    value = parse_json(args.value, "the JSON argument")
    engine = _tenant_engine(ctx)
    previous = _head_or_none(engine, args.tenant, args.entry)
    engine.put(args.tenant, args.user, args.entry, args.key, value)
    new = engine.get_digest(args.tenant, args.entry)
    _report(ctx, engine, previous, new, f"put {args.key!r} into {args.entry}")
    return OK


def save(ctx: Context) -> int:
    """`mydb save TENANT ENTRY FILE|-`: a JSON document as the entry's new snapshot."""
    args = ctx.args
    source = "standard input" if args.file == "-" else args.file
    value = parse_json(read_text(args.file), source)
    engine = _tenant_engine(ctx)
    previous = _head_or_none(engine, args.tenant, args.entry)
    new = engine.save(args.tenant, args.user, args.entry, value)
    _report(ctx, engine, previous, new, f"saved {args.entry}")
    return OK


def read_text(path: str) -> str:
    """The UTF-8 text of a file, or of stdin for `-`."""
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as handle:
            data = handle.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{'standard input' if path == '-' else path} is not UTF-8 text: {exc}") from None


def parse_json(text: str, source: str) -> Any:
    """Parse JSON input (a usage error, exit 2, when it is not JSON).

    Strict JSON: `NaN`, `Infinity`, `-Infinity` and numbers too big for a float (`1e999`)
    are refused with their line and column (Python's json would read them as nan/inf).
    Integers of any size are kept (beyond Python's int-string limit of 4,300 digits too:
    the engine stores big integers).
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_any_int)
    except json.JSONDecodeError as exc:
        raise CliError(f"{source} is not valid JSON: {exc}") from None
    except _NotJson as exc:
        where = json.JSONDecodeError(exc.reason, text, _position(text, exc.token))
        raise CliError(f"{source} is not valid JSON: {where}") from None
    except RecursionError:
        raise CliError(f"{source} is nested too deeply") from None


class _NotJson(ValueError):
    """A token Python's json accepts but JSON does not (NaN, Infinity, a number beyond float)."""

    def __init__(self, token: str, reason: str):
        super().__init__(reason)
        self.token, self.reason = token, reason


def _refuse_constant(token: str) -> Any:
    raise _NotJson(token, f"{token} is not JSON (use null, a string, or a finite number)")


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise _NotJson(token, f"{_clip(token)} is too large for a floating-point number")
    return value


def _any_int(token: str) -> int:
    if len(token) < 4000:
        return int(token)
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # this one conversion only: the text is the user's own input
    try:
        return int(token)
    finally:
        sys.set_int_max_str_digits(limit)


# Outside strings, the first token the refused one can be (strings are skipped whole).
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)')


def _position(text: str, token: str) -> int:
    """Where `token` first stands outside a string (json reads left to right: that is the one refused)."""
    for match in _TOKENS.finditer(text):
        if match.group(1) == token:
            return match.start(1)
    return 0


def _clip(token: str) -> str:
    return token if len(token) <= 40 else token[:20] + "…" + token[-10:]


def _tenant_engine(ctx: Context) -> DbEngine:
    """The engine for put/save: the root, the tenant and the entry are created on first use
    (noted on stderr, with "did you mean …?" when the new name is close to an existing one)."""
    engine = ctx.writable_engine()
    tenant, entry = ctx.args.tenant, ctx.args.entry
    if not engine.is_initialized(tenant):
        close = _close(tenant, engine.tenants() if engine.is_database() else [])
        engine.init(tenant)
        ctx.out.note(f"initialized tenant {tenant!r} in {ctx.root}{close}")
    elif not engine.exists(tenant, entry):
        close = _close(entry, engine.entries(tenant))
        if close:
            ctx.out.note(f"new entry {entry!r} in tenant {tenant!r}{close}")
    return engine


def _close(name: str, known: list[str]) -> str:
    """`: did you mean 'users'?` when some known name is close to `name`, else ""."""
    hint = did_you_mean(name, known)
    return hint if hint.startswith(":") else ""


def _head_or_none(engine: DbEngine, tenant: str, entry: str) -> str | None:
    return engine.get_digest(tenant, entry) if engine.exists(tenant, entry) else None


def _report(ctx: Context, engine: DbEngine, previous: str | None, new: str, what: str,
            restored_from: str | None = None) -> None:
    args = ctx.args
    changed = new != previous
    if ctx.json:
        result = {"tenant": args.tenant, "entry": args.entry, "digest": new, "previous": previous,
                  "changed": changed, "user": args.user}
        if restored_from is not None:
            result["restored_from"] = restored_from
        ctx.out.json(result)
        return
    if ctx.out.tty:
        if changed:
            summary = engine.version(args.tenant, args.entry, new).summary
            ctx.out.styled([f"{what}: new HEAD ", (new[:12], "yellow"),
                            f"  {summary or ''}  as {args.user}"])
        else:
            ctx.out.styled(["nothing changed: HEAD is still ", (new[:12], "yellow")])
        return
    ctx.out.line(new)
    if not changed:
        ctx.out.note("nothing changed")
