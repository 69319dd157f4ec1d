"""Checking an assignment's tests before students meet them: many secret seeds, and realistic mistakes.

``python -m autograder selfcheck ASSIGNMENT --seeds 200 --mutants tests/mutants/ASSIGNMENT.py`` runs
the source notebook's own solution through every test on many seeds, then each mutant of the
catalogue (:mod:`autograder.mutation`), and says which tests are flaky for an honest student and
which mistakes escape or cost points elsewhere.

It runs in this process, without the sandbox: the code is the instructor's own (the solution and
the catalogue's variations of it), and the point is speed -- each test's steps are performed and
judged exactly as the grader does (the sandbox harness's ``run_test``, the grader's decoding and
judges), only without starting a sandbox per run.  A test whose inputs do not depend on the seed
runs once.  ``tests/test_mutations.py`` grades the same mutants through the real sandbox.
"""
from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import io
import json
import multiprocessing
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import grading, mutation, references, staticcheck
from .assignment import Assignment
from .notebook import Cell
from .samples import SOLUTION_MARKERS
from .sandbox import wire

HARNESS = Path(__file__).resolve().parent / "sandbox" / "harness.py"


def _harness():
    spec = importlib.util.spec_from_file_location("autograder_selfcheck_harness", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class TestRecord:
    runs: int = 0
    passed: int = 0
    seconds: float = 0.0
    seeded: bool = True
    failure: str = ""          # the first failure message

    @property
    def rate(self) -> float:
        return self.passed / self.runs if self.runs else 0.0


@dataclass
class Report:
    assignment: str
    seeds: int
    honest: dict = field(default_factory=dict)       # test id -> TestRecord
    setup_seconds: float = 0.0
    verdicts: list = field(default_factory=list)     # mutation.Verdict per mutant

    @property
    def flaky(self) -> list[str]:
        return [t for t, r in self.honest.items() if r.passed < r.runs]

    @property
    def ok(self) -> bool:
        return not self.flaky and not any(v.problems for v in self.verdicts)


def solution_answers(cells: list[Cell]) -> dict[str, str]:
    """grade_id -> the answer cell's code as a student would write it (solution markers removed)."""
    return {c.key: SOLUTION_MARKERS.sub("", c.source) for c in cells if c.role in ("answer", "manual") and c.is_code}


class _QuietShell:
    """Stands in for ``get_ipython()`` in notebook code run here: magics such as %matplotlib do nothing."""

    def run_line_magic(self, *args, **kwargs):
        return None

    def run_cell_magic(self, *args, **kwargs):
        return None

    def system(self, *args, **kwargs):
        return None

    getoutput = system


def _names_read(source: str) -> set[str]:
    """Every identifier a cell reads from outside itself: names, attributes (a test's ``student.bumpy``) and strings that look
    like names (``use_reference("helper")``).  Generous on purpose: a name wrongly counted only keeps a cell."""
    try:
        tree = staticcheck.parse(staticcheck._without_magics(source))
    except SyntaxError:
        return set(re.findall(r"[A-Za-z_]\w*", source))
    found = set().union(*(references._globals_used(stmt) for stmt in tree.body))   # not a function's locals
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            found.add(node.value)
    return found - staticcheck.definitions(source)   # a cell's own variables (a test's ``rng``) are not read


def demo_cells(cells: list[Cell], answers: dict[str, str]) -> set[str]:
    """Locked cells that only demonstrate: no answer, test or kept cell reads a name they define.

    They draw figures (a4's pruning curve takes most of its notebook's time) and cannot change a test's
    verdict except through hidden state (the global random generator, a file), which the notebooks do not use
    between cells; the sandboxed grading in tests/test_mutations.py runs every cell.  Position does not
    matter (an answer may call a helper defined further down).  A cell that defines nothing (the set-up
    cell) is kept."""
    def source(cell):
        return answers.get(cell.key, cell.source) if cell.role in ("answer", "manual") else cell.source

    code = [c for c in cells if c.is_code]
    candidates = {c.key: staticcheck.definitions(source(c)) for c in code if c.role == "locked"}
    candidates = {key: names for key, names in candidates.items() if names}
    needed = set().union(*(_names_read(source(c)) for c in code if c.key not in candidates))
    while True:
        kept = [c for c in code if c.key in candidates and candidates[c.key] & needed]
        if not kept:
            return set(candidates)
        for c in kept:
            needed |= _names_read(source(c))
            del candidates[c.key]


def namespace(cells: list[Cell], answers: dict[str, str], skip: set[str] = frozenset()) -> tuple[dict, list[str]]:
    """Run the notebook's code cells (answers from ``answers``, tests and ``skip`` left out) as the grader's
    sandbox would."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    ns = {"__name__": "__main__", "get_ipython": _QuietShell}
    errors = []
    for cell in cells:
        if not cell.is_code or cell.role == "test" or cell.key in skip:
            continue
        source = answers.get(cell.key, cell.source) if cell.role in ("answer", "manual") else cell.source
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(transform(source), f"<cell {cell.key}>", "exec"), ns)
        except Exception as exc:  # noqa: BLE001 - a mutant's broken cell is a finding, not a crash
            errors.append(f"{cell.key}: {type(exc).__name__}: {exc}")
        finally:
            plt.close("all")
    return ns, errors


def _fingerprint(trace) -> str:
    digest = hashlib.sha256(json.dumps(trace.steps, sort_keys=True, default=str).encode())
    for arr in trace.arrays:
        digest.update(arr.dtype.str.encode() + str(arr.shape).encode() + arr.tobytes())
    for exp in trace.expectations:
        digest.update(exp.what.encode())
        for key, value in sorted(exp.params.items()):
            if isinstance(value, np.ndarray):
                digest.update(key.encode() + value.tobytes())
    return digest.hexdigest()


def run_once(harness, cell: Cell, trace, ns: dict) -> tuple[bool, str]:
    """Perform one traced test against ``ns`` and judge it, as the grader does."""
    harness.INPUTS.clear()
    for k, arr in enumerate(trace.arrays):
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        harness.INPUTS[f"0_{k}"] = buf.getvalue()
    frames: list[bytes] = []
    result = harness.run_test({"id": cell.key, "index": 0, "plan": trace.to_plan()}, ns, np, None, sink=frames.append)
    arrays = {name: payload for _, name, payload in wire.parse(b"".join(frames), max_frame=2**40, max_total=2**40)}
    wanted = {cell.key: {str(h) for h in trace.outputs}}
    data = grading.decode_results({"tests": {cell.key: result}, "cells": []}, arrays, wanted)
    return grading.judge(trace, data["tests"][cell.key]["outputs"])


def _seeds(count: int, cell: Cell, notebook: str) -> list[int]:
    return [grading._seed(i, "selfcheck", f"{notebook}/{cell.key}") for i in range(count)]


_TASK = None


def _run_task(item):
    return _TASK(item)


def in_parallel(func, items: list, workers: int) -> list:
    """``[func(item) for item in items]`` in ``workers`` forked processes, results in order.

    Forked children inherit this process (the notebook's namespace, whose functions cannot be pickled); only
    the items and results travel.  One process, or no ``fork`` on this system: in this process."""
    global _TASK
    if workers <= 1 or len(items) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [func(item) for item in items]
    _TASK = func
    try:
        with multiprocessing.get_context("fork").Pool(min(workers, len(items))) as pool:
            return pool.map(_run_task, items, chunksize=max(1, len(items) // (4 * workers)))
    finally:
        _TASK = None


def run_tests(cells: list[Cell], notebook: str, ns: dict, seeds: int, harness=None,
              many: set | None = None, workers: int = 1) -> dict[str, TestRecord]:
    """Every test of the notebook on ``seeds`` secret seeds (once when its inputs ignore the seed).

    ``many``: only these tests get ``seeds`` seeds, the others one (a mutant's targets, and a check that
    nothing else fails).  ``workers``: the runs are shared among that many forked processes.
    """
    harness = harness or _harness()
    records, jobs, by_key = {}, [], {}
    for cell in (c for c in cells if c.role == "test"):
        record = records[cell.key] = TestRecord()
        by_key[cell.key] = cell
        count = seeds if many is None or cell.key in many else 1
        all_seeds = _seeds(max(seeds, 2), cell, notebook)
        traces = [grading.trace_test(cell, s, cells) for s in all_seeds[:2]]
        record.seeded = _fingerprint(traces[0]) != _fingerprint(traces[1])
        jobs += [(cell.key, i, seed) for i, seed in enumerate(all_seeds[:count] if record.seeded else all_seeds[:1])]

    def run(job):
        key, i, seed = job
        trace = grading.trace_test(by_key[key], seed, cells)
        start = time.perf_counter()
        with warnings.catch_warnings():   # a mutant's overflow is a finding for its test, not noise here
            warnings.simplefilter("ignore")
            passed, message = run_once(harness, by_key[key], trace, ns)
        return passed, message, time.perf_counter() - start

    for (key, i, _), (passed, message, seconds) in zip(jobs, in_parallel(run, jobs, workers)):
        record = records[key]
        record.seconds += seconds
        record.runs += 1
        record.passed += passed
        if not passed and not record.failure:
            record.failure = f"seed #{i}: {message}"
    return records


def selfcheck(assignment: Assignment, seeds: int = 200, mutants: list | None = None,
              mutant_seeds: int = 20, workers: int | None = None) -> Report:
    """The honest solution on ``seeds`` seeds; each mutant's targets on ``mutant_seeds`` seeds, its other tests on one.

    ``workers``: forked processes sharing the runs (default: one per core)."""
    workers = workers or os.cpu_count() or 1
    report = Report(assignment.name, seeds)
    harness = _harness()
    for nb_name, cells in assignment.notebooks.items():
        honest = solution_answers(cells)
        start = time.perf_counter()
        ns, errors = namespace(cells, honest)
        report.setup_seconds += time.perf_counter() - start
        if errors:
            raise grading.GraderError(f"the solution of {nb_name} does not run: {'; '.join(errors)}")
        report.honest.update(run_tests(cells, nb_name, ns, seeds, harness, workers=workers))
        tests = [c.key for c in cells if c.role == "test"]
        dependents = {c.key: grading.trace_test(c, 0, cells).depends for c in cells if c.role == "test"}

        def check(m):
            answers = mutation.apply(m, honest)
            ns, _ = namespace(cells, answers, skip=demo_cells(cells, answers))
            records = run_tests(cells, nb_name, ns, mutant_seeds, harness, many=set(m.targets))
            lost = {t: 1 - r.rate for t, r in records.items()}
            messages = {t: r.failure.split(": ", 1)[-1] for t, r in records.items() if r.failure}
            return mutation.judge(m, lost, messages, tests, dependents)

        mine = [m for m in mutants or [] if (m.notebook or nb_name) == nb_name]
        report.verdicts.extend(in_parallel(check, mine, workers))
    return report


def format_report(report: Report) -> str:
    lines = [f"{report.assignment}: the solution through every test ({report.seeds} seeds where the inputs are seeded; "
             f"notebook set-up {report.setup_seconds:.1f} s)"]
    for test, r in report.honest.items():
        mark = "ok  " if r.passed == r.runs else "FAIL"
        seeded = f"{r.runs} seeds" if r.seeded else "fixed inputs"
        lines.append(f"  {mark} {test:<32} {r.passed}/{r.runs} passed ({seeded}), {r.seconds:.2f} s"
                     + (f"\n        {r.failure[:300]}" if r.failure else ""))
    if report.verdicts:
        caught = sum(v.caught for v in report.verdicts)
        clean = sum(not v.problems for v in report.verdicts)
        lines.append(f"mutants: {caught}/{len(report.verdicts)} caught, {clean}/{len(report.verdicts)} caught only "
                     "where they should be")
        for v in report.verdicts:
            cost = ", ".join(f"{t} {f:.0%}" for t, f in sorted(v.lost.items())) or "nothing"
            lines.append(f"  {'ok  ' if not v.problems else 'FAIL'} {v.mutant.name:<32} lost: {cost}")
            lines.extend(f"        {p}" for p in v.problems)
    return "\n".join(lines)
