"""One grading batch: every student folder of an assignment to grades.csv, report.json, feedback and the gradebook.

    prepare (here)  ->  run (sandboxes: a local pool, or a Dask cluster, :mod:`autograder.cluster`)
                    ->  judge (here)  ->  the journal (``OUT/journal.jsonl``, one line per student, as it comes)
    after the last: similarity flags, grades.csv, report.json, feedback pages, the gradebook (this process only)

What travels to a worker is a :class:`~autograder.grading.SubmissionJob` (the merged cells, the tests' plans and
input arrays, the files beside the notebook); the expectations, the solutions and the gradebook stay here.

The journal makes a batch safe to stop: ``--resume`` continues an interrupted batch with its grading seed, and
grades again only the students it has no result for (or whose submission changed since).  Results are read back
from it to write the outputs, so this process's memory does not grow with the batch; at most a few submissions
per worker are in flight at once.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from . import paths, sandbox, similarity
from .assignment import Assignment
from .report import json_default
from .grading import (RUN_PHASES, PreparedSubmission, SubmissionResult, TestResult, execute_submission,
                      finish_submission, prepare_submission)

JOURNAL = "journal.jsonl"
JOURNAL_VERSION = 1
NOT_RECORDED = ("grader error", "refused", "not submitted")   # rows of grades.csv that never reach the gradebook
GRADER_ERROR = ("the grader could not grade this submission (a problem on the grader's side, not in your work); "
                "it will be regraded")
IN_FLIGHT_PER_WORKER = 2                       # submissions prepared ahead of each worker


class BatchError(Exception):
    """The batch cannot start or go on (a journal of another batch, a cluster with no safe worker, ...)."""


@dataclass(frozen=True)
class BatchSpec:
    """What to grade and how; :func:`run_batch` takes one."""
    assignment: str
    submissions: Path
    out: Path
    course: Path
    secret: int | None = None          # None: a fresh secret (or, with resume, the interrupted batch's)
    workers: int = 2                   # local sandboxes at once (ignored with a scheduler: the cluster decides)
    sandboxed: bool = True
    scheduler: str | None = None       # tcp://HOST:PORT of a Dask scheduler
    resume: bool = False
    students: tuple | None = None      # only these students
    tests: tuple | None = None         # only these tests (a regrade after fixing one)
    limits: sandbox.Limits | None = None
    record_gradebook: bool = True
    progress: bool = True


@dataclass
class BatchOutcome:
    """What a batch did.  The results themselves are in the journal: :meth:`results` reads them back."""
    assignment: str
    journal: Path
    secret: int
    students: int = 0                  # rows written (one per student folder)
    graded: int = 0                    # graded by this run
    resumed: int = 0                   # taken from the interrupted batch's journal
    crashed: list = field(default_factory=list)    # (student, the grader's error) -- regraded next time
    seconds: float = 0.0               # grading time (without the final writing)
    timings: dict = field(default_factory=dict)    # seconds summed over submissions, per phase (see PHASES)
    workers: str = ""                  # "2 local" or the scheduler's address with its safe workers
    similarity: dict = field(default_factory=dict)  # student -> near-copies found (similarity.Match); few and small

    def results(self) -> list[SubmissionResult]:
        """Every student's final result, sorted by student (read from the journal), with its similarity matches:
        what grades.csv and report.json show."""
        return list(with_matches(Journal.read(self.journal).sorted_results(), self.similarity))


def with_matches(results: Iterator[SubmissionResult], matches: dict) -> Iterator[SubmissionResult]:
    for r in results:
        similarity.apply_matches(r, matches.get(r.student_id, []))
        yield r


PHASES = ("preparing (here)", *RUN_PHASES, "judging (here)")


# ---------------------------------------------------------------------------------------------
# the journal
# ---------------------------------------------------------------------------------------------
def result_from_json(doc: dict) -> SubmissionResult:
    doc = dict(doc)
    doc["tests"] = [TestResult(**t) for t in doc.get("tests", [])]
    doc["similarity"] = [similarity.Match.from_json(m) for m in doc.get("similarity", [])]
    return SubmissionResult(**doc)


def submission_fingerprint(folder: Path) -> str:
    """The submission's files (names and bytes, no links): a resumed batch regrades a folder that changed."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def assignment_fingerprint(assignment: Assignment) -> str:
    digest = hashlib.sha256()
    for path in sorted(assignment.directory.iterdir()):
        if path.is_file() and not path.is_symlink():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Journal:
    """``OUT/journal.jsonl``: a header line (the batch), one line per graded student, a last line when the outputs
    are written.  Appended and flushed line by line, so a crash loses at most the line being written."""

    def __init__(self, path: Path, header: dict, lines: dict[str, tuple[int, str]], done: bool):
        self.path, self.header, self.done = path, header, done
        self.offsets = {sid: offset for sid, (offset, _) in lines.items()}     # latest line per student
        self.fingerprints = {sid: fp for sid, (_, fp) in lines.items()}
        self._file = None

    @classmethod
    def read(cls, path: Path) -> "Journal":
        header, lines, done = {}, {}, False
        with open(path, "rb") as f:
            offset = 0
            for raw in f:
                try:
                    doc = json.loads(raw)
                except ValueError:
                    break                   # a line cut by a crash: everything after it is ignored
                if not isinstance(doc, dict):
                    break
                if "journal" in doc:
                    header = doc
                elif "student_id" in doc and isinstance(doc.get("result"), dict):
                    lines[doc["student_id"]] = (offset, doc.get("submission", ""))
                elif doc.get("done"):
                    done = True
                offset += len(raw)
        if header.get("journal") != JOURNAL_VERSION:
            raise BatchError(f"{path} is not a grading journal this version can read")
        return cls(path, header, lines, done)

    @classmethod
    def start(cls, path: Path, header: dict) -> "Journal":
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"journal": JOURNAL_VERSION, **header}) + "\n")
        os.replace(tmp, path)
        return cls(path, {"journal": JOURNAL_VERSION, **header}, {}, False)

    def result(self, student_id: str) -> SubmissionResult:
        with open(self.path, "rb") as f:
            f.seek(self.offsets[student_id])
            return result_from_json(json.loads(f.readline())["result"])

    def append(self, result: SubmissionResult, fingerprint: str, workers: Iterable[str] = ()) -> None:
        """One student's result (``workers``: where its sandboxes ran, for the record)."""
        if self._file is None:
            self._file = open(self.path, "ab")
        line = json.dumps({"student_id": result.student_id, "submission": fingerprint, "workers": sorted(set(workers)),
                           "result": result.to_json()}, default=json_default).encode() + b"\n"
        self.offsets[result.student_id] = self._file.tell()
        self.fingerprints[result.student_id] = fingerprint
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())

    def finish(self) -> None:
        self.close()
        with open(self.path, "ab") as f:
            f.write(b'{"done": true}\n')
        self.done = True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def students(self) -> list[str]:
        return sorted(self.offsets)

    def sorted_results(self) -> Iterator[SubmissionResult]:
        for sid in self.students():
            yield self.result(sid)


