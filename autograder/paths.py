"""Where the course lives: the nbgrader course root and the folders its ``nbgrader_config.py`` points at.

The course root is the folder holding ``nbgrader_config.py``.  The source (solutions) and release
(student notebooks) folders are read from that file's ``CourseDirectory.source_directory`` and
``release_directory``, relative to the root as nbgrader reads them (nbgrader's defaults ``source`` and
``release`` when unset), so the grader and plain ``nbgrader`` always agree on where things are.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def course_root(explicit: str | os.PathLike | None = None) -> Path:
    """``--course`` if given, else ``./course`` if present, else the repository's ``course/``."""
    if explicit:
        return Path(explicit).resolve()
    here = Path.cwd() / "course"
    return here.resolve() if (here / "nbgrader_config.py").is_file() else REPO / "course"


@lru_cache(maxsize=16)
def _course_config(course: Path):
    from traitlets.config import Config
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader
    try:
        return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    except ConfigFileNotFound:
        return Config()


def _course_directory(course: Path) -> dict:
    """The ``CourseDirectory`` settings of ``course/nbgrader_config.py`` ({} without one)."""
    return dict(_course_config(course).get("CourseDirectory", {}))


def course_setting(course: Path, section: str, key: str, default):
    """``c.<section>.<key>`` from the course's ``nbgrader_config.py``, else ``default``."""
    return dict(_course_config(Path(course).resolve()).get(section, {})).get(key, default)


def autograder_setting(course: Path, key: str, default):
    """``c.Autograder.<key>`` from the course's ``nbgrader_config.py`` (the grader's own settings), else ``default``."""
    return course_setting(course, "Autograder", key, default)


def _configured(course: Path, key: str, default: str) -> Path:
    settings = _course_directory(Path(course).resolve())
    root = Path(settings.get("root") or course)
    return (root / settings.get(key, default)).resolve()


def solutions_dir(course: Path) -> Path:
    """The course's source folder (``CourseDirectory.source_directory``): the solutions with hidden tests."""
    return _configured(course, "source_directory", "source")


def assignments_dir(course: Path) -> Path:
    """The course's release folder (``CourseDirectory.release_directory``): the student notebooks."""
    return _configured(course, "release_directory", "release")
