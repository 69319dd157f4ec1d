"""Each mistake costs its own points: the instructor's helpers for one test (use_reference), stated dependencies
(depends_on), judged promises (expect_no_warnings), and the self-check that runs many seeds and mutants."""
import textwrap

import nbformat
import numpy as np
import pytest

from autograder import checks, grading, mutation, references, sandbox, selfcheck
from autograder.assignment import Assignment
from autograder.checks import AuthoringError, expect_no_warnings, student, tracing, use_reference
from autograder.notebook import read_notebook

IMPORTS = "import numpy as np"
HELPERS = '''
def sigmoid(z):
    ### BEGIN SOLUTION
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    ### END SOLUTION
'''
SILU = '''
def silu(z):
    ### BEGIN SOLUTION
    return z * sigmoid(z)
    ### END SOLUTION
'''
TEST_SIGMOID = '''
from autograder.checks import student, expect_close, expect_no_warnings
import numpy as np
import nnkit.functional as F
x = np.array([-1000.0, -1.0, 0.0, 2.0, 1000.0])
expect_close(student.sigmoid(x), F.sigmoid(x), "sigmoid at -1000, -1, 0, 2, 1000")
expect_no_warnings(student.sigmoid, (x,), "sigmoid at -1000 and 1000 without warnings")
'''
TEST_SILU = '''
from autograder.checks import student, expect_close, use_reference
import numpy as np
import nnkit.functional as F
use_reference("sigmoid")
x = np.array([-3.0, 0.0, 0.5, 4.0])
expect_close(student.silu(x), F.silu(x), "silu at -3, 0, 0.5, 4")
'''
TEST_SILU_STATED = '''
from autograder.checks import student, expect_close, depends_on
import numpy as np
import nnkit.functional as F
depends_on("test_sigmoid")
x = np.array([-3.0, 0.0, 0.5, 4.0])
expect_close(student.silu(x), F.silu(x), "silu with your sigmoid at -3, 0, 0.5, 4")
'''


def _cell(kind, source, **nbgrader):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(textwrap.dedent(source).strip())
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "solution": False, "grade": False,
                                     **nbgrader}
    return cell


def write_source(folder, silu_test=TEST_SILU):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("code", IMPORTS, grade_id="imports", locked=True),
        _cell("code", HELPERS, grade_id="helpers", solution=True),
        _cell("code", TEST_SIGMOID, grade_id="test_sigmoid", grade=True, locked=True, points=1),
        _cell("code", SILU, grade_id="silu", solution=True),
        _cell("code", silu_test, grade_id="test_silu", grade=True, locked=True, points=2),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "act.ipynb")
    return folder / "act.ipynb"


def submission(path, sigmoid_body, silu_body="return z * sigmoid(z)"):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "helpers":
            cell.source = f"def sigmoid(z):\n    {sigmoid_body}"
        elif gid == "silu":
            cell.source = f"def silu(z):\n    {silu_body}"
    out = path.parent.parent / "sub" / f"{abs(hash((sigmoid_body, silu_body)))}.ipynb"
    out.parent.mkdir(exist_ok=True)
    nbformat.write(nb, out)
    return out


def grade(source, sub_path):
    cells = read_notebook(source)
    return grading.grade_notebook("act", cells, sub_path, "alice", 7, sandbox.Limits(), sandboxed=True)


# ---------------------------------------------------------------------------------------------
def test_reference_code_brings_the_solution_names_it_uses(tmp_path):
    cells = read_notebook(write_source(tmp_path / "a"))
    code = references.reference_code(cells, ["silu"])
    assert "def silu" in code and "def sigmoid" in code and "BEGIN SOLUTION" in code
    namespace = {"np": np}
    exec(code, namespace)
    assert namespace["silu"](np.array([0.0]))[0] == 0.0
    assert "def silu" not in references.reference_code(cells, ["sigmoid"])


