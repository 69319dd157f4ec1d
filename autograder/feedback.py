"""``feedback``: the pages students get back, once hand grading is done.

nbgrader's ``generate_feedback`` renders each autograded notebook with its scores from the gradebook: the
autograder's verdicts, the instructor's hand grades and comments -- but not the autograder's banner, which is
for the instructor (flags, and similarity passages that show another student's code): :class:`HideInstructorNotes`
drops it, here and (through ``course/nbgrader_config.py``) in the formgrader's own feedback button.  The pages land in
``course/feedback/<student>/<assignment>/<notebook>.html`` beside one copy of MathJax (``course/feedback/mathjax``),
so their formulas are typeset without the internet; copied elsewhere they fall back to the CDN.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .mathjax import copy_mathjax
from .release import nbgrader_env

BANNER_ID = "autograder-banner"   # the instructor's note atop an autograded notebook (gradebook.autograded_notebook)
PREPROCESSORS = ["nbgrader.preprocessors.GetGrades", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
                 "autograder.feedback.HideInstructorNotes"]


class HideInstructorNotes(Preprocessor):
    """Drops the autograder's banner (flags, similarity passages, other students' code) from students' feedback."""

    enabled = Bool(True)   # nbconvert runs a registered preprocessor only when it is enabled

    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if c.get("id") != BANNER_ID]
        return nb, resources


def generate_feedback(course: Path, assignment: str, students: list[str] | None = None) -> list[Path]:
    """Write the feedback pages of ``assignment`` (every graded student, or ``students``); returns them."""
    course = Path(course)
    if not (course / "autograded").is_dir():
        raise ValueError(f"nothing graded yet in {course}: run `python -m autograder grade {assignment} ...` first")
    cmd = [sys.executable, "-m", "nbgrader", "generate_feedback", assignment, "--force", "--log-level=WARN",
           f"--CourseDirectory.root={course}", f"--GenerateFeedback.preprocessors={PREPROCESSORS!r}".replace("'", '"')]
    for student in students or []:
        cmd.append(f"--CourseDirectory.student_id={student}")
    proc = subprocess.run(cmd, cwd=course, env=nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader generate_feedback failed:\n{proc.stdout}\n{proc.stderr}")
    copy_mathjax(course / "feedback")
    wanted = set(students or [])
    return sorted(p for p in (course / "feedback").glob(f"*/{assignment}/*.html")
                  if not wanted or p.parent.parent.name in wanted)
