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
threads (`DaemonThreadPool`, worker_pool.py) that lets a stuck worker behind, and turns
SIGINT and SIGTERM into a normal quit.

The actions live in mixins, one concern a module (action_rules, compare_actions,
write_actions, history_actions): see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

from dbengine.dbengine import DbEngine
from dbengine.errors import NotADatabaseError
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Header

from .action_rules import WRITE_ACTIONS, ActionRules
from .compare_actions import CompareActions
from .history_actions import HistoryActions
from .model.arrivals import TOAST_GAP, Arrivals
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
from .widgets.panes import PANE_IDS, Panes
from .widgets.record_table import RecordTable
from .widgets.status import StatusLine
from .widgets.timeline import Timeline
from .widgets.viewer import Viewer
from .worker_pool import DaemonThreadPool
from .write_actions import WriteActions


def not_a_database(root: str) -> NotADatabaseError:
    """The error of a root that holds no database (the console script's wording)."""
    return NotADatabaseError(f"{root!r} is not a MyDbEngine database (no refs/ folder or tenant)")


class MyDbApp(ActionRules, CompareActions, WriteActions, HistoryActions, App[None]):
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
        self._others = Arrivals()  # other writers' versions: H and the toasts
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
    @property
    def new_version(self) -> tuple[str, str, str] | None:
        """(tenant, entry, digest) of the newest version another writer saved, until the user goes there."""
        return self._others.newest

    def note_own_write(self, digest: str | None) -> None:
        """A version this app wrote (from any thread): the watcher will not announce it."""
        self._others.note_own(digest)

    @on(Timeline.FilterAsked)
    def _ask_history_filter(self, event: Timeline.FilterAsked) -> None:
        from .screens.timeline_filter import TimelineFilterScreen

        self.push_screen(TimelineFilterScreen(event.entry, event.current), self.timeline.set_filter)

    @on(Timeline.NewVersions)
    def _new_versions(self, event: Timeline.NewVersions) -> None:
        """Another writer saved the shown entry: say who and when; the view stays where it is.

        A busy writer gets one toast per TOAST_GAP seconds, counting every version since the
        last one ("bob saved config 12 times, last 1 s ago"), not a toast per poll."""
        theirs = self._others.theirs(event.versions)
        if not theirs or self._panes_gone:
            return
        if not self._others.add(event.tenant, event.entry, theirs, event.versions[0].digest):
            self.refresh_bindings()  # H comes into the footer
        wait = self._others.toast_wait()
        if wait <= 0:
            self._toast_arrivals()
        elif self._toast_timer is None:
            self._toast_timer = self.set_timer(wait, self._toast_arrivals)

    def _toast_arrivals(self) -> None:
        self._toast_timer = None
        arrivals = self._others.take()
        if self.new_version is None or not arrivals or self._panes_gone:
            return
        self._others.toasted()
        message = saved_text(self.new_version[1], arrivals, dt.datetime.now(dt.UTC))
        if self.screen is self._main_screen():
            message += " · H goes there"
        title = "New version" if len(arrivals) == 1 else f"{len(arrivals):,} new versions"
        self.notify(display_safe(message), title=title, timeout=TOAST_GAP + 3, markup=False)

    def _seen_new_version(self) -> None:
        self._others.seen()
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

    # ================================================================== the panes' actions
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
