"""What the grader writes: ``grades.csv``, ``report.json`` and per-student HTML feedback.

Feedback names each test with its points and the judge's message (expected shape, maximum error,
the first mismatching entry) -- never a test's source, so hidden tests stay hidden.
"""
from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Iterable

from .grading import SubmissionResult

CSV_COLUMNS = ["student_id", "assignment", "score", "max_score", "manual_points_pending", "status", "flags", "reasons",
               "flag_reasons", "similarity"]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula: a leading ``'`` before = + - @ tab CR (OWASP)."""
    value = str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def grades_row(r: SubmissionResult) -> list:
    return [csv_text(r.student_id), csv_text(r.assignment), f"{r.score:g}", f"{r.max_score:g}", f"{r.manual_max:g}",
            csv_text(r.status), len(r.flags), csv_text(" | ".join(r.reasons)), csv_text(" | ".join(r.flags)),
            _highest_similarity(r)]


def write_grades_csv(results: Iterable[SubmissionResult], path: Path) -> None:
    """One row per submission, sorted by student; text cells are defused against formula injection, numbers stay
    numbers.  ``results`` may be a generator: only the rows are kept."""
    rows = sorted((grades_row(r) for r in results), key=lambda row: row[0])
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)


def _highest_similarity(result: SubmissionResult) -> str:
    """The highest share of an answer cell found elsewhere (nnkit or a classmate), when one was flagged."""
    scores = [m.score for m in result.similarity]
    return f"{max(scores):.2f}" if scores else ""


def write_report_json(results: Iterable[SubmissionResult], path: Path, meta: dict) -> None:
    """``{"meta": ..., "submissions": [...]}``, written one submission at a time (a list is sorted by student
    first; a generator is written in its own order)."""
    if isinstance(results, list):
        results = sorted(results, key=lambda r: r.student_id)
    with open(path, "w") as f:
        f.write('{\n "meta": ' + json.dumps(meta, default=json_default) + ',\n "submissions": [')
        for i, r in enumerate(results):
            f.write(("," if i else "") + "\n  " + json.dumps(r.to_json(), default=json_default))
        f.write("\n ]\n}\n")


def json_default(value):
    if hasattr(value, "item"):     # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def grade_table(results: Iterable[SubmissionResult]) -> list[str]:
    """The grade table, then every flag with its reason (flags ask a human to look; they change no score)."""
    rows, flagged = [], []
    for r in sorted(results, key=lambda r: r.student_id) if isinstance(results, list) else results:
        note = r.reasons[0] if r.reasons else ""
        rows.append((r.student_id, f"{r.score:>5g} / {r.max_score:<3g}", len(r.flags), note[:70]))
        flagged += [(r.student_id, flag) for flag in r.flags]
    width = max([len("student")] + [len(row[0]) for row in rows])
    lines = [f"{'student':<{width}}  {'score':>11}  flags  notes"]
    lines += [f"{sid:<{width}}  {score}  {flags:>5}  {note}" for sid, score, flags, note in rows]
    if flagged:
        lines.append(f"\nflagged for review ({len({sid for sid, _ in flagged})}):")
        lines += [f"  {sid}: {flag}" for sid, flag in flagged]
    return lines


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; vertical-align: top; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; }
.note { background: #fff8c5; padding: .5rem .8rem; border-radius: 4px; margin: .3rem 0; }
code { background: #f3f3f3; padding: 0 .2rem; }
"""


def feedback_html(result: SubmissionResult, notebook: str) -> str:
    e = html.escape
    tests = [t for t in result.tests if t.notebook == notebook]
    got = sum(t.points for t in tests)
    total = sum(t.max_points for t in tests)
    rows = "\n".join(
        f"<tr><td><code>{e(t.test_id)}</code></td><td>{t.points:g} / {t.max_points:g}</td>"
        f"<td class={'pass' if t.passed else 'fail'}>{'passed' if t.passed else 'failed'}</td>"
        f"<td>{e(t.message)}</td></tr>" for t in tests)
    found = result.findings(notebook)
    shared = [n for n in result.reasons if not any(n in f["notes"] for f in result.by_notebook.values())]
    notes = "".join(f"<div class=note>{e(n)}</div>" for n in shared + found["notes"])
    errors = "".join(f"<li><code>{e(err)}</code></li>" for err in found["cell_errors"])
    manual = (f"<p>Written answers ({result.manual_max:g} points) are graded by hand and are not included above.</p>"
              if result.manual_max else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback: {e(result.assignment)} / {e(notebook)}</title>
<style>{STYLE}</style></head><body>
<h1>Feedback: {e(result.assignment)} — {e(notebook)}.ipynb</h1>
<p>Student: <code>{e(result.student_id)}</code>. Automatically graded score: <b>{got:g} / {total:g}</b>.</p>
{notes}
<table><thead><tr><th>test</th><th>points</th><th>result</th><th>details</th></tr></thead>
<tbody>
{rows}
</tbody></table>
{manual}
{"<h2>Cells that raised an error</h2><ul>" + errors + "</ul>" if errors else ""}
<p>Each test calls your code on fresh random inputs chosen when grading and compares the results with the
course's reference implementation. Run the visible tests in your notebook to check yourself.</p>
</body></html>
"""


def write_feedback(result: SubmissionResult, notebooks: list[str], out_dir: Path) -> list[Path]:
    folder = out_dir / result.student_id / result.assignment
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for nb in notebooks:
        path = folder / f"{nb}.html"
        path.write_text(feedback_html(result, nb))
        paths.append(path)
    return paths
