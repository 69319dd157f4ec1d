"""What students install, and the install line every released notebook prints when it is missing.

The student wheel (built by ``make student-kit``, ``scripts/build_student_kit.py``) holds ``nnkit`` and the
self-checks under the distribution name ``nnkit-course-kit``, which nothing on PyPI uses (PyPI's ``nnkit``
and ``autograder`` are unrelated projects).  Each source notebook starts with a locked set-up cell that
checks the package and prints the install lines; its placeholders are filled when the assignment is
released, with the wheel's file name and the URL from ``c.Autograder.student_wheel_url`` in the course's
``nbgrader_config.py`` (where the instructor uploaded the wheel, for Colab).
"""
from __future__ import annotations

import re
from pathlib import Path

DISTRIBUTION = "nnkit-course-kit"
STUDENT_REQUIREMENTS = ["numpy>=1.26", "matplotlib>=3.8", "scikit-learn>=1.4", "tqdm>=4.66", "ipython>=8"]
WHEEL_TOKEN = "<STUDENT_WHEEL>"
URL_TOKEN = "<STUDENT_WHEEL_URL>"
NO_URL = "URL-OF-THE-WHEEL (ask your instructor)"
ROOT = Path(__file__).resolve().parent.parent


def version() -> str:
    """The course's version, from pyproject.toml beside this package (or the installed distribution's)."""
    pyproject = ROOT / "pyproject.toml"
    if pyproject.is_file():
        found = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.M)
        if found:
            return found.group(1)
    from importlib.metadata import version as installed
    return installed("nnkit-course")


def wheel_name() -> str:
    return f"{DISTRIBUTION.replace('-', '_')}-{version()}-py3-none-any.whl"


def fill_setup_cell(source: str, url: str | None) -> str:
    """A set-up cell's text with the wheel's name and URL in place of the placeholders."""
    return source.replace(WHEEL_TOKEN, wheel_name()).replace(URL_TOKEN, url or NO_URL)
