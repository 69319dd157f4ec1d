"""The instructor's term: nothing entered by hand is lost on a regrade, wrong paths are usage errors, flags are
where instructors look, and feedback names cells as Jupyter shows them."""
import csv
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder import gradebook
from autograder.__main__ import main
from autograder.assignment import Assignment
from autograder.grading import SubmissionResult
from autograder.grading import TestResult as Verdict
from autograder.notebook import merge, read_notebook
from autograder.report import write_grades_csv
from autograder.submissions import layout_problem

ROOT = Path(__file__).resolve().parent.parent
A1 = "a1_neuron"


@pytest.fixture(scope="module")
def a1():
    return Assignment.load(ROOT / "solutions", A1)


def result(a1, student_id, points=None, flags=()):
    """A result with every test passed, or ``points[test_id]`` where given; ``flags``: (where, what) in A1."""
    points = points or {}
    tests = [Verdict(A1, c.key, points.get(c.key, c.points), c.points, points.get(c.key, c.points) == c.points, "")
             for c in a1.notebooks[A1] if c.role == "test"]
    made = SubmissionResult(student_id, A1, score=sum(t.points for t in tests), tests=tests)
    for where, what in flags:
        made.flag(A1, where, what)
    return made


def grade_by_hand(course: Path, student: str, manual=None, comment=None, extra=None, override=None):
    """What the formgrader does when the instructor types a grade, a comment or extra credit."""
    with Gradebook(gradebook.db_url(course)) as gb:
        if manual is not None:
            gb.find_grade("steepness_answer", A1, A1, student).manual_score = manual
        if extra is not None:
            gb.find_grade("test_gates", A1, A1, student).extra_credit = extra
        if override is not None:
            gb.find_grade("test_softmax", A1, A1, student).manual_score = override
        if comment is not None:
            gb.find_comment("steepness_answer", A1, A1, student).manual_comment = comment
        gb.db.commit()


def scores(course: Path, student: str) -> dict:
    with Gradebook(gradebook.db_url(course)) as gb:
        sub = gb.find_submission_notebook(A1, A1, student)
        return {g.cell.name: (g.auto_score, g.manual_score, g.extra_credit) for g in sub.grades}


def test_a_regrade_keeps_hand_grades_comments_and_extra_credit_and_says_so(tmp_path, a1):
    course = tmp_path / "course"
    course.mkdir()
    gradebook.record(course, a1, [result(a1, "alice"), result(a1, "bob")])
    grade_by_hand(course, "alice", manual=2.5, comment="Good derivation.", extra=1.0, override=2.0)
    with Gradebook(gradebook.db_url(course)) as gb:
        before = gb.find_submission(A1, "alice").score
    assert before == pytest.approx(27 - 3 + 2 + 2.5 + 1)   # the override replaces test_softmax's 3

    again = gradebook.record(course, a1, [result(a1, "alice", {"test_gates": 0.0}), result(a1, "bob")])
    assert again.kept_scores == 2 and again.kept_comments == 1 and again.kept_extra_credit == 1
    assert "kept 2 hand grade(s), 1 comment(s) and 1 extra credit(s)" in again.summary()
    after = scores(course, "alice")
    assert after["steepness_answer"][1] == 2.5
    assert after["test_softmax"] == (3.0, 2.0, None)          # the new auto score, the instructor's override kept
    assert after["test_gates"] == (0.0, None, 1.0)            # the regrade's verdict; extra credit kept
    with Gradebook(gradebook.db_url(course)) as gb:
        assert gb.find_comment("steepness_answer", A1, A1, "alice").manual_comment == "Good derivation."
        assert gb.find_submission(A1, "alice").score == pytest.approx(before - 3)


