"""``collect``: turn an LMS download into nbgrader's ``submitted/<student>/<assignment>/`` layout.

    python -m autograder collect ARCHIVE.zip ... --assignment A --out DIR [--roster CSV]

Each archive is read in one layout, decided per archive: Moodle/Canvas when any of its members
follows their pattern, otherwise one plain folder per student.

* Moodle ("Download all submissions", in folders): a top-level folder per participant,
  ``<Full Name>_<participant id>_assignsubmission_<plugin>_``; files may sit in subfolders of it,
  which never name the student::

      Alice Smith_1001_assignsubmission_file_/homework.ipynb   ->  DIR/1001/A/A.ipynb
      Иванов Боб_1002_assignsubmission_file_/work/data.csv      ->  DIR/1002/A/data.csv

* Canvas ("Download Submissions"): files at the top level,
  ``<lastnamefirstname>_[LATE_]<user id>_<submission id>_<uploaded name>``::

      smithalice_12345_67890_homework-1.ipynb                  ->  DIR/12345/A/A.ipynb
      doejohn_LATE_12346_67891_data.csv                        ->  DIR/12346/A/data.csv

* Plain folders (e.g. a zip of an nbgrader ``submitted/`` folder), only when no member follows
  Moodle's or Canvas's pattern: ``<student>/<file>`` or ``<student>/A/<file>`` (other depths are
  reported).  ``<student>`` must be in the roster (as its student_id, lms_id or login) or, without
  a roster, be a plain id (letters, digits, ``.``, ``_``, ``-``, starting with a letter or digit)
  whose folder holds a ``.ipynb`` at one of those two places::

      alice/homework.ipynb                                     ->  DIR/alice/A/A.ipynb
      bob/A/A.ipynb                                            ->  DIR/bob/A/A.ipynb

When the assignment has one notebook, any ``.ipynb`` is saved under that notebook's name (LMSs
rename uploads); other file names keep letters, digits and ``._-`` (anything else becomes ``_``).

The student id is the LMS id (or the plain folder's name); with ``--roster CSV`` it is the
course's ``student_id``.  The roster is UTF-8 (a BOM, as Excel writes, is fine; separated by
``,``, ``;`` or tabs) with a header row: ``student_id`` is required, and any of ``lms_id``,
``login``, ``name`` (full name) or ``first_name`` + ``last_name`` identify the student::

    student_id,lms_id,login,name
    s001,1001,asmith,Alice Smith
    s002,,bivanov,Боб Иванов

A member matches a row by LMS id, by login, or by full name with its words in any order, compared
without case, accents, spaces or punctuation (``Alice Smith``, ``Smith Alice`` and ``smithalice``
are one name; ``ё`` is ``е``).  A key two students share is ambiguous: it never places anything.

Nothing is written outside DIR, links are neither extracted nor followed, oversized members are
skipped, existing files are never overwritten, and everything not placed is reported with the
reason.  Member names are decoded as the zip's author wrote them (`member_name`).
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import permutations
from pathlib import Path, PurePosixPath

MAX_MEMBER_BYTES = 50 * 2**20
UTF8_FLAG = 0x800                     # general purpose bit 11: the member's name is UTF-8
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_?$")
CANVAS = re.compile(r"^(?P<name>[^_]+)_(?:LATE_)?(?P<id>\d+)_\d+_(?P<file>.+)$")
PLAIN_ID = re.compile(r"[^\W_][\w.-]{0,99}")
CYRILLIC_EXTRAS = frozenset("№\u00a0")  # non-letters of CP866 a Russian name may hold
MAX_PERMUTED_WORDS = 5
SHOWN_REASONS = 5
ROSTER_COLUMNS = "student_id (required) and any of lms_id, login, name, first_name+last_name"
LAYOUTS = """accepted layouts (one per archive; details in autograder/README.md):
  Moodle:  <Full Name>_<id>_assignsubmission_file_/<file>   e.g. Alice Smith_1001_assignsubmission_file_/hw.ipynb
  Canvas:  <lastnamefirstname>_[LATE_]<id>_<n>_<file>        e.g. smithalice_12345_67890_hw.ipynb
  folders: <student>/<file> or <student>/{assignment}/<file>   e.g. alice/hw.ipynb"""
READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
               NotImplementedError, RuntimeError)


@dataclass
class CollectReport:
    placed: list = field(default_factory=list)           # (student_id, path) written now
    unchanged: list = field(default_factory=list)        # (student_id, path) already in DIR with the same bytes
    unmatched: list = field(default_factory=list)        # (zip member or archive, why it was not placed)
    roster_problems: list = field(default_factory=list)  # roster rows that cannot be used, and why


class RosterError(ValueError):
    """The roster cannot be used at all (unreadable, not UTF-8, no student_id column)."""


# --- member names ------------------------------------------------------------------------------
def member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as the zip's author wrote it, with ``/`` between folders.

    With the UTF-8 flag set, zipfile has decoded it already.  Without, zipfile decoded the raw
    bytes as CP437, which is reversible: they are recovered and read by `decode_name_bytes`.
    Backslashes (written by some Windows tools) count as folder separators.
    """
    name = info.orig_filename
    if not info.flag_bits & UTF8_FLAG:
        try:
            name = decode_name_bytes(name.encode("cp437"))
        except UnicodeEncodeError:  # a ZipInfo made in memory, not read from a zip: keep its name
            pass
    return name.replace("\\", "/")


