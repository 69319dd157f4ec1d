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
    seconds: float = 0.0
    status: str = "graded"      # "graded"; "failed" (no notebook could run); "not submitted" (no folder for it);
                                # "refused" (links, special files); "grader error" (our fault: regraded later)

    def to_json(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# 1. tracing the tests
# ---------------------------------------------------------------------------------------------
def _seed(secret: int, student_id: str, test_id: str) -> int:
    digest = hashlib.sha256(f"{secret}:{student_id}:{test_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def trace_test(cell: Cell, seed: int, source_cells: list[Cell] = ()) -> checks.Trace:
    """Run a source test cell in trace mode; any failure here is the assignment's bug.

    ``source_cells`` (the source notebook) supply the instructor's helpers a test asks for with
    ``use_reference`` and the tests ``depends_on`` may name.
    """
    namespace = {"__name__": "__autograder_test__"}
    with checks.tracing(seed) as trace:
        try:
            exec(compile(cell.source, f"<test {cell.key}>", "exec"), namespace)
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
def build_job(cells: list[Cell], traces: list[tuple[Cell, checks.Trace]], limits: sandbox.Limits,
              skip_cells: dict, skip_tests: dict, workdir_files=()) -> bytes:
    """The job as :mod:`sandbox.wire` frames: cells and plans (JSON), input arrays, whitelisted files."""
    parts, tests = [], []
    for i, (cell, trace) in enumerate(traces):
        for k, arr in enumerate(trace.arrays):
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            parts.append(wire.frame(b"A", f"{i}_{k}", buf.getvalue()))
        tests.append({"id": cell.key, "index": i, "plan": trace.to_plan(), "skip": cell.key in skip_tests})
    for path in workdir_files:
        parts.append(wire.frame(b"F", path.name, path.read_bytes()))
    job = {
        "cells": [{"index": c.index, "source": c.source, "skip": c.index in skip_cells,
                   **({"test": True} if c.role == "kernel_test" else {})} for c in cells],
        "tests": tests,
        "limits": {"cell_seconds": limits.cell_seconds, "test_seconds": limits.test_seconds},
    }
    return wire.json_frame("job", job) + b"".join(parts)


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


def _results_document(run: sandbox.RunResult):
    """The results JSON, if it is there and has the right shape; anything else is None (the student's failure)."""
    if run.results is None or run.stream_error:
        return None
    try:
        data = load_limited(run.results, max_bytes=MAX_RESULTS_BYTES, max_depth=64)
    except UntrustedJSONError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), dict) or not isinstance(data.get("cells"), list):
        return None
    return data


def run_with_retries(cells, traces, limits, sandboxed, workdir_files) -> tuple[dict | None, dict, dict, list[str]]:
    """Run until the harness finishes; each death skips the cell or test that caused it.

    One deadline covers every attempt (``limits.total_seconds``); a run is retried only when the
    cell or test it died in is a real one not skipped yet, so forged progress events cannot buy time.
    """
    skip_cells: dict[int, str] = {}
    skip_tests: dict[str, str] = {}
    notes: list[str] = []
    deadline = time.monotonic() + limits.total_seconds
    wanted = {cell.key: {str(h) for h in trace.outputs} for cell, trace in traces}
    for _ in range(MAX_ATTEMPTS):
        job = build_job(cells, traces, limits, skip_cells, skip_tests, workdir_files)
        run = sandbox.run(job, limits, sandboxed=sandboxed, deadline=deadline,
                          known_cells=[c.index for c in cells if c.index not in skip_cells],
                          known_tests=[c.key for c, _ in traces if c.key not in skip_tests])
        if not run.started and run.reason is None:
            # bwrap's own status says the harness never started: no student code ran, so the grader failed
            tail = run.log_tail.strip().splitlines()[-1:] or ["no output"]
            raise GraderError(f"the sandbox did not start ({_death_reason(run)}): {tail[0]}")
        results = _results_document(run)
        if results is not None and run.reason is None:
            if run.oom_killed:
                notes.append("a process the notebook started was killed: together, its processes and files in /tmp "
                             f"went over the {limits.memory_bytes / 2**30:g} GiB memory limit")
            return decode_results(results, run.arrays, wanted), skip_cells, skip_tests, notes
        why = _death_reason(run)
        culprit = run.culprit
        if culprit and culprit[0] == "cell" and culprit[1] not in skip_cells:
            skip_cells[culprit[1]] = why
            where = next((c.label for c in cells if c.index == culprit[1]), "") or f"code cell {culprit[1] + 1}"
            notes.append(f"{where} {why}; it was skipped and the rest graded")
        elif culprit and culprit[0] == "test" and culprit[1] not in skip_tests:
            skip_tests[culprit[1]] = why
            notes.append(f"your code, called by test '{culprit[1]}', {why}")
        else:
            notes.append(f"the notebook could not be run: the process {why}")
            return None, skip_cells, skip_tests, notes
        if time.monotonic() >= deadline - MIN_RETRY_SECONDS:
            notes.append(f"the submission used up its {limits.total_seconds:g} s; what did not run earns nothing")
            return None, skip_cells, skip_tests, notes
    notes.append("gave up after repeated failures")
    return None, skip_cells, skip_tests, notes


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


