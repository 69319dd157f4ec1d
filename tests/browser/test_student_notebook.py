"""A student in JupyterLab: opens the released assignment 1, runs the imports and a visible test, reads the test's
message, then presses nbgrader's Validate button and reads the result.  Runs on a scratch copy of
assignments/a1_neuron/ (the released notebook, no solutions), never on the repository."""
import json
import re
import shutil
from pathlib import Path

from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "a1_neuron"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
KERNEL = 90_000      # ms: starting a kernel, importing numpy and matplotlib on a busy two-core machine
VALIDATE = 180_000   # ms: nbgrader executes the whole notebook


def graded_cells(path: Path) -> int:
    cells = json.loads(path.read_text())["cells"]
    return sum(1 for c in cells if c["metadata"].get("nbgrader", {}).get("grade"))


def cell_index(path: Path, grade_id: str) -> int:
    cells = json.loads(path.read_text())["cells"]
    return next(i for i, c in enumerate(cells) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def run_cell(page, cell):
    """Select a cell as a student does (a click on its input), run it with Shift+Enter, wait for its prompt's
    number."""
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=KERNEL)


def test_student_runs_a_visible_test_then_validates(page, jupyter_lab, lab_root, screenshot, console_errors):
    shutil.copytree(ROOT / "assignments" / ASSIGNMENT, lab_root / ASSIGNMENT)
    source = lab_root / NOTEBOOK
    imports, stubs, test = (cell_index(source, g) for g in ("imports", "sigmoid_tanh", "test_sigmoid"))
    lab = jupyter_lab()   # no nbgrader_config.py in the student's folder: Validate needs none

    page.goto(lab.url_for(f"lab/tree/{NOTEBOOK}"))
    panel = page.locator(".jp-NotebookPanel:visible")
    expect(panel.locator(".jp-RenderedMarkdown h1").first).to_contain_text(
        "Assignment 1 — The neuron and its activations", timeout=KERNEL)
    expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "idle", timeout=KERNEL)
    validate = panel.locator(".jp-Toolbar .validate-button")
    expect(validate).to_be_visible()
    expect(validate).to_contain_text("Validate")
    screenshot("notebook-opened")

    cells = panel.locator(".jp-Notebook .jp-Cell")
    expect(cells.nth(test)).to_contain_text('check_elementwise("sigmoid", F.sigmoid')   # DOM order = notebook order
    run_cell(page, cells.nth(imports))
    expect(cells.nth(imports).locator(".jp-OutputArea-output")).to_have_count(0)   # imports print nothing
    # The visible test before its function is defined: the test tells the student what to do.
    run_cell(page, cells.nth(test))
    output = cells.nth(test).locator(".jp-OutputArea-output")
    expect(output).to_contain_text(
        "AssertionError: `sigmoid` is not defined: run the cell where you define it, then this test again")
    screenshot("test-before-definition", target=cells.nth(test))
    screenshot("test-before-definition-page")

    # Defined but not implemented: the test fails on the stub's NotImplementedError.
    run_cell(page, cells.nth(stubs))
    run_cell(page, cells.nth(test))
    expect(output).to_contain_text("NotImplementedError")
    expect(output).not_to_contain_text("is not defined")
    screenshot("test-on-the-stub", target=cells.nth(test))

    validate.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-Dialog-header")).to_have_text("Validation Results", timeout=VALIDATE)
    message = dialog.locator("#validation-message")
    expect(message).to_have_class(re.compile(r"\bvalidation-failed\b"))
    expect(message).to_contain_text("The following cell failed:")
    expect(message).to_contain_text('check_elementwise("sigmoid", F.sigmoid, rng, shapes=[(4, 6)])')
    expect(message).to_contain_text("NotImplementedError")
    expect(message).not_to_contain_text("Success!")
    # On an unanswered notebook every graded cell fails: each test cell, and the written answer still reading
    # "YOUR ANSWER HERE"; nothing else is reported.
    expect(message.get_by_text("The following cell failed:")).to_have_count(graded_cells(source))
    expect(message).to_contain_text("YOUR ANSWER HERE")
    screenshot("validation-results")
    dialog.get_by_role("button", name="Ok").click()
    expect(dialog).to_have_count(0)
    expect(validate).to_contain_text("Validate")

    # Validate saved the notebook first: the scratch copy has the outputs, the repository's notebook has none.
    saved = json.loads(source.read_text())
    assert saved["cells"][test]["outputs"], "Validate saves the notebook before validating it"
    released = json.loads((ROOT / "assignments" / NOTEBOOK).read_text())
    assert not any(c.get("outputs") for c in released["cells"] if c["cell_type"] == "code")
    assert console_errors == [], "\n".join(console_errors)