def test_reference_code_refuses_unknown_names(tmp_path):
    cells = read_notebook(write_source(tmp_path / "a"))
    with pytest.raises(AuthoringError, match="tanh not defined"):
        references.reference_code(cells, ["tanh"])


def test_reference_code_refuses_a_solution_that_needs_an_undefined_global(tmp_path):
    source = write_source(tmp_path / "a")
    nb = nbformat.read(source, as_version=4)
    nb.cells[3].source = "def silu(z):\n    return z * sigmoid(z) * SCALE"
    nbformat.write(nb, source)
    with pytest.raises(AuthoringError, match="SCALE"):
        references.reference_code(read_notebook(source), ["silu"])


def test_a_test_may_not_replace_what_it_grades(tmp_path):
    source = write_source(tmp_path / "a", TEST_SILU.replace('use_reference("sigmoid")', 'use_reference("silu")'))
    cells = read_notebook(source)
    with pytest.raises(grading.GraderError, match="grades silu but also replaces it"):
        grading.trace_test(cells[4], 1, cells)


@pytest.fixture(scope="module")
def available():
    sandbox.check_available()


def test_a_wrong_helper_costs_only_its_own_test_in_the_sandbox(tmp_path, available):
    source = write_source(tmp_path / "src")
    float64 = submission(source, "return (1 / (1 + np.exp(-z))).astype(np.float32) * 0 + 0.5")  # wrong everywhere
    result = grade(source, float64)
    verdicts = {t.test_id: t for t in result.tests}
    assert not verdicts["test_sigmoid"].passed and verdicts["test_silu"].passed, verdicts
    assert result.score == 2


def test_the_students_helper_is_back_after_the_test(tmp_path, available):
    """The swap lasts one test: the next test (and a second notebook run) sees the student's own function."""
    source = write_source(tmp_path / "src")
    nb = nbformat.read(source, as_version=4)
    nb.cells.append(_cell("code", TEST_SIGMOID.replace("sigmoid at", "again: sigmoid at"), grade_id="test_again",
                          grade=True, locked=True, points=1))
    nbformat.write(nb, source)
    wrong = submission(source, "return np.zeros_like(z) + 0.5")
    verdicts = {t.test_id: t.passed for t in grade(source, wrong).tests}
    assert verdicts == {"test_sigmoid": False, "test_silu": True, "test_again": False}


def test_a_naive_sigmoid_is_caught_by_its_warning(tmp_path, available):
    source = write_source(tmp_path / "src")
    naive = submission(source, "return 1 / (1 + np.exp(-z))")
    verdicts = {t.test_id: t for t in grade(source, naive).tests}
    assert not verdicts["test_sigmoid"].passed
    assert "without warnings: emitted a warning: RuntimeWarning: overflow encountered in exp" in \
        verdicts["test_sigmoid"].message
    assert verdicts["test_silu"].passed


def test_a_stated_dependency_points_at_the_cause(tmp_path, available):
    source = write_source(tmp_path / "src", TEST_SILU_STATED)
    wrong = submission(source, "return np.zeros_like(z) + 0.5")
    verdicts = {t.test_id: t for t in grade(source, wrong).tests}
    assert not verdicts["test_silu"].passed
    assert "uses your answers checked by test_sigmoid, which failed too: fix that first" in verdicts["test_silu"].message
    # a silu that is wrong on its own, with a right sigmoid: no such hint
    own = submission(source, "e = np.exp(-np.abs(z))\n    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))",
                     silu_body="return z")
    verdicts = {t.test_id: t for t in grade(source, own).tests}
    assert not verdicts["test_silu"].passed and "fix that first" not in verdicts["test_silu"].message


def test_a_student_who_breaks_builtins_loses_the_test_not_the_grader(tmp_path, available):
    source = write_source(tmp_path / "src")
    broken = submission(source, "return z", silu_body="return z * sigmoid(z)\nimport builtins\nbuiltins.exec = None")
    result = grade(source, broken)
    assert result.status == "graded" and result.score == 0
    assert "instructor's helpers could not be set up" in {t.test_id: t for t in result.tests}["test_silu"].message


