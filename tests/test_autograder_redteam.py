"""Red team: every kind of attack and fault named in the grader's design, graded in one batch.

The honest solution scores full marks; a blank or None-returning answer scores the blank mark, and
so does that same answer carrying any attack; faults that an honest student might cause (a warning,
an exiting or hanging last cell, a renamed file, deleted test cells) cost nothing; students graded
in the same batch are unaffected, and the grader's files, environment and gradebook stay out of reach.
"""
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.batch import grade
from autograder.samples import ATTACKS, build_samples, write_samples
from autograder.similarity import is_similarity_flag
from grading_helpers import canary_in_environment, scratch_course

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "a1_neuron"
SECRET_VALUE = "tok-3141592653-do-not-leak"
LIMITS = sandbox.Limits(cell_seconds=3, test_seconds=5, total_seconds=60)



def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


make_course = scratch_course


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    sandbox.check_available()  # `make test` installs bubblewrap (scripts/install-system-deps.sh)
    tmp = tmp_path_factory.mktemp("redteam")
    course = make_course(tmp)
    samples = build_samples(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                            ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    submissions = tmp / "submitted"
    write_samples(samples, submissions, ASSIGNMENT)
    (submissions / "no_assignment_folder").mkdir()
    before = tree_digest(submissions)
    with canary_in_environment(SECRET_VALUE):
        results, crashed, _ = grade(ASSIGNMENT, submissions, tmp / "out", workers=2, course=course, sandboxed=True,
                                    secret=12345, progress=False, limits=LIMITS)
    return {"samples": {s.name: s for s in samples}, "results": {r.student_id: r for r in results},
            "crashed": crashed, "out": tmp / "out", "course": course, "submissions": submissions,
            "digest_before": before}


def test_the_grader_itself_never_fails(batch):
    assert batch["crashed"] == []


def test_every_student_folder_gets_a_row(batch):
    rows = (batch["out"] / "grades.csv").read_text().splitlines()
    ids = {row.split(",")[0] for row in rows[1:]}
    assert ids == set(batch["samples"]) | {"no_assignment_folder"}
    assert rows[0].startswith("student_id,assignment,score,max_score")


def test_scores_match_what_each_submission_deserves(batch):
    results = batch["results"]
    full = results["solution"].max_score
    blank = results["blank"].score
    assert results["solution"].score == full > 0
    assert blank == 0
    wrong = {}
    for name, sample in batch["samples"].items():
        expected = {"full": full, "blank": blank}.get(sample.expect)
        got = results[name].score
        if expected is None:
            assert blank < got < full, f"{name}: partial answers get partial credit, got {got}"
        elif got != expected:
            wrong[name] = (got, expected, results[name].reasons[:2])
    assert not wrong, f"submissions scored wrongly (got, expected, reasons): {wrong}"
    assert results["no_assignment_folder"].score == 0


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_attack_earns_exactly_the_blank_mark(batch, attack):
    r = batch["results"][f"attack_{attack}"]
    assert r.score == batch["results"]["returns_none"].score == 0, r.reasons


def test_attacks_are_flagged_for_a_human_and_honest_work_is_not(batch):
    results = batch["results"]
    for name in ("attack_ipython_transformer", "attack_ipython_custom_exc", "attack_numpy_patch",
                 "attack_gradebook", "attack_snoop", "attack_fake_numpy_module", "attack_anyeq_subclass"):
        assert results[name].flags, f"{name} was not flagged"
    # the samples are cut from one solution, so they are flagged as alike each other (similarity flags); nothing
    # else, and never as like nnkit: the honest solution is not a copy of the reference library
    for honest in ("solution", "partial"):
        assert [f for f in results[honest].flags if not is_similarity_flag(f)] == [], results[honest].flags
        assert not any("nnkit" in f for f in results[honest].flags), results[honest].flags


def test_faults_come_with_a_reason(batch):
    reasons = {k: " ".join(r.reasons) for k, r in batch["results"].items()}
    assert "ran past the cell time limit" in reasons["solution_then_hang"]
    assert "ended the process" in reasons["solution_then_exit"]
    assert "ended the process" in reasons["attack_segfault"]
    assert "not valid JSON" in reasons["invalid_json"]
    assert "was not submitted" in reasons["no_notebook"]
    assert "MiB" in reasons["huge_file"]
    assert "graded it as a1_neuron.ipynb" in reasons["solution_wrong_name"]
    assert "deleted; graded with the original test" in reasons["solution_tests_deleted"]
    assert "edited; graded with the original test" in reasons["blank_tests_edited"]
    assert "numpy.py" in reasons["attack_numpy_py_file"]


def test_submissions_are_never_modified(batch):
    assert tree_digest(batch["submissions"]) == batch["digest_before"]


def test_nothing_secret_reaches_reports_or_feedback(batch):
    out = batch["out"]
    texts = [(out / "report.json").read_text(), (out / "grades.csv").read_text()]
    texts += [p.read_text() for p in (out / "feedback").rglob("*.html")]
    blob = "\n".join(texts)
    assert SECRET_VALUE not in blob, "the grader's environment leaked"
    assert "BEGIN HIDDEN TESTS" not in blob and "separable(200, 5" not in blob, "hidden test source leaked"
    snoop = (out / "feedback" / "attack_snoop" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "solution_then_hang" not in snoop, "a student saw another submission"
    assert str(ROOT) not in snoop and "gradebook.db" not in snoop


def test_gradebook_matches_the_grades_and_was_not_tampered_with(batch):
    db = sqlite3.connect(batch["course"] / "gradebook.db")
    totals = dict(db.execute(
        "SELECT student.id, SUM(grade.auto_score) FROM grade "
        "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
        "JOIN student ON submitted_assignment.student_id = student.id GROUP BY student.id").fetchall())
    for name, r in batch["results"].items():
        if r.status == "not submitted":      # a row of 0 in grades.csv, no submission in the gradebook
            assert name not in totals, name
        elif r.tests:
            assert totals[name] == pytest.approx(r.score), name
    assert max(totals.values()) <= batch["results"]["solution"].max_score


def test_feedback_names_each_test_with_points_and_a_message(batch):
    html = (batch["out"] / "feedback" / "partial" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "test_softmax" in html and "0 / 3" in html
    assert "expected an array of shape" in html
    report = json.loads((batch["out"] / "report.json").read_text())
    tests = next(s for s in report["submissions"] if s["student_id"] == "partial")["tests"]
    assert {"test_id", "points", "max_points", "passed", "message"} <= set(tests[0])


# The attacks that aim at the tests' comparisons, against every other assignment: its hidden tests use other
# checks (custom predicates, gradient checks, tuples of arrays), and none of them may be fooled.
CHEATS = ("attack_anyeq_subclass", "attack_numpy_patch", "attack_ipython_custom_exc", "attack_ipython_transformer",
          "attack_fake_numpy_module", "attack_numpy_py_file", "attack_gradebook", "blank_tests_edited")


@pytest.mark.parametrize("assignment", ["a2_backprop", "a3_init_optim", "a4_regularization", "a5_cnn"])
def test_cheats_earn_nothing_on_every_assignment(assignment, tmp_path):
    sandbox.check_available()
    course = make_course(tmp_path)
    notebook = f"{assignment}.ipynb"
    samples = [s for s in build_samples(ROOT / "solutions" / assignment / notebook,
                                        ROOT / "assignments" / assignment / notebook)
               if s.name in CHEATS + ("returns_none",)]
    assert {s.name for s in samples} == set(CHEATS) | {"returns_none"}
    write_samples(samples, tmp_path / "submitted", assignment)
    results, crashed, _ = grade(assignment, tmp_path / "submitted", tmp_path / "out", workers=2, course=course,
                                sandboxed=True, secret=12345, progress=False, record_gradebook=False)
    assert crashed == []
    scores = {r.student_id: r.score for r in results}
    assert scores == dict.fromkeys(scores, 0), f"cheats scored points: {scores}"
    unflagged = [r.student_id for r in results if r.student_id.startswith("attack_") and not r.flags
                 and r.student_id not in ("attack_numpy_py_file",)]
    assert not unflagged, f"attacks not flagged for a human: {unflagged}"
