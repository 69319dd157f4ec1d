"""Any nbgrader course: a plain course (assert test cells, a helper file beside the notebook, a written answer) graded
by our sandboxed grader gets the same automatic scores as plain `nbgrader autograde`, in the same run; the attacks
that apply to it still fail; the report says how each test was judged."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import sandbox
from autograder.__main__ import main as autograder_main
from autograder.release import nbgrader_env
from autograder.sample_course import submissions, write_course
from grading_helpers import CANARY_ENV, canary_in_environment

ROOT = Path(__file__).resolve().parent.parent
SECRET = "plain-course-canary-7d1f"


def _nbgrader(course, *args):
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--log-level=ERROR"], cwd=course,
                          env=nbgrader_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def auto_scores(course: Path) -> dict[str, float]:
    """Automatic points per student, read from the course's gradebook with nbgrader's API."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {sub.student.id: sum(g.auto_score or 0 for nb in sub.notebooks for g in nb.grades
                                    if g.cell.cell_type == "code")
                for sub in gb.find_assignment("ps1").submissions}


def waiting_for_a_human(course: Path) -> dict[str, bool]:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {sub.student.id: any(g.needs_manual_grade for nb in sub.notebooks for g in nb.grades
                                    if g.cell.name == "explain")
                for sub in gb.find_assignment("ps1").submissions}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    sandbox.check_available()
    tmp = tmp_path_factory.mktemp("plain")
    plain = write_course(tmp / "nbgrader_course")
    _nbgrader(plain, "generate_assignment", "ps1", "--force")
    release = json.loads((plain / "release" / "ps1" / "ps1.ipynb").read_text())
    ours = tmp / "our_course"
    shutil.copytree(plain, ours)
    for student, nb in submissions(release).items():
        # plain nbgrader runs student code unconfined: the host attacker would rewrite its gradebook
        # (UPDATE source_cell SET source = 'pass'), so only our grader meets it
        for course in (plain, ours) if student != "host_attacker" else (ours,):
            folder = course / "submitted" / student / "ps1"
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / "ps1.ipynb")
    with canary_in_environment(SECRET):
        _nbgrader(plain, "autograde", "ps1", "--force", "--create")
        code = autograder_main(["--course", str(ours), "grade", "ps1", "--submissions", str(ours / "submitted"),
                                "--out", str(tmp / "out"), "--workers", "2", "--quiet"])
    report = json.loads((tmp / "out" / "report.json").read_text())
    return {"plain": plain, "ours": ours, "out": tmp / "out", "code": code,
            "report": {s["student_id"]: s for s in report["submissions"]}}


def test_the_same_automatic_scores_as_plain_nbgrader(graded):
    assert graded["code"] == 0
    theirs, ours = auto_scores(graded["plain"]), auto_scores(graded["ours"])
    assert {s: v for s, v in ours.items() if s != "host_attacker"} == theirs, (ours, theirs)
    assert ours["honest"] == 6 and ours["blank"] == 0 and 0 < ours["partial"] < 6 and ours["test_deleting"] == 0


def test_the_report_says_each_test_was_judged_in_the_kernel_with_a_reason(graded):
    honest = graded["report"]["honest"]
    assert {t["test_id"] for t in honest["tests"]} == {"test_squares", "test_read_numbers", "test_partial"}
    assert all(t["judged"] == "in the kernel" for t in honest["tests"])
    partial = {t["test_id"]: t for t in graded["report"]["partial"]["tests"]}
    assert partial["test_read_numbers"]["message"].startswith("AssertionError")
    assert partial["test_partial"]["points"] == 1 and "partial credit" in partial["test_partial"]["message"]
    assert any("deleted" in r or "edited" in r for r in graded["report"]["test_deleting"]["reasons"])


def test_the_data_file_beside_the_notebook_reaches_the_sandbox(graded):
    honest = {t["test_id"]: t for t in graded["report"]["honest"]["tests"]}
    assert honest["test_read_numbers"]["passed"], honest["test_read_numbers"]


def test_manual_cells_wait_for_a_human_and_nbgrader_export_works(graded):
    ours = graded["ours"]
    assert waiting_for_a_human(ours) == dict.fromkeys(graded["report"], True)
    _nbgrader(ours, "export", "--to", str(ours / "grades.csv"))
    assert "honest" in (ours / "grades.csv").read_text()


def test_host_attacks_fail_on_a_plain_course_too(graded):
    attacker = graded["report"]["host_attacker"]
    text = json.dumps(attacker)
    assert SECRET not in text and CANARY_ENV not in text
    assert auto_scores(graded["ours"])["host_attacker"] == 0
    assert attacker["flags"], "the attack was not flagged for a human"
