"""The instructor's commands: release, grade (secure by default), collect, and nbgrader compatibility."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.__main__ import main
from autograder.release import nbgrader_env, release
from autograder.samples import build_samples, write_samples

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


def normalised(nb_path: Path) -> list:
    nb = json.loads(nb_path.read_text())
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
             c["metadata"].get("nbgrader")) for c in nb["cells"]]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_not_stale(assignment, tmp_path):
    """Regenerate from solutions/ into a scratch folder and compare with assignments/."""
    release(ROOT / "course", [assignment], release_dir=tmp_path / "release",
            db_url=f"sqlite:///{tmp_path / 'gradebook.db'}")
    fresh = sorted((tmp_path / "release" / assignment).glob("*.ipynb"))
    committed = sorted((ROOT / "assignments" / assignment).glob("*.ipynb"))
    assert [p.name for p in fresh] == [p.name for p in committed]
    for f, c in zip(fresh, committed):
        assert normalised(f) == normalised(c), f"{c} is stale: run `python -m autograder release {assignment}`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_and_no_hidden_tests(assignment):
    for nb in (ROOT / "assignments" / assignment).glob("*.ipynb"):
        text = nb.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text


def test_grade_refuses_to_run_without_bubblewrap(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    (tmp_path / "subs/s1/a1_neuron").mkdir(parents=True)
    shutil.copy(ROOT / "assignments/a1_neuron/a1_neuron.ipynb", tmp_path / "subs/s1/a1_neuron")
    code = main(["grade", "a1_neuron", "--submissions", str(tmp_path / "subs"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "apt-get install bubblewrap" in err and "--unsafe-no-sandbox" in err
    assert not (tmp_path / "out").exists()


def run_grade_cli(tmp_path, sample_names, *options):
    """Grade a1_neuron samples through the CLI, in a course folder of their own under tmp_path."""
    samples = [s for s in build_samples(ROOT / "solutions/a1_neuron/a1_neuron.ipynb",
                                        ROOT / "assignments/a1_neuron/a1_neuron.ipynb")
               if s.name in sample_names]
    write_samples(samples, tmp_path / "subs", "a1_neuron")
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "course/nbgrader_config.py", course)
    (tmp_path / "solutions").symlink_to(ROOT / "solutions")
    proc = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course), "grade", "a1_neuron",
                           "--submissions", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), *options],
                          capture_output=True, text=True, env=nbgrader_env(), cwd=tmp_path)
    return proc, course


def test_grade_cli_end_to_end_with_exit_status_zero(tmp_path):
    proc, course = run_grade_cli(tmp_path, ("solution", "blank"), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "100%" in proc.stderr  # the progress bar
    rows = (tmp_path / "out/grades.csv").read_text().splitlines()
    assert rows[0].split(",")[:4] == ["student_id", "assignment", "score", "max_score"]
    assert any(r.startswith("solution,a1_neuron,27,27") for r in rows)
    assert (tmp_path / "out/feedback/blank/a1_neuron/a1_neuron.html").is_file()
    export = subprocess.run([sys.executable, "-m", "nbgrader", "export"], cwd=course, env=nbgrader_env(),
                            capture_output=True, text=True)
    assert export.returncode == 0, export.stderr
    assert "a1_neuron" in (course / "grades.csv").read_text()


def test_grade_no_gradebook_is_a_trial_run_that_leaves_the_course_alone(tmp_path):
    proc, course = run_grade_cli(tmp_path, ("solution",), "--no-gradebook", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "solution,a1_neuron,27,27" in (tmp_path / "out/grades.csv").read_text()
    assert sorted(p.name for p in course.iterdir()) == ["nbgrader_config.py"]


def test_plain_nbgrader_autograde_still_works_on_the_course(tmp_path):
    """nbgrader's own autograde (tests in the student's kernel) gives the solution full marks."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "course", course, ignore=shutil.ignore_patterns("gradebook.db", "submitted", "autograded"))
    (tmp_path / "solutions").symlink_to(ROOT / "solutions")
    (tmp_path / "assignments").mkdir()
    env = nbgrader_env()
    run = lambda *args: subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                                       capture_output=True, text=True)
    assert run("generate_assignment", "a1_neuron", "--force").returncode == 0
    samples = [s for s in build_samples(ROOT / "solutions/a1_neuron/a1_neuron.ipynb",
                                        tmp_path / "assignments/a1_neuron/a1_neuron.ipynb") if s.name == "solution"]
    write_samples(samples, course / "submitted", "a1_neuron")
    proc = run("autograde", "a1_neuron", "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission("a1_neuron", "solution")
        assert sub.score == pytest.approx(27)


def test_a_sandbox_that_cannot_start_is_the_graders_failure_not_the_students(monkeypatch, tmp_path, capsys):
    from autograder import grading
    monkeypatch.setattr(grading.sandbox, "run",
                        lambda job, limits, sandboxed=True, **kw:
                        sandbox.RunResult(False, 1, None, 0.0, "bwrap: execvp /opt/python: No such file or directory"))
    monkeypatch.setattr(sandbox, "check_available", lambda: sandbox.posture())  # the batch's probe passed
    samples = [s for s in build_samples(ROOT / "solutions/a1_neuron/a1_neuron.ipynb",
                                        ROOT / "assignments/a1_neuron/a1_neuron.ipynb") if s.name == "solution"]
    write_samples(samples, tmp_path / "subs", "a1_neuron")
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "course/nbgrader_config.py", course)
    (tmp_path / "solutions").symlink_to(ROOT / "solutions")
    code = main(["--course", str(course), "grade", "a1_neuron", "--submissions", str(tmp_path / "subs"),
                 "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 1
    assert "the sandbox did not start" in capsys.readouterr().err
    row = (tmp_path / "out/grades.csv").read_text().splitlines()[1]
    assert row.startswith("solution,a1_neuron,0,27") and "grader error" in row
    feedback = (tmp_path / "out/feedback/solution/a1_neuron/a1_neuron.html").read_text()
    assert "/opt/python" not in feedback


def test_the_sandbox_returns_each_value_as_it_was_when_produced():
    """A student's function that later modifies an array it returned must not change an earlier result."""
    import numpy as np
    from autograder import checks, grading
    from autograder.notebook import Cell
    source = ("import numpy as np\nbuf = np.zeros(3)\n"
              "def step(k):\n    buf[:] = k\n    return buf")
    test_cell = Cell(1, "code", "", "t", "test", 1)
    with checks.tracing(seed=0) as trace:
        first = checks.student.step(1.0)
        checks.student.step(2.0)
        checks.expect_close(first, np.ones(3), "the first call")
    data, _, _, notes = grading.run_with_retries([Cell(0, "code", source, "a", "answer")], [(test_cell, trace)],
                                                 sandbox.Limits(), True, ())
    assert notes == []
    assert grading.judge(trace, data["tests"]["t"]["outputs"]) == (True, "all 1 checks passed")
