"""An assignment as the grader sees it: its source notebooks, limits and whitelisted files.

``solutions/<assignment>/*.ipynb`` are the source notebooks.  An optional
``solutions/<assignment>/autograder.json`` sets limits and the files a submission may bring
along into the sandbox::

    {"limits": {"cell_seconds": 60, "total_seconds": 300}, "files": ["*.csv"]}
"""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .notebook import Cell, read_notebook
from .sandbox import Limits

MAX_WHITELISTED_BYTES = 5 * 2**20


@dataclass
class Assignment:
    name: str
    directory: Path
    notebooks: dict[str, list[Cell]]
    limits: Limits = field(default_factory=Limits)
    files: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, solutions: Path, name: str, course_limits: dict | None = None) -> "Assignment":
        """``course_limits``: the course-wide limits (``c.Autograder.limits`` in its nbgrader_config.py), which
        the assignment's own ``autograder.json`` overrides."""
        directory = Path(solutions) / name
        if not directory.is_dir():
            known = sorted(p.name for p in Path(solutions).iterdir() if p.is_dir()) if Path(solutions).is_dir() else []
            raise ValueError(f"no assignment '{name}' in {solutions} (known: {', '.join(known) or 'none'})")
        paths = sorted(directory.glob("*.ipynb"))
        if not paths:
            raise ValueError(f"assignment '{name}' has no source notebooks in {directory}")
        notebooks = {p.stem: read_notebook(p) for p in paths}
        config_path = directory / "autograder.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        known_limits = {f.name for f in fields(Limits)}
        for where, given in (("c.Autograder.limits", course_limits or {}), (config_path, config.get("limits", {}))):
            unknown = set(given) - known_limits
            if unknown:
                raise ValueError(f"{where}: unknown limits {sorted(unknown)}; known: {sorted(known_limits)}")
        limits = replace(Limits(), **{**(course_limits or {}), **config.get("limits", {})})
        return cls(name, directory, notebooks, limits, list(config.get("files", [])))

    @property
    def test_names(self) -> list[str]:
        return [c.key for cells in self.notebooks.values() for c in cells if c.role == "test"]

    def only_tests(self, names: set[str]) -> "Assignment":
        """The same assignment with only the named tests (a regrade of the tests an instructor fixed)."""
        unknown = sorted(set(names) - set(self.test_names))
        if unknown:
            raise ValueError(f"assignment '{self.name}' has no test {', '.join(unknown)} "
                             f"(its tests: {', '.join(self.test_names)})")
        notebooks = {nb: [c for c in cells if c.role != "test" or c.key in names]
                     for nb, cells in self.notebooks.items()}
        return replace(self, notebooks=notebooks)

    @property
    def max_score(self) -> float:
        return sum(c.points for cells in self.notebooks.values() for c in cells if c.role == "test")

    def locate_notebooks(self, student_dir: Path) -> tuple[dict[str, Path], list[str]]:
        """Map each source notebook to the submitted file; a lone misnamed notebook is accepted, with a note."""
        notes = []
        if not student_dir.is_dir():
            return {}, ["no folder for this assignment in the submission"]
        submitted = {p.stem: p for p in sorted(student_dir.glob("*.ipynb")) if p.is_file() and not p.is_symlink()}
        found = {name: submitted[name] for name in self.notebooks if name in submitted}
        missing = [n for n in self.notebooks if n not in found]
        spare = [p for stem, p in submitted.items() if stem not in self.notebooks]
        if len(missing) == 1 and len(spare) == 1:
            found[missing[0]] = spare[0]
            notes.append(f"expected {missing[0]}.ipynb but found {spare[0].name}; graded it as {missing[0]}.ipynb")
        elif spare:
            notes.append(f"ignored notebooks that are not part of the assignment: {', '.join(p.name for p in spare)}")
        expected = {p.name for p in self.given_files()} | {"timestamp.txt"}   # nbgrader's submission time stamp
        others = [p.name for p in student_dir.iterdir()
                  if p.suffix != ".ipynb" and not self._whitelisted(p) and p.name not in expected]
        if others:
            notes.append(f"ignored files the assignment does not use: {', '.join(sorted(others)[:10])}")
        return found, notes

    def _whitelisted(self, path: Path) -> bool:
        return any(fnmatch.fnmatch(path.name, pattern) for pattern in self.files)

    def workdir_files(self, student_dir: Path) -> list[Path]:
        """The files that go beside the notebook in the sandbox: the student's whitelisted regular files (no
        symlinks, size-capped), then the files the assignment ships beside its notebooks (``given_files``),
        which a student's file of the same name does not replace."""
        given = self.given_files()
        names = {p.name for p in given}
        student = []
        if student_dir.is_dir():
            student = [p for p in sorted(student_dir.iterdir())
                       if self._whitelisted(p) and p.name not in names and p.is_file() and not p.is_symlink()
                       and p.stat().st_size <= MAX_WHITELISTED_BYTES]
        return student + given

    def given_files(self) -> list[Path]:
        """Files beside the source notebooks (data, images such as nbgrader's ``jupyter.png``): released to students
        with the notebooks, so a submission runs with them too.  Top-level regular files only, size-capped."""
        return [p for p in sorted(self.directory.iterdir())
                if p.is_file() and not p.is_symlink() and p.suffix != ".ipynb" and p.name != "autograder.json"
                and not p.name.startswith(".") and p.stat().st_size <= MAX_WHITELISTED_BYTES]
