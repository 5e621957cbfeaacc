"""The wheel holds both packages and their data files, and works from the wheel alone."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_lists_both_packages_and_every_tcss(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "dbengine/dbengine.py" in names
    assert "mydb_tui/app.py" in names
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "mydb_tui").rglob("*.tcss")}
    assert sources, "the TUI has .tcss files"
    assert sources <= names, sources - names
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))
    ).decode()
    assert "mydb-tui = mydb_tui.__main__:main" in entry_points
    assert "mydb = mydb_tui.cli:main" in entry_points


def test_the_unpacked_wheel_runs_the_cli_and_the_app(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    script = (
        "import asyncio, dbengine, mydb_tui, sys\n"
        f"assert dbengine.__file__.startswith({str(site)!r}), dbengine.__file__\n"
        "from mydb_tui.cli import main\n"
        "from mydb_tui.__main__ import make_app\n"
        "from dbengine.dbengine import DbEngine\n"
        "root = sys.argv[1]\n"
        "e = DbEngine(root); e.init('t'); e.save('t', 'u', 'cfg', {'a': 1})\n"
        "async def run():\n"
        "    app = make_app(root, user='u')\n"
        "    async with app.run_test(size=(100, 30)) as pilot:\n"
        "        await pilot.pause()\n"
        "asyncio.run(run())\n"
        "sys.exit(main(['--root', root, 'entries', 't']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "db")],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "cfg" in result.stdout
