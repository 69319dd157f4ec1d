"""Every assignment: the solution earns full marks, the blank release zero, half the answers partial credit,
both through the sandboxed grader and when the source notebook runs top to bottom in a real kernel."""
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import sandbox
from autograder.batch import grade
from autograder.assignment import Assignment
from autograder.samples import build_samples, write_samples

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    name = request.param
    sandbox.check_available()
    tmp = tmp_path_factory.mktemp(name)
    course = tmp / "course"
    course.mkdir()
    shutil.copy(ROOT / "course" / "nbgrader_config.py", course)
    (tmp / "solutions").symlink_to(ROOT / "solutions")
    assignment = Assignment.load(ROOT / "solutions", name)
    for nb in assignment.notebooks:
        samples = [s for s in build_samples(ROOT / "solutions" / name / f"{nb}.ipynb",
                                            ROOT / "assignments" / name / f"{nb}.ipynb")
                   if s.name in ("solution", "blank", "partial")]
        write_samples(samples, tmp / "submitted", name)
    results, crashed, _ = grade(name, tmp / "submitted", tmp / "out", workers=2, course=course, sandboxed=True,
                                secret=2026, progress=False)
    return name, assignment, {r.student_id: r for r in results}, crashed


def test_solution_scores_full_marks(graded):
    name, assignment, results, crashed = graded
    assert not crashed
    failed = [(t.test_id, t.message) for t in results["solution"].tests if not t.passed]
    assert not failed, f"{name}: the solution fails {failed}"
    assert results["solution"].score == assignment.max_score > 0


def test_blank_release_scores_zero_without_upsetting_the_grader(graded):
    _, _, results, crashed = graded
    assert not crashed
    assert results["blank"].score == 0 and results["blank"].status == "graded"


def test_partial_answers_get_partial_credit(graded):
    _, assignment, results, _ = graded
    assert 0 < results["partial"].score < assignment.max_score


def test_feedback_has_no_solution_code_and_no_hidden_tests(graded):
    name, assignment, results, _ = graded
    report = json.dumps([r.to_json() for r in results.values()])
    assert "BEGIN SOLUTION" not in report and "BEGIN HIDDEN TESTS" not in report


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_notebook_runs_top_to_bottom_in_a_kernel(name):
    """Eager mode: the visible and hidden tests pass against the solution inside the student's own kernel."""
    for path in sorted((ROOT / "solutions" / name).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, errors[:1]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_assignment_introduction_has_goals_points_and_time(name):
    for path in sorted((ROOT / "solutions" / name).glob("*.ipynb")):
        intro = "".join(nbformat.read(path, as_version=4).cells[0].source)
        for needed in ("learn", "points", "Time", "Lecture"):
            assert needed in intro, f"{path.name}: the introduction should mention {needed!r}"
