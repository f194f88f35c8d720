"""The front door and the docs: a short README whose links resolve and whose commands exist, docs/ that keep
every report the long README cited, and a model card with every section it had."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES, ROOT

DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    targets = [t for t in LINK.findall(page.read_text()) if not re.match(r"[a-z]+:", t)]
    assert targets or page.name != "README.md"
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert missing == []


def readme_commands() -> list[list[str]]:
    """Every `python -m MODULE` and `python build.py` the README shows, as the argv of its --help."""
    text = (ROOT / "README.md").read_text()
    modules = sorted(set(re.findall(r"python -m ([a-z_.]+)", text)))
    return [[sys.executable, "-m", m, "--help"] for m in modules] + [[sys.executable, "build.py", "--help"]]


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda a: a[2] if a[1] == "-m" else a[1])
def test_every_command_the_readme_shows_answers_help(argv):
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_every_make_target_the_readme_shows_exists():
    targets = set(re.findall(r"^make ([a-z-]+)", (ROOT / "README.md").read_text(), re.M))
    makefile = (ROOT / "Makefile").read_text()
    assert targets and all(re.search(rf"^{t}:", makefile, re.M) for t in targets)


def test_docs_cite_every_report_the_long_readme_cited():
    cited = " ".join(page.read_text() for page in DOCS)
    before = (FIXTURES / "docs" / "readme_reports_before_docs.txt").read_text().split()
    assert [path for path in before if path not in cited] == []


def test_the_model_card_keeps_every_section(built_site):
    headings = re.findall(r"<h2[^>]*>([^<]*)</h2>", (built_site / "model-card.html").read_text())
    before = (FIXTURES / "docs" / "model_card_headings.txt").read_text().splitlines()
    assert [h for h in headings if h in before] == before  # all of them, in the same order
