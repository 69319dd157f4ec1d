"""`make site`: the course's website, built by Sphinx with MyST-NB and the sphinx-book-theme (the Sphinx project is
site/, its configuration site/conf.py).

Copies what the site shows into a staging folder laid out as the repository is, so that the notebooks' relative links
work: the lectures, the released assignments (assignments/<a>/<a>.ipynb: never solutions/) and the guides. Then runs
sphinx-build, which executes every lecture (a cell's error fails the build; each lecture's run time is printed) and
writes the site into OUT (open OUT/index.html; it works offline). Warnings, a broken link among them, fail the build.

    python scripts/build_site.py [--out build/site] [--no-execute]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site"
# What the site shows, as paths in the repository (site/index.md becomes the front page).
SOURCES = ["lectures/*.ipynb", "assignments/*/*.ipynb",
           "docs/student-guide.md", "docs/instructor-guide.md", "docs/grading-at-scale.md"]


def work_dirs(out: Path) -> tuple[Path, Path]:
    """The staging folder and Sphinx's doctrees for a site built into `out` (beside it, not in it)."""
    return out.with_name(out.name + "-src"), out.with_name(out.name + "-doctrees")


def stage(src: Path) -> list[Path]:
    """A fresh staging folder with the site's sources; returns the files copied."""
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    shutil.copy2(SITE / "index.md", src / "index.md")
    copied = []
    for pattern in SOURCES:
        for path in sorted(p for p in ROOT.glob(pattern) if not p.name.startswith(".")):   # no editors' temp files
            target = src / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied.append(target)
    return copied


def build(out: Path, execute: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    """Stage the sources and run sphinx-build into `out` (from scratch: the lectures run every time)."""
    out = Path(out).resolve()
    src, doctrees = work_dirs(out)
    stage(src)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(SITE), "-d", str(doctrees),
               "-E", "-a", "-W", "--keep-going", "-T", "-j", "auto", str(src), str(out)]
    # -T: a failing cell's traceback; -j auto: the lectures run side by side, one per core
    if not execute:
        command += ["-D", "nb_execution_mode=off"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=ROOT, env=env, text=True, capture_output=capture)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="where the site goes")
    parser.add_argument("--no-execute", action="store_true",
                        help="do not run the lectures (pages without outputs: a quick look at layout and text)")
    args = parser.parse_args(argv)
    result = build(args.out, execute=not args.no_execute)
    if result.returncode != 0:
        print("error: the site was not built (see the messages above)", file=sys.stderr)
        return result.returncode
    print(f"\nopen {args.out.resolve() / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
