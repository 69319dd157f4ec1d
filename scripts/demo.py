"""`make demo`: the course's whole pipeline on one machine, in a few minutes.

1. nnkit at work: an MLP and a small CNN trained on the digits images (progress bars, test accuracy,
   a loss/accuracy plot).
2. The instructor's side: release every assignment from solutions/ into assignments/, build a set of
   sample submissions (full solution, blank release, partial answers, cheating attempts), grade them in
   the sandbox, print the grade table, write feedback and a score histogram.

Everything lands in OUT (default demo-output/), in a course of its own: OUT/course/ is an nbgrader course (its
gradebook, submitted/, autograded/ and exchange) that reads the repository's solutions/ and releases into
OUT/release/.  The repository's course/ and assignments/ are never touched: open the demo's course in the
formgrader with `cd OUT/course && jupyter lab`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from autograder import paths, sandbox  # noqa: E402
from autograder.batch import grade  # noqa: E402
from autograder.report import grade_table  # noqa: E402
from autograder.assignment import Assignment  # noqa: E402
from autograder.release import release  # noqa: E402
from autograder.samples import build_samples, write_samples  # noqa: E402

DEMO_ATTACKS = ("attack_numpy_patch", "attack_ipython_transformer", "attack_anyeq_subclass", "attack_gradebook",
                "attack_snoop", "attack_exit_kernel", "solution_with_warning", "invalid_json")


def banner(text: str) -> None:
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}", flush=True)


def train_digits(out: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from train_digits import run  # the accuracy benchmark doubles as the demo's first act
    run(out, plot=True)


DEMO_CONFIG = '''"""The demo's own nbgrader course (written by scripts/demo.py): the repository's course settings, with
everything it writes inside this folder and its parent, so the real course is never touched."""
import os

c = get_config()  # noqa: F821 - provided by nbgrader
load_subconfig({course_config!r})  # noqa: F821
here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = here
c.CourseDirectory.source_directory = {solutions!r}
c.CourseDirectory.release_directory = os.path.join(here, "..", "release")
c.CourseDirectory.course_id = "nnkit-demo"
c.Exchange.root = os.path.join(here, "exchange")
c.ExportPlugin.to = os.path.join(here, "grades.csv")
'''


def demo_course(out: Path) -> Path:
    """``out/course``: an nbgrader course of the demo's own, reading the repository's solutions."""
    course = out / "course"
    course.mkdir(parents=True, exist_ok=True)
    real = paths.course_root()
    (course / "nbgrader_config.py").write_text(DEMO_CONFIG.format(
        course_config=str(real / "nbgrader_config.py"), solutions=str(paths.solutions_dir(real))))
    return course


def grade_samples(out: Path, only: list[str] | None = None) -> None:
    course = demo_course(out)
    banner(f"Releasing the assignments into the demo's course: solutions/ -> {paths.assignments_dir(course)}")
    for folder in release(course, only):
        print(f"released {folder}")

    try:
        sandbox.check_available()
        sandboxed = True
    except sandbox.SandboxUnavailable as exc:
        print(f"\nNOTE: {exc}\nThe demo grades without a sandbox and leaves out the cheating attempts.")
        sandboxed = False

    submitted = course / "submitted"        # nbgrader's layout: submitted/<student>/<assignment>/
    for folder in sorted(paths.solutions_dir(course).iterdir()):
        if not folder.is_dir() or not any(folder.glob("*.ipynb")) or (only and folder.name not in only):
            continue
        name = folder.name
        assignment = Assignment.load(paths.solutions_dir(course), name)
        wanted = {"solution", "blank", "partial"}
        if name == "a1_neuron" and sandboxed:
            wanted |= set(DEMO_ATTACKS)
        for nb in assignment.notebooks:
            samples = build_samples(folder / f"{nb}.ipynb", paths.assignments_dir(course) / name / f"{nb}.ipynb")
            write_samples([s for s in samples if s.name in wanted], submitted, name)

        students = sorted(p.parent.name for p in submitted.glob(f"*/{name}"))
        banner(f"Grading {name}: {len(students)} sample submissions "
               f"({'sandboxed' if sandboxed else 'NOT sandboxed'}, 2 workers)")
        results, crashed, elapsed = grade(name, submitted, out / "graded" / name, workers=2, course=course,
                                          sandboxed=sandboxed, secret=2026, students=students)
        print("\n".join(grade_table(results)))
        print(f"{len(results)} submissions in {elapsed:.1f} s; feedback in {(out / 'graded' / name / 'feedback')}")
        if crashed:
            raise SystemExit(f"the grader failed on {[sid for sid, _ in crashed]}")
        histogram(results, assignment.max_score, out / "graded" / name / "scores.png", name)


def histogram(results, max_score: float, path: Path, name: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    scores = [r.score for r in results]
    ax.hist(scores, bins=min(10, max(3, len(set(scores)))), range=(0, max_score), color="#4c72b0", edgecolor="white")
    ax.set(title=f"{name}: automatically graded scores", xlabel=f"score (out of {max_score:g})",
           ylabel="submissions")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"score histogram: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo-output")
    parser.add_argument("--skip-training", action="store_true", help="only the instructor's part")
    parser.add_argument("--assignments", nargs="*", metavar="NAME", help="grade only these (default: all)")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    if out.exists():
        import shutil
        shutil.rmtree(out)
    out.mkdir(parents=True)
    start = time.monotonic()
    if not args.skip_training:
        banner("nnkit: an MLP and a small CNN on the digits images")
        train_digits(out)
    grade_samples(out, args.assignments or None)
    banner(f"Done in {time.monotonic() - start:.0f} s. Everything is in {out}")


if __name__ == "__main__":
    main()
