"""`make student-kit`: one archive with what a student needs, wherever they work.

    python scripts/build_student_kit.py [--out build] [--course course] [--site DIR | --no-site]

writes ``OUT/nnkit-course-kit/`` and ``OUT/nnkit-course-kit.zip`` holding

- ``wheels/nnkit_course_kit-<version>-py3-none-any.whl``: the course package for students -- ``nnkit`` and the
  self-checks the test cells import (``autograder.checks``) -- under a distribution name nothing on PyPI uses,
  with only what they need (numpy, matplotlib, scikit-learn, tqdm, IPython: no torch, no nbgrader);
- ``assignments/<A>/``: the released notebooks (no solutions, no hidden tests), their links to lectures
  pointing at the lecture pages of the site in the kit;
- ``site/``: the course site (as `make site` builds it: the lectures executed, the released assignments, the
  guides; ``site/index.html`` opens offline);
- ``README.md`` (the student guide: one install step for a laptop, a JupyterHub and Colab) and
  ``requirements.txt`` (for a JupyterHub admin installing the course for a whole class).

The wheel's URL for Colab is ``c.Autograder.student_wheel_url`` in the course's ``nbgrader_config.py``
(the instructor uploads the wheel and sets it before releasing). The build fails if a link in the kit
points at nothing, or if anything of the solutions or hidden tests is in it.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import paths  # noqa: E402
from autograder.samples import answer_sources  # noqa: E402
from autograder.studentkit import DISTRIBUTION, STUDENT_REQUIREMENTS, version, wheel_name  # noqa: E402

KIT = "nnkit-course-kit"
STUDENT_MODULES = ["autograder/__init__.py", "autograder/checks.py"]   # the self-checks; the grader stays home
LECTURE_LINK = re.compile(r"\]\(((?:\.\./)+)lectures/([\w-]+)\.ipynb")
SITE = "site"   # the site's folder in the kit


def build_wheel(out: Path) -> Path:
    """The student wheel, built from a copy of nnkit/ and the self-checks with their own metadata."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        shutil.copytree(ROOT / "nnkit", src / "nnkit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for module in STUDENT_MODULES:
            (src / module).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / module, src / module)
        shutil.copy(ROOT / "LICENSE", src / "LICENSE")
        (src / "README.md").write_text("The nnkit course package for students: the `nnkit` reference library and "
                                       "the self-checks (`autograder.checks`) the assignments' test cells use.\n")
        requirements = ", ".join(json.dumps(r) for r in STUDENT_REQUIREMENTS)
        (src / "pyproject.toml").write_text(f'''[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{DISTRIBUTION}"
version = "{version()}"
description = "The nnkit neural-networks course for students: the nnkit library and the assignments' self-checks"
readme = "README.md"
requires-python = ">=3.10"
license = "MIT"
license-files = ["LICENSE"]
dependencies = [{requirements}]

[tool.setuptools.packages.find]
include = ["nnkit*", "autograder*"]
''')
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                               "--wheel-dir", str(out), str(src)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"building the wheel failed:\n{proc.stdout}\n{proc.stderr}")
    return out / wheel_name()


