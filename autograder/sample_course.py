"""A small plain nbgrader course, with no autograder.checks in it: `assert` test cells (one with hidden tests, one
giving partial credit), a data file beside the notebook, a written answer -- and sample submissions (honest, blank,
partial, crashing, hanging, test-deleting, host-attacking).  Used by tests/test_plain_nbgrader_course.py and
bench/bench_plain_course.py to compare this grader with plain ``nbgrader autograde``."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat

from .samples import ATTACKS

ASSIGNMENT = "ps1"
CONFIG = """c = get_config()
import os
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "plain"
c.ExecutePreprocessor.timeout = SECONDS                # plain nbgrader autograde's limit per cell
c.Autograder.limits = {"cell_seconds": SECONDS}       # the sandboxed grader's own limits, course-wide
"""


def _cell(kind, source, **nbgrader):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(textwrap.dedent(source).strip())
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "solution": False, "grade": False,
                                     **nbgrader}
    return cell


SQUARES = '''
def squares(n):
    """The squares 1, 4, ..., n**2 as a list."""
    ### BEGIN SOLUTION
    return [i * i for i in range(1, n + 1)]
    ### END SOLUTION
'''
READ = '''
def read_numbers():
    """The integers in data.txt (it comes with the assignment)."""
    ### BEGIN SOLUTION
    with open("data.txt") as f:
        return [int(x) for x in f.read().split()]
    ### END SOLUTION
'''


def source_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("markdown", "# Problem set 1\n\nA plain nbgrader assignment: `assert` tests, a data file, a written answer."),
        _cell("code", SQUARES, grade_id="squares", solution=True),
        _cell("code", """
            assert squares(3) == [1, 4, 9]
            ### BEGIN HIDDEN TESTS
            assert squares(1) == [1]
            assert squares(0) == []
            ### END HIDDEN TESTS""", grade_id="test_squares", grade=True, locked=True, points=2),
        _cell("code", READ, grade_id="read_numbers", solution=True),
        _cell("code", "assert read_numbers() == [3, 1, 4, 1, 5]", grade_id="test_read_numbers", grade=True,
              locked=True, points=1),
        _cell("code", """
            score = 0
            try:
                score += 1 if squares(2) == [1, 4] else 0
            except Exception:
                pass
            try:
                score += 2 if sum(read_numbers()) == 14 else 0
            except Exception:
                pass
            score""", grade_id="test_partial", grade=True, locked=True, points=3),
        _cell("markdown", "Why does `squares(0)` return an empty list?\n\nYOUR ANSWER HERE", grade_id="explain",
              grade=True, solution=True, points=2),
    ]
    return nb


def submissions(release: dict) -> dict[str, dict]:
    def with_answers(squares=None, read=None, drop_tests=False, extra=None):
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        cells = []
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid == "squares" and squares is not None:
                cell.source = squares
            if gid == "read_numbers" and read is not None:
                cell.source = read
            if drop_tests and gid and gid.startswith("test_"):
                if gid == "test_partial":
                    cell.source = "3"      # an edited test: 'full marks'
                else:
                    continue               # a deleted test
            cells.append(cell)
        if extra:
            cells.append(nbformat.v4.new_code_cell(extra))
        nb.cells = cells
        return nb

    right_squares = "def squares(n):\n    return [k ** 2 for k in range(1, n + 1)]"
    right_read = "def read_numbers():\n    return list(map(int, open('data.txt').read().split()))"
    return {
        "honest": with_answers(right_squares, right_read),
        "blank": with_answers(),
        "partial": with_answers(right_squares, "def read_numbers():\n    return [3, 1, 4]"),
        "crashing": with_answers(right_squares, "def read_numbers():\n    return 1 / 0\nraise RuntimeError('oops')"),
        "hanging": with_answers("def squares(n):\n    while True:\n        pass", right_read),
        "test_deleting": with_answers("def squares(n):\n    return []", "def read_numbers():\n    return []",
                                      drop_tests=True),
        "host_attacker": with_answers(extra=ATTACKS["gradebook"][1] + "\n" + ATTACKS["snoop"][1]),
    }



def write_course(root: Path, cell_seconds: int = 10) -> Path:
    """``root/nbgrader_config.py`` and ``root/source/ps1/`` (the notebook and data.txt)."""
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(CONFIG.replace("SECONDS", str(cell_seconds)))
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (root / "source" / ASSIGNMENT / "data.txt").write_text("3 1 4 1 5\n")
    return root
