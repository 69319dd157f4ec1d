"""The student folders of a ``submitted/`` tree, with the ones that must not be graded marked and explained.

Nothing here follows a symbolic link: a link could make one student's folder grade another's work,
or point the grader at files outside the submission.  A refused folder still gets a row in the
grade table, with the reason.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

MAX_ENTRIES = 10_000
LINK_REFUSAL = "refused (submit the files themselves)"


@dataclass
class StudentFolder:
    student_id: str
    path: Path
    refusal: str | None = None     # why it is not graded, for the student and the instructor


def unusable_id(student_id: str) -> str | None:
    """Why a student id can't be one path component (``.``, ``..``, ``/``, NUL, empty), else None."""
    if student_id in ("", ".", "..") or "/" in student_id or "\0" in student_id:
        return f"the folder name {student_id!r} cannot be used as a student id; refused"
    return None


def _scan(folder: Path) -> str | None:
    """Why the tree under ``folder`` is refused (a link, a special file, too many entries), else None."""
    pending, seen = [folder], 0
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    seen += 1
                    if seen > MAX_ENTRIES:
                        return f"the submission has more than {MAX_ENTRIES} files and folders (too many files); refused"
                    rel = Path(entry.path).relative_to(folder.parent).as_posix()
                    mode = entry.stat(follow_symlinks=False).st_mode
                    if stat.S_ISLNK(mode):
                        return f"{rel} is a symbolic link; {LINK_REFUSAL}"
                    if stat.S_ISDIR(mode):
                        pending.append(Path(entry.path))
                    elif not stat.S_ISREG(mode):
                        return f"{rel} is not a regular file or folder; refused"
        except OSError as exc:
            return f"part of the submission could not be read ({exc.strerror}); refused"
    return None


def inspect_student(path: Path, assignment: str) -> str | None:
    """Why ``path`` (a student's folder) is refused for ``assignment``, else None; nothing is followed or read."""
    try:
        top = os.lstat(path)
    except OSError as exc:
        return f"the submission folder could not be read ({exc.strerror}); refused"
    if stat.S_ISLNK(top.st_mode):
        return f"the submission folder is a symbolic link; {LINK_REFUSAL}"
    work = path / assignment
    try:
        mode = os.lstat(work).st_mode
    except FileNotFoundError:
        return None                      # graded as "nothing submitted"
    except OSError as exc:
        return f"the {assignment} folder could not be read ({exc.strerror}); refused"
    if stat.S_ISLNK(mode):
        return f"the {assignment} folder is a symbolic link; {LINK_REFUSAL}"
    if not stat.S_ISDIR(mode):
        return None                      # not a folder: graded as "nothing submitted"
    return _scan(work)


def list_students(submissions: Path, assignment: str) -> list[StudentFolder]:
    """Every student entry of ``submissions`` (sorted; hidden names and top-level files skipped), links refused."""
    folders = []
    with os.scandir(submissions) as entries:
        listing = sorted((e.name, e.is_symlink(), e.is_dir(follow_symlinks=False)) for e in entries)
    for name, is_link, is_dir in listing:
        if name.startswith(".") or not (is_link or is_dir):
            continue
        path = Path(submissions) / name
        folders.append(StudentFolder(name, path, unusable_id(name) or inspect_student(path, assignment)))
    return folders


EXPECTED_LAYOUT = """expected layout (one folder per student, nbgrader's submitted/ layout):
    DIR/<student_id>/{assignment}/<notebook>.ipynb
e.g. DIR/alice/{assignment}/{assignment}.ipynb and DIR/bob/{assignment}/{assignment}.ipynb
An LMS download (Moodle, Canvas) is turned into this layout by `python -m autograder collect`."""


def _shown(name: str) -> str:
    """A file name as it may be printed on a terminal: control characters escaped, not sent."""
    return name if name.isprintable() else repr(name)


def _first_names(folder: str, n: int) -> list[str]:
    """Up to ``n`` entry names of ``folder`` (whatever its size: the listing stops there)."""
    with os.scandir(folder) as it:
        return [e.name for _, e in zip(range(n), it)]


def _describe(entry: os.DirEntry) -> str:
    """One line on what a top-level entry of a submissions folder holds (nothing is followed)."""
    name = _shown(entry.name)
    if entry.is_symlink():
        return f"{name} (a symbolic link)"
    if not entry.is_dir(follow_symlinks=False):
        return f"{name} (a file)"
    try:
        inside = _first_names(entry.path, 5)
    except OSError:
        return f"{name}/ (unreadable)"
    shown = ", ".join(_shown(n) for n in sorted(inside)[:4]) + (", ..." if len(inside) > 4 else "")
    return f"{name}/ containing {shown or 'nothing'}"


def layout_problem(submissions: Path, assignment: str) -> str | None:
    """Why ``submissions`` is not a folder of ``<student>/<assignment>/*.ipynb`` (with what it holds), else None.

    One student with the layout is enough (others may have submitted nothing).  Nothing is followed or opened.
    """
    try:
        with os.scandir(submissions) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        return f"--submissions {submissions} cannot be read ({exc.strerror})"
    for e in entries:
        work = Path(e.path) / assignment
        if e.is_dir(follow_symlinks=False) and work.is_dir() and not work.is_symlink():
            try:
                with os.scandir(work) as inside:
                    if any(n.name.endswith(".ipynb") for n in inside):   # stops at the first notebook
                        return None
            except OSError:
                continue
    found = [_describe(e) for e in entries[:8]] + (["..."] if len(entries) > 8 else [])
    hints = []
    names = {e.name for e in entries}
    if assignment in names:
        hints.append(f"it has an {assignment}/ folder itself: is it ONE student's folder? Pass the folder that "
                     f"holds every student's folder")
    if any(e.name.lower().endswith(".zip") for e in entries):
        hints.append("it holds zip files: unpack them with `python -m autograder collect ARCHIVE.zip --assignment "
                     f"{assignment} --out DIR` and grade DIR")
    if any(e.name.endswith(".ipynb") for e in entries):
        hints.append("it holds notebooks directly: each must be in <student_id>/" + assignment + "/")
    what = "\n".join("    " + line for line in found) or "    nothing"
    return (f"--submissions {submissions} has no <student>/{assignment}/*.ipynb\n"
            + EXPECTED_LAYOUT.format(assignment=assignment) + f"\nfound:\n{what}"
            + "".join(f"\nhint: {h}" for h in hints))


__all__ = ["StudentFolder", "list_students", "inspect_student", "unusable_id", "layout_problem", "MAX_ENTRIES"]
