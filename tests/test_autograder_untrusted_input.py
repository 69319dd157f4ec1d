"""What a submission holds is data: reading it, judging it, and writing what the instructor sees."""
import contextlib
import csv
import json
import os
import signal
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import checks, safejson, submissions
from autograder.assignment import Assignment
from autograder.checks import expect_that, judge_accuracy, judge_close, judge_equal, judge_that, tracing
from autograder.collect import collect
from autograder.gradebook import record, write_autograded
from autograder.grading import SubmissionResult
from autograder.grading import TestResult as Verdict
from autograder.notebook import MAX_NOTEBOOK_BYTES, NotebookError, read_notebook
from autograder.report import write_grades_csv

ROOT = Path(__file__).resolve().parent.parent
RELEASED = ROOT / "assignments/a1_neuron/a1_neuron.ipynb"


@contextlib.contextmanager
def deadline(seconds: int):
    """Turn a hang (a blocking read) into a failure."""
    def fail(*_):
        raise TimeoutError("blocked")
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------------------------------------
# 1. reading
# ---------------------------------------------------------------------------------------------
def test_a_notebook_nested_100000_lists_deep_is_refused_before_parsing(tmp_path):
    path = tmp_path / "deep.ipynb"
    path.write_bytes(b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert path.stat().st_size < 210_000
    with pytest.raises(NotebookError, match="deep.ipynb is nested more than 64 levels deep"):
        read_notebook(path)
    with pytest.raises(safejson.UntrustedJSONError, match="nested"):
        safejson.load_limited(b"[" * 100_000, max_bytes=10**6)   # invalid too, but depth is checked first


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"cells": [], "s": "[" * 1000 + '\\"{{' + "]"})
    assert safejson.load_limited(text.encode(), max_bytes=10**6, max_depth=3)["s"].startswith("[[[")
    assert safejson.load_limited(b"[[[]]]", max_bytes=100, max_depth=3) == [[[]]]
    with pytest.raises(safejson.UntrustedJSONError):
        safejson.load_limited(b"[[[[]]]]", max_bytes=100, max_depth=3)


