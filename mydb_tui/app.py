"""MyDbApp: the main screen (entry tree, timeline, viewer) and the app-wide actions.

The app owns the engine and the state shared by the panes (the selected entry and
version); the panes load their data in thread workers. A timer watches the
database's change token so writes by other processes show within a second or two.

Nothing waits on the database in the event loop: the UI is up before the first answer
("connecting…" while the console script's check is pending), and while the watcher's
polls fail or get no answer for SLOW_POLL seconds (model/watch.py) the status line says so ("S3
unreachable since 12:03, retrying"), idle or not; the first poll answered after that
clears it and reloads what failed meanwhile (tree, History, viewer) without a key press.

Quitting never waits on a worker: `run()` gives the event loop a pool of daemon
threads (`DaemonThreadPool`) that lets a stuck worker behind, and turns SIGINT and
SIGTERM into a normal quit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from collections.abc import Iterable
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from dbengine.dbengine import DbEngine
from dbengine.errors import DbEngineError, NotADatabaseError
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Header

from .model.conflict import saved_text
from .model.errors import error_text
from .model.escape import display_safe
from .model.watch import ChangeWatcher
from .screens.goto import GotoEntryProvider, GotoOnlyProvider
from .screens.help import HelpScreen
from .settings import read_settings, settings_path, write_settings
from .widgets.activity_strip import ActivityStrip
from .widgets.entry_tree import EntryPane, EntryTree
from .widgets.footer import AppFooter
from .widgets.json_tree import JsonTree
from .widgets.panes import PANE_IDS, Panes
from .widgets.record_table import RecordTable
from .widgets.status import StatusLine
from .widgets.timeline import Timeline
from .widgets.viewer import Viewer
from .worker_pool import DaemonThreadPool

WRITE_ACTIONS = frozenset({"restore", "edit", "add_record", "delete_record"})
VERSION_ACTIONS = frozenset({"compare", "compare_head", "restore", "edit", "copy"})
RECORD_ACTIONS = frozenset({"add_record", "delete_record"})

#: (action, palette title, palette help) of every app action, for the command palette.
#: An action with a title per entry kind lists as {"snapshot": ..., "records": ...}.
PALETTE_ACTIONS: tuple[tuple[str, str | dict[str, str], str], ...] = (
    ("goto", "Go to entry…", "Fuzzy search over all tenants and entries"),
    ("filter", "Filter entries", "Filter the tree by entry name (/)"),
    ("compare", "Compare versions", "Marked version (or parent) vs selected (d)"),
    ("compare_head", "Compare with HEAD", "Selected version vs HEAD (D)"),
    ("mark", "Mark version", "Mark the selected version for a comparison (space)"),
    ("filter_history", "Filter history", "Versions by user:, words, >=DATE <DATE, key:K (/ in History)"),
    ("restore", "Restore version", "Make the selected version the new HEAD (r)"),
    ("edit", {"snapshot": "Edit snapshot", "records": "Edit record"},
     "Edit the snapshot, or the selected record, as JSON (e)"),
    ("add_record", "Add record", "Add a record to this record entry (a)"),
    ("delete_record", "Delete record", "Delete the selected record (x)"),
    ("copy", "Copy", "Copy the selected digest or record key (c)"),
    # History questions (issue 14): keys h, b (viewer), ctrl+f, @.
    ("key_history", {"snapshot": "History of this value", "records": "History of this record"},
     "The versions where the selected record or tree node changed (h)"),
    ("search", "Search history…", "Find a text through the entry's (or tenant's) versions (ctrl+f)"),
    ("goto_date", "Go to date…", "Select the version that was HEAD at a date (@)"),
    ("toggle_blame", {"snapshot": "Blame gutter", "records": "Blame column"},
     "Show who last changed each line of the tree, or each record of the table (b)"),
    # Find in one version (record table): find /, sort s/S, copy value y / key Y.
    ("find_records", {"records": "Find in this version"}, "Show only the records whose key or value holds a text (/)"),
    ("sort_records", {"records": "Sort records"}, "Sort the record table by the underlined column (s; S picks it)"),
    ("copy_value", {"records": "Copy value as JSON"}, "Copy the selected record's value as JSON (y)"),
    ("toggle_view", "Toggle tree / JSON", "Show the data as a tree or as pretty JSON (t)"),
    ("zoom", "Zoom pane", "Show the focused pane on the whole screen, and back (+)"),
    ("goto_new", "Go to the new version", "Show the version another writer just saved (H)"),
    ("reload", "Reload", "Re-read the database now"),
    ("verify", "Verify database", "Re-hash and cross-check every file; changes nothing (V)"),
    ("help", "Help", "Every key of the app (? or F1)"),
)
#: The palette actions offered over other screens (compare, restore, editor…).
ANYWHERE_ACTIONS = frozenset({"help"})
#: Textual's own palette commands that the app's replace ("Keys": Help; "Maximize": Zoom pane).
REPLACED_COMMANDS = frozenset({"Keys", "Maximize", "Minimize"})

#: Seconds between two "alice saved config" toasts: a busy writer's versions are counted in one.
TOAST_GAP = 5.0


def not_a_database(root: str) -> NotADatabaseError:
    """The error of a root that holds no database (the console script's wording)."""
    return NotADatabaseError(f"{root!r} is not a MyDbEngine database (no refs/ folder or tenant)")


class MyDbApp(App[None]):
    """Browse tenants and entries, compare, restore and edit versions."""

    CSS_PATH = [
        "app.tcss",
        "widgets/panes.tcss",
        "widgets/entry_tree.tcss",
        "widgets/timeline.tcss",
        "widgets/viewer.tcss",
        # Read with the app's: a screen's own CSS read on its first push makes Textual
        # reparse every stylesheet and restyle the whole app (~40 ms on the first compare).
        "screens/compare.tcss",
    ]
    TITLE = "mydb-tui"
    COMMANDS = App.COMMANDS | {GotoEntryProvider}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("V", "verify", "Verify"),
        Binding("plus", "zoom", "Zoom", key_display="+"),
        Binding("H", "goto_new", "New version"),
        Binding("1", "focus_pane(0)", "Go to Entries", show=False),
        Binding("2", "focus_pane(1)", "Go to History", show=False),
        Binding("3", "focus_pane(2)", "Go to Version", show=False),
        Binding("ctrl+q", "quit", "Quit", show=False),
        # Textual's own ctrl+c only says how to quit; here it quits, but not over an editor.
        Binding("ctrl+c", "interrupt", "Quit", show=False),
        Binding("ctrl+g", "goto", "Go to entry", show=False),
        Binding("ctrl+f", "search", "Search"),
        Binding("at", "goto_date", "Go to date", key_display="@"),
        # Work from any pane; each pane shows the ones that concern it.
        Binding("d", "compare", "Compare", show=False),
        Binding("D", "compare_head", "vs HEAD", show=False),
        Binding("r", "restore", "Restore", show=False),
        Binding("e", "edit", "Edit", show=False),
        Binding("a", "add_record", "Add record", show=False),
        Binding("x", "delete_record", "Delete record", show=False),
    ]

    def __init__(
        self,
        engine: DbEngine,
        *,
        user: str,
        read_only: bool = False,
        trust_pickle: bool = False,
        poll_interval: float = 1.0,
        auto_open: bool = True,
        connecting: Future | None = None,
    ) -> None:
        """`connecting`: the pending answer of `engine.is_database()` (see make_app's
        connect_wait); the panes wait for it, "connecting…" on screen, and a failure or
        False ends the app with `startup_error` set (the console script prints it)."""
        super().__init__()
        self.engine = engine
        self.user = user
        self.read_only = read_only
        self.trust_pickle = trust_pickle
        self.poll_interval = poll_interval
        self.auto_open = auto_open
        self.connecting = connecting
        self.startup_error: str | None = None
        self._watch = ChangeWatcher(engine.root)
        self._connect_started = 0.0
        self._connect_timer: Any = None
        self._quit_when_up = False  # SIGINT/SIGTERM came while the app was starting
        self._binding_state: tuple | None = None
        self._warmed = False
        #: Versions this app wrote (the watcher does not announce them as another writer's).
        self._own_writes: set[str] = set()
        #: (tenant, entry, digest) of the newest version another writer saved, until the user goes there.
        self.new_version: tuple[str, str, str] | None = None
        self._arrivals: list = []  # their versions not yet in a toast, newest first
        self._last_toast = -TOAST_GAP  # monotonic time of the last such toast
        self._toast_timer: Any = None
        #: Where the chosen theme is remembered between runs (None: nowhere). `run()` sets it to
        #: settings_path(); tests and screenshots (run_test) leave it None, so the user's choice
        #: never changes what they show.
        self.settings_file: Path | None = None
        self._settings: dict[str, Any] = {}
        parts = [display_safe(engine.root), f"user {display_safe(user)}"]
        if read_only:
            parts.append("read-only")
        self.sub_title = " · ".join(parts)

    # ================================================================== running and quitting
    def run(self, **kwargs: Any) -> None:
        """Run in the terminal on a loop of our own (see DaemonThreadPool), SIGINT and SIGTERM quitting.

        Quitting (q, ctrl+q, ctrl+c, a signal) restores the terminal, waits at most
        EXIT_GRACE seconds for workers still running, and returns: a worker that never
        returns does not keep the process alive.
        """
        if self.settings_file is None:
            self.settings_file = settings_path()
        if kwargs.get("loop") is not None:
            return super().run(**kwargs)
        loop = asyncio.new_event_loop()
        pool = DaemonThreadPool()
        loop.set_default_executor(pool)
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:  # (not in the main thread, or not on this platform: the default stays)
                loop.add_signal_handler(signum, self._quit_on_signal)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            return super().run(loop=loop, **kwargs)
        finally:
            try:
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                if tasks:
                    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                pool.shutdown(wait=True)  # at most EXIT_GRACE seconds
            finally:
                loop.close()  # also puts the signal handlers back

    def copy_to_clipboard(self, text: str) -> None:
        """Copy `text`; one the terminal cannot take as UTF-8 (a lone surrogate in a forged
        name or key) is copied as it is shown, escaped."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = display_safe(text)
        super().copy_to_clipboard(text)

    def _quit_on_signal(self) -> None:
        if self.is_running:
            self.exit()
        else:  # the app is still starting: it quits as soon as it is up
            self._quit_when_up = True

    def action_interrupt(self) -> None:
        """ctrl+c: quit, except over the editors (there it may be a copy with nothing
        selected: say how to quit instead of losing the edit)."""
        from .screens.add_record import AddRecordScreen
        from .screens.editor import EditorScreen

        if isinstance(self.screen, EditorScreen | AddRecordScreen):
            self.action_help_quit()
        else:
            self.exit()

    # ================================================================== layout
    def compose(self) -> ComposeResult:
        yield Header()
        with Panes(id="main"):
            yield EntryPane(self.engine, auto_open=self.auto_open, wait=self.connecting is not None, id="entry-pane")
            with Vertical(id="right"):
                yield ActivityStrip(self.engine, id="activity")
                yield Timeline(self.engine, id="timeline")
                yield Viewer(self.engine, id="viewer")
        yield StatusLine(id="status-line")
        yield AppFooter()

    def on_mount(self) -> None:
        self.query_one("#entry-pane").border_title = "Entries"
        self.query_one(Timeline).border_title = "History"
        self.query_one(Viewer).border_title = "Version"
        self.query_one(EntryTree).focus()
        self._restore_theme()
        if self._quit_when_up:
            self.exit()
            return
        if self.connecting is not None:
            self._connect_started = time.monotonic()
            self.status_line.show_connecting(self.engine.root)
            self._connect_timer = self.set_interval(1.0, self._connecting_tick)
            self.run_worker(self._await_connect(self.connecting), group="connect")
        else:
            self._start_watching()

    def _restore_theme(self) -> None:
        """Apply the theme chosen in an earlier run; remember every later choice."""
        if self.settings_file is None:
            return
        self._settings = read_settings(self.settings_file)
        theme = self._settings.get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, theme: Any) -> None:
        if self.settings_file is None or self._settings.get("theme") == theme.name:
            return
        self._settings = {**self._settings, "theme": theme.name}
        self._save_settings(self.settings_file, dict(self._settings))

    @work(thread=True, group="settings")
    def _save_settings(self, path: Path, settings: dict[str, Any]) -> None:
        try:
            write_settings(path, settings)
        except OSError as error:
            self.call_from_thread(self.notify, f"The theme will not be remembered: {display_safe(str(error))}",
                                  severity="warning", markup=False)

    @property
    def status_line(self) -> StatusLine:
        return self._main_screen().query_one(StatusLine)

    def _connecting_tick(self) -> None:
        if self.connecting is not None:
            self.status_line.show_connecting(self.engine.root, time.monotonic() - self._connect_started)

    async def _await_connect(self, future: Future) -> None:
        """Wait (in the event loop, never blocking it) for the pending is_database() answer."""
        try:
            found = await asyncio.wrap_future(future)
        except Exception as error:  # a DbEngineError says what is wrong; anything else too
            self._connect_failed(error_text(error))
            return
        if not found:
            self._connect_failed(str(not_a_database(self.engine.root)))
            return
        self.connecting = None
        if self._connect_timer is not None:
            self._connect_timer.stop()
        if self._panes_gone:
            return
        self.status_line.hide()
        self.tree.reload()
        self._start_watching()

    def _connect_failed(self, message: str) -> None:
        self.startup_error = " ".join(display_safe(message).split("\\n"))
        self.exit(return_code=2)

    def _start_watching(self) -> None:
        self._poll_now()
        if self.poll_interval:
            self.set_interval(self.poll_interval, self._poll)

    @property
    def tree(self) -> EntryTree:
        return self._main_screen().query_one(EntryTree)

    @property
    def timeline(self) -> Timeline:
        return self._main_screen().query_one(Timeline)

    @property
    def viewer(self) -> Viewer:
        return self._main_screen().query_one(Viewer)

    def _main_screen(self) -> Screen:
        return self.screen_stack[0]

    @property
    def _panes_gone(self) -> bool:
        """True while the app shuts down (its panes are gone): late messages are then dropped."""
        if not self.screen_stack:
            return True
        try:
            self._main_screen().query_one(Timeline)
        except NoMatches:
            return True
        return False

    # ================================================================== selection
    @on(EntryTree.EntryHighlighted)
    def _entry_highlighted(self, event: EntryTree.EntryHighlighted) -> None:
        if self._panes_gone:
            return
        timeline = self.timeline
        if (event.tenant, event.entry) != (timeline.tenant, timeline.entry):
            timeline.load(event.tenant, event.entry)
            if event.head is not None:  # read the head's data while the history loads
                self._show_version(event.tenant, event.entry, event.head, event.head)
            else:
                self.viewer.clear("loading…")
            self._bindings_may_change()
        if isinstance(event, EntryTree.EntryChosen) and not event.clicked:
            timeline.focus()  # enter: on to the versions; a click keeps the focus where it is

    @on(Timeline.VersionHighlighted)
    def _version_highlighted(self, event: Timeline.VersionHighlighted) -> None:
        if self._panes_gone:
            return
        viewer = self.viewer
        if self.new_version is not None and (event.tenant, event.entry, event.digest) == self.new_version:
            self._seen_new_version()
        if event.digest is None:
            viewer.clear()
        elif (event.tenant, event.entry, event.digest) == (viewer.tenant, viewer.entry, viewer.digest):
            viewer.set_head(self.timeline.head)
        else:
            self._show_version(event.tenant, event.entry, event.digest, self.timeline.head)
        self._bindings_may_change()

    def _show_version(self, tenant: str, entry: str, digest: str, head: str | None) -> None:
        """Load a version into the viewer; the first one also starts warming slow imports."""
        self.viewer.show_version(tenant, entry, digest, head)
        if not self._warmed:
            self._warmed = True
            self.call_after_refresh(self._warm_imports)

    @on(RecordTable.RecordHighlighted)
    def _record_highlighted(self) -> None:
        if not self._panes_gone:
            self._bindings_may_change()

    def _bindings_may_change(self) -> None:
        """Refresh the footer only when what check_action depends on changed (it is costly)."""
        timeline = self.timeline
        state = (timeline.selected is None, timeline.kind, self.viewer.selected_record is None)
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    @on(Timeline.LoadFailed)
    def _timeline_failed(self, event: Timeline.LoadFailed) -> None:
        self._report(f"cannot read the history of {event.tenant}/{event.entry}", event.error)

    @on(Viewer.Failed)
    def _viewer_failed(self, event: Viewer.Failed) -> None:
        self.notify(display_safe(error_text(event.error)), title="Read error", severity="error", markup=False)

    @on(EntryTree.LoadFailed)
    def _tree_failed(self, event: EntryTree.LoadFailed) -> None:
        self._report(f"cannot read {event.what}", event.error)

    def _report(self, what: str, error: Exception) -> None:
        message = f"{what}: {error_text(error)}"
        self.viewer.show_error(message)
        self.notify(display_safe(message), title="Read error", severity="error", markup=False)

    def goto_entry(self, tenant: str, entry: str) -> None:
        """Select an entry (from the go-to palette)."""
        self.tree.goto(tenant, entry)
        self.tree.focus()

    def refresh_entry(self, tenant: str, entry: str, select_digest: str | None = None) -> None:
        """Reload tree counts and, if it is shown, the entry's timeline (after a write)."""
        self.tree.refresh_all()
        timeline = self.timeline
        if (tenant, entry) == (timeline.tenant, timeline.entry):
            timeline.load(tenant, entry, select=select_digest)

    @work(thread=True, group="warm")
    def _warm_imports(self) -> None:
        """Import the comparison model (DeepDiff) and its screens once a version is on screen.

        Kept off the startup path so the first screen does not wait for it, and done
        here so the first compare or restore does not either.
        """
        import mydb_tui.model.compare  # noqa: F401
        import mydb_tui.screens.compare  # noqa: F401
        import mydb_tui.screens.restore  # noqa: F401

    # ================================================================== other writers
    def note_own_write(self, digest: str | None) -> None:
        """A version this app wrote (from any thread): the watcher will not announce it."""
        if digest:
            self._own_writes.add(digest)

    @on(Timeline.FilterAsked)
    def _ask_history_filter(self, event: Timeline.FilterAsked) -> None:
        from .screens.timeline_filter import TimelineFilterScreen

        self.push_screen(TimelineFilterScreen(event.entry, event.current), self.timeline.set_filter)

    @on(Timeline.NewVersions)
    def _new_versions(self, event: Timeline.NewVersions) -> None:
        """Another writer saved the shown entry: say who and when; the view stays where it is.

        A busy writer gets one toast per TOAST_GAP seconds, counting every version since the
        last one ("bob saved config 12 times, last 1 s ago"), not a toast per poll."""
        theirs = [v for v in event.versions if v.digest not in self._own_writes]
        if not theirs or self._panes_gone:
            return
        if self.new_version is None or self.new_version[:2] != (event.tenant, event.entry):
            self._arrivals = []
        self._arrivals = theirs + self._arrivals
        had = self.new_version is not None
        self.new_version = (event.tenant, event.entry, event.versions[0].digest)
        if not had:
            self.refresh_bindings()  # H comes into the footer
        wait = TOAST_GAP - (time.monotonic() - self._last_toast)
        if wait <= 0:
            self._toast_arrivals()
        elif self._toast_timer is None:
            self._toast_timer = self.set_timer(wait, self._toast_arrivals)

    def _toast_arrivals(self) -> None:
        self._toast_timer = None
        arrivals, self._arrivals = self._arrivals, []
        if self.new_version is None or not arrivals or self._panes_gone:
            return
        self._last_toast = time.monotonic()
        message = saved_text(self.new_version[1], arrivals, dt.datetime.now(dt.UTC))
        if self.screen is self._main_screen():
            message += " · H goes there"
        title = "New version" if len(arrivals) == 1 else f"{len(arrivals):,} new versions"
        self.notify(display_safe(message), title=title, timeout=TOAST_GAP + 3, markup=False)

    def _seen_new_version(self) -> None:
        self.new_version = None
        self._arrivals = []
        self.refresh_bindings()

    def action_goto_new(self) -> None:
        """H: the version another writer just saved (its entry, if the user moved on)."""
        if self.new_version is None:
            return
        tenant, entry, digest = self.new_version
        self._seen_new_version()
        timeline = self.timeline
        if (timeline.tenant, timeline.entry) == (tenant, entry) and timeline.position(digest) is not None:
            timeline.cursor = timeline.position(digest) or 0
            timeline.focus()
        else:
            self.tree.goto(tenant, entry)
            timeline.load(tenant, entry, select=digest)
            timeline.focus()

    # ================================================================== watching
    def _poll(self) -> None:
        """Timer: start a poll, unless one is still running (then see whether it stalls)."""
        if self._watch.started is None:
            self._poll_now()
        elif self._watch.stalled():
            self._show_trouble(self._watch.started_at, None)

    def _poll_now(self) -> None:
        """Read the change token in a worker (one at a time: a stuck poll is not piled on)."""
        if self._watch.begin():
            self._poll_worker()

    @work(thread=True, group="watch")
    def _poll_worker(self) -> None:
        try:
            token = self.engine.change_token()
        except Exception as error:  # a DbEngineError (I/O, S3), or whatever a damaged root causes
            self.call_from_thread(self._poll_done, None, error)
            return
        self.call_from_thread(self._poll_done, token, None)

    def _poll_done(self, token: tuple | None, error: Exception | None) -> None:
        started_at = self._watch.finish()
        if self._panes_gone:
            return
        if error is not None:
            self._show_trouble(self._watch.trouble_since or started_at, error)
            return
        recovered, changed = self._watch.answered(token)
        if recovered:
            self.status_line.hide()
        if recovered or changed:
            self._database_changed(retry=recovered)

    def _show_trouble(self, since: dt.datetime | None, error: Exception | None) -> None:
        """The status line: the database has not answered since `since` (the watcher retries)."""
        self.status_line.show_trouble(*self._watch.trouble(since, error))

    @property
    def unreachable_since(self) -> dt.datetime | None:
        """When the polls began to fail or stall (None while they answer)."""
        return self._watch.trouble_since

    def _database_changed(self, retry: bool = False) -> None:
        """Another process wrote (or, with `retry`, the database answers again after
        failing): reload the tree and the shown history; with `retry` also what failed."""
        if self._panes_gone:
            return
        tree, timeline, viewer = self.tree, self.timeline, self.viewer
        if not (retry and tree.retry_failed()):
            tree.refresh_all()
        if timeline.tenant is not None and timeline.entry is not None:
            timeline.load(timeline.tenant, timeline.entry)
            if retry and viewer.failed and viewer.digest is not None and viewer.tenant == timeline.tenant \
                    and viewer.entry == timeline.entry:
                self._show_version(timeline.tenant, timeline.entry, viewer.digest, timeline.head)

    # ================================================================== actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS and self.read_only:
            return False
        if action in ("zoom", "focus_pane", "search", "goto_date"):
            return bool(self.screen_stack) and self.screen is self._main_screen()
        if action == "goto_new":
            return self.new_version is not None and bool(self.screen_stack) and self.screen is self._main_screen()
        try:
            timeline = self._main_screen().query_one(Timeline)
        except Exception:
            return True
        if action in VERSION_ACTIONS and timeline.selected is None:
            return None
        if action in RECORD_ACTIONS and timeline.kind != "records":
            return None
        if action == "delete_record" and self._main_screen().query_one(Viewer).selected_record is None:
            return None
        if action in ("search", "goto_date") and (timeline.tenant is None or (action == "goto_date"
                                                                            and timeline.entry is None)):
            return None
        if action in ("key_history", "toggle_blame") and self._main_screen().query_one(Viewer).document is None:
            return None
        if action in ("find_records", "sort_records", "copy_value") and self._main_screen().query_one(Viewer).kind != "records":
            return None
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands, then the app actions that apply to `screen` and the selection."""
        for command in super().get_system_commands(screen):
            if command.title not in REPLACED_COMMANDS:
                yield command
        main = screen is self._main_screen()
        kind = self.timeline.kind if main else None
        for action, title, help_text in PALETTE_ACTIONS:
            if (main and self._applies(action)) or (not main and action in ANYWHERE_ACTIONS):
                shown = title.get(kind or "", "") if isinstance(title, dict) else title
                if shown:
                    yield SystemCommand(shown, help_text, getattr(self, f"action_{action}"))
        for owner in (screen, screen.focused):  # the screen's and the focused widget's own actions
            own = getattr(owner, "system_commands", None)
            if callable(own):
                yield from own()

    def _applies(self, action: str) -> bool:
        """Whether `action` does something for the current selection (the palette lists only these)."""
        if self.check_action(action, ()) is not True:
            return False
        timeline, viewer = self.timeline, self.viewer
        version = timeline.selected
        if action in ("mark", "copy", "compare"):
            return version is not None
        if action in ("restore", "compare_head"):
            return version is not None and version.digest != timeline.head
        if action == "edit":
            return timeline.kind == "snapshot" or viewer.selected_record is not None
        if action == "toggle_view":
            return viewer.document is not None
        return True

    def _selection(self) -> tuple[str, str, Any] | None:
        timeline = self.timeline
        if isinstance(self.focused, EntryTree) and self.tree.selected_entry != (timeline.tenant, timeline.entry):
            # The cursor is on a tenant (or an entry still loading): the History shown is of
            # another entry, which the user is not looking at.
            self.notify("Move the cursor to an entry first (the cursor is on a tenant)", severity="warning",
                        timeout=3)
            return None
        version = timeline.selected
        if version is None or timeline.tenant is None or timeline.entry is None:
            self.notify("Select an entry and a version first", severity="warning", timeout=3)
            return None
        return timeline.tenant, timeline.entry, version

    def _compare(self, tenant: str, entry: str, old: str | None, new: str | None) -> None:
        """Open the compare screen on two versions of an entry (imported here: it brings DeepDiff's model)."""
        from .screens.compare import CompareScreen

        self.push_screen(CompareScreen(self.engine, tenant, entry, old, new))

    def action_compare(self) -> None:
        """Compare the marked version (or the parent) with the selected one, older left."""
        selection = self._selection()
        if selection is None:
            return
        tenant, entry, version = selection
        timeline = self.timeline
        marked = timeline.marked
        if marked and marked != version.digest:
            pair = sorted([marked, version.digest], key=lambda d: -(timeline.position(d) or 0))
            old, new = pair[0], pair[1]
        else:
            old, new = version.parent, version.digest
        self._compare(tenant, entry, old, new)

    def action_compare_parent(self) -> None:
        """Enter on a History row: that version against its parent (a mark does not count)."""
        selection = self._selection()
        if selection is None:
            return
        tenant, entry, version = selection
        self._compare(tenant, entry, version.parent, version.digest)

    def action_compare_head(self) -> None:
        selection = self._selection()
        if selection is None:
            return
        tenant, entry, version = selection
        head = self.timeline.head
        if version.digest == head:
            self.notify("HEAD is selected: select an older version to compare with HEAD (d compares with the parent)",
                        severity="warning", timeout=4)
            return
        self._compare(tenant, entry, version.digest, head)

    def action_mark(self) -> None:
        self.timeline.action_toggle_mark()

    def action_restore(self) -> None:
        selection = self._selection()
        if selection is None:
            return
        tenant, entry, version = selection
        if version.digest == self.timeline.head:
            self.notify(f"{version.digest[:7]} is already HEAD: select an older version to restore",
                        severity="warning", timeout=4)
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._restore(tenant, entry, version.digest)

        from .screens.restore import RestoreScreen

        self.push_screen(RestoreScreen(self.engine, tenant, entry, version.digest), confirmed)

    @work(thread=True, group="write")
    def _restore(self, tenant: str, entry: str, digest: str) -> None:
        try:
            new = self.engine.restore(tenant, self.user, entry, digest)
            self.note_own_write(new)
        except DbEngineError as error:
            self.call_from_thread(self.notify, display_safe(str(error)), title="Restore failed",
                                  severity="error", markup=False)
            return
        self.call_from_thread(self._written, tenant, entry, new,
                              f"Restored {digest[:7]} as the new HEAD {new[:7]}", "Restored")

    def _written(self, tenant: str, entry: str, digest: str | None, message: str, title: str = "Saved") -> None:
        if digest is not None:
            self.note_own_write(digest)
        if self.new_version is not None and self.new_version[:2] == (tenant, entry):
            self._seen_new_version()  # this write is on top of theirs: the user has been there
        self.notify(display_safe(message), title=title, markup=False)
        self.refresh_entry(tenant, entry, select_digest=digest)

    def action_edit(self) -> None:
        selection = self._selection()
        if selection is None:
            return
        tenant, entry, version = selection
        timeline = self.timeline
        base = None if version.digest == timeline.head else version.digest
        key = None
        if timeline.kind == "records":
            key = self.viewer.selected_record
            if key is None:
                self.notify("Select a record in the viewer to edit it", severity="warning", timeout=3)
                return

        def saved(digest: str | None) -> None:
            if digest:
                self._written(tenant, entry, digest, f"Saved new HEAD {digest[:7]} of {entry}")

        from .screens.editor import EditorScreen, read_editable
        from .screens.loading import load_in_worker

        def open_editor(editable: Any) -> None:
            if editable.too_large:  # refused before opening: the viewer keeps showing the value
                self.notify(display_safe(editable.error or ""), title="Too large to edit here", severity="warning",
                            timeout=8, markup=False)
                return
            self.push_screen(EditorScreen(self.engine, tenant, entry, self.user, key=key, base_digest=base,
                                          editable=editable), saved)

        def failed(error: Exception) -> None:  # read_editable keeps its errors: only a bug gets here
            self.notify(display_safe(error_text(error)), title="Cannot edit", severity="error", markup=False)

        load_in_worker(self, partial(read_editable, self.engine, tenant, entry, key, base), open_editor, failed,
                       group="editor-open")

    def action_add_record(self) -> None:
        timeline = self.timeline
        if timeline.kind != "records" or timeline.tenant is None or timeline.entry is None:
            self.notify("Adding records needs a record entry", severity="warning", timeout=3)
            return
        tenant, entry = timeline.tenant, timeline.entry

        def added(key: str | None) -> None:
            if key:
                self._after_record_write(tenant, entry, f"Added record {key}", key)

        from .screens.add_record import AddRecordScreen

        self.push_screen(AddRecordScreen(self.engine, tenant, entry, self.user), added)

    def _after_record_write(self, tenant: str, entry: str, message: str, key: str | None) -> None:
        try:
            head = self.engine.get_digest(tenant, entry)
        except DbEngineError:
            head = None
        if key is not None:
            self.viewer.pending_record = key
        self._written(tenant, entry, head, message)

    def action_delete_record(self) -> None:
        timeline = self.timeline
        key = self.viewer.selected_record
        if timeline.kind != "records" or key is None or timeline.tenant is None or timeline.entry is None:
            self.notify("Select a record to delete", severity="warning", timeout=3)
            return
        tenant, entry = timeline.tenant, timeline.entry

        keys = self.viewer.record_table.keys
        index = self.viewer.record_table.cursor
        # After the delete the cursor goes to the next record (or the previous one at the end).
        neighbour = keys[index + 1] if index + 1 < len(keys) else (keys[index - 1] if index > 0 else None)

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._delete(tenant, entry, key, neighbour)

        message = (f"Delete record {display_safe(key)!r} from {display_safe(tenant)}/{display_safe(entry)}?\n"
                   f"This writes a new version of HEAD as user {display_safe(self.user)!r}.")
        from .screens.confirm import ConfirmScreen

        self.push_screen(ConfirmScreen("Delete record", message), confirmed)

    @work(thread=True, group="write")
    def _delete(self, tenant: str, entry: str, key: str, neighbour: str | None = None) -> None:
        try:
            deleted = self.engine.delete(tenant, self.user, entry, key)
            if deleted:
                self.note_own_write(self.engine.get_digest(tenant, entry))
        except DbEngineError as error:
            self.call_from_thread(self.notify, display_safe(str(error)), title="Delete failed",
                                  severity="error", markup=False)
            return
        if not deleted:
            self.call_from_thread(self.notify, f"HEAD has no record {display_safe(key)!r}: nothing deleted",
                                  severity="warning", markup=False)
            return
        self.call_from_thread(self._after_record_write, tenant, entry, f"Deleted record {key}", neighbour)

    # ================================================================== history questions
    def action_key_history(self) -> None:
        """`h`: the versions where the selected record, or the tree node under the cursor, changed."""
        viewer = self.viewer
        if viewer.document is None or viewer.tenant is None or viewer.entry is None:
            self.notify("Select a version first", severity="warning", timeout=3)
            return
        focused = self.focused
        key = path = None
        if viewer.kind == "records":
            key = viewer.selected_record
            if key is None:
                self.notify("Select a record first", severity="warning", timeout=3)
                return
            if isinstance(focused, JsonTree) and focused.id == "record-tree":
                path = focused.cursor_pointer or None
                if focused.cursor_pointer is None:
                    self.notify("Inside a tagged value: move to the value itself", severity="warning", timeout=3)
                    return
        else:
            tree = viewer.query_one("#data-tree", JsonTree)
            path = tree.cursor_pointer if tree.cursor_node is not None else ""
            if path is None:
                self.notify("Inside a tagged value: move to the value itself", severity="warning", timeout=3)
                return
        from .screens.key_history import KeyHistoryScreen

        self.push_screen(KeyHistoryScreen(self.engine, viewer.tenant, viewer.entry, key, path))

    def action_search(self) -> None:
        """`ctrl+f`: search the entry's history (or the tenant's) for a text; enter jumps to a hit."""
        timeline = self.timeline
        if timeline.tenant is None:
            self.notify("Select a tenant or an entry first", severity="warning", timeout=3)
            return
        from .screens.search import SearchScreen

        self.push_screen(SearchScreen(self.engine, timeline.tenant, timeline.entry),
                         lambda hit: hit and self.jump_to(*hit))

    def action_goto_date(self) -> None:
        """`@`: select the version that was HEAD at a date."""
        timeline = self.timeline
        if timeline.tenant is None or timeline.entry is None:
            self.notify("Select an entry first", severity="warning", timeout=3)
            return
        tenant, entry = timeline.tenant, timeline.entry
        from .screens.goto_date import GotoDateScreen

        self.push_screen(GotoDateScreen(self.engine, tenant, entry),
                         lambda digest: digest and self.jump_to(tenant, entry, digest))

    def action_toggle_blame(self) -> None:
        if self.viewer.kind == "records":
            self.viewer.record_table.action_toggle_blame()
        else:
            self.viewer.query_one("#data-tree", JsonTree).action_toggle_blame()

    def action_find_records(self) -> None:
        self.viewer.record_table.action_find()

    def action_sort_records(self) -> None:
        self.viewer.record_table.action_sort_column()

    def action_copy_value(self) -> None:
        self.viewer.record_table.action_copy_value()

    def jump_to(self, tenant: str, entry: str, digest: str, key: str | None = None, path: str | None = None) -> None:
        """Select version `digest` of the entry in the timeline, then record `key` and/or the
        tree node at `path` in the viewer once that version is shown."""
        timeline, viewer = self.timeline, self.viewer
        same = (tenant, entry, digest) == (viewer.tenant, viewer.entry, viewer.digest)
        stale = None if same else viewer.document
        if (tenant, entry) != (timeline.tenant, timeline.entry):
            self.tree.goto(tenant, entry)
            timeline.load(tenant, entry, select=digest)
        elif (position := timeline.position(digest)) is not None:
            timeline.cursor = position
        else:
            timeline.load(tenant, entry, select=digest)
        timeline.focus()
        if key is not None or path:
            self._select_when_shown((tenant, entry, digest), stale, key, path, 100)

    def _select_when_shown(self, target: tuple, stale: Any, key: str | None, path: str | None, tries: int) -> None:
        viewer = self.viewer
        if (viewer.tenant, viewer.entry, viewer.digest) != target or viewer.document is None \
                or viewer.document is stale:
            if tries > 0 and not self._panes_gone:
                self.set_timer(0.05, lambda: self._select_when_shown(target, stale, key, path, tries - 1))
            return
        tree = viewer.query_one("#data-tree" if viewer.kind == "snapshot" else "#record-tree", JsonTree)
        if key is not None and viewer.kind == "records":
            table = viewer.record_table
            if key not in table.keys:
                self.notify(f"Record {display_safe(key)} is not in this version", severity="warning", markup=False)
                return
            table.cursor = table.keys.index(key)
            table.focus()
            if not path:
                return
        if path:
            # the record's tree is filled once its RecordHighlighted message is handled
            self.call_after_refresh(lambda: tree.select_pointer(path) and tree.focus())

    def action_copy(self) -> None:
        focused = self.focused
        if isinstance(focused, RecordTable):
            focused.action_copy_key()
        else:
            self.timeline.action_copy_digest()

    def action_toggle_view(self) -> None:
        self.viewer.action_toggle_view()

    def action_filter(self) -> None:
        self.tree.action_filter()

    def action_filter_history(self) -> None:
        self.timeline.action_filter()

    def action_reload(self) -> None:
        self._watch.forget()  # the next answer counts as a change
        self._poll_now()

    def action_verify(self) -> None:
        """Check the whole database (read-only, so also in read-only mode) and show the report."""
        from .screens.verify import VerifyScreen

        if isinstance(self.screen, VerifyScreen):
            return
        self.push_screen(VerifyScreen(self.engine))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.BINDINGS, WRITE_ACTIONS, read_only=self.read_only))

    def action_goto(self) -> None:
        self.push_screen(CommandPalette(providers=[GotoOnlyProvider], placeholder="Go to entry…"))

    def action_zoom(self) -> None:
        """`+`: the focused pane on the whole screen, and back (Textual's maximize)."""
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
        elif self.focused is not None:
            screen.maximize(self.focused)

    def action_focus_pane(self, index: int) -> None:
        """1, 2, 3: focus Entries, History or the version (lazygit's number keys)."""
        screen = self._main_screen()
        if screen.maximized is not None:
            screen.minimize()
        pane = screen.query_one(f"#{PANE_IDS[index]}")
        if pane.focusable:
            pane.focus()
            return
        if isinstance(pane, EntryPane):
            pane.tree.focus()
            return
        for widget in screen.focus_chain:  # the viewer: its table, tree or text shown now
            if pane in widget.ancestors:
                widget.focus()
                return
