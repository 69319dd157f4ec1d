"""Answers that are near-copies of nnkit's source or of another student's answer: a flag for a human.

Each answer cell of each submission is fingerprinted with copydetect (winnowed k-grams of the code
after names, strings and layout are normalised, so renamed variables and reformatting do not hide a
copy) and compared with

* the source of the course's reference library (``c.Autograder.similarity_packages``: ``["nnkit"]`` in
  this course, which students install for the lectures; none by default), and
* the same answer cell of every other student graded in the batch.

Code the release gives (the stubs' signatures, locked cells, visible tests) is boilerplate: it never
counts.  A cell's score is the share of its normalised code found in the other text.  At or above
the course's threshold (``c.Autograder.similarity_threshold`` in ``nbgrader_config.py``, default
0.7) the cell is flagged for review, with the matching passages side by side; a flag never changes
a score.  Student text is only tokenised here, never run.
"""
from __future__ import annotations

import difflib
import io
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

K = 25                 # copydetect's noise threshold: characters of normalised code per fingerprint
WINDOW = 1             # winnowing window (1: every k-gram; cells are short)
MIN_OVERLAP = 100      # normalised characters in common before anything counts (short answers are everyone's)
MAX_CELL_CHARS = 50_000
DEFAULT_THRESHOLD = 0.7
COMMON_SHARE = 0.2     # a fingerprint in more than this share of a large batch is an idiom, not a copy
MAX_PASSAGES = 3
SOLUTION_REGION = re.compile(r"^\s*### BEGIN SOLUTION\s*$.*?^\s*### END SOLUTION\s*$\n?", re.M | re.S)


@dataclass
class Answer:
    student: str
    notebook: str
    cell: str              # the answer cell's grade_id (a cell the student added: "added:<label>")
    label: str             # where it is, as Jupyter shows it
    source: str


@dataclass
class Match:
    notebook: str
    cell: str
    label: str
    score: float           # share of the answer's normalised code found in ``other``
    other: str             # "nnkit/functional/activations.py" or "student <id>"
    passages: list = field(default_factory=list)   # [{"mine": ..., "theirs": ...}]

    def what(self) -> str:
        return f"{self.score:.0%} of it matches {self.other} {FLAG_MARK}"

    def flag(self) -> str:
        return f"{self.notebook}: {self.label}: {self.what()}"

    @classmethod
    def from_json(cls, doc: dict) -> "Match":
        return cls(**doc)


FLAG_MARK = "(similarity; compare the passages)"


def is_similarity_flag(flag: str) -> bool:
    """Similarity flags name another student: they stay with the instructor (never in a student's feedback)."""
    return flag.endswith(FLAG_MARK)


def _fingerprint(text: str, boilerplate=None):
    from copydetect import CodeFingerprint
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CodeFingerprint("answer.py", K, WINDOW, boilerplate=boilerplate, language="python",  # no lexer search
                               fp=io.StringIO(text[:MAX_CELL_CHARS]))


def boilerplate_hashes(texts: list[str]) -> np.ndarray:
    """Fingerprints of the code the release gives: they never count as copying."""
    hashes = set().union(*(_fingerprint(t).hashes for t in texts if t.strip()))
    return np.array(sorted(hashes), dtype=np.int64)


def package_sources(packages=("nnkit",)) -> dict[str, str]:
    """Every module of the installed ``packages`` (the libraries students have that hold answers), by path."""
    import importlib
    sources = {}
    for name in packages:
        root = Path(importlib.import_module(name).__file__).resolve().parent
        sources.update({str(p.relative_to(root.parent)): p.read_text(encoding="utf-8")
                        for p in sorted(root.rglob("*.py"))})
    return sources


def _slices(slices) -> list[tuple[int, int]]:
    starts, ends = slices
    return [(int(s), int(e)) for s, e in zip(np.asarray(starts).ravel(), np.asarray(ends).ravel())]


def _passages(mine_text: str, mine, theirs_text: str, theirs) -> list[dict]:
    """The longest matching passages of the answer, each beside the passage of the other text most like it."""
    mine = sorted(_slices(mine), key=lambda s: s[0] - s[1])[:MAX_PASSAGES]
    candidates = [theirs_text[s:e] for s, e in _slices(theirs)]
    out = []
    for s, e in sorted(mine):
        text = mine_text[s:e]
        best = max(candidates, key=lambda c: difflib.SequenceMatcher(None, c, text, autojunk=False).ratio(),
                   default="")
        out.append({"mine": text, "theirs": best})
    return out


def _compare(a, b) -> tuple[float, int, tuple, tuple]:
    from copydetect import compare_files
    overlap, sims, slices = compare_files(a, b)
    if not overlap:
        return 0.0, 0, ([], []), ([], [])
    return float(sims[0]), int(overlap), slices[0], slices[1]


