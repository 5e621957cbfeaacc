"""Issue 14 in the TUI: record/path history (h), search (ctrl+f), go to date (@) and the
blame gutter (b), driven with Pilot on the small real database (tui_helpers.build_small_db)."""

from __future__ import annotations

from tui_helpers import screen_text, settle

from mydb_tui.screens.compare import CompareScreen
from mydb_tui.screens.key_history import ChangeRows, KeyHistoryScreen
from mydb_tui.widgets.change_list import ChangeList
from mydb_tui.widgets.json_tree import JsonTree
from mydb_tui.widgets.record_table import RecordTable
from mydb_tui.widgets.timeline import Timeline


async def _open_users(pilot) -> RecordTable:
    await settle(pilot)
    pilot.app.goto_entry("acme", "users")
    await settle(pilot)
    table = pilot.app.query_one(RecordTable)
    table.focus()
    return table


async def _open_config_port(pilot) -> JsonTree:
    """The config snapshot open, its JSON tree focused on /servers/0/port."""
    await settle(pilot)
    pilot.app.goto_entry("acme", "config")
    await settle(pilot)
    tree = pilot.app.query_one("#data-tree", JsonTree)
    assert tree.select_pointer("/servers/0/port")
    await settle(pilot)
    tree.focus()
    return tree


async def test_h_on_a_record_lists_the_versions_that_changed_it(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        table = await _open_users(pilot)
        await pilot.press("j", "j", "j")  # u03: added by alice, changed by carol
        await settle(pilot)
        assert table.selected_key == "u03"
        await pilot.press("h")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, KeyHistoryScreen)
        rows = screen.query_one(ChangeRows)
        assert [(r.user, r.kind) for r in rows.rows] == [("carol", "changed"), ("alice", "added")]
        text = screen_text(app)
        assert "History of u03 in acme / users" in text
        assert '"name": "user 3"' in text and '"name": "changed"' in text
        # the changed words are marked, the same ones unmarked
        old_marked = "".join(s.text for s in rows.rows[0].old if s.marked)
        new_marked = "".join(s.text for s in rows.rows[0].new if s.marked)
        assert "user" in old_marked and "changed" in new_marked and "name" not in old_marked + new_marked
        await pilot.press("enter")  # the compare of carol's version with its parent
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.new_digest == small_db.get_digest("acme", "users")
        changes = app.screen.query_one(ChangeList)
        assert changes.changes[changes.cursor].record_key == "u03"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, KeyHistoryScreen)
        await pilot.press("j", "enter")  # alice's version added 30 records: the compare opens on u03
        await settle(pilot)
        changes = app.screen.query_one(ChangeList)
        assert len(changes.changes) == 30 and changes.cursor == 3
        assert changes.changes[changes.cursor].record_key == "u03"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, KeyHistoryScreen)


async def test_h_on_a_tree_node_lists_the_versions_that_changed_that_path(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        tree = await _open_config_port(pilot)
        assert tree.cursor_pointer == "/servers/0/port"
        await pilot.press("h")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, KeyHistoryScreen)
        rows = screen.query_one(ChangeRows).rows
        assert [(r.user, r.kind, "".join(s.text for s in r.old), "".join(s.text for s in r.new)) for r in rows] == [
            ("bob", "changed", "80", "8080"), ("alice", "added", "∅", "80")]
        assert "History of /servers/0/port in acme / config" in screen_text(app)


async def test_restoring_one_record_asks_and_writes(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        table = await _open_users(pilot)
        await pilot.press("j", "j", "j", "h")
        await settle(pilot)
        assert isinstance(app.screen, KeyHistoryScreen)
        await pilot.press("j", "R")  # alice's version: the record as it was added
        await settle(pilot)
        text = screen_text(app)
        assert 'now       {"name": "changed", "age": 1}' in text and 'restored  {"name": "user 3", "age": 23}' in text
        await pilot.press("y")
        await settle(pilot)
        assert small_db.get("acme", "users", "u03") == {"name": "user 3", "age": 23}
        assert small_db.get("acme", "users", "u04") == {"name": "user 4", "age": 24}  # the others untouched
        assert isinstance(app.screen, KeyHistoryScreen)  # reloaded: the restore is the newest change
        rows = app.screen.query_one(ChangeRows).rows
        assert [(r.user, r.kind) for r in rows] == [("tester", "changed"), ("carol", "changed"), ("alice", "added")]
        assert app.query_one(Timeline).head == small_db.get_digest("acme", "users")
        del table


async def _search(pilot, text: str):
    from mydb_tui.screens.search import HitList, SearchScreen

    await pilot.press("ctrl+f")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SearchScreen)
    await pilot.press(*text, "enter")
    await settle(pilot)
    return screen, screen.query_one(HitList)