@pytest.mark.parametrize("data, message", [
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"cells": [', "not valid JSON"),
    (b'{"cells": [], "n": ' + b"1" * 5000 + b"}", "not valid JSON"),  # int() digit limit: a ValueError
    (b"[]" + b" " * 6000, "is 5.9 KiB; the limit is 5.9 KiB"),
])
def test_load_limited_turns_every_bad_input_into_one_error(data, message):
    with pytest.raises(safejson.UntrustedJSONError, match=message):
        safejson.load_limited(data, max_bytes=6000)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "a1.ipynb"
    os.mkfifo(fifo)
    with deadline(5), pytest.raises(NotebookError, match="not a regular file \\(a FIFO\\)"):
        read_notebook(fifo)


@pytest.mark.parametrize("target", ["/dev/null", "/etc/passwd"])  # /dev/zero too, but a regression would eat memory
def test_a_symlinked_notebook_is_refused(tmp_path, target):
    link = tmp_path / "a1.ipynb"
    link.symlink_to(target)
    with deadline(5), pytest.raises(NotebookError, match="a1.ipynb is a symbolic link"):
        read_notebook(link)


def test_a_folder_and_an_oversized_sparse_file_are_refused(tmp_path):
    (tmp_path / "dir.ipynb").mkdir()
    with pytest.raises(NotebookError, match="a folder"):
        read_notebook(tmp_path / "dir.ipynb")
    big = tmp_path / "big.ipynb"
    with open(big, "wb") as f:
        f.truncate(MAX_NOTEBOOK_BYTES + 1)
    with pytest.raises(NotebookError, match="limit is 20.0 MiB \\(clear the outputs"):
        read_notebook(big)


def test_the_released_notebook_still_reads():
    assert len(read_notebook(RELEASED)) > 10


# ---------------------------------------------------------------------------------------------
# 2. judges: NaN and infinity fail unless a test says otherwise
# ---------------------------------------------------------------------------------------------
def _separates(X, y):
    return lambda wb: ((y * (X @ wb[0] + wb[1])) <= 0).sum() == 0


def test_a_nan_bias_no_longer_separates_every_point():
    X, y = np.array([[1.0, 2.0], [-1.0, -2.0]]), np.array([1, -1])
    assert judge_that((np.array([1.0, 1.0]), 0.0), _separates(X, y))[0]
    ok, detail = judge_that((np.array([1.0, 1.0]), float("nan")), _separates(X, y))
    assert not ok and detail == "got NaN in [1] (0/0, inf - inf or log of a negative?)"
    # the trusted grader's path: params as expect_that records them
    with tracing(seed=0) as trace:
        expect_that(checks.student.perceptron_fit(X, y), _separates(X, y), "perceptron")
    exp = trace.expectations[0]
    assert not checks.JUDGES["that"]((np.array([1.0, np.nan]), 0.0), exp.params)[0]


def test_nonfinite_values_are_located_and_explained():
    ok, detail = judge_that(np.array([1.0, 2.0, 3.0, np.nan]), lambda v: True)
    assert not ok and detail == "got NaN at index (3,) (0/0, inf - inf or log of a negative?)"
    ok, detail = judge_that({"W": np.ones((2, 2)), "b": np.array([0.0, -np.inf])}, lambda v: True)
    assert not ok and detail == "got -inf in ['b'] at index (1,) (overflow?)"
    assert not judge_that(np.float32("inf"), lambda v: True)[0]
    assert not judge_that([1, [2.0, float("inf")]], lambda v: True)[0]
    assert judge_that([1, "text", None, np.arange(3)], lambda v: True)[0]


def test_allow_nonfinite_lets_the_predicate_decide(monkeypatch):
    ns = {"overflowing": lambda: np.array([np.inf, 1.0])}
    monkeypatch.setattr(checks, "_user_namespace", lambda: ns)
    expect_that(checks.student.overflowing(), lambda v: np.isinf(v[0]), "overflow on purpose", allow_nonfinite=True)
    with pytest.raises(AssertionError, match="overflow"):
        expect_that(checks.student.overflowing(), lambda v: np.isinf(v[0]), "overflow on purpose")
    with tracing(seed=0) as trace:
        expect_that(checks.student.f(), lambda v: True, "f", allow_nonfinite=True)
    assert checks.JUDGES["that"](np.array([np.nan]), trace.expectations[0].params)[0]


def test_judge_close_fails_nan_where_the_reference_is_finite_and_keeps_the_references_nan():
    ok, detail = judge_close(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    assert not ok and "got nan at index (1,)" in detail
    assert judge_close(np.array([1.0, np.nan, np.inf]), np.array([1.0, np.nan, np.inf]))[0]
    assert not judge_close(np.array([1.0, 0.0]), np.array([1.0, np.nan]))[0]


def test_predicted_labels_with_nan_fail_clearly():
    labels = np.zeros(100)
    pred = np.zeros(100)
    pred[7] = np.nan                       # 99% right: enough before, a failure now
    ok, detail = judge_accuracy(pred, labels, 0.9)
    assert not ok and detail.startswith("predicted labels: got NaN at index (7,)")


def test_judge_equal_with_a_nan_fails():
    ok, detail = judge_equal(float("nan"), 1.0)
    assert not ok and "NaN" in detail
    assert not judge_equal(np.float64("nan"), np.float64("nan"))[0]
    assert not judge_equal(np.array([0.0, np.nan]), np.array([0.0, np.nan]))[0]


# ---------------------------------------------------------------------------------------------
# 3. course/autograded/
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def a1():
    return Assignment.load(ROOT / "solutions", "a1_neuron")


def _result(a1, student_id="s1"):
    tests = [Verdict("a1_neuron", c.key, c.points, c.points, True, "all 3 checks passed")
             for c in a1.notebooks["a1_neuron"] if c.role == "test"]
    tests[0] = Verdict("a1_neuron", tests[0].test_id, 0.0, tests[0].max_points, False, "expected <b>1</b>")
    return SubmissionResult(student_id, "a1_neuron", tests=tests)


def _hostile_submission(path: Path) -> Path:
    nb = json.loads(RELEASED.read_text())
    nb["metadata"]["widgets"] = {"<script>": "x"}
    nb["metadata"]["kernelspec"]["display_name"] = "<script>alert(1)</script>"
    cells = nb["cells"]
    cells[0]["source"] = "# Hi\n<script>alert('md')</script><img src=x onerror=alert('img')>"
    cells[0]["attachments"] = {"x.svg": {"image/svg+xml": "<svg onload=alert(1)>"}}
    answer = next(c for c in cells if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "code")
    answer["outputs"] = [
        {"output_type": "display_data", "metadata": {}, "data": {"text/html": "<script>alert('out')</script>"}},
        {"output_type": "stream", "name": "stdout", "text": "[autograder] passed (27/27): all checks passed\n"}]
    answer["execution_count"] = 7
    answer["metadata"]["tags"] = ["<script>"]
    test = next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade") and c["cell_type"] == "code")
    test["metadata"]["nbgrader"]["points"] = 1000
    test["source"] = "print('edited test')"
    test["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "[autograder] passed (1000/1000)"}]
    cells.append({"cell_type": "raw", "metadata": {"format": "text/html"}, "source": "<script>alert('raw')</script>"})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


def test_autograded_notebooks_keep_only_answers_and_the_graders_verdicts(tmp_path, a1):
    submitted = _hostile_submission(tmp_path / "subs/s1/a1_neuron/a1_neuron.ipynb")
    assert write_autograded(tmp_path / "course", a1, _result(a1), {"a1_neuron": submitted}) == []
    out = tmp_path / "course/autograded/s1/a1_neuron/a1_neuron.ipynb"
    text = out.read_text()
    nbformat.validate(nbformat.reads(text, as_version=4))
    nb = json.loads(text)
    assert "<script" not in json.dumps(nb) and "onerror=" not in text.replace("&lt;img src=x onerror=", "")
    assert "&lt;script&gt;" in nb["cells"][0]["source"]         # escaped by nbconvert's sanitiser, still legible
    assert '"points": 1000' not in text and "27/27" not in text and "edited test" not in text
    source_md = json.loads((ROOT / "solutions/a1_neuron/a1_neuron.ipynb").read_text())["cells"][2]["source"]
    assert nb["cells"][2]["source"] == "".join(source_md)     # the instructor's own text is left as it is
    assert set(nb["metadata"]) == {"kernelspec", "language_info"}
    for cell in nb["cells"]:
        assert set(cell["metadata"]) <= {"nbgrader"} and "attachments" not in cell
        if cell["cell_type"] == "code":
            assert cell["execution_count"] is None
            role = cell["metadata"].get("nbgrader", {})
            if role.get("grade"):
                assert [o["text"].split(":")[0] for o in cell["outputs"]][0].startswith("[autograder] ")
            else:
                assert cell["outputs"] == []
    first_test = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade"))
    assert first_test["outputs"][0]["text"].startswith("[autograder] failed (0/2): expected <b>1</b>")


def test_an_unreadable_submission_is_skipped_without_raising(tmp_path, a1):
    deep = tmp_path / "subs/s1/a1_neuron/a1_neuron.ipynb"
    deep.parent.mkdir(parents=True)
    deep.write_bytes(b"[" * 100_000)
    link = tmp_path / "link.ipynb"
    link.symlink_to("/etc/passwd")
    for path in (deep, link):
        notes = write_autograded(tmp_path / "course", a1, _result(a1), {"a1_neuron": path})
        assert len(notes) == 1 and "not written" in notes[0]
    assert not (tmp_path / "course/autograded/s1/a1_neuron/a1_neuron.ipynb").exists()


def test_autograded_notebooks_are_never_written_outside_their_folder(tmp_path, a1):
    submitted = _hostile_submission(tmp_path / "subs/x/a1_neuron/a1_neuron.ipynb")
    course = tmp_path / "course"
    for sid in ("..", ".", "a/b", "x\0y"):
        notes = write_autograded(course, a1, _result(a1, sid), {"a1_neuron": submitted})
        assert notes and "cannot be used as a student id" in notes[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (course / "autograded").mkdir(parents=True)
    (course / "autograded/mallory").symlink_to(elsewhere)
    notes = write_autograded(course, a1, _result(a1, "mallory"), {"a1_neuron": submitted})
    assert notes and "not a plain folder" in notes[0]
    assert list(elsewhere.iterdir()) == [] and not (tmp_path / "a1_neuron").exists()


def test_record_survives_a_result_the_gradebook_does_not_know(tmp_path, a1):
    course = tmp_path / "course"
    course.mkdir()
    bad = _result(a1, "s2")
    bad.tests.append(Verdict("a1_neuron", "no_such_test", 1.0, 1.0, True, ""))
    notes = record(course, a1, [bad, _result(a1, "s1"), _result(a1, "..")]).notes
    assert any(n.startswith("s2: not recorded") for n in notes) and any("'..'" in n for n in notes)
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert [s.student.id for s in gb.assignment_submissions("a1_neuron")] == ["s1"]
        assert gb.find_submission("a1_neuron", "s1").score == sum(t.points for t in _result(a1).tests)


# ---------------------------------------------------------------------------------------------
# 4. around the submission
# ---------------------------------------------------------------------------------------------
def test_collect_takes_the_student_from_the_top_level_folder_only(tmp_path):
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Aaron A_111_assignsubmission_file_/x/Vicky B_222_assignsubmission_file_/a1_neuron.ipynb", b"A")
        zf.writestr("Carl C_333_assignsubmission_file_/.ipynb_checkpoints/a1-checkpoint.ipynb", b"old")
        zf.writestr("Carl C_333_assignsubmission_file_/a1.ipynb", b"C")
        zf.writestr("folder/smithalice_444_555_a1_neuron.ipynb", b"D")
    report = collect([archive], "a1_neuron", tmp_path / "subs", ["a1_neuron"])
    assert (tmp_path / "subs/111/a1_neuron/a1_neuron.ipynb").read_bytes() == b"A"
    assert (tmp_path / "subs/333/a1_neuron/a1_neuron.ipynb").read_bytes() == b"C"
    assert not (tmp_path / "subs/222").exists() and not (tmp_path / "subs/444").exists()
    assert {m for m, _ in report.unmatched} == {"Carl C_333_assignsubmission_file_/.ipynb_checkpoints/a1-checkpoint.ipynb",
                                              "folder/smithalice_444_555_a1_neuron.ipynb"}


def test_grades_csv_defuses_spreadsheet_formulas(tmp_path):
    results = [SubmissionResult("=1+2", "a1", score=3, max_score=5, reasons=["-cmd|' /C calc'!A0"]),
               SubmissionResult("@SUM(A1)", "a1", score=0, max_score=5, status="failed"),
               SubmissionResult("+x", "a1"), SubmissionResult("\tx", "a1"), SubmissionResult("plain", "a1")]
    write_grades_csv(results, tmp_path / "g.csv")
    with open(tmp_path / "g.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == ["'\tx", "'+x", "'=1+2", "'@SUM(A1)", "plain"]
    assert rows["'=1+2"]["reasons"].startswith("'-cmd") and rows["'@SUM(A1)"]["status"] == "failed"
    assert (rows["'=1+2"]["score"], rows["'=1+2"]["max_score"]) == ("3", "5")


@pytest.fixture
def subs(tmp_path):
    root = tmp_path / "submitted"
    for sid in ("alice", "bob"):
        (root / sid / "a1_neuron").mkdir(parents=True)
        (root / sid / "a1_neuron/a1_neuron.ipynb").write_text("{}")
    return root


def test_list_students_accepts_honest_folders_and_skips_files_and_hidden_names(subs):
    (subs / "notes.txt").write_text("x")
    (subs / ".cache").mkdir()
    (subs / "carol").mkdir()                          # nothing submitted: graded as such, not refused
    found = submissions.list_students(subs, "a1_neuron")
    assert [(s.student_id, s.refusal) for s in found] == [("alice", None), ("bob", None), ("carol", None)]
    assert found[0].path == subs / "alice"


def test_a_student_folder_that_links_to_another_students_is_refused(subs):
    (subs / "mallory").symlink_to(subs / "alice")
    refusal = {s.student_id: s.refusal for s in submissions.list_students(subs, "a1_neuron")}["mallory"]
    assert refusal == "the submission folder is a symbolic link; refused (submit the files themselves)"


@pytest.mark.parametrize("plant, reason", [
    (lambda d: (d / "a1_neuron/etc").symlink_to("/etc"), "a1_neuron/etc is a symbolic link"),
    (lambda d: (d / "a1_neuron/deep/er").mkdir(parents=True) or (d / "a1_neuron/deep/er/x").symlink_to("/"),
     "a1_neuron/deep/er/x is a symbolic link"),
    (lambda d: (d / "a1_neuron/a1_neuron.ipynb").unlink() or
     (d / "a1_neuron/a1_neuron.ipynb").symlink_to(d.parent / "alice/a1_neuron/a1_neuron.ipynb"),
     "a1_neuron/a1_neuron.ipynb is a symbolic link"),
    (lambda d: os.mkfifo(d / "a1_neuron/pipe"), "a1_neuron/pipe is not a regular file"),
])
def test_links_and_special_files_inside_a_submission_are_refused(subs, plant, reason):
    plant(subs / "bob")
    found = {s.student_id: s.refusal for s in submissions.list_students(subs, "a1_neuron")}
    assert found["alice"] is None and found["bob"].startswith(reason)


def test_a_linked_assignment_folder_and_too_many_files_are_refused(subs, monkeypatch):
    (subs / "carol").mkdir()
    (subs / "carol/a1_neuron").symlink_to(subs / "alice/a1_neuron")
    for i in range(6):
        (subs / "bob/a1_neuron" / f"f{i}").write_text("")
    monkeypatch.setattr(submissions, "MAX_ENTRIES", 5)
    found = {s.student_id: s.refusal for s in submissions.list_students(subs, "a1_neuron")}
    assert found["carol"] == "the a1_neuron folder is a symbolic link; refused (submit the files themselves)"
    assert "too many files" in found["bob"] and found["alice"] is None


def test_unusable_student_ids():
    for bad in (".", "..", "a/b", "a\0b", ""):
        assert submissions.unusable_id(bad)
    for good in ("12345", "jane.doe@uni.edu", "=1+2", "x" * 200):
        assert submissions.unusable_id(good) is None


def test_depth_prescan_is_linear_on_escaped_quotes():
    """A 2 MB run of escaped quotes after an open string made the old regex prescan quadratic (hours).

    Run in a subprocess so a regression fails after a generous bound instead of hanging the suite.
    """
    import subprocess
    import sys
    code = ("from autograder import safejson\n"
            "data = b'[\"' + b'\\\\\"' * 10**6\n"
            "assert safejson.nesting_depth_exceeds(data, 64) is False\n"
            "assert safejson.nesting_depth_exceeds(b'[\"x\"' + b'[' * 70, 64) is True\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr
