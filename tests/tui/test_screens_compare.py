"""CompareScreen: aligned sides, highlighted changes, change list navigation, records, closing."""

from __future__ import annotations

import pytest
from dbengine.dbengine import DbEngine
from textual.widgets import Static
from tui_helpers import Host, screen_engine

from mydb_tui.screens.compare import CompareScreen
from mydb_tui.widgets.change_list import ChangeList
from mydb_tui.widgets.diff_view import DiffView

TENANT = "acme"


async def open_compare(pilot, app: Host, screen: CompareScreen) -> CompareScreen:
    app.push_screen(screen, app.results.append)
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert screen.comparison is not None, screen.error
    return screen


def visible_lines(diff: DiffView) -> list[str]:
    return [diff.render_line(y).text for y in range(diff.scrollable_content_region.height)]


def change_prompts(screen: CompareScreen) -> list[str]:
    changes = screen.query_one("#compare-changes", ChangeList)
    return [changes.render_row(i).plain for i in range(changes.row_count)]


async def test_snapshot_sides_changes_and_meta(engine: DbEngine) -> None:
    old = engine.save(TENANT, "alice", "config", {"port": 80, "name": "web [bold red]x[/]", "tags": ["a"]})
    new = engine.save(TENANT, "bob", "config", {"port": 8080, "name": "web [bold red]x[/]", "debug": True})
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "config", old, new))
        lines = visible_lines(screen.query_one(DiffView))
        port = next(line for line in lines if '"port"' in line)
        left, right = port.split("│")
        assert "80" in left and "8080" not in left and "8080" in right
        # markup in values is shown literally, on both sides
        assert any(line.count("web [bold red]x[/]") == 2 for line in lines)
        prompts = change_prompts(screen)
        assert any("['port']" in p and "80 → 8080" in p for p in prompts)
        assert any("['tags']" in p and "removed" in p for p in prompts)
        assert any("['debug']" in p and "added" in p for p in prompts)
        meta_old = screen.query_one("#meta-old", Static).content.plain
        meta_new = screen.query_one("#meta-new", Static).content.plain
        assert old[:12] in meta_old and "alice" in meta_old
        assert new[:12] in meta_new and "bob" in meta_new and old[:7] in meta_new
        # metadata is not part of the data rows
        assert not any("alice" in line or "bob" in line for line in lines)
        title = screen.query_one("#compare-title", Static).content.plain
        assert "1 key added · 1 changed · 1 removed" in title


async def test_changed_words_are_marked(engine: DbEngine) -> None:
    old = engine.save(TENANT, "alice", "config", {"greeting": "hello big world"})
    new = engine.save(TENANT, "alice", "config", {"greeting": "hello small world"})
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "config", old, new))
        diff = screen.query_one(DiffView)
        row = screen.comparison.changes[0].row
        strip = diff.render_line(row - diff.scroll_offset.y)
        styles = {seg.text.strip(): seg.style for seg in strip if seg.text.strip()}
        mark = diff.get_component_rich_style("diffview--added-mark")
        line = diff.get_component_rich_style("diffview--added")
        assert styles["small"] == mark
        assert mark != line
        assert any(style == line for text, style in styles.items() if "hello" in text)


async def test_n_and_p_move_selection_and_scroll_both_sides(engine: DbEngine) -> None:
    data = {f"key{i:03d}": i for i in range(300)}
    old = engine.save(TENANT, "alice", "big", data)
    changed = dict(data, key005=-5, key150=-150, key290=-290)
    new = engine.save(TENANT, "bob", "big", changed)
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "big", old, new))
        diff = screen.query_one(DiffView)
        rows = [c.row for c in screen.comparison.changes]
        assert len(rows) == 3 and rows == sorted(rows)
        assert screen.selected_change == 0
        assert diff.current_row == rows[0]
        top_before = diff.scroll_offset.y
        await pilot.press("n")
        await pilot.pause()
        assert screen.selected_change == 1
        assert diff.current_row == rows[1]
        assert diff.scroll_offset.y > top_before
        # the selected change's row is on screen, both sides on the same line
        line = visible_lines(diff)[rows[1] - diff.scroll_offset.y]
        assert '"key150": 150' in line and '"key150": -150' in line
        await pilot.press("n")
        await pilot.pause()
        assert screen.selected_change == 2
        assert '"key290": -290' in visible_lines(diff)[rows[2] - diff.scroll_offset.y]
        await pilot.press("n")  # past the last change: stays
        await pilot.pause()
        assert screen.selected_change == 2
        await pilot.press("p", "p")
        await pilot.pause()
        assert screen.selected_change == 0
        assert diff.current_row == rows[0]
        assert diff.scroll_offset.y <= rows[0]


