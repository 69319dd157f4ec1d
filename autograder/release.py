"""``release``: build the student notebooks from the course's source with nbgrader, and publish them.

``generate_assignment`` writes the student notebooks into the course's release folder (``assignments/`` here);
``release_assignment`` then copies them into the course's nbgrader exchange, so the formgrader shows them as
released (and students on a shared JupyterHub can fetch them).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .paths import assignments_dir, autograder_setting, solutions_dir
from .studentkit import URL_TOKEN, WHEEL_TOKEN, fill_setup_cell


def nbgrader_env() -> dict:
    """nbgrader runs `alembic` as a subprocess: make the interpreter's scripts folder findable."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def _nbgrader(course: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "nbgrader", *args, "--log-level=WARN", f"--CourseDirectory.root={course}"]
    proc = subprocess.run(cmd, cwd=course, env=nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def release(course: Path, assignments: list[str] | None = None, release_dir: Path | None = None,
            db_url: str | None = None) -> list[Path]:
    """Generate each assignment (all of the source folder by default); returns the released folders.

    Into the course's own release folder, each is also published to the course's exchange; with another
    ``release_dir`` (a scratch check) nothing is published and, with ``db_url``, the gradebook is not touched.
    """
    course = Path(course).resolve()   # nbgrader runs in the course folder: a relative root would point inside it
    solutions = solutions_dir(course)
    names = assignments or sorted(p.name for p in solutions.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    released = []
    for name in names:
        if not (solutions / name).is_dir():
            raise ValueError(f"no assignment '{name}' in {solutions}")
        options = []
        if db_url is not None:
            options.append(f"--CourseDirectory.db_url={db_url}")
        if release_dir is not None:
            options.append(f"--CourseDirectory.release_directory={Path(release_dir).resolve()}")
        _nbgrader(course, "generate_assignment", name, "--force", *options)
        folder = (Path(release_dir).resolve() if release_dir else assignments_dir(course)) / name
        fill_install_lines(folder, autograder_setting(course, "student_wheel_url", None))
        if release_dir is None:
            _nbgrader(course, "release_assignment", name, "--force")
        released.append(folder)
    return released


def fill_install_lines(folder: Path, url: str | None) -> None:
    """The released notebooks' set-up cells name the student wheel and its URL (``c.Autograder.student_wheel_url``)."""
    import nbformat
    for path in sorted(Path(folder).glob("*.ipynb")):
        if WHEEL_TOKEN not in path.read_text(encoding="utf-8") and URL_TOKEN not in path.read_text(encoding="utf-8"):
            continue
        from nbgrader.utils import compute_checksum
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            filled = fill_setup_cell(cell.source, url) if cell.cell_type == "code" else cell.source
            if filled != cell.source:
                cell.source = filled
                if "checksum" in cell.metadata.get("nbgrader", {}):   # nbgrader's Validate checks locked cells
                    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
        nbformat.write(nb, path)