# ---------------------------------------------------------------------------------------------
@pytest.fixture
def user_ns(monkeypatch):
    ns = {}
    monkeypatch.setattr(checks, "_user_namespace", lambda: ns)
    return ns


def test_eager_no_warnings_passes_a_quiet_call_and_names_the_warning(user_ns):
    user_ns["quiet"] = lambda z: np.exp(-np.abs(z))
    user_ns["loud"] = lambda z: np.exp(z)
    expect_no_warnings(student.quiet, (np.array([1000.0]),), "quiet")
    with pytest.raises(AssertionError, match="loud at 1000: emitted a warning: RuntimeWarning: overflow"):
        expect_no_warnings(student.loud, (np.array([1000.0]),), "loud at 1000")
    user_ns["crash"] = lambda z: 1 / 0
    with pytest.raises(AssertionError, match="raised ZeroDivisionError"):
        expect_no_warnings(student.crash, (1,), "crash")


def test_eager_failure_says_the_students_own_helper_was_used(user_ns):
    user_ns["silu"] = lambda z: z
    use_reference("sigmoid")
    with pytest.raises(AssertionError, match="this test ran with your `sigmoid`; when grading, the instructor's"):
        checks.expect_close(student.silu(np.array([1.0])), np.array([0.731]), "silu(1)", atol=1e-3)


def test_trace_records_references_and_quiet_calls():
    with tracing(1) as trace:
        use_reference("sigmoid", "tanh")
        expect_no_warnings(student.sigmoid, (np.zeros(2),), "quiet")
    assert trace.references == ["sigmoid", "tanh"]
    assert [s["op"] for s in trace.steps] == ["name", "call_quiet"]
    assert trace.expectations[0].kind == "quiet"
    with pytest.raises(AuthoringError):
        with tracing(1):
            use_reference()


# ---------------------------------------------------------------------------------------------
def test_selfcheck_finds_a_cascade_and_an_escape_and_passes_a_fair_catalogue(tmp_path):
    write_source(tmp_path / "solutions" / "act")
    assignment = Assignment.load(tmp_path / "solutions", "act")
    mutants = [
        mutation.Mutant("constant", cell="helpers", find="return np.where(z >= 0, 1 / (1 + e), e / (1 + e))",
                        replace="return 0.5 + 0 * z", targets=("test_sigmoid",), function="sigmoid"),
        mutation.Mutant("naive", cell="helpers",
                        find="e = np.exp(-np.abs(z))\n    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))",
                        replace="return 1 / (1 + np.exp(-z))", targets=("test_sigmoid",), function="sigmoid"),
        mutation.Mutant("silu_wrong", cell="silu", find="z * sigmoid(z)", replace="sigmoid(z)",
                        targets=("test_silu",), function="silu"),
        mutation.Mutant("escapes", cell="silu", find="z * sigmoid(z)", replace="sigmoid(z) * z",
                        targets=("test_silu",), function="silu"),
    ]
    report = selfcheck.selfcheck(assignment, seeds=3, mutants=mutants, mutant_seeds=2)
    assert not report.flaky
    problems = {v.mutant.name: v.problems for v in report.verdicts}
    assert problems["constant"] == [] and problems["naive"] == [] and problems["silu_wrong"] == []
    assert problems["escapes"] and "escaped" in problems["escapes"][0]
    text = selfcheck.format_report(report)
    assert "mutants: 3/4 caught" in text


def test_selfcheck_reports_a_cascade(tmp_path):
    write_source(tmp_path / "solutions" / "act", TEST_SILU.replace('use_reference("sigmoid")', ""))
    assignment = Assignment.load(tmp_path / "solutions", "act")
    constant = mutation.Mutant("constant", cell="helpers", find="return np.where(z >= 0, 1 / (1 + e), e / (1 + e))",
                               replace="return 0.5 + 0 * z", targets=("test_sigmoid",), function="sigmoid")
    report = selfcheck.selfcheck(assignment, seeds=2, mutants=[constant], mutant_seeds=1)
    assert report.verdicts[0].problems[0].startswith("cascades: also costs test_silu")


