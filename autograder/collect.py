"""``collect``: turn an LMS download into nbgrader's ``submitted/<student>/<assignment>/`` layout.

Understands the two common shapes of a "download all submissions" zip:

* Moodle: ``Full Name_12345_assignsubmission_file_/any.ipynb`` (a top-level folder per participant,
  12345 being the participant id; files may sit in subfolders of it, which never name the student);
* Canvas: ``lastnamefirstname_12345_67890_any.ipynb`` at the top level (optionally
  ``..._LATE_12345_...``; 12345 is the user id).

The student id is the LMS id, or, with ``--roster CSV`` (columns ``student_id`` and ``lms_id``
and/or ``name``), the course's own id.  Nothing is extracted outside the output folder, links are
never followed, oversized members are skipped, and everything not matched is reported.
"""
from __future__ import annotations

import csv
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_MEMBER_BYTES = 50 * 2**20
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_?$")
CANVAS = re.compile(r"^(?P<name>[^_]+)_(?:LATE_)?(?P<id>\d+)_\d+_(?P<file>.+)$")


@dataclass
class CollectReport:
    placed: list = field(default_factory=list)       # (student_id, path)
    unmatched: list = field(default_factory=list)    # (zip member, why)


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "", text).lower()


def _load_roster(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    mapping = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            sid = (row.get("student_id") or "").strip()
            if not sid:
                continue
            if row.get("lms_id"):
                mapping[row["lms_id"].strip()] = sid
            if row.get("name"):
                mapping[_slug(row["name"])] = sid
    return mapping


def _identify(member: str) -> tuple[str, str, str] | None:
    """(lms_id, name, file name) of a zip member, from its top-level folder (Moodle) or file name (Canvas), or None."""
    parts = PurePosixPath(member).parts
    if len(parts) >= 2:
        m = MOODLE.match(parts[0])
        return (m.group("id"), m.group("name"), parts[-1]) if m else None
    m = CANVAS.match(parts[0]) if parts else None
    if m:
        return m.group("id"), m.group("name"), m.group("file")
    return None


def _hidden(member: str) -> bool:
    """Inside a hidden or system folder (``.ipynb_checkpoints/``, ``__MACOSX/``) or a hidden file."""
    return any(p.startswith(".") or p == "__MACOSX" for p in PurePosixPath(member).parts)


def collect(archives: list[Path], assignment: str, out: Path, notebook_names: list[str],
            roster: Path | None = None) -> CollectReport:
    report = CollectReport()
    ids = _load_roster(roster)
    out = Path(out)
    for archive in archives:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as exc:
            report.unmatched.append((str(archive), f"not a readable zip file ({exc})"))
            continue
        with zf:
            # shallowest first: a student's top-level notebook wins over copies in their subfolders
            for info in sorted(zf.infolist(), key=lambda i: (len(PurePosixPath(i.filename).parts), i.filename)):
                name = info.filename
                if info.is_dir():
                    continue
                if name.startswith("/") or ".." in PurePosixPath(name).parts:
                    report.unmatched.append((name, "unsafe path in archive"))
                    continue
                if _hidden(name):
                    report.unmatched.append((name, "hidden file or system folder"))
                    continue
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    report.unmatched.append((name, "symbolic link"))
                    continue
                who = _identify(name)
                if who is None:
                    report.unmatched.append((name, "file name matches neither Moodle's nor Canvas's pattern"))
                    continue
                lms_id, person, filename = who
                if roster is not None:
                    sid = ids.get(lms_id) or ids.get(_slug(person))
                    if sid is None:
                        report.unmatched.append((name, f"'{person}' (LMS id {lms_id}) is not in the roster"))
                        continue
                else:
                    sid = lms_id
                if info.file_size > MAX_MEMBER_BYTES:
                    report.unmatched.append((name, f"larger than {MAX_MEMBER_BYTES // 2**20} MiB"))
                    continue
                if filename.endswith(".ipynb") and len(notebook_names) == 1:
                    filename = f"{notebook_names[0]}.ipynb"  # LMSs often rename uploads
                safe = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(filename).name) or "file"
                target = out / sid / assignment / safe
                if target.exists():
                    report.unmatched.append((name, f"a second file named {safe} for student {sid}; kept the first"))
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src:
                    data = src.read(MAX_MEMBER_BYTES + 1)
                if len(data) > MAX_MEMBER_BYTES:
                    report.unmatched.append((name, "larger than allowed once decompressed"))
                    continue
                target.write_bytes(data)
                report.placed.append((sid, str(target)))
    return report
