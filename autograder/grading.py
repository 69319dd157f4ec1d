"""Grading one submission: execute untrusted, judge trusted.

1. The source notebook's test cells run here, in trace mode (:mod:`autograder.checks`), with a
   secret seed: that yields each test's plan (calls into the student's code, as data), the input
   arrays, and the expectations, which never leave this process.
2. The submission's answers and the plans go into a sandbox (:mod:`autograder.sandbox`), which
   hands back plain data.  A run that dies (a cell that exits the process, hangs, floods output,
   exhausts memory) is retried without the culprit, so everything else still counts.
3. Each expectation is judged here against the values the sandbox returned.
"""
from __future__ import annotations

import hashlib
import io
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import checks, references, sandbox, staticcheck
from .assignment import Assignment
from .notebook import Cell, NotebookError, merge, read_notebook
from .safejson import UntrustedJSONError, load_limited
from .sandbox import wire

MAX_RESULTS_BYTES = 32 * 2**20
MAX_ATTEMPTS = 5
MIN_RETRY_SECONDS = 5.0   # a retry with less time left than this could not even start the sandbox


class GraderError(Exception):
    """The grader itself failed (an assignment's test cell is broken, the sandbox can't start)."""


OUTSIDE, IN_KERNEL = "outside the kernel", "in the kernel"   # how a test was judged (TestResult.judged)


@dataclass
class TestResult:
    notebook: str
    test_id: str
    points: float
    max_points: float
    passed: bool
    message: str
    judged: str = OUTSIDE


@dataclass
class SubmissionResult:
    student_id: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    manual_max: float = 0.0
    tests: list = field(default_factory=list)
    flags: list = field(default_factory=list)      # for a human reviewer
    reasons: list = field(default_factory=list)    # what went wrong, shown to the student too
    cell_errors: list = field(default_factory=list)
    diagnostics: list = field(default_factory=list)  # for the instructor only (report.json), never feedback
    similarity: list = field(default_factory=list)   # answer cells like nnkit's source or another student's (a flag)
    # the same notes, flags and cell errors per notebook, without the "<notebook>: " prefix the lists above carry
    # for grades.csv and the terminal: {notebook: {"notes": [...], "flags": [...], "cell_errors": [...]}}
    by_notebook: dict = field(default_factory=dict)
    seconds: float = 0.0
    status: str = "graded"      # "graded"; "failed" (no notebook could run); "not submitted" (no folder for it);
                                # "refused" (links, special files); "grader error" (our fault: regraded later)

    def to_json(self) -> dict:
        return asdict(self)

    def findings(self, notebook: str) -> dict:
        """This notebook's notes, flags and cell errors ({"notes", "flags", "cell_errors"}: lists of text)."""
        return self.by_notebook.setdefault(notebook, {"notes": [], "flags": [], "cell_errors": []})

    def flag(self, notebook: str, where: str, what: str) -> None:
        self.flags.append(f"{notebook}: {where}: {what}")
        self.findings(notebook)["flags"].append(f"{where}: {what}")


