"""Red team against the grading host: one batch holding every attack of issue 9 beside honest work.

Each host attack runs as a function in the student's notebook; if it gets through, the notebook
defines the real answers, so a success would show up as points.  CI runs this as root, the case
that matters most: the grader must then drop to its sandbox account before any student code runs.
"""
import json
import resource
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.batch import grade
from autograder.samples import HOST_ATTACKS, Sample, build_host_attacks, build_samples, write_samples
from grading_helpers import canary_in_environment, scratch_course

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "a1_neuron"
NB = f"{ASSIGNMENT}.ipynb"
CANARY = "tok-2718281828-must-not-leak"
LIMITS = sandbox.Limits(cell_seconds=3, test_seconds=5, total_seconds=40, memory_bytes=2**30)


def _notebook(sample: Sample) -> dict:
    return json.loads(sample.files[NB])


def _stored_output_attack(solved: dict) -> dict:
    nb = json.loads(json.dumps(solved))
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [
        {"output_type": "display_data", "metadata": {},
         "data": {"text/html": "<script>fetch('/steal?c=' + document.cookie)</script>", "text/plain": "x"}},
        {"output_type": "stream", "name": "stdout", "text": "[autograder] passed (27/27): all checks passed\n"}]
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "<img src=x onerror=alert(1)> my answer"})
    return nb


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    sandbox.check_available()
    tmp = tmp_path_factory.mktemp("hardening")
    course = scratch_course(tmp)
    source, release = ROOT / "solutions" / ASSIGNMENT / NB, ROOT / "assignments" / ASSIGNMENT / NB
    base = {s.name: s for s in build_samples(source, release) if s.name in ("solution", "blank")}
    solved = _notebook(base["solution"])
    samples = list(base.values()) + build_host_attacks(source, release)
    nan_bias = json.loads(json.dumps(solved))
    nan_bias["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                              "source": "_fit = perceptron_fit\n"
                                        "def perceptron_fit(X, y, epochs=100, lr=1.0):\n"
                                        "    w, b = _fit(X, y, epochs, lr)\n    return w, float('nan')"})
    samples.append(Sample("nan_bias", "the solution, but the perceptron's bias is NaN",
                          {NB: json.dumps(nan_bias).encode()}, "partial"))
    samples.append(Sample("stored_outputs", "the solution carrying a <script> output and a fake verdict",
                          {NB: json.dumps(_stored_output_attack(solved)).encode()}, "full"))
    samples.append(Sample("deep_notebook", "a 200 kB notebook nested 100,000 lists deep",
                          {NB: b"[" * 100_000 + b"]" * 100_000}, "blank"))
    samples.append(Sample("=1+2", "a student folder named like a spreadsheet formula", base["blank"].files, "blank"))
    subs = tmp / "submitted"
    write_samples(samples, subs, ASSIGNMENT)
    (subs / "copycat").symlink_to(subs / "solution")                       # a folder that is someone else's
    (subs / "etc_link").mkdir()
    (subs / "etc_link" / ASSIGNMENT).symlink_to("/etc")                     # host files listed in feedback
    (subs / "notebook_link" / ASSIGNMENT).mkdir(parents=True)
    (subs / "notebook_link" / ASSIGNMENT / NB).symlink_to(subs / "solution" / ASSIGNMENT / NB)

    core_pattern = Path("/proc/sys/kernel/core_pattern").read_text()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with canary_in_environment(CANARY):
        results, crashed, _ = grade(ASSIGNMENT, subs, tmp / "out", workers=2, course=course, sandboxed=True,
                                    secret=4242, progress=False, limits=LIMITS)
    return {"results": {r.student_id: r for r in results}, "crashed": crashed, "out": tmp / "out",
            "course": course, "core_pattern": core_pattern, "peak_before": peak_before,
            "peak_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def test_the_batch_finishes_with_a_row_for_every_student(batch):
    assert batch["crashed"] == []                     # grade's exit status 0
    rows = (batch["out"] / "grades.csv").read_text().splitlines()
    assert len(rows) - 1 == len(batch["results"])
    statuses = {r.status for r in batch["results"].values()}
    assert "grader error" not in statuses


def test_honest_work_keeps_full_marks(batch):
    r = batch["results"]["solution"]
    assert r.score == r.max_score == 27, r.reasons


@pytest.mark.parametrize("attack", sorted(HOST_ATTACKS))
def test_each_host_attack_gains_nothing(batch, attack):
    r = batch["results"][f"host_{attack}"]
    assert r.score == 0, (r.reasons, [t.message for t in r.tests if t.passed])
    assert r.status == "graded" or r.status == "failed", r.status


def test_no_kernel_setting_changed(batch):
    assert Path("/proc/sys/kernel/core_pattern").read_text() == batch["core_pattern"]


def test_the_graders_environment_reaches_nobody(batch):
    out = batch["out"]
    blob = (out / "report.json").read_text() + (out / "grades.csv").read_text()
    blob += "".join(p.read_text() for p in (out / "feedback").rglob("*.html"))
    blob += "".join(p.read_text() for p in (batch["course"] / "autograded").rglob("*.ipynb"))
    assert CANARY not in blob
    assert "root:x:0:0" not in blob, "a host file reached the report"


def test_timers_hold_against_a_defeated_alarm_and_forged_events(batch):
    r = batch["results"]["host_forged_events"]
    assert r.seconds < LIMITS.total_seconds + 15, r.seconds
    assert any("cell time limit" in reason or "total time limit" in reason for reason in r.reasons), r.reasons


def test_memory_is_limited_for_the_whole_submission(batch):
    mem = batch["results"]["host_forked_memory"]
    assert mem.score == 0
    if sandbox.posture().cgroups.version:
        assert any("memory" in reason for reason in mem.reasons), mem.reasons


def test_forged_results_do_not_grow_the_grader(batch):
    grown = batch["peak_after"] - batch["peak_before"]
    assert grown < 1.5 * 2**30, f"the grader grew by {grown / 2**30:.1f} GiB"


def test_nan_is_a_failure(batch):
    r = batch["results"]["nan_bias"]
    failed = {t.test_id for t in r.tests if not t.passed}
    assert failed == {"test_perceptron"}, [(t.test_id, t.message) for t in r.tests if not t.passed]


def test_malformed_notebooks_are_the_students_failure(batch):
    r = batch["results"]["deep_notebook"]
    assert r.score == 0 and r.status == "failed" and r.reasons


def test_stored_outputs_never_reach_the_instructor(batch):
    assert batch["results"]["stored_outputs"].score == 27
    text = (batch["course"] / "autograded" / "stored_outputs" / ASSIGNMENT / NB).read_text()
    assert "<script" not in text and "<img" not in text, "raw HTML from the student survived"  # escaped text is fine
    assert "passed (27/27)" not in text


def test_spreadsheet_formulas_are_neutralised(batch):
    rows = (batch["out"] / "grades.csv").read_text().splitlines()
    assert any(row.startswith("'=1+2,") for row in rows), rows


@pytest.mark.parametrize("student", ["copycat", "etc_link", "notebook_link"])
def test_symlinked_submissions_are_refused_with_a_reason(batch, student):
    r = batch["results"][student]
    assert r.score == 0 and r.status == "refused"
    assert any("symbolic link" in reason for reason in r.reasons), r.reasons
    feedback = (batch["out"] / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "passwd" not in feedback and "hostname" not in feedback
