"""Grading a plain nbgrader course (assert tests, no autograder.checks): our sandboxed grader vs `nbgrader autograde`.

    python bench/bench_plain_course.py [--n 24] [--workers 1 2]

Builds the small plain course of autograder/sample_course.py with N submissions (honest, partial, blank and
crashing answers in turn), grades them with plain `nbgrader autograde`, then with `python -m autograder grade`
for each worker count, each on its own copy of the course, and prints seconds, submissions per second and the
ratio to nbgrader.  Every run must give the same automatic scores (checked; a mismatch stops the benchmark).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from autograder.release import nbgrader_env  # noqa: E402
from autograder.sample_course import ASSIGNMENT, submissions, write_course  # noqa: E402

MIX = ("honest", "partial", "blank", "crashing")


def run(cmd, cwd) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def scores(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student.id: sum(g.auto_score or 0 for nb in s.notebooks for g in nb.grades if g.cell.cell_type == "code")
                for s in gb.find_assignment(ASSIGNMENT).submissions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-plain-") as tmp:
        base = write_course(Path(tmp) / "base", cell_seconds=30)
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force",
                        "--log-level=ERROR"], cwd=base, env=nbgrader_env(), check=True, capture_output=True)
        samples = submissions(json.loads((base / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()))
        for i in range(args.n):
            folder = base / "submitted" / f"student{i:03d}" / ASSIGNMENT
            folder.mkdir(parents=True)
            nbformat.write(samples[MIX[i % len(MIX)]], folder / f"{ASSIGNMENT}.ipynb")

        rows, reference = [], None
        plain = Path(tmp) / "nbgrader"
        shutil.copytree(base, plain)
        seconds = run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force", "--create",
                       "--log-level=ERROR"], plain)
        reference = scores(plain)
        rows.append(("nbgrader autograde", seconds))
        for workers in args.workers:
            ours = Path(tmp) / f"ours{workers}"
            shutil.copytree(base, ours)
            seconds = run([sys.executable, "-m", "autograder", "--course", str(ours), "grade", ASSIGNMENT,
                           "--submissions", str(ours / "submitted"), "--out", str(ours / "out"),
                           "--workers", str(workers), "--quiet"], ours)
            if scores(ours) != reference:
                raise SystemExit(f"scores differ from nbgrader's with {workers} worker(s): {scores(ours)} vs {reference}")
            rows.append((f"autograder, {workers} worker{'s' if workers > 1 else ''}", seconds))

    print(f"plain nbgrader course, {args.n} submissions ({', '.join(MIX)} in turn); same scores in every run")
    print(f"{'grader':<26}{'seconds':>9}{'subm./s':>9}{'vs nbgrader':>13}")
    for name, seconds in rows:
        print(f"{name:<26}{seconds:9.1f}{args.n / seconds:9.2f}{rows[0][1] / seconds:12.2f}x")


if __name__ == "__main__":
    main()