# ---------------------------------------------------------------------------------------------
# 1. tracing the tests
# ---------------------------------------------------------------------------------------------
def _seed(secret: int, student_id: str, test_id: str) -> int:
    digest = hashlib.sha256(f"{secret}:{student_id}:{test_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


@lru_cache(maxsize=1024)
def _compiled(source: str, key: str):
    """A test cell's code object: the same for every submission of a batch."""
    return compile(source, f"<test {key}>", "exec")


def trace_test(cell: Cell, seed: int, source_cells: list[Cell] = ()) -> checks.Trace:
    """Run a source test cell in trace mode; any failure here is the assignment's bug.

    ``source_cells`` (the source notebook) supply the instructor's helpers a test asks for with
    ``use_reference`` and the tests ``depends_on`` may name.
    """
    namespace = {"__name__": "__autograder_test__"}
    with checks.tracing(seed) as trace:
        try:
            exec(_compiled(cell.source, cell.key), namespace)
        except Exception as exc:
            raise GraderError(f"test cell '{cell.key}' failed while tracing: {type(exc).__name__}: {exc}") from exc
    if not trace.expectations:
        raise GraderError(f"test cell '{cell.key}' makes no expectation (use expect_close / expect_equal / ...)")
    graded_and_replaced = sorted(set(trace.references) & trace.names)
    if graded_and_replaced:
        raise GraderError(f"test cell '{cell.key}' grades {', '.join(graded_and_replaced)} but also replaces it "
                          "with the instructor's version (use_reference)")
    if trace.references:
        try:
            trace.reference_code = references.reference_code(list(source_cells), trace.references)
        except checks.AuthoringError as exc:
            raise GraderError(f"test cell '{cell.key}': {exc}") from exc
    tests = {c.key for c in source_cells if c.role == "test"}
    unknown = [t for t in trace.depends if t not in tests or t == cell.key]
    if unknown:
        raise GraderError(f"test cell '{cell.key}' depends_on {', '.join(unknown)}, not another test of this notebook")
    return trace


# ---------------------------------------------------------------------------------------------
# 2. running the sandbox, with retries
# ---------------------------------------------------------------------------------------------
@dataclass
class NotebookJob:
    """What a worker needs to run one notebook in the sandbox -- plain data (it travels to Dask workers).

    No expectation, no solution and no gradebook is in it: the merged cells (the student's code with the
    source's locked cells), each test's plan and input arrays (``.npy`` bytes), and the files that go beside
    the notebook.  (A test that calls ``use_reference`` carries the instructor's helper in its plan: it runs
    in the sandbox, as it does on one machine.)"""
    notebook: str
    cells: list            # {"index", "source", "label", "kernel_test"}
    tests: list            # {"id", "plan", "arrays": [npy bytes]}
    files: list            # [(name, bytes)]
    limits: sandbox.Limits


@dataclass
class RunOutcome:
    """What came back from running a :class:`NotebookJob` -- untrusted, judged by the grading process."""
    results: bytes | str | None      # the harness's results document when a run finished, else None
    arrays: dict                     # name -> .npy bytes
    skip_cells: dict                 # cell index -> why it was skipped
    skip_tests: dict                 # test id -> why
    notes: list                      # what happened, for the student
    timings: dict = field(default_factory=dict)   # where the time went (seconds; see RUN_PHASES)
    worker: str = ""                 # who ran it (a Dask worker's address, or "local")


RUN_PHASES = ("sandbox start", "interpreter and imports", "student cells", "tests")


def notebook_job(nb_name: str, cells: list[Cell], traces: list[tuple[Cell, checks.Trace]], limits: sandbox.Limits,
                 workdir_files=()) -> NotebookJob:
    def npy(arr):
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        return buf.getvalue()
    return NotebookJob(
        nb_name,
        [{"index": c.index, "source": c.source, "label": c.label, "kernel_test": c.role == "kernel_test"}
         for c in cells],
        [{"id": cell.key, "plan": trace.to_plan(), "arrays": [npy(a) for a in trace.arrays]} for cell, trace in traces],
        [(path.name, path.read_bytes()) for path in workdir_files],
        limits)


def build_job(job: NotebookJob, skip_cells: dict, skip_tests: dict) -> bytes:
    """The job as :mod:`sandbox.wire` frames: cells and plans (JSON), input arrays, whitelisted files."""
    parts, tests = [], []
    for i, test in enumerate(job.tests):
        for k, data in enumerate(test["arrays"]):
            parts.append(wire.frame(b"A", f"{i}_{k}", data))
        tests.append({"id": test["id"], "index": i, "plan": test["plan"], "skip": test["id"] in skip_tests})
    for name, data in job.files:
        parts.append(wire.frame(b"F", name, data))
    doc = {
        "cells": [{"index": c["index"], "source": c["source"], "skip": c["index"] in skip_cells,
                   **({"test": True} if c["kernel_test"] else {})} for c in job.cells],
        "tests": tests,
        "limits": {"cell_seconds": job.limits.cell_seconds, "test_seconds": job.limits.test_seconds},
    }
    return wire.json_frame("job", doc) + b"".join(parts)


def _death_reason(run: sandbox.RunResult) -> str:
    if run.oom_killed:
        return "ran out of memory (the limit covers all its processes and files in /tmp together)"
    if run.reason == "results limit":
        return f"sent back more than the grader reads ({run.stream_error})"
    if run.reason:
        return f"ran past the {run.reason}"
    if run.stream_error:
        return f"garbled the channel to the grader ({run.stream_error})"
    rc = run.returncode
    if rc == -9:
        return "was killed (it ran out of memory or hit a limit)"
    if rc == -25:
        return "wrote a file larger than allowed"
    if rc is not None and rc < 0:
        return f"crashed the process (signal {-rc})"
    return "ended the process before grading finished (exit, os._exit or a crash)"


def results_document(results):
    """The results JSON, if it is there and has the right shape; anything else is None (the student's failure)."""
    if results is None:
        return None
    try:
        data = load_limited(results, max_bytes=MAX_RESULTS_BYTES, max_depth=64)
    except UntrustedJSONError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), dict) or not isinstance(data.get("cells"), list):
        return None
    return data


