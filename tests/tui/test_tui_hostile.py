"""The app on damaged and hostile databases: it shows the damage where it is, executes
nothing, does not hang (every wait has a timeout) and does not crash.

- a database with a flipped object, a truncated head and a damaged history index;
- the hostile database of tests/test_hostile.py (malicious pickle ref, `os:system` and
  other class paths, 10 MB strings, nesting 10,000 deep), browsed, decoded (`v`,
  without --trust-pickle), compared;
- names, users and values with Rich markup, ANSI escapes and control characters,
  which must reach the screen literally (no ESC or other control byte in any strip).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from dbengine.dbengine import DbEngine
from dbengine.utils import compute_digest, to_json_bytes
from tui_helpers import SIZE, screen_text, settle

from mydb_tui.model.entries import EntryData
from mydb_tui.screens.compare import CompareScreen
from mydb_tui.widgets.entry_tree import EntryTree
from mydb_tui.widgets.json_tree import JsonTree
from mydb_tui.widgets.timeline import Timeline
from mydb_tui.widgets.viewer import LINE_LIMIT, TEXT_LIMIT

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from test_hostile import T, assert_harmless, build_hostile, envelope  # noqa: E402

STEP = 60  # seconds any one step may take before the test fails as a hang
CONTROL = ("\x1b", "\x07", "\x9b", "\u202e", "\r", "\x00")


async def step(pilot, *keys: str, rounds: int = 2) -> None:
    """Press `keys`, then let workers finish; fail instead of hanging."""
    if keys:
        await asyncio.wait_for(pilot.press(*keys), STEP)
    await asyncio.wait_for(settle(pilot, rounds), STEP)
    assert pilot.app.is_running and pilot.app._exception is None


def assert_no_control(app) -> str:
    text = screen_text(app)
    for char in CONTROL:
        assert char not in text, (repr(char), text)
    return text


def errors_shown(app) -> list[str]:
    return [str(n.message) for n in app._notifications if n.severity == "error"]


# ====================================================================== damage
def flip(path: str, count: int = 3) -> None:
    """Invert `count` bytes in the middle of a file."""
    with open(path, "r+b") as handle:
        data = bytearray(handle.read())
        middle = len(data) // 2
        for i in range(middle, middle + count):
            data[i] ^= 0xFF
        handle.seek(0)
        handle.write(data)


def truncate(path: str) -> None:
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)


async def test_a_damaged_database_shows_each_damage_where_it_is(small_db, app_factory) -> None:
    engine = small_db
    engine.init("initech")
    engine.save("initech", "peter", "tps", {"cover_sheet": True})
    config = [v.digest for v in engine.log("acme", "config")]
    users = [v.digest for v in engine.log("acme", "users")]
    flip(engine.storage.object_path("acme", config[1]))  # a middle version of config
    truncate(engine.storage.head_path("globex"))  # globex: unreadable tenant
    flip(engine.storage.index_path("acme", "users"), 5)  # history index: repaired from the objects
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot)
        timeline = app.query_one(Timeline)
        tree = app.query_one(EntryTree)
        # the unreadable tenant: an error in its place and a toast
        tree.tenant_nodes()["globex"].expand()
        await step(pilot)
        text = assert_no_control(app)
        assert "globex" in text and "⚠" in text
        assert any("globex" in m for m in errors_shown(app)), errors_shown(app)
        # the flipped object: an error in the viewer when its version is selected
        app.goto_entry("acme", "config")
        await step(pilot)
        assert [v.digest for v in timeline.versions] == config
        timeline.focus()
        await step(pilot, "j")
        assert timeline.selected.digest == config[1]
        text = assert_no_control(app)
        assert f"⚠ cannot read config @ {config[1][:7]}" in text, text
        assert len(errors_shown(app)) >= 2
        await step(pilot, "j")  # the version before it still shows
        assert app.viewer.digest == config[2] and app.viewer.document is not None
        # comparing HEAD with the damaged parent fails in place
        await step(pilot, "g", "d")
        assert isinstance(app.screen, CompareScreen)
        assert "Comparison failed" in screen_text(app)
        await step(pilot, "escape")
        assert not isinstance(app.screen, CompareScreen)
        # the damaged index: the history is still exactly right, the records show
        app.goto_entry("acme", "users")
        await step(pilot)
        assert [v.digest for v in timeline.versions] == users
        assert app.viewer.kind == "records" and app.viewer.record_table.row_count == 30
        # the untouched tenant browses normally
        app.goto_entry("initech", "tps")
        await step(pilot)
        assert timeline.row_count == 1 and app.viewer.data == {"cover_sheet": True}
        assert "cover_sheet" in screen_text(app)


# ====================================================================== hostile content
PARSABLE_DEPTH = 900  # deep, but within what the JSON parser reads (10,000 is not)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict:
    """tests/test_hostile.py's database plus two documents nested 900 deep (readable)."""
    built = build_hostile(str(tmp_path_factory.mktemp("hostile-tui")))
    storage = DbEngine(built["root"], durable=False).storage
    with open(storage.head_path(T), "rb") as handle:
        head = json.loads(handle.read())
    deep = {"deep900-dicts": b'{"a":' * PARSABLE_DEPTH + b'"[bold]x"' + b"}" * PARSABLE_DEPTH,
            "deep900-lists": b"[" * PARSABLE_DEPTH + b"1" + b"]" * PARSABLE_DEPTH}
    for name, data_json in deep.items():
        data = envelope(data_json)
        head[name] = compute_digest(data)
        storage.write_object(T, head[name], data)
    with storage.lock(T):
        storage.write_head(T, to_json_bytes(head))
    built["entries"] = sorted(head)
    return built


