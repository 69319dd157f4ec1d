"""Where the course lives: the nbgrader course root and the folders its config points at."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def course_root(explicit: str | os.PathLike | None = None) -> Path:
    """``--course`` if given, else ``./course`` if present, else the repository's ``course/``."""
    if explicit:
        return Path(explicit).resolve()
    here = Path.cwd() / "course"
    return here.resolve() if (here / "nbgrader_config.py").is_file() else REPO / "course"


def solutions_dir(course: Path) -> Path:
    return (course / ".." / "solutions").resolve()


def assignments_dir(course: Path) -> Path:
    return (course / ".." / "assignments").resolve()