def _add_timings(total: dict, run: sandbox.RunResult) -> None:
    for phase, seconds in zip(RUN_PHASES, run.phases()):
        total[phase] = total.get(phase, 0.0) + seconds


def execute_notebook(job: NotebookJob, sandboxed: bool = True) -> RunOutcome:
    """Run until the harness finishes; each death skips the cell or test that caused it.

    One deadline covers every attempt (``limits.total_seconds``); a run is retried only when the
    cell or test it died in is a real one not skipped yet, so forged progress events cannot buy time.
    Raises GraderError when the sandbox itself did not start (no student code ran).
    """
    limits = job.limits
    outcome = RunOutcome(None, {}, {}, {}, [])
    deadline = time.monotonic() + limits.total_seconds
    for _ in range(MAX_ATTEMPTS):
        run = sandbox.run(build_job(job, outcome.skip_cells, outcome.skip_tests), limits, sandboxed=sandboxed,
                          deadline=deadline,
                          known_cells=[c["index"] for c in job.cells if c["index"] not in outcome.skip_cells],
                          known_tests=[t["id"] for t in job.tests if t["id"] not in outcome.skip_tests])
        _add_timings(outcome.timings, run)
        if not run.started and run.reason is None:
            # bwrap's own status says the harness never started: no student code ran, so the grader failed
            tail = run.log_tail.strip().splitlines()[-1:] or ["no output"]
            raise GraderError(f"the sandbox did not start ({_death_reason(run)}): {tail[0]}")
        if run.reason is None and not run.stream_error and results_document(run.results) is not None:
            if run.oom_killed:
                outcome.notes.append("a process the notebook started was killed: together, its processes and files "
                                     f"in /tmp went over the {limits.memory_bytes / 2**30:g} GiB memory limit")
            outcome.results, outcome.arrays = run.results, run.arrays
            return outcome
        why = _death_reason(run)
        culprit = run.culprit
        if culprit and culprit[0] == "cell" and culprit[1] not in outcome.skip_cells:
            outcome.skip_cells[culprit[1]] = why
            where = next((c["label"] for c in job.cells if c["index"] == culprit[1]), "") or f"code cell {culprit[1] + 1}"
            outcome.notes.append(f"{where} {why}; it was skipped and the rest graded")
        elif culprit and culprit[0] == "test" and culprit[1] not in outcome.skip_tests:
            outcome.skip_tests[culprit[1]] = why
            outcome.notes.append(f"your code, called by test '{culprit[1]}', {why}")
        else:
            outcome.notes.append(f"the notebook could not be run: the process {why}")
            return outcome
        if time.monotonic() >= deadline - MIN_RETRY_SECONDS:
            outcome.notes.append(f"the submission used up its {limits.total_seconds:g} s; what did not run earns nothing")
            return outcome
    outcome.notes.append("gave up after repeated failures")
    return outcome


