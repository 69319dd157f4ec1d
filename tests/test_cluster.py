"""Grading on a Dask cluster: a real `dask scheduler` and `dask worker` processes on 127.0.0.1 (free ports, stopped
after).  The cluster gives the same grades as the local pool; a worker killed mid-batch loses nobody's result and
grades nobody twice; an interrupted batch resumes without regrading what is done; a worker that cannot sandbox
gets no submission, and a cluster of such workers is a clear error (autograder/cluster.py, autograder/batch.py)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from autograder import sandbox  # noqa: E402
from autograder.batch import JOURNAL, BatchSpec, run_batch  # noqa: E402
from autograder.cluster import LocalProcesses  # noqa: E402
from autograder.samples import build_samples, write_samples  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "a1_neuron"
SAMPLES = ("solution", "blank", "partial", "returns_none", "attack_numpy_patch", "attack_exit_kernel",
           "attack_gradebook")
SECRET = 7
NO_BWRAP = {"PATH": "/nonexistent"}    # a worker that cannot find bubblewrap: it must refuse to grade


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    sandbox.check_available()
    tmp = tmp_path_factory.mktemp("cluster")
    course = tmp / "course"
    course.mkdir()
    shutil.copy(ROOT / "course" / "nbgrader_config.py", course)
    (tmp / "solutions").symlink_to(ROOT / "solutions")
    (tmp / "assignments").symlink_to(ROOT / "assignments")
    samples = build_samples(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                            ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    write_samples([s for s in samples if s.name in SAMPLES], tmp / "submitted", ASSIGNMENT)
    return course


@pytest.fixture(scope="module")
def local_grades(course):
    """The reference: the same batch on the local pool."""
    outcome = run_batch(BatchSpec(ASSIGNMENT, course.parent / "submitted", course.parent / "local", course,
                                  secret=SECRET, workers=2, record_gradebook=False, progress=False))
    assert not outcome.crashed
    return grades(outcome.results())


def grades(results) -> dict:
    return {r.student_id: (r.score, r.status, tuple((t.test_id, t.passed) for t in r.tests)) for r in results}


def journal_lines(out: Path) -> list[dict]:
    lines = [json.loads(line) for line in (out / JOURNAL).read_text().splitlines()]
    return [line for line in lines if "student_id" in line]


@pytest.fixture(scope="module")
def cluster():
    with LocalProcesses(workers=2) as c:
        yield c


def test_the_cluster_grades_like_the_local_pool_and_an_unsafe_worker_gets_nothing(course, local_grades, cluster):
    unsafe = cluster.add_worker(env=NO_BWRAP, name="no-bwrap")
    try:
        named = cluster.wait_for(3)
        unsafe_address = next(a for a, name in named.items() if name == "no-bwrap")
        out = course.parent / "dask"
        log = []
        from autograder.cluster import DaskRunner
        runner = DaskRunner(cluster.address, log=log.append)
        outcome = run_batch(BatchSpec(ASSIGNMENT, course.parent / "submitted", out, course, secret=SECRET,
                                      scheduler=cluster.address, record_gradebook=False, progress=False), runner)
        assert not outcome.crashed
        assert grades(outcome.results()) == local_grades
        assert local_grades["solution"][0] == 27 and local_grades["blank"][0] == 0
        assert "2 checked worker(s)" in outcome.workers
        used = {w for line in journal_lines(out) for w in line["workers"]}
        assert used and unsafe_address not in used and all(w.startswith("tcp://127.0.0.1:") for w in used)
        assert any(unsafe_address in text and "bubblewrap" in text for text in log), log
    finally:
        unsafe.terminate()
        unsafe.wait(timeout=20)


def test_a_worker_killed_mid_batch_loses_no_student_and_grades_none_twice(course, local_grades, cluster):
    from distributed import Client
    out = course.parent / "killed"
    spec = BatchSpec(ASSIGNMENT, course.parent / "submitted", out, course, secret=SECRET,
                     scheduler=cluster.address, record_gradebook=False, progress=False)
    victim = cluster.workers[0]
    done: dict = {}
    batch = threading.Thread(target=lambda: done.update(outcome=run_batch(spec)))
    batch.start()
    killed = False
    with Client(cluster.address, set_as_default=False) as client:
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline and batch.is_alive():
            processing = client.processing()
            names = {a: w.get("name") for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
            busy = [a for a, tasks in processing.items() if tasks and names.get(a) == "w0"]
            if busy:
                time.sleep(0.5)                     # inside a submission's sandbox
                victim.send_signal(signal.SIGKILL)
                killed = True
            time.sleep(0.05)
    batch.join(timeout=600)
    assert killed, "the worker never got a submission to be killed in"
    outcome = done["outcome"]
    assert not outcome.crashed
    counts = Counter(line["student_id"] for line in journal_lines(out))
    assert counts == Counter({s: 1 for s in local_grades}), counts
    assert grades(outcome.results()) == local_grades
    rows = (out / "grades.csv").read_text().splitlines()[1:]
    assert sorted(row.split(",")[0] for row in rows) == sorted(local_grades)
    cluster.add_worker(name="w0-again")           # the next test has two workers again
    cluster.wait_for(2)


def _grade_cli(course, out, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "autograder", "--course", str(course), "grade", ASSIGNMENT,
         "--submissions", str(course.parent / "submitted"), "--out", str(out), "--no-gradebook", "--quiet",
         *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})


def test_an_interrupted_batch_resumes_without_regrading_what_is_done(course, local_grades, cluster):
    out = course.parent / "interrupted"
    first = _grade_cli(course, out, "--scheduler", cluster.address, "--seed", str(SECRET))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None:
        if (out / JOURNAL).exists() and len(journal_lines(out)) >= 2:
            break
        time.sleep(0.1)
    first.send_signal(signal.SIGINT)                # Ctrl-C
    _, err = first.communicate(timeout=300)
    assert first.returncode == 130, err
    assert "--resume" in err
    before = Counter(line["student_id"] for line in journal_lines(out))
    assert 2 <= sum(before.values()) < len(local_grades), before
    assert not (out / "grades.csv").exists()

    again = _grade_cli(course, out, "--scheduler", cluster.address)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 2 and "--resume" in err, err       # an interrupted batch is never overwritten

    resumed = _grade_cli(course, out, "--scheduler", cluster.address, "--resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    counts = Counter(line["student_id"] for line in journal_lines(out))
    assert counts == Counter({s: 1 for s in local_grades}), counts    # the first run's students were not regraded
    report = json.loads((out / "report.json").read_text())
    assert report["meta"]["resumed"] == sum(before.values()) and report["meta"]["seed"] == SECRET
    assert {s["student_id"]: s["score"] for s in report["submissions"]} == \
        {sid: g[0] for sid, g in local_grades.items()}


def test_a_cluster_with_no_safe_worker_is_an_error_and_grades_nothing(course):
    with LocalProcesses(workers=1, worker_env=NO_BWRAP) as unsafe:
        out = course.parent / "unsafe"
        proc = _grade_cli(course, out, "--scheduler", unsafe.address)
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert "can grade safely" in err and "bubblewrap" in err and "nothing was graded" in err
    assert not (out / "grades.csv").exists()


def test_an_unsafe_worker_started_with_the_preload_refuses_to_start():
    with LocalProcesses(workers=0, preload=True) as cluster:
        worker = cluster.add_worker(env=NO_BWRAP)
        try:
            _, err = worker.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            worker.kill()
            pytest.fail("a worker that cannot sandbox started anyway")
    assert worker.returncode == 78 and "cannot grade safely" in err and "bubblewrap" in err


def test_the_documented_slurm_configuration_renders_a_job_script():
    pytest.importorskip("dask_jobqueue")
    from autograder.cluster import slurm_cluster
    cluster = slurm_cluster(cores_per_job=8, memory_per_job="32GB", queue="short", walltime="01:00:00",
                            scheduler_options={"dashboard_address": None, "host": "127.0.0.1"})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p short" in script and "#SBATCH -t 01:00:00" in script
    assert "--preload autograder.cluster" in script
    assert "--nthreads 1" in script and "--nworkers 8" in script
    assert "OPENBLAS_NUM_THREADS=1" in script