def decode_outcome(app, tree: JsonTree, before: set[str]) -> str:
    """What `v` showed: the new toasts and the decoded leaf under the cursor."""
    from mydb_tui.widgets.json_tree import JsonNode

    toasts = [str(n.message) for n in app._notifications if n.identity not in before]
    node = tree.cursor_node
    leaves = [str(c.data.value) for c in (node.children if node else [])
              if isinstance(c.data, JsonNode) and c.data.key == "decoded"]
    return " | ".join(toasts + leaves)


def tagged_line(tree: JsonTree) -> int | None:
    """The first line of the data tree whose node is a tagged value."""
    from mydb_tui.model.values import is_special
    from mydb_tui.widgets.json_tree import JsonNode

    for line in range(tree.last_line + 1):
        node = tree.get_node_at_line(line)
        if node is not None and isinstance(node.data, JsonNode) and is_special(node.data.value):
            return line
    return None


async def test_hostile_objects_are_browsed_decoded_and_compared_without_running(
        hostile, app_factory, monkeypatch) -> None:
    monkeypatch.syspath_prepend(hostile["paths"]["probe_dir"])  # import-probe would be importable
    app = app_factory(root=hostile["root"], poll_interval=0)  # nothing else writes here
    assert app.trust_pickle is False
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot)
        tree = app.query_one(EntryTree)
        timeline = app.query_one(Timeline)
        node = tree.tenant_nodes()[T]
        listed = [c.data.entry for c in node.children if isinstance(c.data, EntryData)]
        assert listed == hostile["entries"]
        unreadable = {c.data.entry for c in node.children if isinstance(c.data, EntryData) and c.data.error}
        assert unreadable == {"deep-lists", "deep-dicts", "deep-tuples"}  # too deep for the JSON parser
        decoded = {}
        for entry in hostile["entries"]:
            app.goto_entry(T, entry)
            await step(pilot)
            text = assert_no_control(app)
            assert_harmless(hostile["paths"])
            if entry in unreadable:
                assert "⚠ cannot read the history" in text, (entry, text)
                continue
            assert timeline.entry == entry and timeline.row_count == 1, entry
            # decode (v) the first tagged value shown, as a user would
            data_tree = app.query_one("#record-tree" if entry == "records" else "#data-tree", JsonTree)
            line = tagged_line(data_tree)
            if line is not None:
                data_tree.focus()
                data_tree.cursor_line = line
                before = {n.identity for n in app._notifications}
                await step(pilot, "v")
                decoded[entry] = decode_outcome(app, data_tree, before)
                assert_harmless(hostile["paths"])
            # compare with the (empty) parent, then close
            timeline.focus()
            await step(pilot, "d")
            assert isinstance(app.screen, CompareScreen), entry
            screen = app.screen
            assert screen.comparison is not None or screen.error is not None, entry
            assert_no_control(app)
            assert_harmless(hostile["paths"])
            await step(pilot, "escape")
            assert not isinstance(app.screen, CompareScreen)
        # the text view (t) of the 10 MB string is cut (its one long line); the 900-deep ones
        # (1.6 M characters in short lines) render in full
        for entry in ("big-string", "deep900-dicts", "deep900-lists"):
            app.goto_entry(T, entry)
            await step(pilot)
            app.viewer.action_toggle_view()
            await step(pilot)
            text = app.query_one("#data-text").text
            if entry == "big-string":
                assert "more characters: see the tree view" in text and len(text) < 2 * LINE_LIMIT, len(text)
            else:
                assert 1_000_000 < len(text) <= TEXT_LIMIT, (entry, len(text))
            assert_no_control(app)
            app.viewer.action_toggle_view()
        assert_harmless(hostile["paths"])
    assert "--trust-pickle" in decoded["pickle"]  # the pickle was refused before decoding
    assert "--trust-pickle" in decoded["pickle-in-object"]
    for entry in ("os-system", "eval", "popen-object", "popen-enum", "system-enum", "finalizer",
                  "import-probe", "records"):
        assert "cannot decode" in decoded[entry] and "Error" in decoded[entry], (entry, decoded[entry])
    assert_harmless(hostile["paths"])