def decoded(outcome: RunOutcome, traces: list[tuple[Cell, checks.Trace]]) -> dict | None:
    """The values the tests asked for, decoded here from what the sandbox sent (None: the notebook did not finish)."""
    data = results_document(outcome.results)
    if data is None:
        return None
    return decode_results(data, outcome.arrays, {cell.key: {str(h) for h in trace.outputs} for cell, trace in traces})


def run_with_retries(cells, traces, limits, sandboxed, workdir_files) -> tuple[dict | None, dict, dict, list[str]]:
    """:func:`execute_notebook` and :func:`decoded` in one call (one machine, one notebook)."""
    outcome = execute_notebook(notebook_job("", cells, traces, limits, workdir_files), sandboxed)
    return decoded(outcome, traces), outcome.skip_cells, outcome.skip_tests, outcome.notes


def decode_results(results: dict, arrays: dict[str, bytes], wanted: dict[str, set]) -> dict:
    """Decode only the values each test asked for; arrays are read once each, without pickles."""
    cache: dict[str, object] = {}

    def array(name) -> object:
        if not isinstance(name, str) or name not in arrays:
            return checks.Raised("Unreadable", "an array the grader could not read")
        if name not in cache:
            try:
                arr = np.load(io.BytesIO(arrays[name]), allow_pickle=False)
            except (ValueError, OSError, EOFError):
                arr = None
            if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
                cache[name] = checks.Raised("Unreadable", "an array the grader could not read")
            else:
                cache[name] = arr
        return cache[name]

    def decode(spec, depth=0):
        if not isinstance(spec, dict) or len(spec) == 0 or depth > 6:
            return checks.Raised("Unreadable", "a value the grader could not read")
        if "array" in spec:
            return array(spec["array"])
        if "raised" in spec and isinstance(spec["raised"], list) and len(spec["raised"]) == 2:
            return checks.Raised(str(spec["raised"][0])[:100], str(spec["raised"][1])[:2000])
        if "unreadable" in spec:
            return checks.Raised("Unreadable", f"returned {str(spec['unreadable'])[:200]}, not plain numbers")
        if "lit" in spec:
            v = spec["lit"]
            return v if isinstance(v, (bool, int, float, str, type(None))) else checks.Raised("Unreadable", "?")
        if "scalar" in spec:
            try:
                dt = np.dtype(spec["dtype"])
                if dt.kind not in "biuf":
                    raise TypeError
                return dt.type(spec["scalar"])
            except (TypeError, ValueError, OverflowError):
                return checks.Raised("Unreadable", "a scalar the grader could not read")
        if "list" in spec and isinstance(spec["list"], list):
            return [decode(s, depth + 1) for s in spec["list"]]
        if "tuple" in spec and isinstance(spec["tuple"], list):
            return tuple(decode(s, depth + 1) for s in spec["tuple"])
        if "dict" in spec and isinstance(spec["dict"], dict):
            return {str(k): decode(s, depth + 1) for k, s in spec["dict"].items()}
        return checks.Raised("Unreadable", "a value the grader could not read")

    decoded = {}
    for test_id, keys in wanted.items():
        res = results["tests"].get(test_id)
        if not isinstance(res, dict) or not isinstance(res.get("outputs"), dict):
            continue
        outputs = res["outputs"]
        decoded[test_id] = {
            "status": res.get("status") if res.get("status") in ("ok", "timeout") else "ok",
            "outputs": {k: decode(outputs[k]) for k in keys if k in outputs},
        }
    cells = [c for c in results["cells"][:100000] if isinstance(c, dict)]
    return {"tests": decoded, "cells": cells}


