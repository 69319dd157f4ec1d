"""The course's additions to Sphinx for the site (site/conf.py):

- ``{lecture-cards}``: on the front page, each lecture with its deck, its topics (both read from the notebook's
  header cell) and a figure its execution produced (from the section ``course_thumbnails`` in conf.py names);
- on each released assignment's page, a link to download its notebook (copied into the site by Sphinx);
- tqdm's progress bars as text: the kernels that run the lectures get an IPython start-up file that makes
  ``tqdm.auto`` a text bar printed once, in its final state (a widget bar would need JavaScript from a CDN);
- MathJax copied into the site (``_static/mathjax/``, from the jupyter-server-mathjax package);
- links from the guides to repository files the site does not show (``../autograder/README.md``) become their
  path as text, "(in the course repository)";
- the lectures' execution times, printed at the end of the build.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

TEXT_PROGRESS_BARS = '''\
# Written by site/_ext/course_site.py while the course site is built: tqdm.auto's bars as text, printed once to
# stdout when a bar closes (a page keeps the final state; a widget bar would need JavaScript from a CDN).
import os

import tqdm.auto
import tqdm.std

_NOWHERE = open(os.devnull, "w")


class _TextBar(tqdm.std.tqdm):
    def __init__(self, *args, **kwargs):
        kwargs["file"] = _NOWHERE   # no intermediate states
        super().__init__(*args, **kwargs)

    def close(self):
        if not self.disable and self.leave is not False and not getattr(self, "_shown", False):
            self._shown = True
            print(self, flush=True)
        super().close()


tqdm.auto.tqdm = _TextBar
tqdm.auto.trange = lambda *args, **kwargs: _TextBar(range(*args), **kwargs)
'''


def header_cell(path: Path) -> str:
    """The first markdown cell of a notebook: the lecture's header."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    source = next(c["source"] for c in cells if c["cell_type"] == "markdown")
    return source if isinstance(source, str) else "".join(source)


def card_text(header: str, docname: str) -> list[str]:
    """MyST lines for a lecture's card: its title as a link, the deck it follows, its topics."""
    title = re.search(r"^# (.+)$", header, re.M).group(1).strip()
    deck = re.search(r"«[^»]+»", header)
    topics = next((p for p in re.split(r"\n\s*\n", header) if p.startswith("**Topics")), "")
    topics = re.sub(r"^\*\*Topics\.?\*\*\.?[ \t]*\n?", "", topics)
    lines = [f"**[{title}](/{docname}.ipynb)**", ""]
    if deck:
        lines += [f"Deck: {deck.group(0)}", ""]
    return lines + topics.splitlines()


class thumbnail(nodes.General, nodes.Element):
    """Where a lecture's figure goes on the front page; filled when every lecture has been read (and run)."""


class LectureCards(SphinxDirective):
    """``{lecture-cards}``: one card per notebook in lectures/, in file-name order."""

    def run(self):
        cards = []
        for path in sorted((Path(self.env.srcdir) / "lectures").glob("*.ipynb")):
            docname = f"lectures/{path.stem}"
            self.env.note_dependency(str(path))
            card = nodes.container(classes=["lecture-card"])
            card += thumbnail(docname=docname)
            text = nodes.container(classes=["lecture-card-text"])
            self.state.nested_parse(StringList(card_text(header_cell(path), docname), str(path)), 0, text)
            card += text
            cards.append(card)
        return cards


def lecture_figure(app, lecture: str, placeholder) -> nodes.image | None:
    """The first figure of the lecture's section named in ``course_thumbnails`` (default: of the whole lecture)."""
    doctree = app.env.get_doctree(lecture)
    where = app.config.course_thumbnails.get(lecture.split("/")[-1])
    if where:
        section = next((s for s in doctree.findall(nodes.section) if where in s[0].astext()), None)
        if section is None:
            logger.warning(f"course_thumbnails: no section {where!r} in {lecture}", location=placeholder)
        else:
            doctree = section
    return next(iter(doctree.findall(nodes.image)), None)