async def test_selecting_a_change_in_the_list_scrolls_to_it(engine: DbEngine) -> None:
    data = {f"key{i:03d}": i for i in range(200)}
    old = engine.save(TENANT, "alice", "big", data)
    new = engine.save(TENANT, "bob", "big", dict(data, key001=1.5, key180=18.5))
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "big", old, new))
        diff = screen.query_one(DiffView)
        assert screen.focused is screen.query_one("#compare-changes", ChangeList)
        await pilot.press("down")
        await pilot.pause()
        target = screen.comparison.changes[1].row
        assert diff.current_row == target
        assert diff.scroll_offset.y <= target < diff.scroll_offset.y + diff.scrollable_content_region.height


async def test_records_compare_only_changed_records(engine: DbEngine) -> None:
    engine.put_many(TENANT, "alice", "users", {f"u{i}": {"name": f"user {i}", "age": i} for i in range(300)})
    old = engine.get_digest(TENANT, "users")
    engine.put_many(TENANT, "bob", "users", {"u3": {"name": "user 3", "age": 99}, "zed": {"name": "Z", "age": 1}})
    engine.delete(TENANT, "bob", "users", "u7")
    new = engine.get_digest(TENANT, "users")
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "users", old, new))
        title = screen.query_one("#compare-title", Static).content.plain
        assert "1 record added · 1 changed · 1 removed · 1 field change" in title
        prompts = change_prompts(screen)
        assert any("[u3]['age']" in p and "3 → 99" in p for p in prompts)
        assert any("[zed]" in p and "added" in p for p in prompts)
        assert any("[u7]" in p and "removed" in p for p in prompts)
        text = "\n".join(visible_lines(screen.query_one(DiffView)))
        assert "▸ u3" in text and "▸ zed" in text and "▸ u7" in text
        assert "user 100" not in text  # unchanged records are not shown


async def test_first_version_compares_with_an_empty_side(engine: DbEngine) -> None:
    first = engine.save(TENANT, "alice", "config", {"a": 1})
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "config", None, first))
        assert "empty side" in screen.query_one("#meta-old", Static).content.plain
        assert any("['a']" in p and "added" in p for p in change_prompts(screen))


async def test_restored_from_is_shown_in_the_metadata(engine: DbEngine) -> None:
    v1 = engine.save(TENANT, "alice", "config", {"a": 1})
    v2 = engine.save(TENANT, "alice", "config", {"a": 2})
    v3 = engine.restore(TENANT, "carol", "config", v1)
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "config", v2, v3))
        meta_new = screen.query_one("#meta-new", Static).content.plain
        assert "restored from " + v1[:7] in meta_new and "carol" in meta_new


async def test_large_comparison_renders_only_visible_rows(engine: DbEngine) -> None:
    data = {f"k{i:05d}": {"v": i} for i in range(5000)}
    old = engine.save(TENANT, "alice", "huge", data)
    new = engine.save(TENANT, "alice", "huge", dict(data, k04999={"v": -1}))
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "huge", old, new))
        diff = screen.query_one(DiffView)
        assert diff.virtual_size.height == len(screen.comparison.rows) > 10000
        assert len(diff._cache) <= 2 * diff.scrollable_content_region.height
        await pilot.press("tab")  # focus the diff, then jump to the end
        assert screen.focused is diff
        await pilot.press("G")
        await pilot.pause()
        assert diff.scroll_offset.y == diff.max_scroll_y > 0
        assert visible_lines(diff)[-1].rstrip().endswith("}")


async def test_error_is_shown_in_place(engine: DbEngine) -> None:
    v1 = engine.save(TENANT, "alice", "config", {"a": 1})
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = CompareScreen(engine, TENANT, "config", "0" * 64, v1)
        app.push_screen(screen)
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.comparison is None and screen.error
        assert "Comparison failed" in screen.query_one("#compare-title", Static).content.plain
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is not screen


@pytest.mark.parametrize("key", ["escape", "q"])
async def test_escape_and_q_close(engine: DbEngine, key: str) -> None:
    v1 = engine.save(TENANT, "alice", "config", {"a": 1})
    v2 = engine.save(TENANT, "alice", "config", {"a": 2})
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "config", v1, v2))
        await pilot.press(key)
        await pilot.pause()
        assert app.screen is not screen
        assert app.results == [None]


