"""Grading speed: our sandboxed, parallel grader vs plain `nbgrader autograde`, same submissions, one run.

    python bench/bench_grader.py [--n 40] [--workers 1 2]

Builds N submissions of assignment 1 (a mix of full solutions, partial answers, blank notebooks and
answers returning None), grades them with `python -m autograder grade` for each worker count, then
with `nbgrader autograde` on a scratch copy of the course, and prints seconds and ratios.
"""
from __future__ import annotations

import argparse
import os
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


def make_submissions(folder: Path, n: int, release_nb: Path) -> None:
    samples = {s.name: s for s in build_samples(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", release_nb)}
    for i in range(n):
        s = samples[MIX[i % len(MIX)]]
        renamed = type(s)(f"student{i:03d}", s.description, s.files, s.expect)
        write_samples([renamed], folder, ASSIGNMENT)


def timed(cmd, cwd) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-grader-") as tmp:
        tmp = Path(tmp)
        course = tmp / "course"
        shutil.copytree(ROOT / "course", course, ignore=shutil.ignore_patterns("gradebook.db", "submitted",
                                                                               "autograded", "feedback"))
        (tmp / "solutions").symlink_to(ROOT / "solutions")
        (tmp / "assignments").symlink_to(ROOT / "assignments")
        make_submissions(course / "submitted", args.n, ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")

        # nbgrader needs the assignment in its gradebook first (not timed)
        timed([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force", "--log-level=ERROR",
               f"--CourseDirectory.release_directory={tmp / 'release'}"], course)
        ours = {}
        for w in args.workers:
            ours[w] = timed([sys.executable, "-m", "autograder", "--course", str(course), "grade", ASSIGNMENT,
                             "--submissions", str(course / "submitted"), "--out", str(tmp / f"out{w}"),
                             "--workers", str(w), "--quiet"], tmp)
        nbgrader = timed([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force",
                          "--log-level=ERROR"], course)

    print(f"grading {args.n} submissions of {ASSIGNMENT} on {os.cpu_count()} cores")
    print(f"{'grader':<34} {'seconds':>8} {'s/submission':>13} {'speed-up vs nbgrader':>21}")
    print(f"{'nbgrader autograde (no sandbox)':<34} {nbgrader:8.1f} {nbgrader / args.n:13.2f} {1.0:21.2f}")
    for w, t in ours.items():
        print(f"{f'autograder, bwrap, {w} worker(s)':<34} {t:8.1f} {t / args.n:13.2f} {nbgrader / t:21.2f}")
    best = max(ours, key=lambda w: nbgrader / ours[w])
    target = 1.8
    verdict = "PASS" if nbgrader / ours.get(2, ours[best]) >= target else "FAIL"
    print(f"target: >= {target}x faster with 2 workers -> {verdict}")


if __name__ == "__main__":
    main()