def fill_thumbnails(app, doctree, docname):
    """Each placeholder becomes the chosen figure of its lecture, linking to the lecture."""
    for placeholder in list(doctree.findall(thumbnail)):
        lecture = placeholder["docname"]
        image = lecture_figure(app, lecture, placeholder) if lecture in app.env.all_docs else None
        if image is None:
            if app.config.nb_execution_mode != "off":
                logger.warning(f"no figure in {lecture} for the front page", location=placeholder)
            placeholder.replace_self([])
            continue
        image = image.deepcopy()
        image["classes"] = ["lecture-thumbnail"]
        image["alt"] = f"A figure from {app.env.titles[lecture].astext()}"
        for key in ("width", "height", "scale"):
            image.attributes.pop(key, None)
        link = nodes.reference("", "", image, refuri=app.builder.get_relative_uri(docname, lecture),
                               classes=["lecture-thumbnail-link"])
        placeholder.replace_self(link)


def add_download_link(app, doctree):
    """Atop a released assignment's page: the notebook to download (Sphinx copies it into _downloads/)."""
    docname = app.env.docname
    if not docname.startswith("assignments/"):
        return
    section = doctree.next_node(nodes.section)
    if section is None:
        return
    name = f"{docname.split('/')[-1]}.ipynb"
    download = addnodes.download_reference("", "", nodes.literal(name, name), refdoc=docname, reftarget=name,
                                           refexplicit=True, reftype="download", refdomain="", refwarn=True)
    guide = addnodes.pending_xref("", nodes.inline("", "student guide"), refdoc=docname, refdomain="std",
                                  reftype="doc", reftarget="/docs/student-guide", refexplicit=True, refwarn=True)
    paragraph = nodes.paragraph("", "", nodes.Text("This page shows the assignment as released, read-only. "
                                                   "To work on it, download "),
                                download, nodes.Text(" and open it in Jupyter; the "), guide,
                                nodes.Text(" says how to check and submit your work."))
    section.insert(1, nodes.admonition("", nodes.title("", "Download the notebook"), paragraph,
                                       classes=["tip", "assignment-download"]))


def unlink_repository_files(app, doctree):
    """A link to a file of the repository that is not on the site: its text, and where to find it."""
    repository = Path(app.config.course_repository)
    folder = Path(app.env.docname).parent
    for node in list(doctree.findall(addnodes.pending_xref)):
        target = node.get("reftarget", "")
        if node.get("reftype") != "myst" or node.get("refdomain") == "doc" or ":" in target or target.startswith("#"):
            continue
        path = Path(os.path.normpath(folder / target))
        if not (Path(app.env.srcdir) / path).exists() and (repository / path).exists():
            node.replace_self(nodes.inline("", "", *node.children, nodes.Text(" (in the course repository)")))


def kernels_print_progress_as_text(app):
    """The kernels myst-nb starts read IPYTHONDIR: an IPython profile whose start-up file turns tqdm's bars
    into text.  It lives beside the build's doctrees (scripts/build_site.py puts those outside the site)."""
    if app.config.nb_execution_mode == "off":
        return
    startup = Path(app.doctreedir) / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-text-progress-bars.py").write_text(TEXT_PROGRESS_BARS, encoding="utf-8")
    os.environ["IPYTHONDIR"] = str(startup.parents[1])


def copy_mathjax_and_report(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    from autograder.mathjax import copy_mathjax
    copy_mathjax(Path(app.outdir) / "_static")
    from myst_nb.sphinx_ import NbMetadataCollector
    for docname in sorted(d for d in app.env.all_docs if d.startswith("lectures/")):
        data = NbMetadataCollector.get_exec_data(app.env, docname)
        if data and data.get("runtime") is not None:
            logger.info(f"{docname}: executed in {data['runtime']:.1f} s")


def setup(app):
    app.add_config_value("course_thumbnails", {}, "env", types=frozenset({dict}))
    app.add_config_value("course_repository", "", "env", types=frozenset({str}))
    app.add_node(thumbnail)
    app.add_directive("lecture-cards", LectureCards)
    app.connect("builder-inited", kernels_print_progress_as_text)
    app.connect("doctree-read", add_download_link, priority=100)   # before Sphinx collects the downloads
    app.connect("doctree-read", unlink_repository_files)
    app.connect("doctree-resolved", fill_thumbnails)
    app.connect("build-finished", copy_mathjax_and_report)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
