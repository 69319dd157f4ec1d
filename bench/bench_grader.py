"""Grading speed and memory: our sandboxed grader (local pool, and a 2-worker Dask cluster) against plain
`nbgrader autograde` on the same submissions, in one run; where each submission's time goes; the `grade`
process's peak memory as the batch grows.

    python bench/bench_grader.py [--n 40] [--workers 1 2] [--no-dask] [--memory 200 2000]

Speed: builds N submissions of assignment 1 (full solutions, partial answers, blank notebooks, answers returning
None), grades them with `python -m autograder grade` for each worker count and once through `--scheduler` on
`dask scheduler` + two `dask worker --nthreads 1` processes on this machine (started before the clock), then with
`nbgrader autograde` on a scratch copy of the course; prints seconds, submissions per second, the speed-up, the
projected time for 10,000 submissions, and the time per submission by phase (report.json's "timings").

Memory (--memory): for each size, a fresh process grades that many generated copies with the gradebook on, and
reports its peak RSS.  Each distinct notebook is run in a real sandbox once; its copies replay that outcome (the
sandboxes are separate processes, so the grade process does everything else for each copy: reading, tracing,
judging, the journal, similarity, grades.csv, report.json, feedback pages, the gradebook).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.release import nbgrader_env  # noqa: E402
from autograder.samples import build_samples, write_samples  # noqa: E402

ASSIGNMENT = "a1_neuron"
MIX = ("solution", "partial", "blank", "returns_none")
TARGET = 5.0      # issue 13: 2 local workers at least 5x faster than nbgrader autograde


def make_submissions(folder: Path, n: int) -> None:
    release_nb = ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    samples = {s.name: s for s in build_samples(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", release_nb)}
    for i in range(n):
        s = samples[MIX[i % len(MIX)]]
        write_samples([type(s)(f"student{i:05d}", s.description, s.files, s.expect)], folder, ASSIGNMENT)


def scratch_course(tmp: Path) -> Path:
    course = tmp / "course"
    shutil.copytree(ROOT / "course", course, ignore=shutil.ignore_patterns("gradebook.db", "submitted", "autograded",
                                                                           "feedback", "exchange"))
    (tmp / "solutions").symlink_to(ROOT / "solutions")
    (tmp / "assignments").symlink_to(ROOT / "assignments")
    return course


def timed(cmd, cwd) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def grade_cmd(course: Path, out: Path, *extra) -> list[str]:
    """Our grade command; like nbgrader autograde it records every score in the course's gradebook."""
    return [sys.executable, "-m", "autograder", "--course", str(course), "grade", ASSIGNMENT,
            "--submissions", str(course / "submitted"), "--out", str(out), "--quiet", *extra]


def speed(args) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-grader-") as tmp:
        tmp = Path(tmp)
        course = scratch_course(tmp)
        make_submissions(course / "submitted", args.n)
        # nbgrader needs the assignment in its gradebook first (not timed)
        timed([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force", "--log-level=ERROR",
               f"--CourseDirectory.release_directory={tmp / 'release'}"], course)
        runs = {}
        for w in args.workers:
            runs[f"autograder, {w} local worker(s)"] = (timed(grade_cmd(course, tmp / f"out{w}", "--workers", str(w)),
                                                              tmp), tmp / f"out{w}")
        if not args.no_dask:
            from autograder.cluster import LocalProcesses
            with LocalProcesses(workers=2) as cluster:
                runs["autograder, Dask: 2 workers"] = (timed(grade_cmd(course, tmp / "dask", "--scheduler",
                                                                       cluster.address), tmp), tmp / "dask")
        nbgrader = timed([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force",
                          "--log-level=ERROR"], course)
        phases = {name: json.loads((out / "report.json").read_text())["meta"]["timings"]
                  for name, (_, out) in runs.items()}

    n = args.n
    print(f"grading {n} submissions of {ASSIGNMENT} on {os.cpu_count()} cores (sandboxed: bubblewrap)")
    print(f"{'grader':<34} {'seconds':>8} {'subm./s':>8} {'speed-up':>9} {'10,000 subm.':>13}")
    print(f"{'nbgrader autograde (no sandbox)':<34} {nbgrader:8.1f} {n / nbgrader:8.2f} {1.0:9.2f} "
          f"{10000 * nbgrader / n / 3600:11.1f} h")
    for name, (t, _) in runs.items():
        print(f"{name:<34} {t:8.1f} {n / t:8.2f} {nbgrader / t:9.2f} {10000 * t / n / 3600:11.1f} h")
    print("\nwhere a submission's time goes (seconds per submission, summed over its notebook's sandbox runs):")
    names = list(phases)
    order = list(dict.fromkeys(k for p in phases.values() for k in p))
    print(f"{'phase':<26}" + "".join(f"{name.replace('autograder, ', ''):>22}" for name in names))
    for phase in order:
        print(f"{phase:<26}" + "".join(f"{phases[name].get(phase, 0) / n:22.3f}" for name in names))
    key = next((name for name in runs if name.startswith("autograder, 2 local")), None)
    if key:
        ratio = nbgrader / runs[key][0]
        print(f"\ntarget: 2 local workers >= {TARGET}x faster than nbgrader autograde -> "
              f"{ratio:.2f}x {'PASS' if ratio >= TARGET else 'FAIL'}")


class ReplayRunner:
    """Runs each distinct notebook in a real sandbox once; its copies get a copy of that outcome."""

    def __init__(self):
        from autograder.batch import LocalRunner
        self.local = LocalRunner(1)
        self.description = "1 local worker, copies replayed"
        self.seen = {}

    def __enter__(self):
        self.local.__enter__()
        return self

    def __exit__(self, *exc):
        return self.local.__exit__(*exc)

    def run(self, jobs):
        from autograder.grading import execute_submission
        for sid, job in jobs:
            key = json.dumps([[c["source"] for c in j.cells] for j in job.jobs])
            if key not in self.seen:
                self.seen[key] = execute_submission(job)
            yield sid, copy.deepcopy(self.seen[key])


def memory_child(n: int) -> None:
    from autograder.batch import BatchSpec, run_batch
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        tmp = Path(tmp)
        course = scratch_course(tmp)
        make_submissions(course / "submitted", n)
        start = time.perf_counter()
        outcome = run_batch(BatchSpec(ASSIGNMENT, course / "submitted", tmp / "out", course, secret=1,
                                      progress=False), ReplayRunner())
        seconds = time.perf_counter() - start
        assert outcome.students == n and not outcome.crashed
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "peak_mib": round(peak, 1), "seconds": round(seconds, 1)}))


def memory(sizes) -> None:
    print(f"\npeak memory of the grade process (gradebook on; copies replay one sandbox run per distinct notebook):")
    print(f"{'submissions':>12} {'peak RSS':>10} {'seconds':>9}")
    for n in sizes:
        proc = subprocess.run([sys.executable, __file__, "--memory-child", str(n)], capture_output=True, text=True,
                              env=nbgrader_env())
        if proc.returncode != 0:
            raise SystemExit(f"memory run for {n} failed:\n{proc.stderr[-3000:]}")
        doc = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{doc['n']:>12} {doc['peak_mib']:>7.0f} MiB {doc['seconds']:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-dask", action="store_true", help="leave out the Dask cluster")
    parser.add_argument("--memory", type=int, nargs="*", metavar="N", help="peak memory at these batch sizes only")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
    elif args.memory:
        memory(args.memory)
    else:
        speed(args)


if __name__ == "__main__":
    main()