def find_copies(answers: list[Answer], given_code: list[str], threshold: float = DEFAULT_THRESHOLD,
                corpus: dict[str, str] | None = None) -> dict[str, list[Match]]:
    """student -> their answer cells that reach ``threshold`` against the corpus (nnkit) or another student.

    ``given_code``: the release's code (boilerplate).  Each cell reports its best match in the corpus and
    its best match among the other students.
    """
    corpus = package_sources() if corpus is None else corpus
    boiler = boilerplate_hashes(given_code)
    # Only each answer's hashes are kept (a full copydetect fingerprint is ~100 times the answer's size); the few
    # answers that share a passage with something are fingerprinted again when compared.
    hashes = [np.fromiter(_fingerprint(a.source, boiler).hashes, dtype=np.int64) for a in answers]

    @lru_cache(maxsize=64)
    def fingerprint(i: int):
        return _fingerprint(answers[i].source, boiler)

    corpus_prints = {name: _fingerprint(text, boiler) for name, text in corpus.items()}
    corpus_index = defaultdict(set)
    for name, fp in corpus_prints.items():
        for h in fp.hashes:
            corpus_index[int(h)].add(name)

    found: dict[str, list[Match]] = defaultdict(list)

    def consider(i, other_name, other_fp, other_text):
        score, overlap, mine, theirs = _compare(fingerprint(i), other_fp)
        if overlap >= MIN_OVERLAP and score >= threshold:
            a = answers[i]
            return Match(a.notebook, a.cell, a.label, round(score, 3), other_name,
                         _passages(fingerprint(i).raw_code, mine, other_text, theirs))
        return None

    # against nnkit: only the modules sharing a fingerprint with the answer
    for i, own in enumerate(hashes):
        names = set().union(*(corpus_index.get(int(h), set()) for h in own))
        best = None
        for name in sorted(names):
            m = consider(i, name, corpus_prints[name], corpus[name])
            if m and (best is None or m.score > best.score):
                best = m
        if best:
            found[answers[i].student].append(best)

    # against the other students: the same answer cell, pairs sharing a fingerprint that is not an idiom
    by_cell = defaultdict(list)
    for i, a in enumerate(answers):
        by_cell[(a.notebook, a.cell)].append(i)
    for members in by_cell.values():
        holders = defaultdict(set)
        for i in members:
            for h in hashes[i]:
                holders[int(h)].add(i)
        students = len({answers[i].student for i in members})
        common = max(5, COMMON_SHARE * students)
        pairs = set()
        for group in holders.values():
            if 1 < len(group) <= common:
                pairs |= {(i, j) for i in group for j in group if i != j and answers[i].student != answers[j].student}
        best: dict[int, Match] = {}
        for i, j in sorted(pairs):
            m = consider(i, f"student {answers[j].student}", fingerprint(j), answers[j].source)
            if m and (i not in best or m.score > best[i].score):
                best[i] = m
        for i, m in best.items():
            found[answers[i].student].append(m)
    return dict(found)


# ---------------------------------------------------------------------------------------------
# a batch of submissions
# ---------------------------------------------------------------------------------------------
def given_code(assignment) -> list[str]:
    """The code a student receives: locked cells, visible tests, and the answer cells outside their solution regions."""
    from .notebook import _strip_hidden
    texts = []
    for cells in assignment.notebooks.values():
        for c in cells:
            if not c.is_code:
                continue
            if c.role in ("answer", "manual"):
                texts.append(SOLUTION_REGION.sub("", c.source))
            else:
                texts.append(_strip_hidden(c.source))
    return texts


def answers_of(assignment, student_dir: Path, student: str) -> list[Answer]:
    """The code cells a student wrote (answer cells and cells they added), read as text; unreadable notebooks give none."""
    from .notebook import NotebookError, merge, read_notebook
    found, _ = assignment.locate_notebooks(student_dir)
    answers = []
    for nb, path in found.items():
        try:
            merged = merge(assignment.notebooks[nb], read_notebook(path))
        except NotebookError:
            continue
        source_keys = {c.key for c in assignment.notebooks[nb]}
        for c in merged.cells:
            if c.role in ("answer", "manual", "plain") and c.source.strip():
                key = c.key if c.key in source_keys else f"added:{c.label}"
                answers.append(Answer(student, nb, key, c.label, c.source))
    return answers


def batch_matches(assignment, submissions: Path, threshold: float, packages=("nnkit",)) -> dict[str, list[Match]]:
    """student -> their answer cells that are near-copies; every student folder in ``submissions`` is compared,
    and the source of ``packages`` (the course's reference library)."""
    from .submissions import list_students
    answers = []
    for folder in list_students(submissions, assignment.name):
        if not folder.refusal:
            answers.extend(answers_of(assignment, folder.path / assignment.name, folder.student_id))
    return find_copies(answers, given_code(assignment), threshold, package_sources(packages))


def apply_matches(result, matches: list[Match]) -> int:
    """The matches go to ``result.similarity`` (report.json, the similarity column of grades.csv, the banner of the
    autograded notebook) and a line each to ``result.flags``; returns how many."""
    for m in matches:
        result.similarity.append(m)
        result.flag(m.notebook, m.label, m.what())
    return len(matches)
