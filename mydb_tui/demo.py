"""A realistic, deterministic demo database (`mydb-tui --demo PATH`, `mydb demo PATH`).

Three tenants with configs, feature flags, users and orders edited by several people
from January to June 2026 on a fixed clock, so every build is byte-identical: one entry
with 2,000+ versions (flags tuned by a bot), restored versions, and values of an inline
handler (Money), a ref handler (Thumbnail) and a `use_refs` object (Report).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from dbengine.dbengine import DbEngine

from .demo_types import Money, Report, Thumbnail

TENANTS = ("acme-corp", "globex", "initech")
PEOPLE = ("alice", "bob", "carol", "dave")
BOT = "deploy-bot"
TZ = dt.timezone(dt.timedelta(hours=1))
START = dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=TZ)
END = dt.datetime(2026, 6, 26, 18, 0, 0, tzinfo=TZ)
BUSY_FLAG_VERSIONS = 2_100  # versions of acme-corp's feature-flags

_FIRST = ("Ada", "Alan", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances",
          "Edsger", "Radia", "Tim", "Katherine", "John", "Hedy", "Guido", "Sophie", "Niklaus")
_LAST = ("Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
         "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Johnson", "Backus", "Lamarr", "Wirth")
_CITIES = ("Paris", "Lyon", "Berlin", "Madrid", "Lisbon", "Dublin", "Oslo", "Vienna", "Prague")
_PLANS = ("free", "team", "business", "enterprise")
_SKUS = {"WID-001": "12.50", "WID-002": "7.99", "GAD-100": "149.00", "GAD-200": "89.90",
         "SUB-MON": "29.00", "SUB-YR": "290.00", "SUP-HRS": "120.00"}
_FLAGS = ("new-checkout", "dark-mode", "search-v2", "beta-dashboard", "fast-export", "ai-summary",
          "bulk-edit", "sso-login", "audit-log", "usage-alerts", "inline-help", "pdf-invoices",
          "webhooks-v2", "smart-retry", "geo-routing", "rate-limit-v3", "billing-portal",
          "team-spaces")


class DemoClock:
    """The engine clock of the demo: returns the moment set by the script, a second later each call."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        moment = self.now
        self.now += dt.timedelta(seconds=1)
        return moment


def build_demo(path: str) -> None:
    """Build the demo database at `path` unless it already holds one.

    The database is built in a sibling folder and renamed into place, so an interrupted
    build never leaves a half-made demo behind. A non-empty `path` that is not a database
    is refused with FileExistsError.
    """
    path = os.path.abspath(path)
    if os.path.isdir(path) and DbEngine(path).is_database():
        return
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise FileExistsError(f"{path} exists and is not a mydb database: choose another --demo path")
    work = f"{path}.building-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        _populate(work)
        try:
            if os.path.isdir(path):
                os.rmdir(path)  # empty: replaced by the built database
            os.replace(work, path)
        except OSError:
            if not DbEngine(path).is_database():
                raise  # (else another process built it meanwhile: use theirs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _populate(root: str) -> None:
    clock = DemoClock(START)
    engine = DbEngine(root, clock=clock, durable=False)
    rng = random.Random(2026)
    events: list[tuple[dt.datetime, int, Callable[[], Any]]] = []

    def at(moment: dt.datetime, action: Callable[[], Any]) -> None:
        events.append((moment, len(events), action))

    for number, tenant in enumerate(TENANTS):
        engine.init(tenant)
        _plan_tenant(engine, tenant, number, rng, at)
    _plan_busy_flags(engine, "acme-corp", rng, at)
    for moment, _order, action in sorted(events, key=lambda e: (e[0], e[1])):
        clock.now = max(clock.now, moment)
        action()


