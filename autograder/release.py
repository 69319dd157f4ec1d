"""``release``: build the student notebooks in ``assignments/`` from ``solutions/`` with nbgrader."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .paths import solutions_dir


def nbgrader_env() -> dict:
    """nbgrader runs `alembic` as a subprocess: make the interpreter's scripts folder findable."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def release(course: Path, assignments: list[str] | None = None, release_dir: Path | None = None,
            db_url: str | None = None) -> list[Path]:
    """Generate each assignment (all of ``solutions/`` by default); returns the released folders."""
    solutions = solutions_dir(course)
    names = assignments or sorted(p.name for p in solutions.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    released = []
    for name in names:
        if not (solutions / name).is_dir():
            raise ValueError(f"no assignment '{name}' in {solutions}")
        cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force", "--log-level=WARN",
               f"--CourseDirectory.root={course}"]
        if db_url is not None:
            cmd.append(f"--CourseDirectory.db_url={db_url}")
        if release_dir is not None:
            cmd.append(f"--CourseDirectory.release_directory={Path(release_dir).resolve()}")
        proc = subprocess.run(cmd, cwd=course, env=nbgrader_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{proc.stdout}\n{proc.stderr}")
        target = (Path(release_dir).resolve() if release_dir else (course / ".." / "assignments").resolve()) / name
        released.append(target)
    return released