def test_a_mutant_must_change_exactly_one_place():
    m = mutation.Mutant("m", cell="c", find="x", replace="y", targets=("t",), function="f")
    with pytest.raises(ValueError, match="occurs 2 times"):
        mutation.apply(m, {"c": "x + x"})
    with pytest.raises(ValueError, match="no answer cell"):
        mutation.apply(m, {"d": "x"})
    with pytest.raises(TypeError):
        mutation.Mutant("m", cell="c", find="x", replace="y", targets="t", function="f")


def test_a_local_that_shares_a_locked_cells_name_is_not_a_dependency(tmp_path):
    """A solution's local `rng` is not the locked demo cell's global `rng` (whose code would not run alone)."""
    source = write_source(tmp_path / "a")
    nb = nbformat.read(source, as_version=4)
    nb.cells[3].source = ("def silu(z):\n    ### BEGIN SOLUTION\n    rng = np.random.default_rng(1)\n"
                          "    noise = 0 * rng.normal()\n    return z * sigmoid(z) + noise\n    ### END SOLUTION")
    nb.cells.append(_cell("code", "rng = np.random.default_rng(0)\nx_demo = rng.normal(size=3)", grade_id="demo",
                          locked=True))
    nbformat.write(nb, source)
    code = references.reference_code(read_notebook(source), ["silu"])
    assert "default_rng(0)" not in code and "x_demo" not in code and "def sigmoid" in code


def test_selfcheck_skips_only_locked_cells_no_later_code_reads():
    from autograder.notebook import Cell
    cells = [Cell(0, "code", "import numpy as np", "imports", "locked"),
             Cell(1, "code", "def f(x):\n    return helper(x)", "f", "answer"),
             Cell(2, "code", "def helper(x):\n    rng = 1\n    return x + rng", "helper", "locked"),
             Cell(3, "code", "fig = plot(f(np.arange(3)))", "plot_f", "locked"),
             Cell(4, "code", "data = np.ones(3)", "data", "locked"),
             Cell(5, "code", "# set-up: defines nothing", "setup", "locked"),
             Cell(6, "code", "rng = 2\nexpect_close(student.f(data), np.ones(3) + 1, 'f(data)')", "test_f", "test")]
    # the test reads f (as student.f) and data; f reads helper; nothing reads fig; the test's own rng is its own
    assert selfcheck.demo_cells(cells, {"f": cells[1].source}) == {"plot_f"}
    # a mutant whose answer reads the demo's name keeps the demo cell
    assert selfcheck.demo_cells(cells, {"f": "def f(x):\n    return helper(x) + len(fig)"}) == set()


def test_selfcheck_gives_the_same_report_in_one_process_and_in_forked_workers(tmp_path):
    write_source(tmp_path / "solutions" / "act")
    assignment = Assignment.load(tmp_path / "solutions", "act")
    mutants = [mutation.Mutant("constant", cell="helpers", find="return np.where(z >= 0, 1 / (1 + e), e / (1 + e))",
                               replace="return 0.5 + 0 * z", targets=("test_sigmoid",), function="sigmoid"),
               mutation.Mutant("escapes", cell="silu", find="z * sigmoid(z)", replace="sigmoid(z) * z",
                               targets=("test_silu",), function="silu")]
    one, two = (selfcheck.selfcheck(assignment, seeds=4, mutants=mutants, mutant_seeds=2, workers=w) for w in (1, 2))
    assert {t: (r.runs, r.passed) for t, r in one.honest.items()} == {t: (r.runs, r.passed) for t, r in two.honest.items()}
    assert [(v.mutant.name, v.lost, v.problems) for v in one.verdicts] == \
        [(v.mutant.name, v.lost, v.problems) for v in two.verdicts]
