"""The instructor in nbgrader's formgrader: the assignment shows as released with its submissions, a flagged
submission says why, a hand grade and a comment typed there survive a regrade from the command line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.release import nbgrader_env
from autograder.samples import build_samples, write_samples

ROOT = Path(__file__).resolve().parents[2]
A1 = "a1_neuron"
SAMPLES = ("solution", "partial", "attack_numpy_patch")


def autograder(course: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course), *args],
                          capture_output=True, text=True, env=nbgrader_env())
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def graded_course(lab_root: Path) -> Path:
    """lab_root/course: this course's config, a1 released to its exchange, three samples graded into its gradebook."""
    course = lab_root / "course"
    course.mkdir()
    # the samples are cut from one solution, so the similarity check would flag them all as alike: this test is about
    # the tampering flag and hand grades (tests/test_autograder_similarity.py checks the similarity banner)
    (course / "nbgrader_config.py").write_bytes((ROOT / "course/nbgrader_config.py").read_bytes()
                                                + b"\nc.Autograder.similarity_threshold = None\n")
    (lab_root / "solutions").symlink_to(ROOT / "solutions")
    autograder(course, "release", A1)
    samples = [s for s in build_samples(ROOT / "solutions" / A1 / f"{A1}.ipynb",
                                        lab_root / "assignments" / A1 / f"{A1}.ipynb") if s.name in SAMPLES]
    write_samples(samples, course / "submitted", A1)
    autograder(course, "grade", A1, "--submissions", str(course / "submitted"), "--out", str(lab_root / "graded"),
               "--workers", "2", "--quiet")
    return course


def test_hand_grades_typed_in_the_formgrader_survive_a_regrade(page, jupyter_lab, lab_root, screenshot,
                                                                console_errors):
    course = graded_course(lab_root)
    lab = jupyter_lab(cwd=course)

    # Manage Assignments: a1 released (the exchange exists), with its three submissions
    page.goto(lab.url_for("formgrader"))
    row = page.locator("tr", has_text=A1).first
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert "released" in cells and str(len(SAMPLES)) in cells, cells
    screenshot("manage-assignments")

    # Manual grading: the flagged submission is marked in the "Flagged?" column
    page.goto(lab.url_for(f"formgrader/gradebook/{A1}/{A1}"))
    flagged = page.locator("tr:has(td.flagged .glyphicon-flag)")
    flagged.first.wait_for()
    assert flagged.count() == 1
    screenshot("submissions-with-a-flag")
    flagged.locator("td.name a.name-hidden").click()

    # The submission: the banner says why it was flagged; its math is typeset; grade and comment by hand
    page.get_by_text("Flagged by the autograder").wait_for()
    assert "monkey-patches numpy" in page.inner_text("body")
    page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 "
                           "&& document.querySelectorAll('.MathJax, .MathJax_Display').length > 0", timeout=60_000)
    score, comment = page.locator("#steepness_answer"), page.locator("#steepness_answer-comment")
    score.scroll_into_view_if_needed()
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT"):
        score.fill("2.5")
        score.press("Tab")
    with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url and r.request.method == "PUT"):
        comment.fill("Good derivation, but say why the limit is a step.")
        comment.press("Tab")
    screenshot("graded-by-hand")

    # A regrade of this student from the command line, then the page again
    proc = autograder(course, "grade", A1, "--submissions", str(course / "submitted"), "--out",
                      str(lab_root / "regraded"), "--student", "attack_numpy_patch", "--quiet")
    assert "kept 1 hand grade(s), 1 comment(s)" in proc.stderr
    page.reload()
    page.locator("#steepness_answer").wait_for()
    page.locator("#steepness_answer").scroll_into_view_if_needed()
    assert page.locator("#steepness_answer").input_value() == "2.5"
    assert page.locator("#steepness_answer-comment").input_value().startswith("Good derivation")
    screenshot("after-the-regrade")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_grade("steepness_answer", A1, A1, "attack_numpy_patch").manual_score == 2.5
    assert console_errors == []
