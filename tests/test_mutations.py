"""Fair assignments: every realistic mistake in tests/mutants/<assignment>.py is caught by the test that targets it
and costs nothing elsewhere (graded through the real sandbox, all mutants of an assignment in one batch); the honest
solution passes every test on 200 secret seeds; the mutants are caught on most seeds (5 per mutant), not by luck."""
import json
import re
import shutil
from pathlib import Path

import pytest

from autograder import grading, mutation, sandbox, selfcheck
from autograder.batch import grade
from autograder.assignment import Assignment
from autograder.samples import answer_sources, fill

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = {p.stem: p for p in sorted((ROOT / "tests" / "mutants").glob("*.py")) if not p.stem.startswith("_")}
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
MIN_MUTANTS = 12


def test_every_assignment_has_a_catalogue_of_at_least_12_mistakes():
    counts = {a: len(mutation.load_catalogue(CATALOGUES[a])) if a in CATALOGUES else 0 for a in ASSIGNMENTS}
    assert all(n >= MIN_MUTANTS for n in counts.values()), counts


def test_solutions_readme_reports_each_mutation_score():
    """solutions/README.md has a row `| assignment | caught / total | ...` per catalogue, with the current total."""
    text = (ROOT / "solutions" / "README.md").read_text()
    for name, path in CATALOGUES.items():
        total = len(mutation.load_catalogue(path))
        row = re.search(rf"^\|\s*{name}\s*\|\s*(\d+)\s*/\s*(\d+)\s*\|", text, re.M)
        assert row, f"solutions/README.md has no mutation-score row for {name}"
        assert int(row.group(2)) == total and int(row.group(1)) == total, (name, row.group(0), total)


def _dependents(assignment: Assignment) -> dict[str, list[str]]:
    return {c.key: grading.trace_test(c, 0, cells).depends
            for cells in assignment.notebooks.values() for c in cells if c.role == "test"}


@pytest.fixture(scope="module", params=sorted(CATALOGUES))
def graded_mutants(request, tmp_path_factory):
    """Every mutant of one assignment (and the honest solution) graded through the sandbox in one batch."""
    name = request.param
    sandbox.check_available()
    tmp = tmp_path_factory.mktemp(f"mutants_{name}")
    course = tmp / "course"
    course.mkdir()
    shutil.copy(ROOT / "course" / "nbgrader_config.py", course)
    (tmp / "solutions").symlink_to(ROOT / "solutions")
    assignment = Assignment.load(ROOT / "solutions", name)
    mutants = mutation.load_catalogue(CATALOGUES[name])
    for nb in assignment.notebooks:
        source = json.loads((ROOT / "solutions" / name / f"{nb}.ipynb").read_text())
        release = json.loads((ROOT / "assignments" / name / f"{nb}.ipynb").read_text())
        honest = answer_sources(source)
        variants = {"honest": honest}
        variants.update({m.name: mutation.apply(m, honest) for m in mutants if (m.notebook or nb) == nb})
        for student, answers in variants.items():
            folder = tmp / "submitted" / student / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{nb}.ipynb").write_text(json.dumps(fill(release, answers)))
    results, crashed, _ = grade(name, tmp / "submitted", tmp / "out", workers=2, course=course, sandboxed=True,
                                secret=2026, progress=False, record_gradebook=False)
    return name, assignment, mutants, {r.student_id: r for r in results}, crashed


def test_the_honest_solution_keeps_full_marks_beside_its_mutants(graded_mutants):
    name, assignment, _, results, crashed = graded_mutants
    assert not crashed
    honest = results["honest"]
    assert honest.score == assignment.max_score, [t for t in honest.tests if not t.passed]


def test_each_mutant_costs_points_in_its_target_and_only_there(graded_mutants):
    name, assignment, mutants, results, _ = graded_mutants
    tests = assignment.test_names
    dependents = _dependents(assignment)
    problems = {}
    for m in mutants:
        r = results[m.name]
        lost = {t.test_id: float(t.points < t.max_points) for t in r.tests}
        messages = {t.test_id: t.message for t in r.tests if t.points < t.max_points}
        verdict = mutation.judge(m, lost, messages, tests, dependents, most=1.0)
        if verdict.problems:
            problems[m.name] = verdict.problems
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_honest_solution_passes_every_test_on_200_secret_seeds(name):
    report = selfcheck.selfcheck(Assignment.load(ROOT / "solutions", name), seeds=200)
    assert not report.flaky, selfcheck.format_report(report)


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_mutants_are_caught_on_most_seeds_not_by_luck(name):
    report = selfcheck.selfcheck(Assignment.load(ROOT / "solutions", name), seeds=1,
                                 mutants=mutation.load_catalogue(CATALOGUES[name]), mutant_seeds=5)
    assert report.ok, selfcheck.format_report(report)