def decode_name_bytes(raw: bytes) -> str:
    """Decode a member name stored without the UTF-8 flag.

    Strict UTF-8 first (Info-ZIP and macOS/Linux tools write UTF-8 without the flag); then CP866,
    which Windows uses for zip names on Russian systems, when that reads as Russian text; else
    CP437, the zip format's default.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = raw.decode("cp866")
    return text if _plausibly_cyrillic(text) else raw.decode("cp437")


def _plausibly_cyrillic(text: str) -> bool:
    """Every non-ASCII character is a Cyrillic letter (or № or a no-break space), no word mixing scripts.

    The second rule keeps Latin names in CP437 apart: "José" in CP437 reads "JosВ" in CP866.
    """
    if not all(ch.isascii() or ch in CYRILLIC_EXTRAS
               or (ch.isalpha() and unicodedata.name(ch, "").startswith("CYRILLIC")) for ch in text):
        return False
    return not any(not w.isascii() and re.search(r"[A-Za-z]", w) for w in re.findall(r"[^\W\d_]+", text))


def _unsafe(info: zipfile.ZipInfo, name: str) -> str | None:
    """Why a member is never extracted (unsafe path, hidden, link, too large), else None."""
    parts = PurePosixPath(name).parts
    if "\0" in name or name.startswith("/") or ".." in parts:
        return "unsafe path in archive"
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return "hidden file or system folder"
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return "symbolic link"
    if info.file_size > MAX_MEMBER_BYTES:
        return f"larger than {MAX_MEMBER_BYTES // 2**20} MiB"
    return None


# --- the roster ----------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    """A name's words, loosely: casefolded, marks dropped (é -> e, ё -> е), letters and digits of any script."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return re.findall(r"[^\W_]+", "".join(ch for ch in text if not unicodedata.category(ch).startswith("M")))


def name_keys(name: str) -> set[str]:
    """Every way an LMS may write a full name: its words in any order, joined without separators.

    Names of more than MAX_PERMUTED_WORDS words give their written and reversed orders only.
    """
    words = _words(name)
    orders = permutations(words) if len(words) <= MAX_PERMUTED_WORDS else (words, words[::-1])
    return {"".join(order) for order in orders} - {""}


def _login_key(login: str) -> str:
    """A login compared without case."""
    return unicodedata.normalize("NFC", login.strip()).casefold()


def _unusable_id(sid: str) -> bool:
    """A student id that cannot be one visible folder name."""
    return sid in ("", ".", "..") or sid.startswith(".") or any(c in sid for c in "/\\\0")


