"""The TUI browses a database written in the seed spec's flat layout, marked as such."""

from __future__ import annotations

import hashlib
import json
import os

from tui_helpers import screen_text

from mydb_tui.__main__ import make_app

T = "tenant_1"


def _seed_object(root: str, value: dict, parent: str | None, user: str, date: str) -> str:
    data = json.dumps({**value, "__parent__": [parent], "__user_id__": user, "__date__": date}).encode()
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(root, T, "objects", digest[:24]), exist_ok=True)
    with open(os.path.join(root, T, "objects", digest[:24], digest), "wb") as handle:
        handle.write(data)
    return digest


async def test_a_seed_layout_version_is_shown_and_marked(tmp_path) -> None:
    root = str(tmp_path / "seed")
    first = _seed_object(root, {"theme": "dark"}, None, "user_1", "20250101 10:00:00 +0000")
    head = _seed_object(root, {"theme": "light"}, first, "user_2", "20250102 10:00:00 +0000")
    with open(os.path.join(root, T, "head"), "w") as handle:
        json.dump({"config": head}, handle)
    app = make_app(root, user="tester")
    async with app.run_test(size=(120, 30)) as pilot:
        app.goto_entry(T, "config")
        wanted = ("seed layout", '"light"', "user_2", "user_1")  # the viewer and the whole timeline
        text = ""
        for _ in range(200):
            await pilot.pause(0.05)
            text = screen_text(app)
            if all(part in text for part in wanted):
                break
        assert all(part in text for part in wanted), text