# ---------------------------------------------------------------- one tenant
def _plan_tenant(engine: DbEngine, tenant: str, number: int, rng: random.Random, at: Callable) -> None:
    day0 = START + dt.timedelta(days=number, hours=number)
    config = _initial_config(tenant, number)
    flags = {name: {"enabled": rng.random() < 0.4, "rollout": rng.choice((0, 10, 25, 50, 100)),
                    "owner": rng.choice(PEOPLE)} for name in _FLAGS[: 10 + 3 * number]}
    users = {f"user-{i:04d}": _user(rng, i, day0) for i in range(1, 221 + 15 * number)}
    orders = {f"ord-{number + 1}{i:05d}": _order(rng, users, day0 + dt.timedelta(hours=i % 200))
              for i in range(1, 261 + 20 * number)}

    at(day0, lambda: engine.save(tenant, "alice", "app-config", config))
    if tenant != "acme-corp":
        at(day0 + dt.timedelta(minutes=5), lambda: engine.save(tenant, "bob", "feature-flags", flags))
    at(day0 + dt.timedelta(minutes=20), lambda: engine.put_many(tenant, BOT, "users", users))
    at(day0 + dt.timedelta(minutes=40), lambda: engine.put_many(tenant, BOT, "orders", orders))

    # Configuration edits by people over the months, one bad change rolled back by a restore.
    state = {"config": _copy(config), "flags": _copy(flags), "next_user": len(users) + 1,
             "next_order": len(orders) + 1, "users": _copy(users), "orders": _copy(orders)}
    moment = day0 + dt.timedelta(days=3)
    for step in range(14 + 4 * number):
        moment += dt.timedelta(days=rng.randint(4, 12), hours=rng.randint(0, 8), minutes=rng.randint(0, 59))
        if moment >= END:
            break
        at(moment, _config_edit(engine, tenant, state, rng, step))
        if tenant != "acme-corp":
            at(moment + dt.timedelta(hours=2), _flag_edit(engine, tenant, state, rng))
    bad_day = START + dt.timedelta(days=95 + number * 7, hours=15)
    at(bad_day, _bad_config(engine, tenant, state))
    at(bad_day + dt.timedelta(minutes=37), _restore_previous(engine, tenant, "app-config", "carol"))

    # Users and orders change every few days: edits, sign-ups, departures, order updates.
    moment = day0 + dt.timedelta(days=1)
    while True:
        moment += dt.timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 9), minutes=rng.randint(0, 59))
        if moment >= END:
            break
        at(moment, _user_edits(engine, tenant, state, rng))
        at(moment + dt.timedelta(minutes=rng.randint(5, 300)), _order_edits(engine, tenant, state, rng))

    if tenant == "acme-corp":
        for quarter, when in (("2026-Q1", dt.datetime(2026, 4, 2, 10, 30, tzinfo=TZ)),
                              ("2026-Q2", dt.datetime(2026, 6, 25, 16, 45, tzinfo=TZ))):
            at(when, _report(engine, tenant, quarter, rng))


def _initial_config(tenant: str, number: int) -> dict:
    return {
        "service": {"name": f"{tenant}-portal", "region": ("eu-west-1", "us-east-2", "eu-central-1")[number],
                    "replicas": 2 + number, "debug": False},
        "database": {"host": f"db.{tenant}.internal", "port": 5432, "pool_size": 10, "timeout_s": 30},
        "servers": [{"host": f"web-{i}.{tenant}.internal", "port": 8080, "weight": 1} for i in range(1, 4)],
        "price_per_seat": Money(Decimal("19.00") + number * 5, "EUR" if number != 1 else "USD"),
        "logo": _thumbnail(16 + number * 8, 12 + number * 4, seed=number),
        "limits": {"max_users": 250, "max_projects": 40, "upload_mb": 100},
        "maintenance_window": ("sun", "02:00", "04:00"),
        "contacts": ["ops@" + tenant + ".example", "security@" + tenant + ".example"],
    }


def _config_edit(engine: DbEngine, tenant: str, state: dict, rng: random.Random, step: int) -> Callable:
    def run() -> None:
        config = state["config"]
        choice = step % 6
        if choice == 0:
            config["database"]["pool_size"] = rng.choice((10, 15, 20, 25, 30))
        elif choice == 1:
            config["service"]["replicas"] = rng.randint(2, 8)
        elif choice == 2:
            server = rng.choice(config["servers"])
            server["weight"] = rng.randint(1, 5)
        elif choice == 3:
            config["limits"]["upload_mb"] = rng.choice((100, 250, 500))
            config["limits"]["max_users"] += 50
        elif choice == 4:
            price = config["price_per_seat"]
            config["price_per_seat"] = Money(price.amount + Decimal("1.50"), price.currency)
        else:
            hosts = config["servers"]
            if len(hosts) < 6:
                hosts.append({"host": f"web-{len(hosts) + 1}.{tenant}.internal", "port": 8080, "weight": 1})
            else:
                hosts.pop(0)
        engine.save(tenant, PEOPLE[step % 3], "app-config", _copy(config))

    return run