class Roster:
    """The course's student ids by key: (kind, value) -> every student id that has it."""

    KINDS = {"student_id": "student id", "lms_id": "LMS id", "login": "login", "name": "name"}

    def __init__(self):
        self.ids: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.problems: list[str] = []

    @classmethod
    def load(cls, path: Path) -> Roster:
        """Read a roster CSV (see the module docstring); rows without a usable student_id become `problems`."""
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RosterError(f"{path}: not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8'") from None
        except OSError as exc:
            raise RosterError(f"{path}: cannot read the roster ({exc.strerror or exc})") from None
        first_line = text.split("\n", 1)[0]
        reader = csv.DictReader(io.StringIO(text, newline=""),
                                delimiter=next((d for d in ",;\t" if d in first_line), ","))
        header = [(h or "").strip().lower() for h in reader.fieldnames or []]
        if "student_id" not in header:
            found = ", ".join(repr(h) for h in header) or "nothing (the file is empty)"
            raise RosterError(f"{path}: no 'student_id' column; a roster needs {ROSTER_COLUMNS}; "
                              f"its header has: {found}")
        reader.fieldnames = header
        roster = cls()
        for row in reader:
            roster._add_row(row, f"{path} line {reader.line_num}")
        return roster

    def _add_row(self, row: dict, where: str) -> None:
        """Index one roster row under each of its keys."""
        cell = lambda column: (row.get(column) or "").strip()  # noqa: E731
        full = " ".join(filter(None, (cell("first_name"), cell("last_name"))))
        sid = cell("student_id")
        if not sid:
            if any(isinstance(v, str) and v.strip() for v in row.values()):
                who = cell("name") or full or cell("login") or cell("lms_id") or "this row"
                self.problems.append(f"{where}: no student_id for {who!r}; its submissions are not placed")
            return
        if _unusable_id(sid):
            self.problems.append(f"{where}: student_id {sid!r} cannot be a folder name; its submissions are not placed")
            return
        self._add("student_id", sid, sid)
        self._add("lms_id", cell("lms_id"), sid)
        self._add("login", _login_key(cell("login")), sid)
        for key in name_keys(cell("name")) | name_keys(full):
            self._add("name", key, sid)

    def _add(self, kind: str, key: str, sid: str) -> None:
        if key:
            self.ids[(kind, key)].add(sid)

    def find(self, candidates: list[tuple[str, str]]) -> tuple[str | None, str]:
        """(student id, "") for the first candidate key that names one student, else (None, why not)."""
        ambiguous = None
        for kind, key in candidates:
            ids = self.ids.get((kind, key), set())
            if len(ids) == 1:
                return next(iter(ids)), ""
            if len(ids) > 1 and ambiguous is None:
                ambiguous = kind, ids
        if ambiguous:
            kind, ids = ambiguous
            return None, (f"matches several roster rows by {self.KINDS[kind]} ({' and '.join(sorted(ids))}); "
                          "ambiguous, not placed (add their lms_id or login to the roster)")
        return None, "is not in the roster"


# --- who a member belongs to ---------------------------------------------------------------------
def _lms_member(parts: tuple) -> tuple[str, str, str] | None:
    """(LMS id, person, file name): Moodle by the top-level folder only, Canvas by a top-level file; else None."""
    if len(parts) >= 2:
        m = MOODLE.match(parts[0])
        return (m["id"], m["name"], parts[-1]) if m else None
    m = CANVAS.match(parts[0]) if parts else None
    return (m["id"], m["name"], m["file"]) if m else None


def _plain_member(parts: tuple, assignment: str) -> tuple[str, str] | None:
    """(top-level folder, file name) of ``<folder>/<file>`` or ``<folder>/<assignment>/<file>``, else None."""
    if len(parts) == 2 or (len(parts) == 3 and parts[1] == assignment):
        return unicodedata.normalize("NFC", parts[0]), parts[-1]
    return None


def _lms_student(parts: tuple, roster: Roster | None) -> tuple[str, str] | str:
    """(student id, file name) of a Moodle/Canvas member, or why it is not placed."""
    who = _lms_member(parts)
    if who is None:
        return "file name matches neither Moodle's nor Canvas's pattern"
    lms_id, person, filename = who
    if roster is None:
        return lms_id, filename
    sid, why = roster.find([("lms_id", lms_id), ("login", _login_key(person)), ("name", "".join(_words(person)))])
    return (sid, filename) if sid else f"'{person}' (LMS id {lms_id}) {why}"


def _plain_student(parts: tuple, assignment: str, roster: Roster | None, with_notebooks: set) -> tuple[str, str] | str:
    """(student id, file name) of a member of a plain-folder archive, or why it is not placed."""
    plain = _plain_member(parts, assignment)
    if plain is None:
        return (f"no member follows Moodle's or Canvas's pattern, and this is neither <student>/<file> "
                f"nor <student>/{assignment}/<file>")
    folder, filename = plain
    if roster is not None:
        sid, why = roster.find([("student_id", folder), ("lms_id", folder), ("login", _login_key(folder))])
        return (sid, filename) if sid else f"folder '{folder}' {why}"
    if not PLAIN_ID.fullmatch(folder):
        return f"folder '{folder}' is not a plain student id (letters, digits, '.', '_', '-')"
    if folder not in with_notebooks:
        return f"folder '{folder}' holds no .ipynb at <student>/ or <student>/{assignment}/"
    return folder, filename