async def test_the_first_change_is_on_screen_when_the_comparison_opens(engine: DbEngine) -> None:
    data = {f"key{i:03d}": i for i in range(200)}
    old = engine.save(TENANT, "alice", "big", data)
    new = engine.save(TENANT, "bob", "big", dict(data, key170=-170))
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "big", old, new))
        await pilot.pause()
        diff = screen.query_one(DiffView)
        row = screen.comparison.changes[0].row
        assert diff.scroll_offset.y > 0
        line = visible_lines(diff)[row - diff.scroll_offset.y]
        assert '"key170": 170' in line and '"key170": -170' in line


async def test_no_horizontal_scrollbar_when_every_line_fits(engine: DbEngine) -> None:
    # enough lines for a vertical scrollbar: it must not push the (fitting) lines into a
    # horizontal one
    data = {f"key{i:03d}": "x" * 30 for i in range(100)}
    old = engine.save(TENANT, "alice", "wide", data)
    new = engine.save(TENANT, "bob", "wide", dict(data, key050="y" * 30))
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "wide", old, new))
        await pilot.pause()
        diff = screen.query_one(DiffView)
        assert diff.show_vertical_scrollbar
        assert not diff.show_horizontal_scrollbar
        assert diff.virtual_size.width <= diff.scrollable_content_region.width
        assert any('"key050": "' + "y" * 30 + '"' in line for line in visible_lines(diff))


async def test_a_line_wider_than_its_side_scrolls_horizontally(engine: DbEngine) -> None:
    old = engine.save(TENANT, "alice", "long", {"a": "short"})
    new = engine.save(TENANT, "bob", "long", {"a": "z" * 150})
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "long", old, new))
        await pilot.pause()
        diff = screen.query_one(DiffView)
        assert diff.show_horizontal_scrollbar
        diff.scroll_to(x=diff.max_scroll_x, animate=False)
        await pilot.pause()
        assert any(line.rstrip().endswith('zzz"') for line in visible_lines(diff))


async def test_a_thousand_changes_list_renders_only_visible_lines(engine: DbEngine) -> None:
    data = {f"key{i:04d}": i for i in range(1000)}
    old = engine.save(TENANT, "alice", "many", data)
    new = engine.save(TENANT, "bob", "many", {k: -v - 1 for k, v in data.items()})
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "many", old, new))
        changes = screen.query_one(ChangeList)
        assert changes.row_count == len(screen.comparison.changes) == 1000
        assert "Changes (1,000)" in changes.render_header().plain
        assert 0 < len(changes._cache) <= changes.visible_rows
        # the last change: the list follows it and both sides of the diff show it
        await pilot.press("end")
        await pilot.pause()
        assert screen.selected_change == 999
        assert changes.scroll_offset.y + changes.visible_rows >= 1000
        diff = screen.query_one(DiffView)
        row = screen.comparison.changes[999].row
        assert diff.current_row == row
        line = visible_lines(diff)[row - diff.scroll_offset.y]
        assert '"key0999": 999' in line and '"key0999": -1000' in line
        assert len(changes._cache) <= 2 * changes.visible_rows


@pytest.fixture
def engine(tmp_path) -> DbEngine:
    return screen_engine(tmp_path, TENANT)


async def test_footer_is_built_once_while_opening_and_follows_its_keys(engine: DbEngine, monkeypatch) -> None:
    # The footer is rebuilt only when the keys it shows change: once when the screen opens
    # (Textual rebuilt it on every focus or stack update), again when t swaps Raw JSON for Badges.
    from textual.widgets._footer import FooterKey

    from mydb_tui.widgets.footer import CalmFooter

    old = engine.save(TENANT, "alice", "config", {"port": 80})
    new = engine.save(TENANT, "bob", "config", {"port": 8080})
    builds: list[str] = []
    compose = CalmFooter.compose

    def counting(self):
        builds.append(type(self.screen).__name__)
        return compose(self)

    monkeypatch.setattr(CalmFooter, "compose", counting)
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, app, CompareScreen(engine, TENANT, "config", old, new))
        footer = screen.query_one(CalmFooter)

        def labels() -> list[str]:
            return [key.description for key in footer.query(FooterKey)]

        assert "Raw JSON" in labels() and "Badges" not in labels()
        assert builds.count("CompareScreen") == 2  # the empty first compose, then the keys once
        await pilot.press("t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()
        assert "Badges" in labels() and "Raw JSON" not in labels()
        assert builds.count("CompareScreen") == 3
