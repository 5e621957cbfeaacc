"""What every command gets: the parsed options, the engine on --root, and the output."""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from argparse import Namespace
from dataclasses import dataclass, field

from dbengine.dbengine import DbEngine
from dbengine.errors import DbEngineError
from dbengine.utils import parse_date

from mydb_tui.model.dates import local_time, zoned_iso

from .errors import CliError
from .output import Output

#: Environment variable that fixes the date stamped on new versions (like GIT_COMMITTER_DATE),
#: format `YYYYMMDD HH:MM:SS +zzzz` or ISO 8601 with an offset; for reproducible scripts and tests.
DATE_ENV = "MYDB_DATE"


@dataclass
class Context:
    """Options and shared objects of one `mydb` run."""

    args: Namespace
    out: Output = field(default_factory=Output)
    _engine: DbEngine | None = None

    @property
    def root(self) -> str:
        return self.args.root

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    @property
    def utc(self) -> bool:
        return bool(getattr(self.args, "utc", False))

    def iso(self, moment: dt.datetime | None) -> str | None:
        """A date as plain text and JSON show it: ISO 8601 in local time (UTC with --utc), with
        its offset; None for a damaged date."""
        return zoned_iso(moment, self.utc)

    def short_date(self, moment: dt.datetime | None) -> str:
        """A date as the terminal (and the TUI's History pane) shows it: `2026-06-25 04:08 +0000`,
        in local time (UTC with --utc); "invalid date" for a damaged one."""
        return local_time(moment, seconds=False, utc=self.utc)

    def check_tenant(self, engine: DbEngine, tenant: str) -> None:
        """A one-line error, with "did you mean …?", when `tenant` does not exist."""
        if engine.is_initialized(tenant):
            return
        known = engine.tenants()
        if not known:
            raise CliError(f"no tenant {tenant!r}: the database at {self.root!r} has no tenant yet "
                           f"(create one with e.g. `mydb put {tenant} ENTRY KEY JSON`)")
        raise CliError(f"no tenant {tenant!r} in {self.root!r}{did_you_mean(tenant, known, 'mydb tenants')}")

    def check_entry(self, engine: DbEngine, tenant: str, entry: str) -> None:
        """Like check_tenant, for the tenant and then the entry."""
        self.check_tenant(engine, tenant)
        if engine.exists(tenant, entry):
            return
        known = engine.entries(tenant)
        if not known:
            raise CliError(f"no entry {entry!r}: tenant {tenant!r} has no entry yet")
        raise CliError(f"no entry {entry!r} in tenant {tenant!r}"
                       f"{did_you_mean(entry, known, f'mydb entries {tenant}')}")

    def engine(self) -> DbEngine:
        """The engine on an existing database (exit 2 when --root holds none)."""
        if _is_s3(self.root):
            engine = self._make()  # no boto3, no bucket, no access: a one-line DbEngineError
            if not engine.is_database():
                raise CliError(f"no database at {self.root!r}: nothing is stored under that prefix")
            return engine
        if not os.path.isdir(self.root):
            raise CliError(f"no database at {self.root!r}: the folder does not exist (use --root or $MYDB_ROOT)")
        engine = self._make()
        if not engine.is_database():
            raise CliError(f"{self.root!r} is not a MyDbEngine database (no refs/ folder and no tenant)")
        return engine

    def writable_engine(self) -> DbEngine:
        """The engine on --root for a command that may create the database (an empty or missing folder)."""
        engine = self._make()
        if _is_s3(self.root):
            engine.is_database()  # reaches the bucket now: a clear error before anything is written
            return engine
        if os.path.exists(self.root) and not engine.is_database() and not _is_empty_dir(self.root):
            raise CliError(f"{self.root!r} exists and is not a MyDbEngine database: refusing to write into it")
        return engine

    def _make(self) -> DbEngine:
        if self._engine is None:
            self._engine = DbEngine(self.root, clock=_clock(), trust_pickle=self.args.trust_pickle)
        return self._engine


def did_you_mean(name: str, known: list[str], lister: str = "") -> str:
    """`: did you mean 'users'?` (difflib's close matches of `name` among `known`), else the
    few known names, else how to list them; "" when nothing is known."""
    matches = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if not matches:  # a different case only ("Users" for "users") is close too
        folded = {k.casefold(): k for k in known}
        matches = [folded[m] for m in difflib.get_close_matches(name.casefold(), list(folded), n=3, cutoff=0.6)]
    if matches:
        names = [repr(m) for m in matches]
        return ": did you mean " + (f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]) + "?"
    if not known:
        return ""
    if len(known) <= 8:
        return " (there are " + ", ".join(repr(k) for k in known) + ")"
    return f" (`{lister}` lists them)" if lister else ""


def _is_s3(root: str) -> bool:
    """An `s3://bucket/prefix` root (an S3-compatible store, see docs/S3.md), not a folder."""
    return root[:5].lower() == "s3://"  # S3://bucket/x too, as the engine reads it


def _is_empty_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.listdir(path)


def _clock():
    """The engine clock: the real time, or the fixed $MYDB_DATE."""
    text = os.environ.get(DATE_ENV)
    if not text:
        return None
    moment = parse_fixed_date(text)
    return lambda: moment


def parse_fixed_date(text: str) -> dt.datetime:
    """Parse $MYDB_DATE (`YYYYMMDD HH:MM:SS +zzzz` or ISO 8601 with an offset)."""
    try:
        return parse_date(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"${DATE_ENV}={text!r} is not a date like '20261126 14:03:07 +0100'") from None
    if moment.tzinfo is None:
        raise CliError(f"${DATE_ENV}={text!r} needs a UTC offset (e.g. +01:00)")
    return moment


_BACK = re.compile(r"HEAD~([0-9]+)")


def resolve(engine: DbEngine, tenant: str, entry: str, rev: str) -> str:
    """The full digest of REV (see `DbEngine.resolve`); any refusal is a one-line error,
    e.g. `HEAD~` and 5,000 digits (beyond Python's int-string limit)."""
    back = _BACK.fullmatch(rev)
    if back is not None:
        digits = back.group(1).lstrip("0")
        if len(digits) > 18:  # more versions than any entry holds
            versions = engine.entry_info(tenant, entry).versions
            raise CliError(f"HEAD~{_clip(digits)}: entry {entry!r} has only {versions} "
                           f"version{'' if versions == 1 else 's'}")
        rev = f"HEAD~{int(digits or '0')}"
    try:
        return engine.resolve(tenant, entry, rev)
    except DbEngineError:
        raise
    except (ValueError, OverflowError) as exc:
        raise CliError(f"{_clip(rev)!r} is not a revision ({exc})") from None


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else f"{text[:20]}…({len(text)} characters)"
