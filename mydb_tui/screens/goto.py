""""Go to entry…": a command palette provider with fuzzy search over all tenants/entries."""

from __future__ import annotations

import asyncio
from functools import partial

from dbengine.errors import DbEngineError
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from ..model.escape import display_safe

DISCOVER = 50


def all_entries(engine) -> list[tuple[str, str]]:
    """Every (tenant, entry) of the database; unreadable tenants are skipped."""
    found: list[tuple[str, str]] = []
    try:
        tenants = engine.tenants()
    except DbEngineError:
        return found
    for tenant in tenants:
        try:
            found.extend((tenant, entry) for entry in engine.entries(tenant))
        except DbEngineError:
            continue
    return found


class GotoEntryProvider(Provider):
    """Entries as palette hits: `tenant / entry`, selecting one shows it in the tree.

    In the command palette (ctrl+p) each hit says "Go to entry" under it, apart from the
    commands; GotoOnlyProvider (ctrl+g, entries only) leaves that line out.
    """

    HELP: str | None = "Go to entry"

    async def startup(self) -> None:
        self._entries = await asyncio.to_thread(all_entries, self.app.engine)

    def _label(self, tenant: str, entry: str) -> str:
        return f"{display_safe(tenant)} / {display_safe(entry)}"

    async def discover(self) -> Hits:
        for tenant, entry in self._entries[:DISCOVER]:
            label = self._label(tenant, entry)
            yield DiscoveryHit(Content(label), partial(self.app.goto_entry, tenant, entry),
                               text=label, help=self.HELP)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for i, (tenant, entry) in enumerate(self._entries):
            label = self._label(tenant, entry)
            score = matcher.match(label)
            if score > 0:
                # Content(label), never markup: names are shown literally.
                display = Content(label)
                _score, offsets = matcher.fuzzy_search.match(query, label)
                for offset in offsets:
                    display = display.stylize(matcher.match_style, offset, offset + 1)
                yield Hit(score, display, partial(self.app.goto_entry, tenant, entry),
                          text=label, help=self.HELP)
            if i % 500 == 499:
                await asyncio.sleep(0)


class GotoOnlyProvider(GotoEntryProvider):
    """The entries of ctrl+g's palette: one line per hit (it lists nothing but entries)."""

    HELP = None
