"""Reading notebooks as data: the cells' nbgrader roles, and what of a submission gets executed.

The source notebook (``solutions/<assignment>/<name>.ipynb``) is trusted; a submission is not.  A
submission contributes only its *answers*: its solution cells and any cells the student added.
Locked instructor cells are taken from the source, and test cells are never taken from the
submission -- the tests come from the source, so a deleted or edited test cell changes nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import safejson

MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_NOTEBOOK_DEPTH = 64


class NotebookError(Exception):
    """A submission that cannot be read as a notebook (the reason is shown to the student)."""


@dataclass
class Cell:
    index: int
    cell_type: str
    source: str
    key: str | None          # nbgrader grade_id, else the cell id
    role: str                # "test", "answer", "manual", "locked", "plain"
    points: float = 0.0
    label: str = ""          # where the cell is, as a student sees it in Jupyter (set by :func:`merge`)

    @property
    def is_code(self) -> bool:
        return self.cell_type == "code"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        if not all(isinstance(s, str) for s in src):
            raise NotebookError("a cell's source is not text")
        return "".join(src)
    if not isinstance(src, str):
        raise NotebookError("a cell's source is not text")
    return src


def _role(meta: dict, cell_type: str) -> tuple[str, float]:
    nb = meta.get("nbgrader") if isinstance(meta, dict) else None
    if not isinstance(nb, dict):
        return "plain", 0.0
    points = nb.get("points") or 0
    try:
        points = float(points)
    except (TypeError, ValueError):
        points = 0.0
    if nb.get("task"):
        return "manual", points
    if nb.get("grade") and nb.get("solution"):
        return "manual", points
    if nb.get("grade") and cell_type == "code":
        return "test", points
    if nb.get("solution"):
        return "answer", 0.0
    if nb.get("locked"):
        return "locked", 0.0
    return "plain", 0.0


def parse_cells(data) -> list[Cell]:
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a Jupyter notebook (no list of cells)")
    cells = []
    for i, raw in enumerate(data["cells"]):
        if not isinstance(raw, dict) or raw.get("cell_type") not in ("code", "markdown", "raw"):
            raise NotebookError(f"cell {i} is malformed")
        meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        role, points = _role(meta, raw["cell_type"])
        nb = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
        key = nb.get("grade_id") if isinstance(nb.get("grade_id"), str) else None
        if key is None and isinstance(raw.get("id"), str):
            key = "id:" + raw["id"]
        cells.append(Cell(i, raw["cell_type"], _source(raw), key, role, points))
    return cells


def read_notebook(path: Path) -> list[Cell]:
    """Parse a notebook file defensively (regular file, size and nesting caps, valid JSON, a notebook's shape)."""
    return parse_cells(load_notebook_json(path))


def load_notebook_json(path: Path):
    """A notebook file's JSON through :mod:`autograder.safejson`, or NotebookError with a reason for the student."""
    try:
        return safejson.load_limited(safejson.read_regular_file(path, MAX_NOTEBOOK_BYTES),
                                     max_bytes=MAX_NOTEBOOK_BYTES, max_depth=MAX_NOTEBOOK_DEPTH)
    except safejson.TooLargeError as exc:
        raise NotebookError(f"{path.name} {exc} (clear the outputs and submit again)") from None
    except safejson.UntrustedJSONError as exc:
        raise NotebookError(f"{path.name} {exc}") from None


@dataclass
class Merged:
    """The code to execute for one submission, and what was noticed while assembling it."""
    cells: list[Cell]
    notes: list[str] = field(default_factory=list)
    edited_tests: list[str] = field(default_factory=list)


HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def part_headings(cells: list[Cell]) -> dict[int, str]:
    """Each cell's index -> the text of the last markdown heading above it ("" before the first heading)."""
    current, found = "", {}
    for c in cells:
        if c.cell_type == "markdown":
            headings = HEADING.findall(c.source)
            if headings:
                current = re.sub(r"[*_`]", "", headings[-1]).strip()[:80]
        found[c.index] = current
    return found


def _where(heading: str, what: str) -> str:
    return f"“{heading}”, {what}" if heading else what


def _source_names(source: list[Cell]) -> dict[int, tuple[str, str]]:
    """Each source code cell's part heading and name ("answer cell relu", or its number in the part)."""
    headings, names, counts = part_headings(source), {}, {}
    for c in source:
        if not c.is_code:
            continue
        heading = headings[c.index]
        counts[heading] = counts.get(heading, 0) + 1
        if c.key and not c.key.startswith("id:"):
            kind = {"answer": "answer cell", "manual": "answer cell", "test": "test"}.get(c.role, "cell")
            names[c.index] = (heading, f"{kind} {c.key}")
        else:
            names[c.index] = (heading, f"code cell {counts[heading]} of this part")
    return names


def merge(source: list[Cell], submission: list[Cell], kernel_tests=frozenset()) -> Merged:
    """The source's code cells in order, answers taken from the submission, student cells kept in place.

    The merged cells are numbered 0, 1, ... in execution order (their ``index``), and each carries a
    ``label`` naming it as the student sees it: the part's heading and the cell's name.  Test cells
    named in ``kernel_tests`` (plain nbgrader tests, judged in the kernel) run in place, from the
    source with their hidden tests (role ``kernel_test``); the others are traced, never run here.
    """
    by_key = {c.key: c for c in submission if c.key is not None and c.is_code}
    source_keys = {c.key for c in source if c.key is not None}
    names = _source_names(source)
    source_by_key = {c.key: c for c in source if c.key is not None}

    # student-added (unmatched) code cells, attached to the matched cell they follow
    extras: dict[str | None, list[Cell]] = {None: []}
    anchor = None
    for c in submission:
        if c.key in source_keys:
            anchor = c.key
        elif c.is_code:
            if anchor is None:
                where = "a cell you added at the top of the notebook"
            else:
                heading, name = names.get(source_by_key[anchor].index, ("", f"cell {anchor}"))
                where = _where(heading, f"a cell you added after {name}")
            extras.setdefault(anchor, []).append(replace(c, label=where))

    merged = Merged(cells=list(extras[None]))
    for s in source:
        if s.is_code:
            label = _where(*names[s.index])
            if s.role == "test":
                if s.key in kernel_tests:
                    merged.cells.append(Cell(s.index, "code", s.source, s.key, "kernel_test", s.points, label=label))
                sub = by_key.get(s.key)
                if sub is None:
                    merged.notes.append(f"test cell '{s.key}' was deleted; graded with the original test")
                    merged.edited_tests.append(s.key)
                elif _normalise(sub.source) != _normalise(_strip_hidden(s.source)):
                    merged.notes.append(f"test cell '{s.key}' was edited; graded with the original test")
                    merged.edited_tests.append(s.key)
            elif s.role in ("answer", "manual"):
                sub = by_key.get(s.key)
                if sub is None:
                    merged.notes.append(f"answer cell '{s.key}' is missing from the submission")
                else:
                    merged.cells.append(Cell(s.index, "code", sub.source, s.key, s.role, label=label))
            elif s.role == "locked":
                merged.cells.append(replace(s, label=label))  # instructor code: always the source version
            else:  # a plain cell the student was free to edit
                sub = by_key.get(s.key)
                merged.cells.append(Cell(s.index, "code", sub.source if sub else s.source, s.key, "plain", label=label))
        merged.cells.extend(extras.get(s.key, []))
    # one number per executed cell: source and submission indices could otherwise collide
    merged.cells = [replace(c, index=i) for i, c in enumerate(merged.cells)]
    return merged


def tests_of(source: list[Cell]) -> list[Cell]:
    return [c for c in source if c.role == "test"]


def manual_of(source: list[Cell]) -> list[Cell]:
    return [c for c in source if c.role == "manual"]


def student_answer_keys(source: list[Cell]) -> set[str]:
    return {c.key for c in source if c.role in ("answer", "manual") and c.key}


def _normalise(src: str) -> list[str]:
    return [line.rstrip() for line in src.splitlines() if line.strip()]


def _strip_hidden(src: str) -> str:
    out, hidden = [], False
    for line in src.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


__all__ = ["Cell", "NotebookError", "Merged", "read_notebook", "load_notebook_json", "parse_cells", "merge",
           "tests_of", "manual_of", "student_answer_keys"]
