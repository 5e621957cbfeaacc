"""The demo database has everything issue 3 asks for, and is built deterministically."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from dbengine.dbengine import DbEngine
from dbengine.errors import UntrustedPickleError
from dbengine.handlers import handlers
from dbengine.serializer import iter_ref_digests

from mydb_tui import demo_types
from mydb_tui.demo import build_demo


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("demo") / "db")
    build_demo(root)
    return root


@pytest.fixture(scope="module")
def demo(demo_root) -> DbEngine:
    return DbEngine(demo_root, trust_pickle=False)


def all_versions(engine: DbEngine):
    for tenant in engine.tenants():
        for entry in engine.entries(tenant):
            for version in engine.log(tenant, entry, max_items=None):
                yield tenant, entry, version


def test_tenants_and_entry_kinds(demo):
    tenants = demo.tenants()
    assert len(tenants) >= 3 and {"acme-corp", "globex", "initech"} <= set(tenants)
    for tenant in tenants:
        kinds = {demo.entry_info(tenant, e).kind for e in demo.entries(tenant)}
        assert kinds == {"snapshot", "records"}
        assert {"app-config", "feature-flags", "users", "orders"} <= set(demo.entries(tenant))
        for entry in ("users", "orders"):
            assert len(demo.read_records(tenant, demo.get_digest(tenant, entry))) >= 200


def test_users_dates_and_history(demo):
    versions = list(all_versions(demo))
    users = {v.user_id for _t, _e, v in versions}
    assert {"alice", "bob", "carol", "deploy-bot"} <= users
    dates = [v.date for _t, _e, v in versions]
    assert min(dates).year == max(dates).year == 2026
    assert max(dates) - min(dates) > dt.timedelta(days=120)
    assert len({d.month for d in dates}) >= 5
    busy = max(demo.entry_info(t, e).versions for t in demo.tenants() for e in demo.entries(t))
    assert busy >= 2000
    assert demo.entry_info("acme-corp", "feature-flags").versions >= 2000


def test_restored_versions_point_at_older_versions(demo):
    restored = [(t, e, v) for t, e, v in all_versions(demo) if v.restored_from]
    assert len(restored) >= 2
    for tenant, _entry, version in restored:
        source = demo.read_snapshot(tenant, version.restored_from)
        target = demo.read_snapshot(tenant, version.digest)
        assert source["__data__"] == target["__data__"]


def test_the_three_special_kinds_are_present_and_decode(demo_root, demo):
    tags = set()
    for tenant in demo.tenants():
        for entry in demo.entries(tenant):
            info = demo.entry_info(tenant, entry)
            if info.kind == "snapshot":
                stored = demo.read_snapshot(tenant, info.head)["__data__"]
            else:
                stored = demo.read_records(tenant, info.head)
            tags.update(tag for tag, _digest in iter_ref_digests(stored))
            tags.update(_inline_tags(stored))
    assert {demo_types.MONEY_TAG, demo_types.THUMBNAIL_TAG, "py/pickle"} <= tags
    assert isinstance(handlers.get_handler_by_tag(demo_types.MONEY_TAG), demo_types.MoneyHandler)

    with pytest.raises(UntrustedPickleError):
        demo.load("acme-corp", "quarterly-report")
    trusted = DbEngine(demo_root).load("acme-corp", "quarterly-report")
    assert isinstance(trusted["report"], demo_types.Report) and len(trusted["report"].samples) > 1000
    assert isinstance(trusted["chart"], demo_types.Thumbnail)
    config = DbEngine(demo_root).load("globex", "app-config")
    assert isinstance(config["price_per_seat"], demo_types.Money)


def _inline_tags(value):
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            if "__special__" in item:
                yield item["__special__"]
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)


def test_building_again_is_a_no_op_and_registering_twice_is_fine(demo_root, demo):
    heads = {t: {e: demo.get_digest(t, e) for e in demo.entries(t)} for t in demo.tenants()}
    build_demo(demo_root)
    demo_types.register()
    assert {t: {e: demo.get_digest(t, e) for e in demo.entries(t)} for t in demo.tenants()} == heads


def test_the_build_is_deterministic(demo_root, demo, tmp_path):
    other = str(tmp_path / "again")
    build_demo(other)
    again = DbEngine(other)
    for tenant in demo.tenants():
        for entry in demo.entries(tenant):
            assert again.get_digest(tenant, entry) == demo.get_digest(tenant, entry), (tenant, entry)


def test_a_foreign_folder_is_refused_untouched(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        build_demo(str(foreign))
    assert os.listdir(foreign) == ["notes.txt"]


def test_handlers_module_imports_cleanly_in_a_fresh_process():
    code = ("import mydb_tui.demo_types as d, importlib; importlib.reload(d); "
            "from dbengine.handlers import handlers; print(sorted(handlers.tags()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['demo/money', 'demo/thumbnail']"
