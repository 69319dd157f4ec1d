"""``python -m autograder {release,collect,grade,feedback,doctor}`` -- the instructor's commands."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# jsonschema, which nbformat imports, builds the grammar of an optional IRI checker (rfc3987-syntax, installed
# with Jupyter's jupyter-events) when it is imported: 1.2 of the 1.3 s `import nbformat` takes here, in every
# command.  No schema these commands validate has an "iri" format, so this process goes without that checker.
sys.modules.setdefault("rfc3987_syntax", None)

from . import paths, sandbox  # noqa: E402


def cmd_release(args) -> int:
    from .release import release
    course = paths.course_root(args.course)
    for folder in release(course, args.assignments or None):
        print(f"released {folder}")
    return 0


def cmd_selfcheck(args) -> int:
    from .assignment import Assignment
    from .grading import GraderError
    from .mutation import load_catalogue
    from .selfcheck import format_report, selfcheck
    course = paths.course_root(args.course)
    try:
        assignment = Assignment.load(paths.solutions_dir(course), args.assignment)
        mutants = load_catalogue(Path(args.mutants)) if args.mutants else None
        report = selfcheck(assignment, seeds=args.seeds, mutants=mutants, mutant_seeds=args.mutant_seeds,
                           workers=args.workers)
    except (ValueError, OSError, GraderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0 if report.ok else 1


def cmd_grade(args) -> int:
    from .batch import BatchError, BatchSpec, run_batch
    from .report import grade_table
    course = paths.course_root(args.course)
    submissions = Path(args.submissions)
    if not submissions.is_dir():
        print(f"error: --submissions {submissions} is not a folder", file=sys.stderr)
        return 2
    from .submissions import layout_problem
    problem = layout_problem(submissions, args.assignment)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    sandboxed = not args.unsafe_no_sandbox
    if args.scheduler and not sandboxed:
        print("error: --unsafe-no-sandbox cannot be used with --scheduler: a cluster grades only in sandboxes",
              file=sys.stderr)
        return 2
    if sandboxed and not args.scheduler:    # a cluster's workers check their own sandboxes (autograder.cluster)
        try:
            posture = sandbox.check_available()
        except sandbox.SandboxUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(posture.summary(), file=sys.stderr)
        for warning in posture.warnings:
            print(f"not enforced here: {warning}", file=sys.stderr)
    elif not sandboxed:
        print("WARNING: grading WITHOUT a sandbox: student code runs with your permissions.", file=sys.stderr)
    spec = BatchSpec(args.assignment, submissions, Path(args.out), course, secret=args.seed, workers=args.workers,
                     sandboxed=sandboxed, scheduler=args.scheduler, resume=args.resume,
                     students=tuple(args.student) if args.student else None,
                     tests=tuple(args.test) if args.test else None, record_gradebook=not args.no_gradebook,
                     progress=not args.quiet)
    try:
        outcome = run_batch(spec)
    except (ValueError, BatchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: what was graded is in {Path(args.out) / 'journal.jsonl'}; the same command with "
              "--resume grades the rest", file=sys.stderr)
        return 130
    if not args.quiet:
        print("\n".join(grade_table(outcome.results())))
        if args.test:
            print(f"regraded only {', '.join(args.test)}: the scores above cover those tests; the gradebook "
                  "holds every test's score (nbgrader export)")
        resumed = f" ({outcome.resumed} taken from the interrupted batch)" if outcome.resumed else ""
        print(f"graded {outcome.graded} submissions in {outcome.seconds:.1f} s with {outcome.workers}{resumed}; "
              f"wrote {args.out}/grades.csv, report.json, feedback/"
              + ("" if args.no_gradebook else f" and the gradebook in {course}"))
    for sid, error in outcome.crashed:
        print(f"grader error on {sid}: {error}", file=sys.stderr)
    return 1 if outcome.crashed else 0


def cmd_collect(args) -> int:
    from .assignment import Assignment
    from .collect import RosterError, collect, summarize
    course = paths.course_root(args.course)
    try:
        names = list(Assignment.load(paths.solutions_dir(course), args.assignment).notebooks)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = collect([Path(a) for a in args.archives], args.assignment, Path(args.out), names,
                         Path(args.roster) if args.roster else None)
    except RosterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines, error, status = summarize(report, args.out, args.assignment)
    print("\n".join(lines))
    if error:
        print(error, file=sys.stderr)
    return status


def cmd_feedback(args) -> int:
    from .feedback import generate_feedback
    course = paths.course_root(args.course)
    if args.student and len(args.student) > 1:
        print("error: --student takes one student (nbgrader's generate_feedback); omit it for everyone",
              file=sys.stderr)
        return 2
    try:
        pages = generate_feedback(course, args.assignment, args.student)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    students = sorted({p.parent.parent.name for p in pages})
    print(f"wrote {len(pages)} feedback pages for {len(students)} students into {course / 'feedback'}/<student>/"
          f"{args.assignment}/ (open them in a browser; MathJax is in {course / 'feedback' / 'mathjax'})")
    return 0


def cmd_doctor(args) -> int:
    from .doctor import lines
    report, safe = lines()
    print("\n".join(report))
    print("verdict: " + ("the sandbox holds here" if safe else "do not grade untrusted code here until the UNSAFE "
                                                                "lines are fixed"))
    return 0 if safe else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    parser.add_argument("--course", metavar="DIR",
                        help="the nbgrader course root, the folder with nbgrader_config.py "
                             "(default: ./course if it exists, else the repository's course/)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="build student notebooks in assignments/ from solutions/")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help="assignments to release (default: every folder of solutions/ with a notebook)")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser(
        "grade", help="grade DIR/<student_id>/<ASSIGNMENT>/*.ipynb into OUT and the course's gradebook",
        description="Run every submission in the sandbox, judge it against the course's reference, write OUT and "
                    "record the scores in the course's nbgrader gradebook (hand grades, comments and extra credit "
                    "entered in the formgrader are kept). Exit 0: all graded; 1: the grader failed on some "
                    "submission (see stderr; they get a 'grader error' row); 2: a usage error.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment's folder name in the course's source "
                                                            "(solutions/), e.g. a1_neuron")
    p.add_argument("--submissions", required=True, metavar="DIR",
                   help="the folder holding one folder per student: DIR/<student_id>/ASSIGNMENT/*.ipynb (nbgrader's "
                        "submitted/ layout; `collect` makes it from an LMS zip)")
    p.add_argument("--out", required=True, metavar="OUT",
                   help="where to write grades.csv, report.json and feedback/<student>/ASSIGNMENT/*.html "
                        "(created if missing; files of the same names are replaced)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="submissions graded at the same time; about one per CPU core (each sandbox uses one core)")
    p.add_argument("--student", action="append", metavar="ID",
                   help="grade only this student's folder (repeat for several); the others' grades stay as they are")
    p.add_argument("--test", action="append", metavar="TEST",
                   help="regrade only this test (its grade_id; repeat for several), e.g. after fixing it mid-term: "
                        "only its score changes in the gradebook")
    p.add_argument("--seed", type=int, help="grading seed (default: a fresh secret; it is recorded in report.json, "
                                            "so a run can be repeated exactly)")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run student code WITHOUT bubblewrap, with your permissions (trusted notebooks only)")
    p.add_argument("--no-gradebook", action="store_true",
                   help="a trial run: write OUT only, leave the course's gradebook.db and autograded/ untouched")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="send the submissions to this Dask scheduler's workers (each checks its own sandbox first; "
                        "see autograder/README.md 'Grading on a cluster'); judging and the gradebook stay here")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted batch in OUT (its journal.jsonl): same seed, only the students "
                        "without a result (or whose files changed) are graded")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no grade table (errors still print)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser(
        "collect", help="unpack an LMS (Moodle/Canvas) zip into DIR/<student>/<ASSIGNMENT>/",
        description="Place the files of LMS 'download all submissions' zips (Moodle, Canvas, or one plain folder "
                    "per student; see autograder/README.md) into DIR/<student>/ASSIGNMENT/. Existing files are "
                    "never overwritten; whatever is not placed is listed with the reason. Exit 0: something was "
                    "placed (or was already there); 1: nothing was placed; 2: a usage error (e.g. the roster).")
    p.add_argument("archives", nargs="+", metavar="ARCHIVE.zip")
    p.add_argument("--assignment", required=True, metavar="ASSIGNMENT")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--roster", metavar="CSV", help="UTF-8 CSV with a header: student_id (required) and any of "
                                                   "lms_id, login, name, first_name+last_name")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser(
        "feedback", help="feedback pages from the gradebook (verdicts, hand grades, comments) for students",
        description="Render every graded submission of ASSIGNMENT, with its scores from the gradebook (hand "
                    "grades and comments included), into COURSE/feedback/<student>/ASSIGNMENT/*.html; the pages "
                    "typeset math offline. Run it after hand grading; nbgrader's release_feedback or your LMS "
                    "returns them to students.")
    p.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment, e.g. a1_neuron")
    p.add_argument("--student", action="append", metavar="ID", help="only this student's pages")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser(
        "selfcheck", help="before release: the solution through every test on many secret seeds, and mutants",
        description="Run the source notebook's solution through every test of ASSIGNMENT on SEEDS secret seeds "
                    "(a flaky test fails an honest student on some of them), and each mutant of a catalogue "
                    "(realistic mistakes, see autograder/mutation.py): which tests it costs, on what share of seeds. "
                    "Runs in this process without the sandbox (the code is yours). Exit 0: no flaky test and every "
                    "mutant caught only where it should be; 1: otherwise; 2: a usage error.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment, e.g. a1_neuron")
    p.add_argument("--seeds", type=int, default=200, metavar="N", help="secret seeds for the solution")
    p.add_argument("--mutants", metavar="FILE", help="a catalogue: a Python file with MUTANTS = [Mutant(...), ...]")
    p.add_argument("--mutant-seeds", type=int, default=20, metavar="N", help="secret seeds for each mutant")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="processes sharing the runs (forked from this one)")
    p.set_defaults(func=cmd_selfcheck)

    p = sub.add_parser("doctor", help="check the sandbox on this machine: who student code runs as, which limits hold")
    p.set_defaults(func=cmd_doctor)

    args = parser.parse_args(argv)
    if getattr(args, "workers", 1) < 1:
        parser.error("--workers must be at least 1")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
