"""Colours follow the Textual theme: every coloured text of the panes and dialogs stays
readable (WCAG contrast) on `textual-light` and `textual-dark`, also after switching themes."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.color import Color
from textual.widget import Widget
from tui_helpers import SIZE, settle

from mydb_tui.widgets.entry_tree import EntryTree
from mydb_tui.widgets.palette import MIN_CONTRAST, contrast, palette_for
from mydb_tui.widgets.timeline import Timeline

THEMES = ("textual-light", "textual-dark")
#: Box drawing, tree guides and scrollbars: decoration, not text.
DECORATION = set("─│├└┌┐╭╮╰╯▼▶╱▀▔▁▂▃▄▅▆▇█▉▊▋▌▍▎▏▕ ")


def low_contrast(app: App, widget: Widget, minimum: float = MIN_CONTRAST) -> list[tuple]:
    """(contrast, text, fg, bg) of every text segment inside `widget` that reads badly.

    Textual's own block cursor (its background, with the text in its automatic contrast
    colour) is the theme's choice and is not counted.
    """
    cursor = Color.parse(app.theme_variables["block-cursor-background"])
    region = widget.content_region
    update = app.screen._compositor.render_full_update(simplify=True)
    bad = []
    for y, line in enumerate(update.strips):
        if not region.y <= y < region.bottom:
            continue
        x = 0
        for strip in line:
            for segment in strip:
                start, x = x, x + len(segment.text)
                style = segment.style
                if start >= region.right or x <= region.x or not set(segment.text) - DECORATION:
                    continue
                if style is None or style.color is None or style.bgcolor is None:
                    continue
                fg, bg = Color.from_rich_color(style.color), Color.from_rich_color(style.bgcolor)
                if style.reverse:
                    fg, bg = bg, fg
                ratio = contrast(fg, bg)
                if bg == cursor and fg == bg + bg.get_contrast_text(0.87):
                    continue
                if ratio < minimum:
                    bad.append((round(ratio, 2), segment.text.strip()[:24], fg.hex, bg.hex))
    return bad


def test_every_palette_colour_reads_on_every_builtin_theme() -> None:
    app = App()
    for name, theme in app.available_themes.items():
        if theme.ansi:
            continue
        colors = palette_for(theme)
        variables = theme.to_color_system().generate()
        for background in ("background", "surface", "panel"):
            under = Color.parse(variables[background])
            for role in ("added", "removed", "changed", "digest", "date", "user", "key", "string",
                         "number", "literal", "tag", "snapshot", "records", "restored", "marked"):
                ratio = contrast(Color.parse(getattr(colors, role)), under)
                assert ratio >= MIN_CONTRAST, (name, role, background, ratio)


@pytest.mark.parametrize("theme", THEMES)
async def test_main_screen_reads_well_and_follows_a_theme_change(small_db, app_factory, theme) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.goto_entry("globex", "flags")  # HEAD and restored-from markers, a restored version
        await settle(pilot)
        app.query_one(Timeline).focus()
        await pilot.press("j")  # the cursor row, and the HEAD row beside it
        await settle(pilot)
        other = THEMES[1 - THEMES.index(theme)]
        app.theme = other  # opened in one theme, checked in the other: colours follow the switch
        await settle(pilot)
        app.theme = theme
        await settle(pilot)
        for selector in ("#timeline", "#metadata"):
            assert low_contrast(app, app.query_one(selector)) == [], (theme, selector)
        assert low_contrast(app, app.query_one(EntryTree)) == [], theme
        app.goto_entry("acme", "users")
        await settle(pilot)
        app.query_one("#record-table").focus()
        await pilot.press("j")
        await settle(pilot)
        assert low_contrast(app, app.query_one("#record-table")) == [], theme
        app.query_one("#record-tree").focus()
        await pilot.pause()
        assert low_contrast(app, app.query_one("#record-tree")) == [], theme


@pytest.mark.parametrize("theme", THEMES)
async def test_compare_and_restore_read_well(small_db, app_factory, theme) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        app.theme = theme
        await settle(pilot)
        app.goto_entry("acme", "config")
        await settle(pilot)
        app.query_one(Timeline).focus()
        await pilot.press("j", "d")
        await settle(pilot)
        screen = app.screen
        for selector in ("#compare-title", "#meta-old", "#meta-new", "#compare-changes"):
            assert low_contrast(app, screen.query_one(selector)) == [], (theme, selector)
        await pilot.press("escape", "r")
        await settle(pilot)
        screen = app.screen
        for selector in ("#restore-title", "#restore-summary", "#restore-changes"):
            assert low_contrast(app, screen.query_one(selector)) == [], (theme, selector)