# ---------------------------------------------------------------------------------------------
# 3. judging
# ---------------------------------------------------------------------------------------------
def judge(trace: checks.Trace, outputs: dict) -> tuple[bool, str]:
    failures, details = [], []
    for exp in trace.expectations:
        value = exp.concrete if exp.handle is None else outputs.get(str(exp.handle),
                                                                    checks.Raised("NotRun", "this call did not run"))
        try:
            ok, detail = checks.JUDGES[exp.kind](value, exp.params)
        except Exception as exc:  # a predicate choking on a strange value is the value's fault
            ok, detail = False, f"the returned value could not be checked ({type(exc).__name__})"
        if not ok:
            failures.append(f"{exp.what}: {detail}")
        else:
            details.append(exp.what)
    if failures:
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        return False, "; ".join(failures[:3]) + more
    return True, f"all {len(details)} checks passed"


def judged_outside(cell: Cell) -> bool:
    """A test written with ``autograder.checks`` is traced and judged here; any other (plain nbgrader
    ``assert`` cells) runs in the student's kernel and is judged as nbgrader does."""
    import ast
    try:
        tree = staticcheck.parse(cell.source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograder.checks"):
            return True
        if isinstance(node, ast.Import) and any(a.name.startswith("autograder.checks") for a in node.names):
            return True
    return False


def judge_in_kernel(cell: Cell, record: dict | None, skipped: str | None) -> tuple[float, bool, str]:
    """nbgrader's rule for a test cell run in the kernel: an error or anything on stderr earns 0; a value
    that reads as a number from 0 to the cell's points is partial credit; otherwise full points.

    ``record`` comes from the sandbox, so it is read defensively (the student shares that kernel: this is
    nbgrader's trust level, and only this student's score depends on it)."""
    if skipped:
        return 0.0, False, f"your code {skipped}"
    if not isinstance(record, dict):
        return 0.0, False, "this test did not run"
    status, error = record.get("status"), record.get("error")
    if status == "timeout":
        return 0.0, False, "ran past the time limit for a cell"
    if status != "ok":
        if isinstance(error, list) and len(error) == 2:
            return 0.0, False, f"{str(error[0])[:100]}: {str(error[1])[:500]}".rstrip(": ")
        return 0.0, False, "the test raised an error"
    if record.get("stderr") is True:
        return 0.0, False, "the test wrote to stderr (an error or a warning); nbgrader counts that as a failure"
    value = record.get("value")
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None and 0 <= number < cell.points:
            return number, False, f"partial credit: the test's value is {number:g} of {cell.points:g}"
    return cell.points, True, "passed (run in the kernel, as nbgrader does)"


def _nnkit_names(cells: list[Cell]) -> dict[str, int]:
    """Names bound by student cells that use nnkit -> the cell's index."""
    found = {}
    for c in cells:
        if c.role in ("answer", "manual", "plain") and staticcheck.uses_nnkit(c.source):
            for name in staticcheck.definitions(c.source):
                found[name] = c.index
    return found


@dataclass
class PreparedNotebook:
    """One notebook of one submission, ready to run: the job for a worker, and what stays here to judge it."""
    result: SubmissionResult             # flags and notes so far; ``status == "failed"`` means nothing to run
    job: NotebookJob | None = None
    cells: list = field(default_factory=list)      # the merged cells
    traces: list = field(default_factory=list)     # (test cell, trace): the expectations never leave this process
    kernel_tests: set = field(default_factory=set)
    test_cells: list = field(default_factory=list)


def _failed(result: SubmissionResult, nb_name: str, test_cells: list[Cell], reason: str) -> SubmissionResult:
    result.reasons.append(reason)
    result.tests = [TestResult(nb_name, c.key, 0.0, c.points, False, reason) for c in test_cells]
    result.status = "failed"
    return result


def prepare_notebook(nb_name: str, source_cells: list[Cell], path: Path | None, student_id: str, secret: int,
                     limits: sandbox.Limits, workdir_files=()) -> PreparedNotebook:
    """Read and merge the submitted notebook, trace its tests; ``path`` None means the notebook is missing."""
    result = SubmissionResult(student_id=student_id, assignment="")
    test_cells = [c for c in source_cells if c.role == "test"]
    result.max_score = sum(c.points for c in test_cells)
    result.manual_max = sum(c.points for c in source_cells if c.role == "manual")
    prepared = PreparedNotebook(result, test_cells=test_cells)
    if path is None:
        _failed(result, nb_name, test_cells, f"{nb_name}.ipynb was not submitted")
        return prepared
    try:
        submitted = read_notebook(path)
    except NotebookError as exc:
        _failed(result, nb_name, test_cells, str(exc))
        return prepared

    prepared.kernel_tests = {c.key for c in test_cells if not judged_outside(c)}
    merged = merge(source_cells, submitted, prepared.kernel_tests)
    result.reasons.extend(merged.notes)
    for c in merged.cells:
        if c.role in ("answer", "manual", "plain") and c is not None:
            for flag in staticcheck.flags_for(c.source):
                result.flag(nb_name, c.label, flag)
    prepared.cells = merged.cells
    prepared.traces = [(c, trace_test(c, _seed(secret, student_id, f"{nb_name}/{c.key}"), source_cells))
                       for c in test_cells if c.key not in prepared.kernel_tests]
    prepared.job = notebook_job(nb_name, merged.cells, prepared.traces, limits, workdir_files)
    return prepared


def finish_notebook(nb_name: str, prepared: PreparedNotebook, outcome: RunOutcome) -> SubmissionResult:
    """Judge what came back from the sandbox against the traced expectations."""
    result, test_cells, limits = prepared.result, prepared.test_cells, prepared.job.limits
    result.reasons.extend(outcome.notes)
    data = decoded(outcome, prepared.traces)
    if data is None:
        return _failed(result, nb_name, test_cells, "; ".join(outcome.notes) if outcome.notes
                       else "the notebook could not be run")
    skip_cells, skip_tests = outcome.skip_cells, outcome.skip_tests
    label_of = {c.index: c.label for c in prepared.cells}
    for cell_info in data["cells"]:
        index, error = cell_info.get("index"), cell_info.get("error")
        if cell_info.get("status") in ("error", "timeout") and type(index) is int and index in label_of \
                and isinstance(error, list) and len(error) == 2:
            kind, msg = (str(x)[:300] for x in error)
            result.cell_errors.append(f"{nb_name}: {label_of[index]}: {kind}: {msg}")
            result.findings(nb_name)["cell_errors"].append(f"{label_of[index]}: {kind}: {msg}")

    nnkit_names = _nnkit_names(prepared.cells)
    records = {c.get("index"): c for c in data["cells"]}
    ran_as = {c.key: c.index for c in prepared.cells if c.role == "kernel_test"}
    traced = {c.key: t for c, t in prepared.traces}
    for cell in test_cells:
        if cell.key in prepared.kernel_tests:
            index = ran_as.get(cell.key)
            points, passed, message = judge_in_kernel(cell, records.get(index), skip_cells.get(index))
            result.tests.append(TestResult(nb_name, cell.key, points, cell.points, passed, message, IN_KERNEL))
            continue
        trace = traced[cell.key]
        res = data["tests"].get(cell.key)
        if cell.key in skip_tests:
            passed, message = False, f"your code {skip_tests[cell.key]}"
        elif res is None:
            passed, message = False, "this test did not run"
        elif res["status"] == "timeout":
            passed, message = False, f"your code ran past the {limits.test_seconds:.0f} s limit for this test"
        else:
            passed, message = judge(trace, res["outputs"])
        banned = sorted(n for n in trace.names if n in nnkit_names)
        if banned:
            passed = False
            message = (f"`{banned[0]}` is defined in a cell that uses nnkit; answers must be written in numpy, "
                       "so this part earns no credit")
        result.tests.append(TestResult(nb_name, cell.key, cell.points if passed else 0.0, cell.points, passed, message))
    explain_dependencies(result.tests, {cell.key: trace.depends for cell, trace in prepared.traces})
    result.score = sum(t.points for t in result.tests)
    return result


def grade_notebook(nb_name: str, source_cells: list[Cell], path: Path | None, student_id: str, secret: int,
                   limits: sandbox.Limits, sandboxed: bool, workdir_files=()) -> SubmissionResult:
    """Grade one notebook of one submission here: prepare, run, judge."""
    prepared = prepare_notebook(nb_name, source_cells, path, student_id, secret, limits, workdir_files)
    if prepared.job is None:
        return prepared.result
    return finish_notebook(nb_name, prepared, execute_notebook(prepared.job, sandboxed))


def explain_dependencies(tests: list[TestResult], depends: dict[str, list[str]]) -> None:
    """A failed test whose stated dependency failed too says so: the cause is probably there."""
    failed = {t.test_id for t in tests if not t.passed}
    for t in tests:
        causes = [d for d in depends.get(t.test_id, ()) if d in failed]
        if not t.passed and causes:
            t.message += (f" — this test uses your answers checked by {', '.join(causes)}, "
                          f"which failed too: fix {'that' if len(causes) == 1 else 'those'} first")


@dataclass
class SubmissionJob:
    """A whole submission's work for a worker: plain data, one :class:`NotebookJob` per notebook to run."""
    student_id: str
    jobs: list
    sandboxed: bool = True


@dataclass
class PreparedSubmission:
    student_id: str
    folder_exists: bool
    notes: list
    notebooks: dict          # notebook name -> PreparedNotebook
    started: float = 0.0

    def job(self, sandboxed: bool) -> SubmissionJob:
        return SubmissionJob(self.student_id, [p.job for p in self.notebooks.values() if p.job is not None], sandboxed)


def prepare_submission(assignment: Assignment, student_dir: Path, student_id: str, secret: int,
                       limits: sandbox.Limits | None = None) -> PreparedSubmission:
    """Every notebook of one submission read, merged and traced (here, in the grading process)."""
    started = time.monotonic()
    limits = limits or assignment.limits
    found, notes = assignment.locate_notebooks(student_dir)
    files = assignment.workdir_files(student_dir)
    prepared = {nb: prepare_notebook(nb, cells, found.get(nb), student_id, secret, limits, files)
                for nb, cells in assignment.notebooks.items()}
    return PreparedSubmission(student_id, student_dir.is_dir(), notes, prepared, started)


def execute_submission(job: SubmissionJob) -> list[RunOutcome]:
    """The worker's part: run each notebook's job in a sandbox, one after the other (a Dask task)."""
    return [execute_notebook(j, job.sandboxed) for j in job.jobs]


def finish_submission(assignment: Assignment, prepared: PreparedSubmission, outcomes: list[RunOutcome]) -> SubmissionResult:
    """Judge each notebook's outcome and add the notebooks up; never raises for the student's faults."""
    total = SubmissionResult(student_id=prepared.student_id, assignment=assignment.name)
    total.reasons.extend(prepared.notes)
    ran = iter(outcomes)
    for nb_name, nb in prepared.notebooks.items():
        part = nb.result if nb.job is None else finish_notebook(nb_name, nb, next(ran))
        total.score += part.score
        total.max_score += part.max_score
        total.manual_max += part.manual_max
        total.tests.extend(part.tests)
        total.flags.extend(part.flags)
        total.reasons.extend(part.reasons)
        total.cell_errors.extend(part.cell_errors)
        found = total.findings(nb_name)
        found["notes"] += part.reasons
        found["flags"] += part.findings(nb_name)["flags"]
        found["cell_errors"] += part.findings(nb_name)["cell_errors"]
        if part.status == "failed":
            total.status = "failed" if total.status == "failed" or len(assignment.notebooks) == 1 else "graded"
    if not prepared.folder_exists:
        total.status = "not submitted"              # a row with 0 in grades.csv; no submission in the gradebook
    total.seconds = round(time.monotonic() - prepared.started, 3)
    return total


def grade_submission(assignment: Assignment, student_dir: Path, student_id: str, secret: int,
                     limits: sandbox.Limits | None = None, sandboxed: bool = True) -> SubmissionResult:
    """Grade every notebook of one student's submission in this process; never raises for the student's faults."""
    prepared = prepare_submission(assignment, student_dir, student_id, secret, limits)
    return finish_submission(assignment, prepared, execute_submission(prepared.job(sandboxed)))