def _open_journal(spec: BatchSpec, assignment: Assignment) -> Journal:
    """A new journal, or (``resume``) the interrupted batch's; refuses to overwrite an interrupted batch silently."""
    path = spec.out / JOURNAL
    header = {"assignment": spec.assignment, "source": assignment_fingerprint(assignment),
              "tests": sorted(spec.tests) if spec.tests else None,
              "students": sorted(spec.students) if spec.students else None}
    previous = None
    if path.exists():
        try:
            previous = Journal.read(path)
        except (OSError, BatchError) as exc:
            if spec.resume:
                raise BatchError(f"cannot resume: {exc}") from exc
    if spec.resume:
        if previous is None:
            raise BatchError(f"nothing to resume: no {JOURNAL} in {spec.out}")
        changed = [k for k in header if previous.header.get(k) != header[k]]
        if changed:
            what = {"assignment": "another assignment", "source": "the assignment's source notebooks have changed",
                    "tests": "other --test options", "students": "other --student options"}
            raise BatchError(f"cannot resume the batch in {spec.out}: it was for {', '.join(what[k] for k in changed)}"
                             " (grade without --resume to start a new batch)")
        if spec.secret is not None and spec.secret != previous.header.get("secret"):
            raise BatchError("cannot resume with another --seed: the interrupted batch's seed is used")
        return previous
    if previous is not None and not previous.done:
        raise BatchError(f"{spec.out} holds an interrupted batch of {previous.header.get('assignment')} "
                         f"({len(previous.offsets)} students graded): continue it with --resume, or give another "
                         f"--out (or delete {path}) to start over")
    import secrets
    secret = spec.secret if spec.secret is not None else secrets.randbits(63)
    return Journal.start(path, {**header, "secret": secret, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


# ---------------------------------------------------------------------------------------------
# running: a local pool of sandboxes (the cluster's runner is in autograder.cluster)
# ---------------------------------------------------------------------------------------------
class LocalRunner:
    """Runs submission jobs in ``workers`` sandboxes at once on this machine (threads: the work is in the
    sandboxes' processes)."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)
        self.description = f"{self.workers} local worker{'s' if self.workers > 1 else ''}"

    def __enter__(self):
        self.pool = ThreadPoolExecutor(max_workers=self.workers)
        return self

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True, cancel_futures=True)

    def run(self, jobs: Iterator) -> Iterator[tuple[str, object]]:
        """Yield (student, outcomes or the exception) as they finish; at most a few jobs in flight per worker."""
        running = {}
        window = self.workers * IN_FLIGHT_PER_WORKER
        for sid, job in jobs:
            running[self.pool.submit(execute_submission, job)] = sid
            while len(running) >= window:
                yield from self._collect(running)
        while running:
            yield from self._collect(running)

    @staticmethod
    def _collect(running: dict):
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for fut in done:
            sid = running.pop(fut)
            exc = fut.exception()
            yield sid, exc if exc is not None else fut.result()


# ---------------------------------------------------------------------------------------------
# the batch
# ---------------------------------------------------------------------------------------------
def grader_error_result(student_id: str, assignment: Assignment, exc: BaseException | str) -> SubmissionResult:
    return SubmissionResult(student_id=student_id, assignment=assignment.name, max_score=assignment.max_score,
                            status="grader error", reasons=[GRADER_ERROR],
                            diagnostics=[exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"])


def run_batch(spec: BatchSpec, runner=None) -> BatchOutcome:
    """Grade the batch ``spec`` describes and write its outputs; raises ValueError (unknown assignment, student or
    test) or BatchError (see :func:`_open_journal`) before grading anything.

    ``runner`` (not yet entered; default: a LocalRunner, or a DaskRunner with ``spec.scheduler``) runs the jobs."""
    from tqdm.auto import tqdm

    from .submissions import list_students

    course = spec.course
    whole = assignment = Assignment.load(paths.solutions_dir(course), spec.assignment,
                                         paths.autograder_setting(course, "limits", None))
    if spec.tests:
        assignment = whole.only_tests(set(spec.tests))
    folders = list_students(spec.submissions, spec.assignment)
    if spec.students:
        missing = sorted(set(spec.students) - {f.student_id for f in folders})
        if missing:
            raise ValueError(f"no folder for student(s) {', '.join(missing)} in {spec.submissions}")
        folders = [f for f in folders if f.student_id in set(spec.students)]
    spec.out.mkdir(parents=True, exist_ok=True)
    journal = _open_journal(spec, assignment)
    outcome = BatchOutcome(spec.assignment, journal.path, journal.header["secret"])

    todo = []
    for f in folders:
        fingerprint = submission_fingerprint(f.path / spec.assignment) if not f.refusal else "refused"
        if spec.resume and journal.fingerprints.get(f.student_id) == fingerprint \
                and journal.result(f.student_id).status != "grader error":
            outcome.resumed += 1
            continue
        if f.refusal:  # a symlinked or otherwise unsafe folder: never opened, a row with the reason
            journal.append(SubmissionResult(student_id=f.student_id, assignment=spec.assignment,
                                            max_score=assignment.max_score, status="refused",
                                            reasons=[f.refusal]), fingerprint)
            continue
        todo.append((f, fingerprint))

    runner = runner or (_cluster_runner(spec) if spec.scheduler else LocalRunner(spec.workers))
    start = time.monotonic()
    bar = tqdm(total=len(folders), initial=len(folders) - len(todo), desc=f"grading {spec.assignment}",
               unit="submission", disable=not spec.progress, smoothing=0.1)
    pending: dict[str, tuple[PreparedSubmission, str, float]] = {}

    def jobs():
        for folder, fingerprint in todo:
            t0 = time.monotonic()
            try:
                prepared = prepare_submission(assignment, folder.path / spec.assignment, folder.student_id,
                                              outcome.secret, spec.limits)
            except Exception as exc:  # noqa: BLE001 - the assignment's bug or ours: the student still gets a row
                _crashed(folder.student_id, exc, fingerprint)
                continue
            pending[folder.student_id] = (prepared, fingerprint, time.monotonic() - t0)
            yield folder.student_id, prepared.job(spec.sandboxed)

    def _crashed(sid, exc, fingerprint):
        outcome.crashed.append((sid, f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else exc))
        journal.append(grader_error_result(sid, assignment, exc), fingerprint)
        bar.update(1)

    try:
        with runner as active:
            outcome.workers = active.description
            for sid, ran in active.run(jobs()):
                prepared, fingerprint, prep_seconds = pending.pop(sid)
                if isinstance(ran, BaseException):
                    _crashed(sid, ran, fingerprint)
                    continue
                t0 = time.monotonic()
                try:
                    result = finish_submission(assignment, prepared, ran)
                except Exception as exc:  # noqa: BLE001
                    _crashed(sid, exc, fingerprint)
                    continue
                _add(outcome.timings, PHASES[0], prep_seconds)
                for run in ran:
                    for phase, seconds in run.timings.items():
                        _add(outcome.timings, phase, seconds)
                _add(outcome.timings, PHASES[-1], time.monotonic() - t0)
                journal.append(result, fingerprint, [run.worker or "local" for run in ran])
                outcome.graded += 1
                bar.update(1)
    finally:
        bar.close()
        journal.close()
    outcome.seconds = time.monotonic() - start
    outcome.students = len(journal.offsets)
    write_outputs(spec, whole, assignment, journal, outcome)
    journal.finish()
    return outcome


def _add(timings: dict, phase: str, seconds: float) -> None:
    timings[phase] = timings.get(phase, 0.0) + seconds


def _cluster_runner(spec: BatchSpec):
    if not spec.sandboxed:
        raise BatchError("--unsafe-no-sandbox cannot be used with --scheduler: a cluster grades only in sandboxes")
    from .cluster import DaskRunner
    return DaskRunner(spec.scheduler)


# ---------------------------------------------------------------------------------------------
# the outputs, read back from the journal
# ---------------------------------------------------------------------------------------------
def write_outputs(spec: BatchSpec, whole: Assignment, assignment: Assignment, journal: Journal,
                  outcome: BatchOutcome) -> None:
    """grades.csv, report.json, feedback pages and (unless switched off) the gradebook, one student at a time."""
    from .report import write_feedback, write_grades_csv, write_report_json

    threshold = paths.autograder_setting(spec.course, "similarity_threshold", similarity.DEFAULT_THRESHOLD)
    matches = {}
    if threshold is not None:   # None in the course config switches the check off
        graded = {sid for sid in journal.students()}
        matches = similarity.batch_matches(whole, spec.submissions, float(threshold),
                                           paths.autograder_setting(spec.course, "similarity_packages", ()))
        matches = {sid: found for sid, found in matches.items() if sid in graded}
    outcome.similarity = matches

    def results() -> Iterator[SubmissionResult]:
        return with_matches(journal.sorted_results(), matches)

    write_grades_csv(results(), spec.out / "grades.csv")
    write_report_json(results(), spec.out / "report.json", {
        "assignment": spec.assignment, "submissions": outcome.students, "workers": outcome.workers,
        "sandboxed": spec.sandboxed, "seconds": round(outcome.seconds, 2), "seed": outcome.secret,
        "max_score": assignment.max_score, "resumed": outcome.resumed,
        "timings": {k: round(v, 3) for k, v in outcome.timings.items()}})
    for r in results():
        write_feedback(r, list(assignment.notebooks), spec.out / "feedback")
    if spec.record_gradebook:
        from .gradebook import record, write_autograded
        tests = set(spec.tests) if spec.tests else None
        recorded = record(spec.course, assignment, (r for r in results() if r.status not in NOT_RECORDED),
                          tests=tests)
        notes = recorded.notes
        for r in results():
            if r.status in NOT_RECORDED:
                continue
            found, _ = assignment.locate_notebooks(spec.submissions / r.student_id / spec.assignment)
            notes += write_autograded(spec.course, whole, r, found, only_tests=tests)
        print(f"gradebook: {recorded.summary()}", file=sys.stderr)
        for note in notes:  # what could not be stored for the formgrader, and why
            print(f"gradebook: {note}", file=sys.stderr)


def grade(assignment_name: str, submissions: Path, out: Path, workers: int, course: Path, sandboxed: bool,
          secret: int, progress: bool = True, record_gradebook: bool = True, limits: sandbox.Limits | None = None,
          students: Iterable[str] | None = None, tests: Iterable[str] | None = None):
    """One local batch, for scripts and tests: returns (results sorted by student, grader errors, seconds)."""
    outcome = run_batch(BatchSpec(assignment_name, Path(submissions), Path(out), Path(course), secret, workers,
                                  sandboxed, progress=progress, record_gradebook=record_gradebook, limits=limits,
                                  students=tuple(students) if students else None,
                                  tests=tuple(tests) if tests else None))
    return outcome.results(), outcome.crashed, outcome.seconds


def summary_json(outcome: BatchOutcome) -> dict:
    return asdict(outcome)
