"""MathJax without the internet: for the formgrader, the feedback pages and the course site.

The ``jupyter-server-mathjax`` package ships MathJax 2 with the HTML-CSS output and the STIX-Web fonts only (no
CommonHTML, no TeX fonts), and serves it at ``<base_url>/static/jupyter_server_mathjax/``.  nbgrader's formgrader
and feedback templates call nbconvert's ``mathjax()`` macro, which loads MathJax from a CDN; the course's
nbgrader config puts :data:`TEMPLATES` first among nbconvert's template folders, so our ``base/mathjax.html.j2``
is used instead: it loads the Jupyter server's copy in the formgrader, a ``mathjax/`` folder copied beside
feedback pages (``feedback/mathjax/``), and the CDN only when neither exists.  The course site (``make site``)
copies the package into its ``_static/mathjax/`` with :func:`copy_mathjax` and gives Sphinx the same configuration,
less the automatic line breaks (``site/conf.py``).

The macro configures MathJax to ask only for files the package has (:func:`mathjax_files`): HTML-CSS in STIX-Web,
and ``local()`` fonts in place of the two kinds of font the ``-full`` configuration would otherwise fetch and log
console errors for: ``url('about:blank')`` (HTML-CSS's blank reference font, refused by chromium) and the TeX fonts
its NativeMML output declares at ``fonts/HTML-CSS/TeX/otf/`` (not in the package).
"""
from __future__ import annotations

import shutil
from pathlib import Path

CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"   # as written in templates/base/mathjax.html.j2
TEMPLATES = Path(__file__).resolve().parent / "templates"
MACRO = TEMPLATES / "base" / "mathjax.html.j2"


def source() -> Path:
    import jupyter_server_mathjax
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def mathjax_files(url: str = f"mathjax/MathJax.js?config={CONFIG}") -> tuple[Path, list[Path]]:
    """The packaged MathJax folder, and the files a page loading ``url`` asks for (script, configurations, fonts)."""
    root = source()
    script, _, configs = url.partition("?config=")
    needed = [root / Path(script).relative_to("mathjax")]
    needed += [root / "config" / f"{name}.js" for name in configs.split(",") if name != "Safe"]
    needed += [root / "extensions" / "Safe.js", root / "fonts" / "HTML-CSS" / "STIX-Web"]
    return root, needed


def copy_mathjax(out: Path) -> Path:
    """``out/mathjax/``: the packaged MathJax, copied once (about 12 MB); raises if the package lacks a file."""
    root, needed = mathjax_files()
    missing = [str(p.relative_to(root)) for p in needed if not p.exists()]
    if missing:
        raise RuntimeError(f"the installed jupyter-server-mathjax lacks {missing}: pages could not show formulas")
    target = Path(out) / "mathjax"
    if not (target / "MathJax.js").is_file():
        shutil.copytree(root, target, dirs_exist_ok=True)
    return target


def template_basedirs() -> list[str]:
    """nbconvert template folders for nbgrader's formgrader and feedback: ours first, then nbgrader's own."""
    # Found, not imported: importing nbgrader starts its server extensions (2-3 s), and every command reads this
    import importlib.util
    spec = importlib.util.find_spec("nbgrader")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nbgrader is not installed: the course's nbgrader_config.py needs it")
    formgrader = Path(spec.submodule_search_locations[0]) / "server_extensions" / "formgrader" / "templates"
    return [str(TEMPLATES), str(formgrader)]