def _bad_config(engine: DbEngine, tenant: str, state: dict) -> Callable:
    def run() -> None:
        bad = _copy(state["config"])
        bad["database"]["pool_size"] = 0
        bad["service"]["debug"] = True
        bad["servers"] = bad["servers"][:1]
        engine.save(tenant, "dave", "app-config", bad)

    return run


def _restore_previous(engine: DbEngine, tenant: str, entry: str, user: str) -> Callable:
    def run() -> None:
        parent = engine.version(tenant, entry, engine.get_digest(tenant, entry)).parent
        engine.restore(tenant, user, entry, parent)

    return run


def _flag_edit(engine: DbEngine, tenant: str, state: dict, rng: random.Random) -> Callable:
    def run() -> None:
        flags = state["flags"]
        name = rng.choice(sorted(flags))
        flags[name]["enabled"] = not flags[name]["enabled"]
        flags[name]["rollout"] = rng.choice((0, 10, 25, 50, 100))
        engine.save(tenant, rng.choice(PEOPLE), "feature-flags", _copy(flags))

    return run


def _user_edits(engine: DbEngine, tenant: str, state: dict, rng: random.Random) -> Callable:
    def run() -> None:
        users = state["users"]
        keys = list(users)
        changes: dict[str, Any] = {}
        for key in rng.sample(keys, k=min(len(keys), rng.randint(1, 4))):
            user = users[key] = _copy(users[key])
            user["plan"] = rng.choice(_PLANS)
            user["seats"] = rng.randint(1, 40)
            if rng.random() < 0.3:
                user["active"] = not user["active"]
            changes[key] = user
        if rng.random() < 0.5:
            number = state["next_user"]
            state["next_user"] += 1
            users[f"user-{number:04d}"] = changes[f"user-{number:04d}"] = _user(rng, number, engine.clock.now)
        who = rng.choice(PEOPLE)
        engine.put_many(tenant, who, "users", _copy(changes))
        if rng.random() < 0.15 and len(keys) > 200:
            gone = rng.choice(keys)
            del users[gone]
            engine.delete(tenant, who, "users", gone)

    return run


def _order_edits(engine: DbEngine, tenant: str, state: dict, rng: random.Random) -> Callable:
    def run() -> None:
        orders = state["orders"]
        keys = list(orders)
        changes: dict[str, Any] = {}
        flow = {"new": "paid", "paid": "shipped", "shipped": "delivered", "delivered": "delivered",
                "cancelled": "cancelled"}
        for key in rng.sample(keys, k=min(len(keys), rng.randint(2, 8))):
            order = orders[key] = _copy(orders[key])
            order["status"] = "cancelled" if rng.random() < 0.05 else flow[order["status"]]
            changes[key] = order
        for _ in range(rng.randint(0, 3)):
            number = state["next_order"]
            state["next_order"] += 1
            key = f"ord-{TENANTS.index(tenant) + 1}{number:05d}"
            orders[key] = changes[key] = _order(rng, state["users"], engine.clock.now)
        engine.put_many(tenant, BOT if rng.random() < 0.7 else rng.choice(PEOPLE), "orders", _copy(changes))

    return run


