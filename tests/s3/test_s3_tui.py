"""`mydb-tui s3://bucket/prefix`: the browser on a database in S3 (moto on loopback), driven
with Textual's Pilot: the tree lists the tenants, the timeline the versions, a restore writes.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

import pytest
from dbengine.dbengine import DbEngine
from dbengine.errors import NotADatabaseError
from dbengine.s3storage import S3Storage

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "tui"))
from tui_helpers import (  # noqa: E402,F401 (_utc_and_no_blink: autouse fixture, as in tests/tui)
    SIZE,
    START,
    USER,
    StepClock,
    _utc_and_no_blink,
    build_small_db,
    screen_text,
    settle,
)

from mydb_tui.__main__ import main, make_app  # noqa: E402
from mydb_tui.screens.restore import RestoreScreen  # noqa: E402
from mydb_tui.widgets.timeline import Timeline  # noqa: E402


@pytest.fixture
def s3_small_db(db_root) -> DbEngine:
    engine = DbEngine(db_root, clock=StepClock())
    build_small_db(engine)
    return engine


async def test_the_browser_opens_an_s3_root_and_restores(s3_small_db, db_root) -> None:
    old = s3_small_db.log("acme", "config")[2].digest
    app = make_app(db_root, user=USER, clock=StepClock(START + dt.timedelta(days=30)), poll_interval=0)
    assert isinstance(app.engine.storage, S3Storage)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "acme" in text and "globex" in text  # the tree: both tenants
        assert "config  snapshot · 3 versions" in text
        assert "users  records · 2 versions" in text
        assert db_root in text  # the header names the s3:// root
        app.goto_entry("acme", "config")
        await settle(pilot)
        timeline = app.query_one(Timeline)
        heads = [v.digest for v in s3_small_db.log("acme", "config")]
        text = screen_text(app)
        assert all(digest[:7] in text for digest in heads)  # the timeline: every version
        timeline.focus()
        await pilot.pause()
        await pilot.press("G", "r")
        await settle(pilot)
        assert isinstance(app.screen, RestoreScreen)
        await pilot.press("y")
        await settle(pilot)
        assert timeline.selected is not None
        new_head = timeline.selected.digest
    fresh = DbEngine(db_root)  # what another machine sees in the bucket
    head = fresh.log("acme", "config")[0]
    assert head.digest == new_head and head.restored_from == old and head.user_id == USER
    assert fresh.load("acme", "config") == fresh.load("acme", "config", old)
    assert fresh.verify().ok


def test_mydb_tui_on_an_empty_prefix_or_a_missing_bucket_says_so(db_root, capsys) -> None:
    with pytest.raises(NotADatabaseError):
        make_app(db_root, user=USER)
    assert main([db_root]) == 2
    assert "is not a MyDbEngine database" in capsys.readouterr().err
    assert main(["s3://no-such-bucket-mydb/x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mydb-tui: ") and "bucket 'no-such-bucket-mydb' does not exist" in err
    assert err.count("\n") == 1


def test_mydb_tui_without_boto3_says_what_to_install(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    assert main(["s3://some-bucket/db"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'mydbengine[s3]'" in err and "handlers" not in err