async def test_search_streams_hits_and_enter_selects_version_and_record(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await _open_users(pilot)
        screen, hits = await _search(pilot, "changed")
        assert [(h.entry, h.key, h.before, h.after) for h in hits.hits] == [("users", "u03", 0, 1)]
        text = screen_text(app)
        assert "1 hit in 2 versions" in text and "u03" in text and "0→1" in text
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.screen is not screen
        timeline = app.query_one(Timeline)
        assert timeline.selected.digest == small_db.get_digest("acme", "users")
        assert app.query_one(RecordTable).selected_key == "u03"


async def test_search_of_the_tenant_and_plain_mode_then_jump_to_a_path(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await _open_users(pilot)
        screen, hits = await _search(pilot, "8080")
        assert hits.hits == []  # pickaxe, this entry only
        await pilot.press("ctrl+o")  # the whole tenant
        await settle(pilot)
        assert [(h.entry, h.path, h.before, h.after) for h in hits.hits] == [("config", "/servers/0/port", 0, 1)]
        await pilot.press("ctrl+t")  # plain: every version that wrote a value holding it
        await settle(pilot)
        assert [h.entry for h in hits.hits] == ["config"] and "plain" in screen_text(app)
        await pilot.press("down", "enter")
        await settle(pilot)
        bob = small_db.log("acme", "config")[1].digest
        assert app.query_one(Timeline).selected.digest == bob
        tree = app.query_one("#data-tree", JsonTree)
        assert tree.cursor_pointer == "/servers/0/port"


async def test_escape_cancels_a_running_search_at_once(small_db, app_factory) -> None:
    import time

    slow_versions = []
    real = small_db.search

    def slow(*args, cancelled, **kwargs):
        def check() -> bool:
            slow_versions.append(1)
            time.sleep(0.05)
            return cancelled()
        return real(*args, cancelled=check, **kwargs)

    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await _open_users(pilot)
        app.engine.search = slow
        await pilot.press("ctrl+f", "ctrl+o", *"u", "enter")
        screen = app.screen
        deadline = time.monotonic() + 10
        while not slow_versions and time.monotonic() < deadline:  # the search has begun
            await pilot.pause(0.02)
        assert screen.running
        await pilot.press("escape")
        at_escape = len(slow_versions)
        await app.workers.wait_for_complete()
        assert len(slow_versions) <= at_escape + 1  # the version being read when esc came, no more
        assert "cancelled" in screen_text(app)
        checks = len(slow_versions)
        await pilot.pause(0.1)
        assert len(slow_versions) == checks
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is not screen


async def test_go_to_date_selects_the_version_that_was_head_then(small_db, app_factory) -> None:
    from mydb_tui.screens.goto_date import GotoDateScreen

    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        app.goto_entry("acme", "config")
        await settle(pilot)
        versions = small_db.log("acme", "config")  # saved at START, +1 min, +2 min (TZ=UTC)
        await pilot.press("@")
        await settle(pilot)
        assert isinstance(app.screen, GotoDateScreen)
        await pilot.press(*"not a date", "enter")
        await settle(pilot)
        assert isinstance(app.screen, GotoDateScreen) and "is not an ISO 8601 date" in screen_text(app)
        app.screen.query_one("#date-input").value = "2026-11-26"
        await pilot.press("enter")
        await settle(pilot)
        assert "is before the first version of config" in screen_text(app)
        app.screen.query_one("#date-input").value = "2026-11-26T14:04:30"
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, GotoDateScreen)
        assert app.query_one(Timeline).selected.digest == versions[1].digest


async def test_b_shows_who_last_changed_each_visible_line(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        app.goto_entry("acme", "config")
        await settle(pilot)
        tree = app.query_one("#data-tree", JsonTree)
        tree.focus()
        await pilot.press("b")
        await pilot.pause(0.1)
        await settle(pilot)
        assert tree.blame_on
        first, second, third = (v.digest for v in reversed(small_db.log("acme", "config")))
        # the visible value lines only: servers[0] is still closed
        assert {p: v.digest for p, v in tree.blame.items()} == {"/debug": second, "/pair": third}
        text = screen_text(app)
        debug_line = next(line for line in text.splitlines() if "debug: true" in line)
        assert f"{second[:7]} bob" in debug_line and "│" in debug_line
        tree.select_pointer("/servers/0/port")  # opens servers[0]: its lines fill in
        await pilot.pause(0.1)
        await settle(pilot)
        assert {p: v.digest for p, v in tree.blame.items()} == {
            "/debug": second, "/pair": third, "/servers/0/host": third, "/servers/0/port": second}
        await pilot.press("b")
        await settle(pilot)
        assert not tree.blame_on and f"{second[:7]} bob" not in screen_text(app)


async def test_the_palette_offers_the_history_questions(small_db, app_factory) -> None:
    from mydb_tui.screens.search import SearchScreen

    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await _open_users(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"History of this record", "Search history…", "Go to date…"} <= titles
        assert "Blame gutter" not in titles  # snapshot entries only
        app.goto_entry("acme", "config")
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"History of this value", "Search history…", "Go to date…", "Blame gutter"} <= titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Search history…")
        command.callback()
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        assert not {c.title for c in app.get_system_commands(app.screen)} & {"Search history…", "Go to date…"}


async def test_restoring_one_path_of_a_snapshot(small_db, app_factory) -> None:
    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await _open_config_port(pilot)
        await pilot.press("h")
        await settle(pilot)
        await pilot.press("j", "R")  # alice's version: port 80
        await settle(pilot)
        assert "now       8080" in screen_text(app) and "restored  80" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        head = small_db.load("acme", "config")
        assert head["servers"] == [{"host": "b", "port": 80}] and head["debug"] is True  # only that path


async def test_go_to_date_from_the_record_table(small_db, app_factory) -> None:
    """`@` pressed in the record table opens the date prompt (the table once had a method
    named `key_at`, which Textual called for the "at" key, with a traceback)."""
    from mydb_tui.screens.goto_date import GotoDateScreen

    app = app_factory(poll_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await _open_users(pilot)
        app.query_one(RecordTable).focus()
        await settle(pilot)
        await pilot.press("@")
        await settle(pilot)
        assert isinstance(app.screen, GotoDateScreen)
