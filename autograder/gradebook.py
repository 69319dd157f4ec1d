"""Writing results into nbgrader's gradebook, so `nbgrader export` and the formgrader keep working.

One writer: the grading command calls :func:`record` once, from its main thread, after the
parallel workers have finished.  :func:`write_autograded` puts each student's notebook into
``course/autograded/`` for the formgrader: the answers' text, the original (visible) test cells with
the grader's verdicts as their only outputs, and nothing else a student could have planted there.
"""
from __future__ import annotations

import copy
import html
import json
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader import api as gb_api
from nbgrader.api import Gradebook

from .assignment import Assignment
from .grading import SubmissionResult
from .notebook import NotebookError, _strip_hidden, load_notebook_json
from .similarity import is_similarity_flag
from .submissions import unusable_id

KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")
CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def db_url(course: Path) -> str:
    return f"sqlite:///{(course / 'gradebook.db').resolve()}"


@dataclass
class Recorded:
    """What :func:`record` did: students stored, what an instructor entered that was kept, what was not stored."""
    students: list[str] = field(default_factory=list)
    kept_scores: int = 0        # hand grades (and overrides of test scores) entered in the formgrader
    kept_comments: int = 0
    kept_extra_credit: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        kept = (f"kept {self.kept_scores} hand grade(s), {self.kept_comments} comment(s) and "
                f"{self.kept_extra_credit} extra credit(s) entered by hand (a regrade never changes them)")
        return f"recorded {len(self.students)} submission(s); " + kept


def flags_of(result: SubmissionResult, notebook: str) -> list[str]:
    """The reasons ``result`` was flagged in ``notebook`` ("<where>: <what>")."""
    return list(result.findings(notebook)["flags"])


def _alembic_on_path() -> None:
    """nbgrader creates or migrates gradebook.db by running `alembic`, found through PATH."""
    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def _begin(db) -> None:
    """Open the SQLite transaction now.  Python's sqlite3 opens one only before the first INSERT/UPDATE, so a
    SAVEPOINT issued earlier would start the transaction itself and its RELEASE would commit everything so far."""
    raw = db.connection().connection.dbapi_connection
    if not raw.in_transaction:
        raw.execute("BEGIN")


def _one(db, model, **match):
    return db.query(model).filter_by(**match).one_or_none()


def _sync_assignment(db, assignment: Assignment) -> gb_api.Assignment:
    """The assignment's notebooks and graded/answer cells in the gradebook, created or updated, never removed."""
    row = _one(db, gb_api.Assignment, name=assignment.name)
    if row is None:
        row = gb_api.Assignment(name=assignment.name)
        db.add(row)
    for nb_name, cells in assignment.notebooks.items():
        notebook = _one(db, gb_api.Notebook, name=nb_name, assignment=row) if row.id else None
        if notebook is None:
            notebook = gb_api.Notebook(name=nb_name, assignment=row)
            db.add(notebook)
        db.flush()
        for c in cells:
            if c.role in ("test", "manual") and c.key:
                cell = _one(db, gb_api.GradeCell, name=c.key, notebook=notebook)
                if cell is None:
                    cell = gb_api.GradeCell(name=c.key, notebook=notebook)
                    db.add(cell)
                cell.max_score = c.points
                cell.cell_type = "code" if c.cell_type == "code" else "markdown"
            if c.role in ("answer", "manual") and c.key and _one(db, gb_api.SolutionCell, name=c.key,
                                                                  notebook=notebook) is None:
                db.add(gb_api.SolutionCell(name=c.key, notebook=notebook))
    db.flush()
    return row


def _submission(db, assignment: gb_api.Assignment, student_id: str) -> gb_api.SubmittedAssignment:
    """The student's submission with a row for every notebook, grade and comment; existing rows are kept as they are."""
    if _one(db, gb_api.Student, id=student_id) is None:
        db.add(gb_api.Student(id=student_id))
    sub = _one(db, gb_api.SubmittedAssignment, assignment=assignment, student_id=student_id)
    if sub is None:
        sub = gb_api.SubmittedAssignment(assignment=assignment, student_id=student_id)
        db.add(sub)
    db.flush()
    for notebook in assignment.notebooks:
        snb = _one(db, gb_api.SubmittedNotebook, assignment=sub, notebook=notebook)
        if snb is None:
            snb = gb_api.SubmittedNotebook(assignment=sub, notebook=notebook)
            db.add(snb)
            db.flush()
        have_grades = {g.cell_id for g in snb.grades}
        have_comments = {c.cell_id for c in snb.comments}
        for cell in notebook.grade_cells:
            if cell.id not in have_grades:
                db.add(gb_api.Grade(cell_id=cell.id, notebook=snb))
        for cell in notebook.solution_cells:
            if cell.id not in have_comments:
                db.add(gb_api.Comment(cell_id=cell.id, notebook=snb))
    db.flush()
    return sub


