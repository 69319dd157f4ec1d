"""A lecture rendered by scripts/render_lectures.py (as `make lectures` does), opened as a student opens it: from
disk (file://), with no internet.  MathJax (copied next to the page) must typeset every formula, and the page must
log nothing to the console: no script from a CDN, no font MathJax cannot load (autograder/mathjax.py)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import block_internet, wait_for_mathjax

ROOT = Path(__file__).resolve().parents[2]
LECTURE = "01_introduction"   # among the quickest to execute (about 30 s on two busy cores), 14 display formulas


@pytest.fixture(scope="module")
def lecture_html(chromium_path, tmp_path_factory) -> Path:
    """The lecture rendered into a scratch folder (the script reads lectures/, never writes it)."""
    out = tmp_path_factory.mktemp("lectures")
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_lectures.py"), "--out", str(out), LECTURE],
                            capture_output=True, text=True, timeout=900,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, f"render_lectures.py failed:\n{result.stdout}\n{result.stderr}"
    print(f"rendered {LECTURE} in {time.monotonic() - started:.1f} s into {out}")
    return out / f"{LECTURE}.html"


def display_formulas_in_notebook() -> int:
    cells = json.loads((ROOT / "lectures" / f"{LECTURE}.ipynb").read_text())["cells"]
    return sum("".join(c["source"]).count("$$") for c in cells if c["cell_type"] == "markdown") // 2


def test_lecture_typesets_its_math(page, screenshot, lecture_html):
    block_internet(page)
    page.goto(lecture_html.as_uri())
    state = wait_for_mathjax(page)
    text = page.inner_text("body")
    expected_display = display_formulas_in_notebook()
    assert expected_display > 0
    assert state["display"] >= expected_display, \
        f"{state['display']} display formulas typeset, {expected_display} in the notebook"
    assert state["scripts"] > expected_display   # inline formulas too
    assert state["errors"] == 0 and "Math Processing Error" not in text
    assert state["font"] == "STIX-Web", \
        f"MathJax fell back to {state['font']!r}: the web font copied with the page did not load"
    assert "$$" not in text, "raw TeX visible on the page"
    assert "Lecture 1 — Introduction" in text

    first = page.locator(".MathJax_Display").first
    first.scroll_into_view_if_needed()
    page.mouse.wheel(0, -200)
    screenshot("first-display-formula")
    screenshot("formula", target=first)


def test_lecture_page_is_offline_and_its_console_clean(page, console_errors, screenshot, lecture_html):
    asked = block_internet(page)
    page.goto(lecture_html.as_uri())
    wait_for_mathjax(page)   # and the fonts it asked for
    screenshot("top")
    assert asked == [], f"the page asks the internet for {asked}"
    assert console_errors == [], "\n".join(console_errors)
