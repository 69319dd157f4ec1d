"""The student kit (`make student-kit`): a student with only the kit, in a fresh environment outside the repository,
installs one wheel and the released notebooks' visible tests pass on honest answers; without the wheel, the first cell
says what to install; links reach the lecture pages of the course site in the kit; nothing of the solutions or hidden
tests is in the archive."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from autograder import studentkit
from autograder.samples import answer_sources, fill
from site_helpers import built_site

ROOT = Path(__file__).resolve().parent.parent
A1 = "a1_neuron"


def _builder():
    spec = importlib.util.spec_from_file_location("build_student_kit", ROOT / "scripts" / "build_student_kit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit")
    archive = _builder().build(out, ROOT / "course", site=built_site(tmp_path_factory).html)   # the session's site
    return out / "nnkit-course-kit", archive


def test_the_archive_holds_the_wheel_the_notebooks_the_site_and_the_guide(kit):
    folder, archive = kit
    names = set(zipfile.ZipFile(archive).namelist())
    assert f"nnkit-course-kit/wheels/{studentkit.wheel_name()}" in names
    for a in sorted(p.name for p in (ROOT / "assignments").iterdir() if p.is_dir()):
        assert f"nnkit-course-kit/assignments/{a}/{a}.ipynb" in names
    assert {"nnkit-course-kit/README.md", "nnkit-course-kit/requirements.txt", "nnkit-course-kit/site/index.html",
            "nnkit-course-kit/site/search.html"} <= names
    lectures = sorted(p.stem for p in (ROOT / "lectures").glob("[!.]*.ipynb"))
    assert {f"nnkit-course-kit/site/lectures/{stem}.html" for stem in lectures} <= names
    guide = (folder / "README.md").read_text()
    assert f"pip install wheels/{studentkit.wheel_name()}" in guide and "Colab" in guide and "JupyterHub" in guide
    assert (folder / "requirements.txt").read_text().splitlines()[1] == f"./wheels/{studentkit.wheel_name()}"


def test_the_wheel_is_the_course_package_without_the_grader(kit):
    folder, _ = kit
    with zipfile.ZipFile(folder / "wheels" / studentkit.wheel_name()) as whl:
        names = whl.namelist()
        metadata = whl.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "nnkit/functional/activations.py" in names and "autograder/checks.py" in names
    assert not any(n.startswith("autograder/") and n not in ("autograder/__init__.py", "autograder/checks.py")
                   for n in names), names
    assert "Name: nnkit-course-kit" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not any("torch" in r or "nbgrader" in r for r in requires), requires


def test_nothing_of_the_solutions_or_hidden_tests_is_in_the_archive(kit):
    folder, archive = kit
    names = zipfile.ZipFile(archive).namelist()
    assert not any("solutions/" in n or n.endswith("autograder.json") or "mutants" in n for n in names)
    builder = _builder()
    assert builder.leaked_solutions(folder, ROOT / "course") == []
    # and the check would see one: plant the solution of a1's softmax in a copy of the kit
    planted = folder.parent / "planted"
    shutil.copytree(folder, planted)
    source = json.loads((ROOT / "solutions" / A1 / f"{A1}.ipynb").read_text())
    (planted / "notes.md").write_text(answer_sources(source)["softmax"])
    assert any("a1_neuron/softmax" in p for p in builder.leaked_solutions(planted, ROOT / "course"))


def test_links_from_assignments_reach_the_lecture_pages_and_the_site_links_resolve(kit):
    folder, _ = kit
    nb = json.loads((folder / "assignments" / A1 / f"{A1}.ipynb").read_text())
    intro = "".join(nb["cells"][0]["source"])
    assert "(../../site/lectures/01_introduction.html)" in intro and ".ipynb)" not in intro
    assert (folder / "assignments" / A1 / "../../site/lectures/01_introduction.html").resolve().is_file()
    builder = _builder()
    assert builder.broken_links(folder) == []
    # and the check would see a broken one: a page linking to a lecture that is not there
    broken = folder.parent / "broken"
    shutil.copytree(folder, broken)
    (broken / "site" / "lectures" / "01_introduction.html").unlink()
    assert any("01_introduction.html" in problem for problem in builder.broken_links(broken))


RUN_NOTEBOOK = r"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell
nb = json.load(open(sys.argv[1]))
last = int(sys.argv[2]) if len(sys.argv) > 2 else len(nb["cells"])
shell = InteractiveShell.instance()
for i, cell in enumerate(nb["cells"][:last]):
    if cell["cell_type"] == "code":
        result = shell.run_cell("".join(cell["source"]))
        if not result.success:
            print(f"CELL {i} FAILED: {result.error_in_exec or result.error_before_exec!r}")
            sys.exit(1)
print("ALL CELLS RAN")
"""


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    """A new venv outside the repository that sees numpy, matplotlib, IPython... but not the course package."""
    where = tmp_path_factory.mktemp("student")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies from this environment (a path in a .pth file: its own .pth files, editable installs of the
    # course among them, are not processed), so the test needs no network
    Path(site, "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return where, python


def _run(python, args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["MPLBACKEND"] = "Agg"
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_in_a_fresh_environment_the_first_cell_says_what_to_install_then_the_visible_tests_pass(kit, fresh_venv):
    folder, _ = kit
    where, python = fresh_venv
    student = where / "kit"
    shutil.copytree(folder, student)
    work = student / "assignments" / A1
    assert _run(python, ["-c", "import nnkit"], work).returncode != 0, "the course package leaked into the fresh venv"

    (where / "run.py").write_text(RUN_NOTEBOOK)
    released = json.loads((work / f"{A1}.ipynb").read_text())
    first_code = next(i for i, c in enumerate(released["cells"]) if c["cell_type"] == "code")
    missing = _run(python, [str(where / "run.py"), f"{A1}.ipynb", str(first_code + 1)], work)
    assert missing.returncode == 0, missing.stdout + missing.stderr
    assert f"pip install wheels/{studentkit.wheel_name()}" in missing.stdout
    assert "!pip install" in missing.stdout

    install = _run(python, ["-m", "pip", "install", "--no-deps", "--no-index", f"wheels/{studentkit.wheel_name()}"],
                   student)
    assert install.returncode == 0, install.stdout + install.stderr
    source = json.loads((ROOT / "solutions" / A1 / f"{A1}.ipynb").read_text())
    (work / f"{A1}.ipynb").write_text(json.dumps(fill(released, answer_sources(source))))
    ran = _run(python, [str(where / "run.py"), f"{A1}.ipynb"], work)
    assert ran.returncode == 0 and "ALL CELLS RAN" in ran.stdout, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "The course package is not installed" not in ran.stdout
    where_from = _run(python, ["-c", "import nnkit, autograder.checks; print(nnkit.__file__)"], work).stdout
    assert str(ROOT) not in where_from and "venv" in where_from


def test_the_wheel_url_set_in_the_course_config_reaches_every_released_notebook(tmp_path):
    from autograder.release import release
    course = tmp_path / "course"
    course.mkdir()
    config = (ROOT / "course" / "nbgrader_config.py").read_text()
    (course / "nbgrader_config.py").write_text(config + '\nc.Autograder.student_wheel_url = "https://example.org/kit.whl"\n')
    (tmp_path / "solutions").symlink_to(ROOT / "solutions")
    released = release(course, [A1], release_dir=tmp_path / "release", db_url=f"sqlite:///{tmp_path / 'gb.db'}")
    nb = json.loads((released[0] / f"{A1}.ipynb").read_text())
    setup = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "!pip install https://example.org/kit.whl" in setup
    assert f"pip install wheels/{studentkit.wheel_name()}" in setup and "<STUDENT_WHEEL" not in setup


@pytest.mark.parametrize("notebook", sorted((ROOT / "assignments").glob("*/*.ipynb")), ids=lambda p: p.parent.name)
def test_filling_the_install_lines_keeps_nbgraders_checksums(notebook):
    """nbgrader's Validate reports a locked cell whose checksum does not match as changed by the student."""
    import nbformat
    from nbgrader.utils import compute_checksum
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") and "checksum" in meta:
            assert meta["checksum"] == compute_checksum(cell), meta.get("grade_id")
