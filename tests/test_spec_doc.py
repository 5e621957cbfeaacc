"""docs/SPEC.md prints the code that tests/test_spec_examples.py runs, and the README and the
docs link only to files of the repository (a clone has nothing outside it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import test_spec_examples as examples

ROOT = Path(__file__).resolve().parents[1]
SPEC = (ROOT / "docs" / "SPEC.md").read_text(encoding="utf-8")
BLOCKS = ["QUICK_START", "PATTERN_1", "PATTERN_2", "SAVE_AND_LOAD", "RECORD_UPDATES",
          "HISTORY_NAVIGATION", "DATE_HANDLER", "DATAFRAME_HANDLER", "USE_REFS"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("name", BLOCKS)
def test_the_spec_prints_each_tested_block_as_it_runs(name: str) -> None:
    block = getattr(examples, name).strip("\n")
    assert f"```python\n{block}\n```" in SPEC, f"docs/SPEC.md lacks the block {name} of test_spec_examples.py"


def test_the_readme_links_to_the_spec() -> None:
    assert "](docs/SPEC.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("doc", ["README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))])
def test_links_stay_inside_the_repository(doc: str) -> None:
    path = ROOT / doc
    prose = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)  # not code
    for target in LINK.findall(prose):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor of the same page
        resolved = (path.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{doc} links outside the repository: {target}"
        assert resolved.exists(), f"{doc} links to a missing file: {target}"