def copy_assignments(course: Path, kit: Path) -> list[str]:
    """The released notebooks, with links to lecture notebooks pointing at the site's lecture pages."""
    released = paths.assignments_dir(course)
    names = sorted(p.name for p in released.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    for name in names:
        target = kit / "assignments" / name
        shutil.copytree(released / name, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        for nb_path in target.glob("*.ipynb"):
            nb = json.loads(nb_path.read_text())
            for cell in nb["cells"]:
                if cell["cell_type"] == "markdown":
                    text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                    cell["source"] = LECTURE_LINK.sub(rf"](\1{SITE}/lectures/\2.html", text)
            nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return names


def add_site(kit: Path, site: Path | None) -> None:
    """The course site in ``kit/site/``: a copy of ``site`` (already built), else built now (executing the lectures)."""
    if site is None:
        sys.path.insert(0, str(ROOT / "scripts"))
        from build_site import build as build_site
        site = kit.parent / "site"
        if build_site(site).returncode != 0:
            raise RuntimeError("building the course site failed (see the messages above)")
    if not (Path(site) / "index.html").is_file():
        raise RuntimeError(f"{site} holds no built site (no index.html): run `make site`")
    shutil.copytree(site, kit / SITE, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))


def install_lines(wheel: str, url: str | None) -> dict[str, str]:
    colab = f"!pip install {url}" if url else \
        "!pip install <the wheel's URL: ask your instructor (it is not set in this kit)>"
    return {"local": f"pip install wheels/{wheel}", "hub": f"pip install --user wheels/{wheel}", "colab": colab}


def write_guide(kit: Path, wheel: str, url: str | None, assignments: list[str]) -> None:
    lines = install_lines(wheel, url)
    guide = (ROOT / "docs" / "student-kit.md").read_text()
    text = guide.format(wheel=wheel, local=lines["local"], hub=lines["hub"], colab=lines["colab"],
                        url=url or "(not set: ask your instructor)",
                        assignments="\n".join(f"- `assignments/{a}/{a}.ipynb`" for a in assignments))
    (kit / "README.md").write_text(text)
    requirement = url or f"./wheels/{wheel}"
    (kit / "requirements.txt").write_text(
        "# The course for a whole class (JupyterHub image or shared environment): pip install -r requirements.txt\n"
        f"{requirement}\njupyterlab>=4.0\n")


def broken_links(kit: Path, with_site: bool = True) -> list[str]:
    """Relative links in the kit's notebooks and site pages that point at nothing inside the kit.

    Without the site (a trial build), links from the notebooks to its pages are not checked.
    """
    pages = [p for p in sorted((kit / SITE).rglob("*.html")) if "_static" not in p.relative_to(kit / SITE).parts]
    broken = []
    for path in sorted(kit.rglob("*.ipynb")) + pages:
        if (kit / SITE) in path.parents and path.suffix == ".ipynb":
            continue                                  # the site's downloadable copies: their links are the originals'
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "markdown")
            targets = re.findall(r"\]\(([^)\s#]+)", text)
        else:
            targets = re.findall(r'(?:href|src)="([^"#?]+)', text)
        for target in targets:
            if re.match(r"^[a-z]+:", target):      # http:, https:, mailto:
                continue
            if not with_site and re.search(rf"(^|/){SITE}/", target):
                continue
            if not (path.parent / target).resolve().is_relative_to(kit.resolve()) or not (path.parent / target).exists():
                broken.append(f"{path.relative_to(kit)} -> {target}")
    return broken


def leaked_solutions(kit: Path, course: Path) -> list[str]:
    """Anything of the solutions or hidden tests found in the kit's files (wheel contents included)."""
    texts = {}
    for path in kit.rglob("*"):
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as whl:
                texts.update({f"{path.name}:{n}": whl.read(n).decode("utf-8", "replace") for n in whl.namelist()})
        elif path.is_file() and path.suffix in (".ipynb", ".md", ".txt", ".py", ".html", ".json"):
            texts[str(path.relative_to(kit))] = path.read_text(encoding="utf-8", errors="replace")
    found = [f"{name}: a solution or hidden-test marker" for name, text in texts.items()
             if "BEGIN SOLUTION" in text or "BEGIN HIDDEN TESTS" in text]
    for source in sorted(paths.solutions_dir(course).glob("*/*.ipynb")):
        for grade_id, answer in answer_sources(json.loads(source.read_text())).items():
            body = [line for line in answer.splitlines() if line.strip() and not line.lstrip().startswith(("def ", "#"))]
            if len(body) < 3:
                continue
            snippet = "\n".join(body[:3])
            found += [f"{name}: the solution of {source.stem}/{grade_id}" for name, text in texts.items()
                      if snippet in text]
    return found


def build(out: Path, course: Path, site: Path | None = None, with_site: bool = True) -> Path:
    """The kit folder and its zip.  ``site``: an already built course site to copy (default: build one);
    ``with_site=False`` leaves the site out (a quick trial)."""
    kit = out / KIT
    if kit.exists():
        shutil.rmtree(kit)
    kit.mkdir(parents=True)
    wheel = build_wheel(kit / "wheels")
    assignments = copy_assignments(course, kit)
    if with_site:
        add_site(kit, site)
    url = paths.autograder_setting(course, "student_wheel_url", None)
    write_guide(kit, wheel.name, url, assignments)
    problems = broken_links(kit, with_site=with_site) + leaked_solutions(kit, course)
    if problems:
        raise RuntimeError("the kit is not fit to hand out:\n  " + "\n  ".join(problems))
    archive = out / f"{KIT}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(kit.rglob("*")):
            zf.write(path, path.relative_to(out))
    return archive


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="where the kit folder and its zip go")
    parser.add_argument("--course", help="the nbgrader course root (default: this repository's course/)")
    parser.add_argument("--site", type=Path, metavar="DIR",
                        help="copy this already built course site (e.g. build/site from `make site`) instead of "
                             "building one into OUT/site")
    parser.add_argument("--no-site", action="store_true", help="leave the course site out (a quick trial build)")
    args = parser.parse_args(argv)
    try:
        archive = build(args.out, paths.course_root(args.course), site=args.site, with_site=not args.no_site)
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"student kit: {archive} ({archive.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
