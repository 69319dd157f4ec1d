"""The repository's own promises: set-up files agree, every part documents itself, notebooks are clean."""
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PARTS = ["nnkit", "autograder", "lectures", "assignments", "solutions", "course", "tests", "bench"]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge package name -> PyPI name


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def pyproject_dependencies() -> set[str]:
    import tomllib
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {_name(r) for r in data["project"]["dependencies"]}


def environment_dependencies() -> set[str]:
    names = set()
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([A-Za-z0-9_.\-]+)", line)
        if in_deps and m:
            names.add(CONDA_NAMES.get(_name(m.group(1)), _name(m.group(1))))
    return names - {"python", "pip"}


def test_pyproject_and_environment_list_the_same_dependencies():
    assert pyproject_dependencies() == environment_dependencies()


def test_torch_is_pinned_to_the_cpu_build_on_disk():
    import tomllib
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.13.0" in deps, "a bare torch requirement pulls a multi-GB CUDA build"


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n\n")[:3]
    block = "\n".join(head)
    assert block.index("make demo") < block.index("make test")


@pytest.mark.parametrize("part", PARTS)
def test_every_part_has_a_readme(part):
    readme = ROOT / part / "README.md"
    assert readme.is_file() and len(readme.read_text().strip()) > 80


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_committed_notebooks_carry_no_outputs():
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    dirty = []
    for path in tracked:
        nb = json.loads((ROOT / path).read_text())
        if any(c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"):
            dirty.append(path)
    assert not dirty, f"notebooks committed with outputs (clear them): {dirty}"


def test_nnkit_imports_nothing_of_the_course():
    offenders = []
    for path in (ROOT / "nnkit").rglob("*.py"):
        text = path.read_text()
        if re.search(r"^\s*(import|from)\s+(autograder|lectures|solutions|torch)\b", text, re.M):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"nnkit must not import the course or torch: {offenders}"


def test_nbgrader_started_at_the_root_uses_the_course_folder():
    """`make lab` starts Jupyter at the repository root; the formgrader must find course/ from there."""
    from traitlets.config.loader import PyFileConfigLoader
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert Path(config.CourseDirectory.root) == ROOT / "course"
    assert config.CourseDirectory.source_directory == "../solutions"
    assert config.CourseDirectory.release_directory == "../assignments"
