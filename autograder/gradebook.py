"""Writing results into nbgrader's gradebook, so `nbgrader export` and the formgrader keep working.

One writer: the grading command calls :func:`record` once, from its main thread, after the
parallel workers have finished.  It also writes each student's notebook, with the original test
cells and the grader's messages as their outputs, into ``course/autograded/`` for the formgrader.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .assignment import Assignment
from .grading import SubmissionResult
from .notebook import _strip_hidden


def db_url(course: Path) -> str:
    return f"sqlite:///{(course / 'gradebook.db').resolve()}"


def _ensure_assignment(gb: Gradebook, assignment: Assignment) -> None:
    gb.update_or_create_assignment(assignment.name)
    for nb, cells in assignment.notebooks.items():
        gb.update_or_create_notebook(nb, assignment.name)
        for c in cells:
            if c.role in ("test", "manual") and c.key:
                gb.update_or_create_grade_cell(c.key, nb, assignment.name, max_score=c.points,
                                               cell_type="code" if c.cell_type == "code" else "markdown")
            if c.role in ("answer", "manual") and c.key:
                gb.update_or_create_solution_cell(c.key, nb, assignment.name)


def _alembic_on_path() -> None:
    """nbgrader creates or migrates gradebook.db by running `alembic`, found through PATH."""
    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def record(course: Path, assignment: Assignment, results: list[SubmissionResult]) -> None:
    _alembic_on_path()
    with warnings.catch_warnings(), Gradebook(db_url(course)) as gb:
        # nbgrader's own add_submission trips SQLAlchemy's autoflush warnings; they are harmless
        warnings.filterwarnings("ignore", module="nbgrader")
        warnings.filterwarnings("ignore", message=".*not in session.*")
        _ensure_assignment(gb, assignment)
        for r in results:
            gb.update_or_create_student(r.student_id)
            try:
                gb.remove_submission(assignment.name, r.student_id)
            except MissingEntry:
                pass
            gb.add_submission(assignment.name, r.student_id)
            for t in r.tests:
                grade = gb.find_grade(t.test_id, t.notebook, assignment.name, r.student_id)
                grade.auto_score = t.points
                grade.needs_manual_grade = False
            gb.db.commit()


def write_autograded(course: Path, assignment: Assignment, result: SubmissionResult, submitted: dict[str, Path]) -> None:
    """A copy of each submitted notebook with the source's (visible) tests and the grader's verdicts."""
    by_test = {(t.notebook, t.test_id): t for t in result.tests}
    for nb, path in submitted.items():
        try:
            data = json.loads(path.read_text())
            cells = data["cells"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        source = {c.key: c for c in assignment.notebooks[nb] if c.role == "test"}
        for cell in cells:
            meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
            key = meta.get("grade_id") if isinstance(meta, dict) else None
            if key in source and cell.get("cell_type") == "code":
                t = by_test.get((nb, key))
                cell["source"] = _strip_hidden(source[key].source)
                verdict = "passed" if t and t.passed else "failed"
                text = f"[autograder] {verdict} ({t.points:g}/{t.max_points:g}): {t.message}\n" if t else ""
                cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
        target = course / "autograded" / result.student_id / assignment.name / f"{nb}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, indent=1))