def test_an_interrupted_record_leaves_the_gradebook_as_it_was(tmp_path, a1, monkeypatch):
    course = tmp_path / "course"
    course.mkdir()
    gradebook.record(course, a1, [result(a1, "alice"), result(a1, "bob")])
    grade_by_hand(course, "alice", manual=3.0)
    snapshot = sqlite3.connect(course / "gradebook.db").execute(
        "select * from grade order by id").fetchall()
    real_store, calls = gradebook._store, []

    def store_then_interrupt(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt          # Ctrl-C (or a kill) half-way through the batch
        return real_store(*args)

    monkeypatch.setattr(gradebook, "_store", store_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        gradebook.record(course, a1, [result(a1, "alice", {"test_relu": 0.0}), result(a1, "bob", {"test_relu": 0.0}),
                                      result(a1, "carol")])
    assert sqlite3.connect(course / "gradebook.db").execute("select * from grade order by id").fetchall() == snapshot
    with Gradebook(gradebook.db_url(course)) as gb:
        assert sorted(s.student.id for s in gb.assignment_submissions(A1)) == ["alice", "bob"]


def test_a_regrade_of_one_test_changes_only_that_test(tmp_path, a1):
    course = tmp_path / "course"
    course.mkdir()
    gradebook.record(course, a1, [result(a1, "alice", {"test_relu": 0.0})])
    fixed = a1.only_tests({"test_softmax"})
    assert [c.key for c in fixed.notebooks[A1] if c.role == "test"] == ["test_softmax"] and fixed.max_score == 3
    redo = result(fixed, "alice", {"test_softmax": 0.0})
    gradebook.record(course, fixed, [redo], tests={"test_softmax"})
    after = scores(course, "alice")
    assert after["test_softmax"][0] == 0.0 and after["test_relu"][0] == 0.0 and after["test_gates"][0] == 3.0
    with pytest.raises(ValueError, match="no test test_nope"):
        a1.only_tests({"test_nope"})


def test_flags_reach_the_gradebook_the_csv_and_the_formgraders_notebook(tmp_path, a1):
    course = tmp_path / "course"
    course.mkdir()
    flag = f"{A1}: “Part 1 — Sigmoid and tanh (4 points)”, answer cell sigmoid_tanh: patches numpy.testing"
    flagged = result(a1, "mallory", flags=[("“Part 1 — Sigmoid and tanh (4 points)”, answer cell sigmoid_tanh",
                                            "patches numpy.testing")])
    assert flagged.flags == [flag]
    gradebook.record(course, a1, [flagged, result(a1, "alice")])
    with Gradebook(gradebook.db_url(course)) as gb:
        assert gb.find_submission_notebook(A1, A1, "mallory").flagged
        assert not gb.find_submission_notebook(A1, A1, "alice").flagged
        comment = gb.find_comment("sigmoid_tanh", A1, A1, "mallory")
        assert "patches numpy.testing" in comment.auto_comment and comment.manual_comment is None
        # what the formgrader's submission list reads for its "Flagged?" column
        listing = {s["student"]: s["flagged"] for s in gb.notebook_submission_dicts(A1, A1)}
    assert listing == {"mallory": True, "alice": False}

    write_grades_csv([flagged], tmp_path / "grades.csv")
    row = next(csv.DictReader(open(tmp_path / "grades.csv")))
    assert row["flags"] == "1" and "patches numpy.testing" in row["flag_reasons"]

    submitted = ROOT / "assignments" / A1 / f"{A1}.ipynb"
    assert gradebook.write_autograded(course, a1, flagged, {A1: submitted}) == []
    nb = json.loads((course / "autograded/mallory" / A1 / f"{A1}.ipynb").read_text())
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and "Flagged by the autograder" in first["source"]
    assert "patches numpy.testing" in first["source"]


def test_cells_are_named_as_jupyter_shows_them(a1):
    """Feedback says "Part 2 — ReLU ..., answer cell relu_family", not "cell 9" (a number Jupyter never shows)."""
    submission = read_notebook(ROOT / "assignments" / A1 / f"{A1}.ipynb")
    after = next(i for i, c in enumerate(submission) if c.key == "relu_family") + 1
    extra = submission[after - 1].__class__(99, "code", "print('mine')", "id:extra", "plain")
    merged = merge(a1.notebooks[A1], submission[:after] + [extra] + submission[after:])
    labels = [c.label for c in merged.cells]
    assert "“Part 2 — ReLU and its modifications (5 points)”, answer cell relu_family" in labels
    assert "“Part 2 — ReLU and its modifications (5 points)”, a cell you added after answer cell relu_family" in labels
    assert [c.index for c in merged.cells] == list(range(len(merged.cells)))


# ---------------------------------------------------------------------------------------------
# wrong paths are usage errors, with the layout expected and what was found
# ---------------------------------------------------------------------------------------------
def test_a_folder_of_zips_is_not_a_submissions_folder(tmp_path, capsys):
    (tmp_path / "downloads/moodle").mkdir(parents=True)
    (tmp_path / "downloads/moodle/a1.zip").write_bytes(b"PK")
    (tmp_path / "downloads/canvas.zip").write_bytes(b"PK")
    code = main(["grade", A1, "--submissions", str(tmp_path / "downloads"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"DIR/<student_id>/{A1}/<notebook>.ipynb" in err and "moodle/ containing a1.zip" in err
    assert "autograder collect" in err
    assert not (tmp_path / "out").exists()


def test_one_students_folder_is_not_a_submissions_folder(tmp_path, capsys):
    student = tmp_path / "submitted/alice"
    (student / A1).mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / A1 / f"{A1}.ipynb", student / A1)
    code = main(["grade", A1, "--submissions", str(student), "--out", str(tmp_path / "out")])
    assert code == 2 and "ONE student's folder" in capsys.readouterr().err
    assert layout_problem(tmp_path / "submitted", A1) is None      # its parent is fine


def test_an_unknown_student_or_test_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "subs/alice" / A1).mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / A1 / f"{A1}.ipynb", tmp_path / "subs/alice" / A1)
    common = ["grade", A1, "--submissions", str(tmp_path / "subs"), "--out", str(tmp_path / "out"),
              "--unsafe-no-sandbox", "--no-gradebook", "--quiet"]
    assert main(common + ["--student", "bob"]) == 2
    assert "no folder for student(s) bob" in capsys.readouterr().err
    assert main(common + ["--test", "test_nope"]) == 2
    assert "no test test_nope" in capsys.readouterr().err


def test_every_grade_option_is_described(capsys):
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    text = capsys.readouterr().out
    for option in ("--submissions", "--out", "--workers", "--student", "--test", "--seed", "--no-gradebook",
                   "--unsafe-no-sandbox", "--quiet"):
        line = text[text.index(option):].split("\n  -", 1)[0]
        assert len(line.split()) > 3, f"{option} has no description: {line!r}"


def _fingerprint(*folders: Path) -> dict:
    return {str(p): p.read_bytes() for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_demo_runs_in_a_course_of_its_own_and_leaves_the_real_one_untouched(tmp_path):
    import subprocess
    import sys
    from autograder.release import nbgrader_env
    before = _fingerprint(ROOT / "course", ROOT / "assignments")
    proc = subprocess.run([sys.executable, "scripts/demo.py", "--skip-training", "--assignments", A1,
                           "--out", str(tmp_path / "demo")], cwd=ROOT, env=nbgrader_env(), capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _fingerprint(ROOT / "course", ROOT / "assignments") == before
    course = tmp_path / "demo/course"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        students = {s.student.id for s in gb.assignment_submissions(A1)}
    assert {"solution", "blank", "partial"} <= students
    assert (course / "exchange/nnkit-demo/outbound" / A1 / f"{A1}.ipynb").is_file()   # released for the formgrader
    assert (course / "autograded/solution" / A1 / f"{A1}.ipynb").is_file()


def test_make_help_lists_the_targets_and_lab_takes_a_port_and_arguments():
    import subprocess
    help_text = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    for target in ("demo", "test", "lab", "release", "lectures", "bench", "clean"):
        assert f"\n  {target} " in help_text, target
    dry = subprocess.run(["make", "-n", "lab", "PORT=9123", "ARGS=--no-browser"], cwd=ROOT, capture_output=True,
                         text=True).stdout
    assert "--port=9123" in dry and "--no-browser" in dry and "*.egg-info" in dry


def test_the_layout_error_never_sends_a_folder_names_control_characters_to_the_terminal(tmp_path):
    (tmp_path / "subs/\x1b]0;pwned\x07alice").mkdir(parents=True)
    message = layout_problem(tmp_path / "subs", A1)
    assert "\x1b" not in message and "\x07" not in message and "\\x1b]0;pwned\\x07alice" in message