def _report(engine: DbEngine, tenant: str, quarter: str, rng: random.Random) -> Callable:
    def run() -> None:
        first = dt.date(2026, 1 if quarter.endswith("Q1") else 4, 1)
        samples = [(dt.datetime.combine(first, dt.time(hour)) + dt.timedelta(days=day),
                    Decimal(f"{rng.uniform(20, 400):.2f}")) for day in range(90) for hour in range(24)]
        report = Report(
            title=f"{tenant} revenue {quarter}",
            quarter=quarter,
            summary={"orders": rng.randint(800, 1500), "revenue": Money(Decimal(f"{rng.uniform(1e5, 3e5):.2f}")),
                     "churn_pct": round(rng.uniform(1, 4), 2)},
            samples=samples,
        )
        engine.save(tenant, "carol", "quarterly-report",
                    {"report": report, "chart": _thumbnail(48, 24, seed=len(quarter) + rng.randint(0, 9)),
                     "published": quarter.endswith("Q1"), "reviewers": {"alice", "bob"}})

    return run


# ---------------------------------------------------------------- the busy entry
def _plan_busy_flags(engine: DbEngine, tenant: str, rng: random.Random, at: Callable) -> None:
    """acme-corp's feature flags: a bot moves rollouts every ~2 hours (2,000+ versions)."""
    flags = {name: {"enabled": i % 3 == 0, "rollout": 0 if i % 3 else 100, "owner": PEOPLE[i % 4]}
             for i, name in enumerate(_FLAGS)}
    state = {"flags": flags}
    span = (END - START - dt.timedelta(days=2)).total_seconds()
    begin = START + dt.timedelta(minutes=10)
    at(begin, lambda: engine.save(tenant, "alice", "feature-flags", _copy(flags)))
    for i in range(1, BUSY_FLAG_VERSIONS):
        moment = begin + dt.timedelta(seconds=int(span * i / BUSY_FLAG_VERSIONS) + rng.randint(0, 600))
        at(moment, _bot_flag_step(engine, tenant, state, rng, i))
    rollback = dt.datetime(2026, 5, 12, 11, 5, tzinfo=TZ)
    at(rollback, _restore_previous(engine, tenant, "feature-flags", "carol"))


def _bot_flag_step(engine: DbEngine, tenant: str, state: dict, rng: random.Random, i: int) -> Callable:
    def run() -> None:
        flags = state["flags"]
        name = _FLAGS[rng.randrange(len(_FLAGS))]
        flag = flags[name]
        user = BOT
        if i % 97 == 0:
            user = PEOPLE[i % 4]
            flag["enabled"] = not flag["enabled"]
        else:
            flag["rollout"] = min(100, flag["rollout"] + 5) if flag["rollout"] < 100 else rng.choice((0, 10, 25))
        engine.save(tenant, user, "feature-flags", _copy(flags))

    return run


# ---------------------------------------------------------------- values
def _user(rng: random.Random, i: int, since: dt.datetime) -> dict:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower().replace('-', '')}{i}@example.com",
        "city": rng.choice(_CITIES),
        "plan": rng.choice(_PLANS),
        "seats": rng.randint(1, 25),
        "active": rng.random() > 0.1,
        "since": (since.date() - dt.timedelta(days=rng.randint(0, 900))).isoformat(),
        "balance": Money(Decimal(rng.randint(0, 50000)) / 100),
        "tags": sorted(rng.sample(["vip", "trial", "edu", "partner", "beta", "churn-risk"], k=rng.randint(0, 2))),
    }


def _order(rng: random.Random, users: dict, when: dt.datetime) -> dict:
    lines = []
    for sku in rng.sample(sorted(_SKUS), k=rng.randint(1, 3)):
        lines.append({"sku": sku, "qty": rng.randint(1, 5), "unit_price": Money(Decimal(_SKUS[sku]))})
    total = sum((line["unit_price"].amount * line["qty"] for line in lines), Decimal("0"))
    return {
        "customer": rng.choice(sorted(users)),
        "created": when.strftime("%Y-%m-%dT%H:%M"),
        "status": rng.choice(("new", "paid", "paid", "shipped", "delivered")),
        "lines": lines,
        "total": Money(total),
    }


def _thumbnail(width: int, height: int, seed: int) -> Thumbnail:
    pixels = bytes((x * 7 + y * 13 + seed * 31) % 256 for y in range(height) for x in range(width))
    return Thumbnail(width, height, pixels)


def _copy(value: Any) -> Any:
    """A deep copy of the demo's plain values (dicts, lists; other values are immutable)."""
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value