def _store(db, sub: gb_api.SubmittedAssignment, result: SubmissionResult, tests: set | None,
           first_answers: dict[str, str], recorded: Recorded) -> None:
    """Autograder fields only: ``auto_score`` of the tests graded, ``flagged``, and ``auto_comment`` (the flags'
    reasons, on the notebook's first answer cell, where the formgrader shows them).

    ``manual_score``, ``extra_credit`` and ``manual_comment`` belong to the instructor and are never written
    (nbgrader's rule: autograding never overwrites a manual score).
    """
    verdicts = {(t.notebook, t.test_id): t for t in result.tests}
    for snb in sub.notebooks:
        nb_name = snb.notebook.name
        flags = flags_of(result, nb_name)
        for grade in snb.grades:
            name = grade.cell.name
            verdict = verdicts.get((nb_name, name))
            if verdict is not None and (tests is None or name in tests):
                grade.auto_score = verdict.points
                grade.needs_manual_grade = False
            elif verdict is None and grade.manual_score is None and grade.auto_score is None:
                grade.needs_manual_grade = True      # a written answer nobody has graded yet
            recorded.kept_scores += grade.manual_score is not None
            recorded.kept_extra_credit += bool(grade.extra_credit)
        if tests is None:
            if flags:
                snb.flagged = True                   # never cleared here: the instructor may have flagged it
            comments = sorted(snb.comments, key=lambda c: c.cell.name != first_answers.get(nb_name))
            for comment in comments:
                comment.auto_comment = None
            shown = [f for f in flags if not is_similarity_flag(f)]   # comments reach students' feedback
            if shown and comments:
                comments[0].auto_comment = "Flagged by the autograder: " + "; ".join(shown)
        recorded.kept_comments += sum(1 for c in snb.comments if c.manual_comment)


def record(course: Path, assignment: Assignment, results: list[SubmissionResult],
           tests: set[str] | None = None) -> Recorded:
    """Store the results in ``course/gradebook.db`` in ONE transaction: all of them, or (interrupted) none.

    A student whose rows fail is rolled back alone (a savepoint) and noted; the others are committed.
    With ``tests``, only those tests' scores are written (a regrade of one test after fixing it).
    """
    _alembic_on_path()
    recorded = Recorded()
    with warnings.catch_warnings(), Gradebook(db_url(course)) as gb:
        warnings.filterwarnings("ignore", module="nbgrader")
        warnings.filterwarnings("ignore", message=".*not in session.*")
        db = gb.db
        try:
            _begin(db)
            row = _sync_assignment(db, assignment)
            first_answers = {nb: next((c.key for c in cells if c.role in ("answer", "manual") and c.key), "")
                             for nb, cells in assignment.notebooks.items()}
            for r in results:
                why = unusable_id(r.student_id)
                if why:
                    recorded.notes.append(f"{r.student_id!r}: not recorded ({why})")
                    continue
                savepoint = db.begin_nested()
                try:
                    unknown = sorted({(t.notebook, t.test_id) for t in r.tests}
                                     - {(c.notebook.name, c.name) for nb in row.notebooks for c in nb.grade_cells})
                    if unknown:
                        raise ValueError(f"tests the gradebook does not have: {unknown[:3]}")
                    _store(db, _submission(db, row, r.student_id), r, tests, first_answers, recorded)
                    savepoint.commit()
                    recorded.students.append(r.student_id)
                except Exception as exc:  # one student's rows must not stop the others', nor stay half-written
                    savepoint.rollback()
                    recorded.notes.append(f"{r.student_id}: not recorded ({type(exc).__name__}: {exc})")
            db.commit()
        except BaseException:
            db.rollback()                            # interrupted or failed: the gradebook stays as it was
            raise
    return recorded


# ---------------------------------------------------------------------------------------------
# course/autograded/: what the formgrader shows the instructor
# ---------------------------------------------------------------------------------------------
BANNER_TAGS = ("p", "pre", "table", "thead", "tbody", "tr", "th", "td")   # the banner's side-by-side passages (no attributes)


@lru_cache(maxsize=2)
def _sanitizer(extra_tags=()) -> SanitizeHTML:
    sanitizer = SanitizeHTML()
    if extra_tags:
        sanitizer.tags = sorted(set(sanitizer.tags) | set(extra_tags))
    return sanitizer


def _clean_html(text: str, extra_tags=()) -> str:
    """Markdown/raw text with its HTML made inert by nbconvert's SanitizeHTML (text without ``<`` has no tags)."""
    return _sanitizer(extra_tags).sanitize_html_tags(text) if "<" in text else text


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


