"""A lecture rendered by scripts/render_lectures.py (as `make lectures` does), opened as a student opens it: from
disk (file://), with no internet.  MathJax (copied next to the page) must typeset every formula."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LECTURE = "01_introduction"   # among the quickest to execute (about 30 s on two busy cores), 14 display formulas
NOT_LOCAL = re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])")   # no test reaches the internet

# Console errors the rendered pages log today, with what causes them.  They change nothing a student sees (the
# formulas are typeset in STIX-Web), so test_lecture_typesets_its_math tolerates exactly these; the strict xfail
# below fails as soon as the page is clean, to have this list removed.
KNOWN_CONSOLE_ERRORS = {
    r"Failed to load resource: net::ERR_FAILED \(https://cdnjs\.cloudflare\.com/ajax/libs/require\.js/[^)]*\)$":
        "nbconvert's template loads require.js from a CDN (render_lectures.py keeps that <script>); offline it fails",
    r"Access to font at 'about:blank' from origin '[^']*' has been blocked by CORS policy":
        "MathJax 2's HTML-CSS output probes web-font loading with url('about:blank')",
    r"Failed to load resource: net::ERR_FAILED \(about:blank\)$":
        "MathJax 2's HTML-CSS output probes web-font loading with url('about:blank')",
    r"Failed to load resource: .*\(file://.*/mathjax/fonts/HTML-CSS/TeX/otf/MathJax_(AMS|Script)-Regular\.otf\)$":
        "the -full MathJax configuration's NativeMML styles name TeX fonts that jupyter-server-mathjax does not ship",
}


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


def open_typeset(page, path: Path) -> list[str]:
    """Open the page from disk with the internet blocked; wait until MathJax has typeset every formula.
    Returns the addresses outside this machine that the page asked for."""
    asked: list[str] = []
    page.route(NOT_LOCAL, lambda route: (asked.append(route.request.url), route.abort()))
    page.goto(path.as_uri())
    page.wait_for_function("""() => {
        const hub = window.MathJax && MathJax.Hub;
        if (!hub || !hub.queue || hub.queue.pending || hub.queue.running || hub.queue.queue.length) return false;
        const scripts = document.querySelectorAll('script[type^="math/tex"]').length;
        return scripts > 0 && hub.getAllJax().length === scripts
            && document.querySelectorAll('span.MathJax').length === scripts;
    }""", timeout=120_000, polling=250)
    return asked


def test_lecture_typesets_its_math(page, console_errors, screenshot, lecture_html):
    open_typeset(page, lecture_html)
    state = page.evaluate("""() => ({
        scripts: document.querySelectorAll('script[type^="math/tex"]').length,
        display: document.querySelectorAll('.MathJax_Display').length,
        errors: document.querySelectorAll('.MathJax_Error, .MathJax merror').length,
        font: MathJax.OutputJax['HTML-CSS'] && MathJax.OutputJax['HTML-CSS'].fontInUse,
        text: document.body.innerText,
    })""")
    expected_display = display_formulas_in_notebook()
    assert expected_display > 0
    assert state["display"] >= expected_display, \
        f"{state['display']} display formulas typeset, {expected_display} in the notebook"
    assert state["scripts"] > expected_display   # inline formulas too
    assert state["errors"] == 0 and "Math Processing Error" not in state["text"]
    assert state["font"] == "STIX-Web", \
        f"MathJax fell back to {state['font']!r}: the web font copied with the page did not load"
    assert "$$" not in state["text"], "raw TeX visible on the page"
    assert "Lecture 1 — Introduction" in state["text"]

    first = page.locator(".MathJax_Display").first
    first.scroll_into_view_if_needed()
    page.mouse.wheel(0, -200)
    screenshot("first-display-formula")
    screenshot("formula", target=first)

    unknown = [e for e in console_errors if not any(re.search(p, e) for p in KNOWN_CONSOLE_ERRORS)]
    assert unknown == [], "\n".join(unknown)


@pytest.mark.xfail(strict=True, reason="known console errors of the rendered lectures: "
                   + "; ".join(dict.fromkeys(KNOWN_CONSOLE_ERRORS.values())))
def test_lecture_page_is_offline_and_its_console_clean(page, console_errors, screenshot, lecture_html):
    asked = open_typeset(page, lecture_html)
    screenshot("top")
    assert asked == [], f"the page asks the internet for {asked}"
    assert console_errors == [], "\n".join(console_errors)