def grade_notebook(nb_name: str, source_cells: list[Cell], path: Path | None, student_id: str, secret: int,
                   limits: sandbox.Limits, sandboxed: bool, workdir_files=()) -> SubmissionResult:
    """Grade one notebook of one submission; ``path`` None means the notebook is missing."""
    result = SubmissionResult(student_id=student_id, assignment="")
    test_cells = [c for c in source_cells if c.role == "test"]
    result.max_score = sum(c.points for c in test_cells)
    result.manual_max = sum(c.points for c in source_cells if c.role == "manual")

    def fail_all(reason: str):
        result.reasons.append(reason)
        result.tests = [TestResult(nb_name, c.key, 0.0, c.points, False, reason) for c in test_cells]
        result.status = "failed"
        return result

    if path is None:
        return fail_all(f"{nb_name}.ipynb was not submitted")
    try:
        submitted = read_notebook(path)
    except NotebookError as exc:
        return fail_all(str(exc))

    kernel_tests = {c.key for c in test_cells if not judged_outside(c)}
    merged = merge(source_cells, submitted, kernel_tests)
    result.reasons.extend(merged.notes)
    for c in merged.cells:
        if c.role in ("answer", "manual", "plain") and c is not None:
            for flag in staticcheck.flags_for(c.source):
                result.flags.append(f"{nb_name}: {c.label}: {flag}")

    traces = [(c, trace_test(c, _seed(secret, student_id, f"{nb_name}/{c.key}"), source_cells))
              for c in test_cells if c.key not in kernel_tests]
    data, skip_cells, skip_tests, notes = run_with_retries(merged.cells, traces, limits, sandboxed, workdir_files)
    result.reasons.extend(notes)
    if data is None:
        return fail_all("; ".join(notes) if notes else "the notebook could not be run")

    label_of = {c.index: c.label for c in merged.cells}
    for cell_info in data["cells"]:
        index, error = cell_info.get("index"), cell_info.get("error")
        if cell_info.get("status") in ("error", "timeout") and type(index) is int and index in label_of \
                and isinstance(error, list) and len(error) == 2:
            kind, msg = (str(x)[:300] for x in error)
            result.cell_errors.append(f"{nb_name}: {label_of[index]}: {kind}: {msg}")

    nnkit_names = _nnkit_names(merged.cells)
    records = {c.get("index"): c for c in data["cells"]}
    ran_as = {c.key: c.index for c in merged.cells if c.role == "kernel_test"}
    traced = {c.key: t for c, t in traces}
    for cell in test_cells:
        if cell.key in kernel_tests:
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
    explain_dependencies(result.tests, {cell.key: trace.depends for cell, trace in traces})
    result.score = sum(t.points for t in result.tests)
    return result


def explain_dependencies(tests: list[TestResult], depends: dict[str, list[str]]) -> None:
    """A failed test whose stated dependency failed too says so: the cause is probably there."""
    failed = {t.test_id for t in tests if not t.passed}
    for t in tests:
        causes = [d for d in depends.get(t.test_id, ()) if d in failed]
        if not t.passed and causes:
            t.message += (f" — this test uses your answers checked by {', '.join(causes)}, "
                          f"which failed too: fix {'that' if len(causes) == 1 else 'those'} first")


def grade_submission(assignment: Assignment, student_dir: Path, student_id: str, secret: int,
                     limits: sandbox.Limits | None = None, sandboxed: bool = True) -> SubmissionResult:
    """Grade every notebook of one student's submission; never raises for the student's faults."""
    start = time.monotonic()
    limits = limits or assignment.limits
    total = SubmissionResult(student_id=student_id, assignment=assignment.name)
    found, notes = assignment.locate_notebooks(student_dir)
    total.reasons.extend(notes)
    for nb_name, source_cells in assignment.notebooks.items():
        part = grade_notebook(nb_name, source_cells, found.get(nb_name), student_id, secret, limits, sandboxed,
                              assignment.workdir_files(student_dir))
        total.score += part.score
        total.max_score += part.max_score
        total.manual_max += part.manual_max
        total.tests.extend(part.tests)
        total.flags.extend(part.flags)
        total.reasons.extend(part.reasons)
        total.cell_errors.extend(part.cell_errors)
        if part.status == "failed":
            total.status = "failed" if total.status == "failed" or len(assignment.notebooks) == 1 else "graded"
    if not student_dir.is_dir():
        total.status = "not submitted"              # a row with 0 in grades.csv; no submission in the gradebook
    total.seconds = round(time.monotonic() - start, 3)
    return total
