"""Writing results into nbgrader's gradebook, so `nbgrader export` and the formgrader keep working.

One writer: the grading command calls :func:`record` once, from its main thread, after the
parallel workers have finished.  :func:`write_autograded` puts each student's notebook into
``course/autograded/`` for the formgrader: the answers' text, the original (visible) test cells with
the grader's verdicts as their only outputs, and nothing else a student could have planted there.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import sys
import warnings
from functools import lru_cache
from pathlib import Path

from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.api import Gradebook, MissingEntry

from .assignment import Assignment
from .grading import SubmissionResult
from .notebook import NotebookError, _strip_hidden, load_notebook_json
from .submissions import unusable_id

KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")
CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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


def record(course: Path, assignment: Assignment, results: list[SubmissionResult]) -> list[str]:
    """Store every result's scores in ``course/gradebook.db``; a student whose rows fail is rolled back and noted."""
    _alembic_on_path()
    notes = []
    with warnings.catch_warnings(), Gradebook(db_url(course)) as gb:
        # nbgrader's own add_submission trips SQLAlchemy's autoflush warnings; they are harmless
        warnings.filterwarnings("ignore", module="nbgrader")
        warnings.filterwarnings("ignore", message=".*not in session.*")
        _ensure_assignment(gb, assignment)
        for r in results:
            why = unusable_id(r.student_id)
            if why:
                notes.append(f"{r.student_id!r}: not recorded ({why})")
                continue
            try:
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
            except Exception as exc:  # one student's rows must not stop the others', nor stay half-written
                gb.db.rollback()
                with contextlib.suppress(Exception):
                    gb.remove_submission(assignment.name, r.student_id)
                notes.append(f"{r.student_id}: not recorded ({type(exc).__name__}: {exc})")
    return notes


# ---------------------------------------------------------------------------------------------
# course/autograded/: what the formgrader shows the instructor
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _sanitizer() -> SanitizeHTML:
    return SanitizeHTML()


def _clean_html(text: str) -> str:
    """Markdown/raw text with its HTML made inert by nbconvert's SanitizeHTML (text without ``<`` has no tags)."""
    return _sanitizer().sanitize_html_tags(text) if "<" in text else text


def _text(source) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return ""


def _nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nb = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nb if isinstance(nb, dict) else {}


def autograded_notebook(submitted, source, tests: dict[str, str], verdicts: dict[str, str]) -> dict:
    """The notebook to show for a submission: ``submitted``'s answers only, everything else from trusted input.

    ``source`` is the source notebook's JSON (its nbgrader metadata and kernel are used), ``tests``
    maps a test's grade_id to its visible source, ``verdicts`` to the grader's verdict line.  Every
    code output is dropped except a test's verdict; markdown and raw cells are sanitised unless their
    text is the source's own; cell attachments and all other metadata are dropped.
    """
    if not isinstance(submitted, dict) or not isinstance(submitted.get("cells"), list):
        raise NotebookError("not a Jupyter notebook (no list of cells)")
    trusted, trusted_texts = {}, set()             # grade_id -> (cell_type, nbgrader metadata); instructor text
    for c in source.get("cells", []) if isinstance(source, dict) else []:
        key = _nbgrader_meta(c).get("grade_id")
        if isinstance(key, str):
            trusted.setdefault(key, (c.get("cell_type"), _nbgrader_meta(c)))
        if c.get("cell_type") in ("markdown", "raw"):
            trusted_texts.add(_text(c.get("source")))
    cells, used_keys, used_ids = [], set(), set()
    for i, raw in enumerate(submitted["cells"]):
        if not isinstance(raw, dict) or raw.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        kind, key = raw["cell_type"], _nbgrader_meta(raw).get("grade_id")
        metadata = {}
        if isinstance(key, str) and key not in used_keys and trusted.get(key, (None,))[0] == kind:
            used_keys.add(key)
            metadata["nbgrader"] = copy.deepcopy(trusted[key][1])
        cell_id = raw.get("id") if isinstance(raw.get("id"), str) and CELL_ID.match(raw["id"]) else f"cell-{i}"
        while cell_id in used_ids:
            cell_id = f"cell-{i}-{len(used_ids)}"
        used_ids.add(cell_id)
        cell = {"cell_type": kind, "id": cell_id, "metadata": metadata}
        if kind == "code":
            is_test = "nbgrader" in metadata and key in tests
            cell["execution_count"] = None
            cell["outputs"] = ([{"output_type": "stream", "name": "stdout", "text": verdicts[key]}]
                               if is_test and key in verdicts else [])
            cell["source"] = tests[key] if is_test else _text(raw.get("source"))
        else:
            text = _text(raw.get("source"))
            cell["source"] = text if text in trusted_texts else _clean_html(text)
        cells.append(cell)
    src_meta = source.get("metadata") if isinstance(source, dict) and isinstance(source.get("metadata"), dict) else {}
    metadata = {k: copy.deepcopy(src_meta[k]) for k in KEPT_NOTEBOOK_METADATA if k in src_meta}
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def autograded_folder(course: Path, student_id: str, assignment: str) -> Path:
    """``course/autograded/<student>/<assignment>``, or ValueError if that would lead anywhere else."""
    why = unusable_id(student_id)
    if why:
        raise ValueError(why)
    root = (Path(course) / "autograded").resolve()
    folder = root / student_id / assignment
    if folder.resolve() != folder:  # a component is a link, or the name is not a plain one
        raise ValueError(f"{folder} is not a plain folder inside {root}")
    return folder


def _write_no_follow(path: Path, text: str) -> None:
    """Write ``text`` to ``path``; a symbolic link there is refused (ELOOP), not written through."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def write_autograded(course: Path, assignment: Assignment, result: SubmissionResult,
                     submitted: dict[str, Path]) -> list[str]:
    """Write each submitted notebook's :func:`autograded_notebook`; never raises, returns what was not written."""
    try:
        folder = autograded_folder(course, result.student_id, assignment.name)
    except (ValueError, OSError) as exc:
        return [f"{result.student_id!r}: no autograded notebooks ({exc})"]
    by_test = {(t.notebook, t.test_id): t for t in result.tests}
    notes = []
    for nb, path in submitted.items():
        try:
            tests = {c.key: _strip_hidden(c.source) for c in assignment.notebooks[nb] if c.role == "test" and c.key}
            verdicts = {}
            for key in tests:
                t = by_test.get((nb, key))
                if t:
                    verdict = "passed" if t.passed else "failed"
                    verdicts[key] = f"[autograder] {verdict} ({t.points:g}/{t.max_points:g}): {t.message}\n"
            notebook = autograded_notebook(load_notebook_json(Path(path)),
                                           load_notebook_json(assignment.directory / f"{nb}.ipynb"), tests, verdicts)
            folder.mkdir(parents=True, exist_ok=True)
            _write_no_follow(folder / f"{nb}.ipynb", json.dumps(notebook, indent=1))
        except NotebookError as exc:
            notes.append(f"{result.student_id}: {nb}.ipynb not written ({exc})")
        except Exception as exc:  # whatever a submission holds, the other notebooks and students still get written
            notes.append(f"{result.student_id}: {nb}.ipynb not written ({type(exc).__name__}: {exc})")
    return notes
