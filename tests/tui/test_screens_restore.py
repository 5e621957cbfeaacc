"""RestoreScreen: the HEAD -> version change list, y / n / escape, refusing HEAD itself."""

from __future__ import annotations

import os

import pytest
from dbengine.dbengine import DbEngine
from textual.app import App, ComposeResult
from textual.widgets import Static
from tui_helpers import screen_engine, screen_text

from mydb_tui.screens.restore import RestoreScreen
from mydb_tui.widgets.change_list import ChangeList

TENANT = "acme"


class Host(App):
    """Opens a RestoreScreen and, like the real app, restores when it answers True."""

    def __init__(self, engine: DbEngine, user: str = "carol") -> None:
        super().__init__()
        self.engine = engine
        self.user = user
        self.results: list = []
        self.restored: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("host")

    def ask_restore(self, entry: str, digest: str) -> RestoreScreen:
        def answered(ok: bool | None) -> None:
            self.results.append(ok)
            if ok:
                self.restored.append(self.engine.restore(TENANT, self.user, entry, digest))

        screen = RestoreScreen(self.engine, TENANT, entry, digest)
        self.push_screen(screen, answered)
        return screen


async def opened(pilot, app: Host, entry: str, digest: str) -> RestoreScreen:
    screen = app.ask_restore(entry, digest)
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert screen.ready
    return screen


def prompts(screen: RestoreScreen) -> list[str]:
    changes = screen.query_one("#restore-changes", ChangeList)
    return [changes.render_row(i).plain for i in range(changes.row_count)]


async def test_shows_what_restoring_changes_and_y_restores(engine: DbEngine) -> None:
    v1 = engine.save(TENANT, "alice", "config", {"port": 80, "tags": ["a"]})
    head = engine.save(TENANT, "bob", "config", {"port": 8080, "debug": True})
    app = Host(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await opened(pilot, app, "config", v1)
        summary = screen.query_one("#restore-summary", Static).content.plain
        assert head[:12] in summary
        assert "1 key added · 1 changed · 1 removed" in summary  # tags come back, debug goes away, port changes
        shown = prompts(screen)
        assert any("['port']" in p and "8080 → 80" in p for p in shown)
        assert any("['tags']" in p and "added" in p for p in shown)
        assert any("['debug']" in p and "removed" in p for p in shown)
        await pilot.press("y")
        await pilot.pause()
        assert app.results == [True]
    new_head = engine.get_digest(TENANT, "config")
    assert [new_head] == app.restored and new_head != head
    version = engine.version(TENANT, "config", new_head)
    assert version.restored_from == v1 and version.user_id == "carol"
    assert engine.load(TENANT, "config") == {"port": 80, "tags": ["a"]}


@pytest.mark.parametrize("key", ["n", "escape"])
async def test_cancel_writes_nothing(engine: DbEngine, key: str) -> None:
    v1 = engine.save(TENANT, "alice", "config", {"a": 1})
    head = engine.save(TENANT, "alice", "config", {"a": 2})
    app = Host(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await opened(pilot, app, "config", v1)
        await pilot.press(key)
        await pilot.pause()
        assert app.screen is not screen
        assert app.results == [False]
    assert engine.get_digest(TENANT, "config") == head
    assert len(engine.log(TENANT, "config")) == 2


async def test_restoring_head_is_refused(engine: DbEngine) -> None:
    engine.save(TENANT, "alice", "config", {"a": 1})
    head = engine.save(TENANT, "alice", "config", {"a": 2})
    app = Host(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await opened(pilot, app, "config", head)
        assert "already the HEAD" in screen.query_one("#restore-summary", Static).content.plain
        await pilot.press("y")
        await pilot.pause()
        assert app.screen is screen and app.results == []
        assert screen.refusal and "already the HEAD" in screen.refusal
    assert engine.get_digest(TENANT, "config") == head


async def test_record_entry_restore(engine: DbEngine) -> None:
    engine.put_many(TENANT, "alice", "users", {f"u{i}": {"age": i} for i in range(100)})
    v1 = engine.get_digest(TENANT, "users")
    engine.put(TENANT, "bob", "users", "u5", {"age": 50})
    engine.delete(TENANT, "bob", "users", "u6")
    app = Host(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await opened(pilot, app, "users", v1)
        summary = screen.query_one("#restore-summary", Static).content.plain
        assert "1 record added · 1 changed · 1 field change" in summary
        shown = prompts(screen)
        assert any("[u5]['age']" in p and "50 → 5" in p for p in shown)
        assert any("[u6]" in p and "added" in p for p in shown)
        await pilot.press("y")
        await pilot.pause()
    assert engine.get(TENANT, "users", "u5") == {"age": 5}
    assert engine.get(TENANT, "users", "u6") == {"age": 6}
    assert engine.version(TENANT, "users", engine.get_digest(TENANT, "users")).restored_from == v1


@pytest.fixture
def engine(tmp_path) -> DbEngine:
    return screen_engine(tmp_path, TENANT)


async def test_a_restore_changing_many_records_lists_every_change(engine: DbEngine) -> None:
    """All the changes are listed (no cap) and only the visible lines are drawn: no freeze.

    20,000 records by default; MYDB_STRESS=5 gives the issue's 100,000."""
    count = 20_000 * max(1, int(os.environ.get("MYDB_STRESS", "1")))
    engine.put_many(TENANT, "alice", "users", {"seed": {"v": 0}})
    v1 = engine.get_digest(TENANT, "users")
    engine.put_many(TENANT, "bob", "users", {f"u{i:06d}": {"v": i} for i in range(count)})
    app = Host(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await opened(pilot, app, "users", v1)
        changes = screen.query_one("#restore-changes", ChangeList)
        assert changes.row_count == count
        drawn: list[int] = []
        original = changes.render_row
        changes.render_row = lambda index: drawn.append(index) or original(index)
        await pilot.press("G")  # to the last change
        await pilot.pause()
        last = f"u{count - 1:06d}"
        text = screen_text(app)
        assert f"Changes ({count:,})" in text and f"[{last}]" in text and "removed" in text
        assert len(drawn) <= 3 * changes.size.height  # a screenful, not the whole list
        await pilot.press("y")
        await pilot.pause()
    assert app.restored and engine.read_records(TENANT, engine.get_digest(TENANT, "users")) == {"seed": {"v": 0}}