def autograded_notebook(submitted, source, tests: dict[str, str], verdicts: dict[str, str],
                        banner: str | None = None) -> dict:
    """The notebook to show for a submission: ``submitted``'s answers only, everything else from trusted input.

    ``source`` is the source notebook's JSON (its nbgrader metadata and kernel are used), ``tests``
    maps a test's grade_id to its visible source, ``verdicts`` to the grader's verdict line.  Every
    code output is dropped except a test's verdict; markdown and raw cells are sanitised unless their
    text is the source's own; cell attachments and all other metadata are dropped.  ``banner`` (markdown from
    the grader, e.g. why the submission was flagged) becomes the first cell.
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
    if banner:
        cells.append({"cell_type": "markdown", "id": "autograder-banner", "metadata": {}, "source": _clean_html(banner, BANNER_TAGS)})
        used_ids.add("autograder-banner")
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


VERDICT_PREFIX = "[autograder] "


def previous_verdicts(path: Path) -> dict[str, str]:
    """The verdict lines of an autograded notebook we wrote earlier (grade_id -> text), or {} if there is none."""
    try:
        nb = load_notebook_json(path)
    except (NotebookError, OSError):
        return {}
    found = {}
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        key = _nbgrader_meta(cell).get("grade_id")
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        if isinstance(key, str) and isinstance(outputs, list) and len(outputs) == 1 and isinstance(outputs[0], dict):
            text = _text(outputs[0].get("text"))
            if text.startswith(VERDICT_PREFIX):
                found[key] = text
    return found


def flag_banner(result: SubmissionResult, notebook: str) -> str | None:
    """Markdown naming why this notebook was flagged, for the instructor looking at it in the formgrader."""
    flags = flags_of(result, notebook)
    if not flags:
        return None
    lines = "\n".join(f"- {html.escape(f)}" for f in flags)
    tables = "".join(_similarity_table(m) for m in result.similarity if m.notebook == notebook)
    return (f"**Flagged by the autograder for a human to look at** (a flag changes no score; this cell is for the "
            f"instructor and is left out of students' feedback):\n\n{lines}\n{tables}")


def _similarity_table(match) -> str:
    """An answer's passages beside the matching passages of nnkit or another student, as escaped HTML."""
    e = html.escape
    rows = "".join(f"<tr><td><pre>{e(p['mine'])}</pre></td><td><pre>{e(p['theirs'])}</pre></td></tr>"
                   for p in match.passages)
    return (f"\n<p><b>{e(match.label)}</b>: {match.score:.0%} matches {e(match.other)}</p>\n"
            f"<table><tr><th>this answer</th><th>{e(match.other)}</th></tr>{rows}</table>\n")


def write_autograded(course: Path, assignment: Assignment, result: SubmissionResult,
                     submitted: dict[str, Path], only_tests: set[str] | None = None) -> list[str]:
    """Write each submitted notebook's :func:`autograded_notebook`; never raises, returns what was not written.

    ``assignment`` is the whole assignment.  With ``only_tests`` (a regrade of some tests), the other tests keep
    the verdicts of the notebook written before.
    """
    try:
        folder = autograded_folder(course, result.student_id, assignment.name)
    except (ValueError, OSError) as exc:
        return [f"{result.student_id!r}: no autograded notebooks ({exc})"]
    by_test = {(t.notebook, t.test_id): t for t in result.tests}
    notes = []
    for nb, path in submitted.items():
        try:
            tests = {c.key: _strip_hidden(c.source) for c in assignment.notebooks[nb] if c.role == "test" and c.key}
            verdicts = previous_verdicts(folder / f"{nb}.ipynb") if only_tests is not None else {}
            for key in tests:
                t = by_test.get((nb, key))
                if t and (only_tests is None or key in only_tests):
                    verdict = "passed" if t.passed else "failed"
                    verdicts[key] = f"{VERDICT_PREFIX}{verdict} ({t.points:g}/{t.max_points:g}): {t.message}\n"
            notebook = autograded_notebook(load_notebook_json(Path(path)),
                                           load_notebook_json(assignment.directory / f"{nb}.ipynb"), tests, verdicts,
                                           banner=flag_banner(result, nb))
            folder.mkdir(parents=True, exist_ok=True)
            _write_no_follow(folder / f"{nb}.ipynb", json.dumps(notebook, indent=1))
        except NotebookError as exc:
            notes.append(f"{result.student_id}: {nb}.ipynb not written ({exc})")
        except Exception as exc:  # whatever a submission holds, the other notebooks and students still get written
            notes.append(f"{result.student_id}: {nb}.ipynb not written ({type(exc).__name__}: {exc})")
    return notes