# --- writing -------------------------------------------------------------------------------------
@dataclass
class _Writer:
    """Writes members to ``out/<student>/<assignment>/``: never over a file, never through a link."""
    out: Path
    assignment: str
    notebook_names: list
    report: CollectReport
    written: set = field(default_factory=set)

    def place(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, member: str, sid: str, filename: str) -> None:
        """Write one member, or report why not (a second file of the same name, an existing file, unreadable)."""
        if filename.endswith(".ipynb") and len(self.notebook_names) == 1:
            filename = f"{self.notebook_names[0]}.ipynb"  # LMSs often rename uploads
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename).lstrip(".") or "file"
        folder = self.out / sid / self.assignment
        target = folder / safe
        if target in self.written:
            return self._skip(member, f"a second file named {safe} for student {sid}; kept the first")
        if (self.out / sid).is_symlink() or folder.is_symlink():
            return self._skip(member, f"{folder} goes through a symbolic link; not followed")
        try:
            with zf.open(info) as src:
                data = src.read(MAX_MEMBER_BYTES + 1)
        except READ_ERRORS as exc:
            return self._skip(member, f"cannot be read from the zip ({exc})")
        if len(data) > MAX_MEMBER_BYTES:
            return self._skip(member, "larger than allowed once decompressed")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as f:  # exclusive: fails on any existing file or link
                f.write(data)
        except FileExistsError:
            if _same_bytes(target, data):
                self.written.add(target)
                self.report.unchanged.append((sid, str(target)))
                return None
            return self._skip(member, f"{target} already exists (from an earlier run?); kept it, not overwritten")
        except OSError as exc:
            return self._skip(member, f"cannot write {target} ({exc.strerror or exc})")
        self.written.add(target)
        self.report.placed.append((sid, str(target)))
        return None

    def _skip(self, member: str, why: str) -> None:
        self.report.unmatched.append((member, why))


def _same_bytes(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file (not a link) holding exactly ``data``."""
    try:
        return (not path.is_symlink() and path.is_file() and path.stat().st_size == len(data)
                and path.read_bytes() == data)
    except OSError:
        return False


# --- the command ---------------------------------------------------------------------------------
def collect(archives: list[Path], assignment: str, out: Path, notebook_names: list[str],
            roster: Path | None = None) -> CollectReport:
    """Place every member of ``archives`` it can into ``out/<student>/<assignment>/``; report the rest.

    Raises RosterError when ``roster`` cannot be used at all.
    """
    report = CollectReport()
    people = Roster.load(roster) if roster is not None else None
    report.roster_problems = people.problems if people else []
    writer = _Writer(Path(out), assignment, notebook_names, report)
    for archive in archives:
        try:
            zf = zipfile.ZipFile(archive)
        except READ_ERRORS as exc:
            report.unmatched.append((str(archive), f"not a readable zip file ({exc})"))
            continue
        with zf:
            _collect_archive(zf, assignment, people, writer)
    return report


def _collect_archive(zf: zipfile.ZipFile, assignment: str, roster: Roster | None, writer: _Writer) -> None:
    """Decide the archive's layout, then place its members shallowest first (a top-level notebook wins over copies)."""
    members = []
    for info in zf.infolist():
        name = member_name(info)
        if name.endswith("/"):
            continue
        why = _unsafe(info, name)
        if why:
            writer.report.unmatched.append((name, why))
        else:
            members.append((PurePosixPath(name).parts, name, info))
    members.sort(key=lambda m: (len(m[0]), m[1]))
    lms = any(_lms_member(parts) for parts, _, _ in members)
    plain = [_plain_member(parts, assignment) for parts, name, _ in members if name.endswith(".ipynb")]
    with_notebooks = {folder_and_file[0] for folder_and_file in plain if folder_and_file}
    for parts, name, info in members:
        found = _lms_student(parts, roster) if lms else _plain_student(parts, assignment, roster, with_notebooks)
        if isinstance(found, str):
            writer.report.unmatched.append((name, found))
        else:
            writer.place(zf, info, name, *found)


def summarize(report: CollectReport, out: str, assignment: str) -> tuple[list[str], str, int]:
    """(lines for stdout, an error for stderr or "", exit status: 1 when nothing was placed, else 0)."""
    students = {sid for sid, _ in report.placed + report.unchanged}
    lines = [f"placed {len(report.placed)} files for {len(students)} students into {out}/<student>/{assignment}/"]
    if report.unchanged:
        lines.append(f"{len(report.unchanged)} files were already there with the same content; left as they are")
    lines += [f"roster: {problem}" for problem in report.roster_problems]
    lines += [f"not matched: {member}: {why}" for member, why in report.unmatched]
    if report.placed or report.unchanged:
        return lines, "", 0
    if report.unmatched:
        shown = "\n".join(f"  {member}: {why}" for member, why in report.unmatched[:SHOWN_REASONS])
        more = f"\n  ... and {len(report.unmatched) - SHOWN_REASONS} more above" \
            if len(report.unmatched) > SHOWN_REASONS else ""
        why = f"{len(report.unmatched)} members did not match:\n{shown}{more}"
    else:
        why = "the archives hold no files"
    return lines, f"error: placed nothing: {why}\n{LAYOUTS.format(assignment=assignment)}", 1