# ====================================================================== markup and escapes
MARKUP_TENANT = "[bold red]acme"
MARKUP_ENTRY = "[link=http://x]e[/link]\x1b[31m\x07"
MARKUP_USER = "\x1b]0;pwned\x07[blink]u[/blink]"
MARKUP_VALUE = "\x1b[2J\x9b31m[bold]v[/bold]\u202e\r"


async def test_markup_and_escapes_show_literally(tui_engine, app_factory) -> None:
    engine = tui_engine
    engine.init(MARKUP_TENANT)
    engine.save(MARKUP_TENANT, MARKUP_USER, MARKUP_ENTRY, {MARKUP_VALUE: MARKUP_VALUE, "n": 1})
    engine.save(MARKUP_TENANT, MARKUP_USER, MARKUP_ENTRY, {MARKUP_VALUE: [MARKUP_VALUE, "[i]x[/i]"], "n": 2})
    engine.put_many(MARKUP_TENANT, MARKUP_USER, "recs", {MARKUP_VALUE: {"name": MARKUP_VALUE},
                                                         "[b]k[/b]": {"name": "[red]n[/red]"}})
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot)
        seen = []
        app.goto_entry(MARKUP_TENANT, MARKUP_ENTRY)
        await step(pilot)
        seen.append(assert_no_control(app))
        app.query_one(Timeline).focus()
        await step(pilot, "d")  # compare with the parent
        assert isinstance(app.screen, CompareScreen) and app.screen.comparison is not None
        compare_text = assert_no_control(app)
        await step(pilot, "escape")
        app.goto_entry(MARKUP_TENANT, "recs")
        await step(pilot)
        seen.append(assert_no_control(app))
    main = "\n".join(seen)
    assert "[bold red]acme" in main
    assert "[link=http://x]e[/link]\\x1b[31m\\x07" in main
    assert "\\x1b]0;pwned\\x07[blink]u[/blink]" in main  # the full user, in the metadata strip
    assert "\\x1b[2J\\x9b31m[bold]v[/bold]\\u202e\\r" in main
    assert "[b]k[/b]" in main and "[red]n[/red]" in main
    assert "[i]x[/i]" in compare_text and "[bold]v[/bold]" in compare_text
    assert "[bold red]acme" in compare_text


async def test_the_text_view_shows_c1_controls_and_bidi_overrides_escaped(tui_engine, app_factory) -> None:
    """The pretty-JSON view (t) escapes what json.dumps(ensure_ascii=False) leaves raw."""
    tui_engine.init("t")
    tui_engine.save("t", "u", "e", {MARKUP_VALUE: MARKUP_VALUE})
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot)
        app.viewer.action_toggle_view()
        await step(pilot)
        assert "[bold]v[/bold]" in screen_text(app)
        assert_no_control(app)


async def test_a_damaged_record_node_shows_in_its_own_rows_only(small_db, app_factory, monkeypatch) -> None:
    """The record table reads a window's order leaf when its rows are drawn: one damaged
    after the table opened marks its rows unreadable and raises a toast; the others still show."""
    from dbengine import packs

    monkeypatch.setattr(packs, "PACK_MIN", 10**9)  # node files, one flipped below (a damaged pack: tests/test_packs.py)
    engine = small_db
    engine.put_many("acme", "u", "big", {f"k{i:05d}": {"n": i, "team": "blue"} for i in range(5000)})
    head = engine.get_digest("acme", "big")
    node = engine._node("acme", engine.read_snapshot("acme", head)["__order__"])
    victim = node
    while victim["__kind__"] != "rec-leaf":  # the leaf of the last records, far from the first screen
        digest = victim["children"][-1][1]
        victim = engine._node("acme", digest)
    victim_row = victim["items"][0][0]
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        app.goto_entry("acme", "big")
        await step(pilot)
        table = app.viewer.record_table
        assert table.row_count == 5000 and "k00000" in screen_text(app)
        flip(engine.storage.object_path("acme", digest))
        app.engine._objects.clear()  # evicted, as on an entry bigger than the cache
        app.engine._bucket_bytes.clear()
        table.focus()
        table.cursor = victim_row
        await step(pilot)
        text = assert_no_control(app)
        assert f"row {victim_row + 1} cannot be read" in text, text
        assert any(f"Row {victim_row + 1}" in m for m in errors_shown(app)), errors_shown(app)
        await step(pilot, "g")  # the other rows still show their values
        assert table.selected_key == "k00000" and "blue" in screen_text(app)
