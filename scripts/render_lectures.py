"""`make lectures`: execute every lecture notebook and render it as HTML a student can open without Jupyter.

The pages work offline, with a clean browser console: MathJax is copied next to them from the `jupyter-server-mathjax`
package (instead of nbconvert's default CDN link), no other script comes from a CDN, figures are embedded, and links
between lectures point to the rendered pages.
The notebooks in lectures/ are read, never written.  Prints how long each lecture took to execute.

    python scripts/render_lectures.py [--out build/lectures] [--root-link PATH] [NAME ...]
"""
from __future__ import annotations

import argparse
import html
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LECTURES = ROOT / "lectures"
# MathJax 2 from the jupyter-server-mathjax package, copied next to the pages, configured as in the formgrader and
# the feedback pages: the "lecture" template is nbconvert's lab template with our base/mathjax.html.j2 (which appends
# the configuration to this address) and without require.js (a CDN script; the lectures need no JavaScript outputs).
from autograder.mathjax import TEMPLATES, copy_mathjax, mathjax_files  # noqa: E402,F401 - mathjax_files: tests

MATHJAX_URL = "mathjax/MathJax.js"
TEMPLATE = "lecture"   # autograder/templates/lecture/


def relink(nb, out: Path, to_root: str | None = None) -> None:
    """Point links at what exists next to the rendered page: other lectures as .html, the rest of the
    repository (assignments) by its path from the build folder (or ``to_root``: the student kit's ``..``)."""
    to_root = to_root or Path(os.path.relpath(ROOT, out)).as_posix()
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = re.sub(r"\]\((\d\d_\w+)\.ipynb", r"](\1.html", cell.source)
        cell.source = re.sub(r"\]\(\.\./", f"]({to_root}/", text)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def progress_bars_as_text(nb) -> None:
    """Replace tqdm's widget progress bars by their final state as text.

    A rendered widget needs JavaScript from a CDN (so nothing shows offline), and the text a widget output
    carries is the bar at 0 %.  The widget state saved with the notebook has the final values; the bar is
    rebuilt from them as tqdm prints it in a terminal."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})

    def model(ref):
        return state.get(ref.removeprefix("IPY_MODEL_"), {}).get("state", {})

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if not view:
                continue
            children = [model(ref) for ref in model(view["model_id"]).get("children", [])]
            if len(children) == 3 and "max" in children[1]:
                left, bar, right = children
                filled = round(10 * bar["value"] / bar["max"]) if bar["max"] else 0
                text = f"{left.get('value', '')}|{'█' * filled}{' ' * (10 - filled)}|{right.get('value', '')}"
                output["data"] = {"text/plain": html.unescape(text).replace("\u2007", " ")}
            else:
                output["data"].pop(WIDGET_VIEW)
    nb.metadata.pop("widgets", None)


def render(path: Path, out: Path, timeout: int, to_root: str | None = None) -> float:
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExecutePreprocessor

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(LECTURES)}})
    seconds = time.perf_counter() - start
    relink(nb, out, to_root)
    progress_bars_as_text(nb)
    exporter = HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATES)], mathjax_url=MATHJAX_URL)
    body, _ = exporter.from_notebook_node(nb)
    (out / f"{path.stem}.html").write_text(body, encoding="utf-8")
    return seconds


def title_of(path: Path) -> str:
    import nbformat
    first = nbformat.read(path, as_version=4).cells[0].source
    return next((line[2:] for line in first.splitlines() if line.startswith("# ")), path.stem)


def write_index(out: Path) -> None:
    """A contents page listing every lecture rendered into `out` so far."""
    pages = [p for p in sorted(LECTURES.glob("*.ipynb")) if (out / f"{p.stem}.html").is_file()]
    items = "\n".join(f'  <li><a href="{p.stem}.html">{html.escape(title_of(p))}</a></li>' for p in pages)
    (out / "index.html").write_text(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Neural networks: lectures</title></head>\n"
        f"<body>\n<h1>Neural networks: lectures</h1>\n<ol>\n{items}\n</ol>\n</body></html>\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="lecture notebooks to render (file names or stems); default all")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lectures", help="where the HTML goes")
    parser.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell")
    parser.add_argument("--root-link", metavar="PATH",
                        help="how the pages link to the course's folders (assignments/), e.g. '..' in the student kit "
                             "(default: the path from --out to this repository)")
    args = parser.parse_args(argv)

    notebooks = sorted(LECTURES.glob("*.ipynb"))
    if args.names:
        wanted = {Path(n).stem for n in args.names}
        unknown = wanted - {p.stem for p in notebooks}
        if unknown:
            parser.error(f"no lecture named {sorted(unknown)}; the lectures are {[p.stem for p in notebooks]}")
        notebooks = [p for p in notebooks if p.stem in wanted]

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # inherited by the kernels (see bench/README.md)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args.out.mkdir(parents=True, exist_ok=True)
    copy_mathjax(Path(args.out))

    failed = []
    for path in notebooks:
        try:
            seconds = render(path, args.out, args.timeout, args.root_link)
        except Exception as error:  # a failing cell: report it, render the others
            failed.append(path.name)
            print(f"{path.name:40s} FAILED\n{error}", flush=True)
            continue
        print(f"{path.name:40s} executed in {seconds:5.1f} s", flush=True)
    write_index(args.out)
    print(f"\nopen {args.out / 'index.html'}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
