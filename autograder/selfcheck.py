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

import contextlib
import hashlib
import importlib.util
import io
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import grading, mutation
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


def namespace(cells: list[Cell], answers: dict[str, str]) -> tuple[dict, list[str]]:
    """Run the notebook's code cells (answers from ``answers``, tests skipped) as the grader's sandbox would."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    ns = {"__name__": "__main__", "get_ipython": _QuietShell}
    errors = []
    for cell in cells:
        if not cell.is_code or cell.role == "test":
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


def run_tests(cells: list[Cell], notebook: str, ns: dict, seeds: int, harness=None,
              many: set | None = None) -> dict[str, TestRecord]:
    """Every test of the notebook on ``seeds`` secret seeds (once when its inputs ignore the seed).

    ``many``: only these tests get ``seeds`` seeds, the others one (a mutant's targets, and a check that
    nothing else fails).
    """
    harness = harness or _harness()
    records = {}
    for cell in (c for c in cells if c.role == "test"):
        record = records[cell.key] = TestRecord()
        count = seeds if many is None or cell.key in many else 1
        all_seeds = _seeds(max(seeds, 2), cell, notebook)
        traces = [grading.trace_test(cell, s, cells) for s in all_seeds[:2]]
        record.seeded = _fingerprint(traces[0]) != _fingerprint(traces[1])
        for i, seed in enumerate(all_seeds[:count] if record.seeded else all_seeds[:1]):
            trace = traces[i] if i < 2 else grading.trace_test(cell, seed, cells)
            start = time.perf_counter()
            with warnings.catch_warnings():   # a mutant's overflow is a finding for its test, not noise here
                warnings.simplefilter("ignore")
                passed, message = run_once(harness, cell, trace, ns)
            record.seconds += time.perf_counter() - start
            record.runs += 1
            record.passed += passed
            if not passed and not record.failure:
                record.failure = f"seed #{i}: {message}"
    return records


def selfcheck(assignment: Assignment, seeds: int = 200, mutants: list | None = None,
              mutant_seeds: int = 20) -> Report:
    """The honest solution on ``seeds`` seeds; each mutant's targets on ``mutant_seeds`` seeds, its other tests on one."""
    report = Report(assignment.name, seeds)
    harness = _harness()
    for nb_name, cells in assignment.notebooks.items():
        honest = solution_answers(cells)
        start = time.perf_counter()
        ns, errors = namespace(cells, honest)
        report.setup_seconds += time.perf_counter() - start
        if errors:
            raise grading.GraderError(f"the solution of {nb_name} does not run: {'; '.join(errors)}")
        report.honest.update(run_tests(cells, nb_name, ns, seeds, harness))
        tests = [c.key for c in cells if c.role == "test"]
        dependents = {c.key: grading.trace_test(c, 0, cells).depends for c in cells if c.role == "test"}
        for m in mutants or []:
            if (m.notebook or nb_name) != nb_name:
                continue
            ns, _ = namespace(cells, mutation.apply(m, honest))
            records = run_tests(cells, nb_name, ns, mutant_seeds, harness, many=set(m.targets))
            lost = {t: 1 - r.rate for t, r in records.items()}
            messages = {t: r.failure.split(": ", 1)[-1] for t, r in records.items() if r.failure}
            report.verdicts.append(mutation.judge(m, lost, messages, tests, dependents))
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
