"""A student opens the feedback page they got back (`python -m autograder feedback`, nbgrader's generate_feedback)
from disk, with no internet: their scores as in the gradebook, the assignment's formulas typeset by the MathJax
copied beside the feedback (course/feedback/mathjax), no raw TeX, nothing in the browser console."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.release import nbgrader_env

from .conftest import block_internet, wait_for_mathjax

ROOT = Path(__file__).resolve().parents[2]
A1 = "a1_neuron"
STUDENT = "partial"   # some parts right, some wrong: scores of both kinds on the page
RAW_TEX = re.compile(r"\$\$|\$[^$]+\$")


def run(*args: str, timeout: float = 900) -> str:
    env = {**nbgrader_env(), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def course(chromium_path, tmp_path_factory) -> Path:
    """A graded course of its own (scripts/demo.py: a1 released, sample submissions graded into its gradebook),
    with its feedback pages written."""
    out = tmp_path_factory.mktemp("feedback") / "demo"
    started = time.monotonic()
    run(str(ROOT / "scripts" / "demo.py"), "--skip-training", "--assignments", A1, "--out", str(out))
    graded = time.monotonic()
    run("-m", "autograder", "--course", str(out / "course"), "feedback", A1)
    print(f"demo course graded in {graded - started:.1f} s, feedback written in {time.monotonic() - graded:.1f} s")
    return out / "course"


def math_in_markdown(notebook: Path) -> tuple[int, int]:
    """(display, inline) formulas in the notebook's markdown cells."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    display = text.count("$$") // 2
    return display, len(re.findall(r"\$[^$]+\$", re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)))


def test_feedback_page_shows_scores_and_typeset_math_offline(page, console_errors, screenshot, course):
    path = course / "feedback" / STUDENT / A1 / f"{A1}.html"
    assert path.is_file() and (course / "feedback" / "mathjax" / "MathJax.js").is_file()
    asked = block_internet(page)
    page.goto(path.as_uri())
    state = wait_for_mathjax(page)

    # the formulas of the assignment's text, typeset in the web font copied beside the pages
    display, inline = math_in_markdown(course / "autograded" / STUDENT / A1 / f"{A1}.ipynb")
    assert display > 0 and inline > 0
    assert state["display"] >= display, f"{state['display']} display formulas typeset, {display} in the notebook"
    assert state["scripts"] >= display + inline, f"{state['scripts']} formulas typeset, {display + inline} written"
    assert state["errors"] == 0 and "Math Processing Error" not in page.inner_text("body")
    assert state["font"] == "STIX-Web", f"MathJax fell back to {state['font']!r}: the copied web font did not load"

    # no raw TeX in the rendered markdown (code spans aside, where a $ would be code)
    prose = page.evaluate("""() => [...document.querySelectorAll('.text_cell_render')].map(cell => {
        const skip = 'code, pre, script, style, .MathJax, .MathJax_Display, .MathJax_Preview, .MJX_Assistive_MathML';
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT, {acceptNode: node =>
            node.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
        let text = '';
        while (walker.nextNode()) text += walker.currentNode.data;
        return text;
    })""")
    assert len(prose) > 5
    raw = [m for text in prose for m in RAW_TEX.findall(text)]
    assert raw == [], f"raw TeX visible: {raw[:5]}"

    # the scores, as the gradebook has them: the total in the title, each graded cell in the contents
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(A1, A1, STUDENT)
        total = f"(Score: {round(notebook.score, 2)} / {round(notebook.max_score, 2)})"
        grades = {g.name: f"(Score: {round(g.score, 2)} / {round(g.max_score, 2)})" for g in notebook.grades}
    assert 0 < notebook.score < notebook.max_score
    title = page.locator(".panel-heading h4").first
    assert title.is_visible() and total in title.inner_text(), (title.inner_text(), total)
    contents = {link.get_attribute("href").lstrip("#"): item.inner_text()
                for item in page.locator("#toc li").all() for link in item.locator("a").all()}
    assert set(contents) == set(grades)
    assert all(grades[name] in contents[name] for name in grades), (contents, grades)
    screenshot("scores")

    first = page.locator(".MathJax_Display").first
    first.scroll_into_view_if_needed()
    page.mouse.wheel(0, -150)
    screenshot("first-display-formula")
    screenshot("formula", target=first)

    assert asked == [], f"the page asks the internet for {asked}"
    assert console_errors == [], "\n".join(console_errors)
