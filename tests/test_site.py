"""The course site (`make site`, scripts/build_site.py, the Sphinx project in site/): built once per session with every
lecture executed (a cell's error fails the build, which is how `make test` runs the lectures), it has a page per
lecture, per released assignment and per guide; its links and figures resolve; it opens offline (MathJax from the site,
nothing from the internet); nothing of the solutions or hidden tests is in it.  The browser tests open it
(tests/browser/test_lecture_html.py)."""
import json
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from site_helpers import ROOT, build_script, built_site

LECTURES = sorted(p.stem for p in (ROOT / "lectures").glob("[!.]*.ipynb"))
ASSIGNMENTS = sorted(p.parent.name for p in (ROOT / "assignments").glob("*/[!.]*.ipynb"))
GUIDES = ["student-guide", "instructor-guide"]
MARKERS = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS")


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    return built_site(tmp_path_factory)


class Page(HTMLParser):
    """The addresses a page refers to (tag, attribute, value) and the ids it defines."""

    def __init__(self, path: Path):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.tags: list[tuple[str, dict]] = []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                self.refs.append((tag, name, attrs[name]))


def pages(site_dir: Path) -> list[Path]:
    """The site's HTML pages (not the theme's templates in _static/)."""
    return sorted(p for p in site_dir.rglob("*.html") if "_static" not in p.relative_to(site_dir).parts)


def lecture_page(site, stem) -> Path:
    return site.html / "lectures" / f"{stem}.html"


def test_every_page_exists(site):
    expected = ["index.html", "search.html"]
    expected += [f"lectures/{stem}.html" for stem in LECTURES]
    expected += [f"assignments/{a}/{a}.html" for a in ASSIGNMENTS]
    expected += [f"docs/{guide}.html" for guide in GUIDES]
    missing = [name for name in expected if not (site.html / name).is_file()]
    assert not missing, f"pages missing from the site: {missing}"
    assert LECTURES and ASSIGNMENTS


def test_every_internal_link_and_image_resolves(site):
    parsed = {path: Page(path) for path in pages(site.html)}
    broken = []
    for path, page in parsed.items():
        for tag, attr, value in page.refs:
            parts = urlsplit(value)
            if parts.scheme or value.startswith(("//", "mailto:", "javascript:")) or not (parts.path or parts.fragment):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            where = f"{path.relative_to(site.html)}: <{tag} {attr}={value!r}>"
            if not target.is_relative_to(site.html.resolve()) or not target.exists():
                broken.append(f"{where} -> no such file")
            elif parts.fragment and target.suffix == ".html" and target in parsed \
                    and unquote(parts.fragment) not in parsed[target].ids:
                broken.append(f"{where} -> no id {parts.fragment!r} there")
    assert not broken, "\n".join(broken)


def test_no_raw_tex_delimiters_around_formulas(site):
    """Every $...$ and $$...$$ of the notebooks became a formula (MyST's dollarmath), none left a stray dollar."""
    stray = []
    for path in pages(site.html):
        text = re.sub(r"<(pre|code|script|style)\b.*?</\1>", "", path.read_text(encoding="utf-8"), flags=re.S)
        stray += [f"{path.relative_to(site.html)}: {m}" for m in
                  re.findall(r'.{0,60}(?:\$<span class="math|</span>\$|\$<div class="math|\$\$).{0,60}', text)]
    assert not stray, "\n".join(stray)


def test_lectures_link_to_each_other_and_to_the_assignment_pages(site):
    refs = {value.split("#")[0] for _, attr, value in Page(lecture_page(site, "02_neurons_and_backprop")).refs}
    assert "01_introduction.html" in refs
    assert "../assignments/a1_neuron/a1_neuron.html" in refs
    refs = {value.split("#")[0] for _, attr, value in Page(site.html / "assignments/a1_neuron/a1_neuron.html").refs}
    assert "../../lectures/01_introduction.html" in refs


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_assignment_page_offers_its_notebook_for_download(site, assignment):
    page = Page(site.html / "assignments" / assignment / f"{assignment}.html")
    downloads = [attrs["href"] for tag, attrs in page.tags if tag == "a" and "download" in attrs
                 and attrs.get("href", "").endswith(f"/{assignment}.ipynb")]
    assert downloads, f"no download link to {assignment}.ipynb"
    copied = site.html / "assignments" / assignment / downloads[0]
    assert copied.read_bytes() == (ROOT / "assignments" / assignment / f"{assignment}.ipynb").read_bytes()


def test_assignments_are_shown_as_released_not_executed(site):
    for assignment in ASSIGNMENTS:
        text = (site.html / "assignments" / assignment / f"{assignment}.html").read_text(encoding="utf-8")
        assert "NotImplementedError" in text, f"{assignment}: the stubs students fill are not on the page"
        assert "Traceback" not in text and 'class="output' not in text, f"{assignment} was executed"


def test_no_solution_or_hidden_test_is_in_the_site(site):
    found = [f"{path.relative_to(site.html)}: {marker}" for path in site.html.rglob("*")
             if path.is_file() and path.suffix in (".html", ".js", ".txt", ".ipynb", ".json", ".md")
             for marker in MARKERS if marker in path.read_text(encoding="utf-8", errors="replace")]
    assert not found, found
    # and no solution's code: the student kit's check, which knows the solutions' answer cells
    import importlib.util
    spec = importlib.util.spec_from_file_location("build_student_kit", ROOT / "scripts" / "build_student_kit.py")
    kit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kit)
    assert kit.leaked_solutions(site.html, ROOT / "course") == []


def test_nothing_is_loaded_from_the_internet(site):
    """No script, stylesheet, font or image from another machine: the site opens from file:// without a network."""
    remote = re.compile(r"^(https?:)?//")
    found = []
    for path in pages(site.html):
        for tag, attrs in Page(path).tags:
            if tag in ("script", "img", "iframe", "source") and remote.match(attrs.get("src") or ""):
                found.append(f"{path.name}: <{tag} src={attrs['src']}>")
            if tag == "link" and remote.match(attrs.get("href") or "") and \
                    set((attrs.get("rel") or "").split()) & {"stylesheet", "preload", "modulepreload", "icon"}:
                found.append(f"{path.name}: <link href={attrs['href']}>")
    for path in site.html.rglob("*.css"):
        text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8", errors="replace"), flags=re.S)
        found += [f"{path.relative_to(site.html)}: {m}" for m in
                  re.findall(r"""(?:url\(\s*["']?|@import\s+["'])(?:https?:)?//[^)"';]+""", text)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("stem", LECTURES)
def test_each_lecture_page_has_its_figures(site, stem):
    images = [attrs["src"] for tag, attrs in Page(lecture_page(site, stem)).tags
              if tag == "img" and "_images/" in attrs.get("src", "")]
    assert images, f"{stem}: no figure on the page"
    assert all((lecture_page(site, stem).parent / src).is_file() for src in images)


def test_front_page_shows_each_lecture_with_its_deck_topics_and_a_figure(site):
    from test_lectures import DECK_TITLES
    index = site.html / "index.html"
    text = index.read_text(encoding="utf-8")
    cards = re.findall(r'<div class="lecture-card[ "].*?(?=<div class="lecture-card[ "]|<section)', text, re.S)
    assert len(cards) == len(LECTURES)
    for stem, card in zip(LECTURES, cards):
        assert f'href="lectures/{stem}.html"' in card, f"the card of {stem} does not link to it"
        assert DECK_TITLES[f"{stem}.ipynb"] in card, f"the card of {stem} does not name its deck"
        image = re.search(r'<img[^>]*class="lecture-thumbnail"[^>]*src="([^"]+)"|'
                          r'<img[^>]*src="([^"]+)"[^>]*class="lecture-thumbnail"', card)
        assert image and (site.html / (image.group(1) or image.group(2))).is_file(), f"no figure for {stem}"
    header = json.loads((ROOT / "lectures" / f"{LECTURES[0]}.ipynb").read_text())["cells"][0]["source"]
    topic = next(line for line in "".join(header).split("**Topics")[1].splitlines()[1:] if line.strip())
    assert re.sub(r"[^a-z ]", "", topic.lower())[:20] in re.sub(r"<[^>]+>|[^a-z <>]", "", text.lower())


def test_every_lecture_cell_ran_and_each_run_time_was_printed(site):
    """The executed notebooks (myst-nb's copies beside the site): every code cell ran, none failed."""
    for stem in LECTURES:
        nb = json.loads((site.html.parent / "jupyter_execute" / "lectures" / f"{stem}.ipynb").read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
        assert code and all(c.get("execution_count") for c in code), f"{stem}: a code cell did not run"
        assert not any(o["output_type"] == "error" for c in code for o in c.get("outputs", [])), stem
        assert re.search(rf"lectures/{stem}: executed in \d+\.\d s", site.log), f"no run time printed for {stem}"


def test_progress_bars_are_text_not_widgets(site):
    texts = {stem: lecture_page(site, stem).read_text(encoding="utf-8") for stem in LECTURES}
    assert not [s for s, t in texts.items() if "widget-view" in t or "jupyter-widgets" in t or "require.js" in t]
    bars = [s for s, t in texts.items() if re.search(r"100%\|█+\|", t)]
    assert bars, "no lecture shows a finished text progress bar"


def test_pages_load_mathjax_from_the_site_asking_only_for_files_it_has(site):
    """MathJax 2 from jupyter-server-mathjax, copied into _static/mathjax/: the configuration the pages load and the
    fonts they ask for exist; the font rules the package lacks (the TeX fonts of its NativeMML output, HTML-CSS's
    url('about:blank')) are replaced by local() fonts, else the browser fetches them and logs console errors."""
    from autograder import mathjax
    page = lecture_page(site, LECTURES[0])
    text = page.read_text(encoding="utf-8")
    src = re.search(r'<script[^>]*src="([^"]*MathJax\.js[^"]*)"', text).group(1)
    assert src.startswith("../_static/mathjax/MathJax.js?config="), src
    assert (page.parent / src.split("?")[0]).is_file()
    source, needed = mathjax.mathjax_files("mathjax/" + src.split("/mathjax/", 1)[1])
    copied = site.html / "_static"
    assert [p for p in needed if not (copied / "mathjax" / p.relative_to(source)).exists()] == []
    config = json.loads(re.search(r'MathJax\.Hub\.Config\((\{.*?\})\)</script>', text, re.S).group(1))
    assert config["HTML-CSS"]["webFont"] == "STIX-Web"
    assert "linebreaks" not in config["HTML-CSS"], "automatic line breaks squeeze formulas in table cells"
    declared = (source / "config" / f"{mathjax.CONFIG.split(',')[0]}.js").read_text()
    rules = re.findall(r'"(@font-face[^"]*)":\{"font-family":"([\w-]+)"[^}]*?src:"url\(\'([^)]*)\'\)"\}', declared)
    fonts = source / "fonts" / "HTML-CSS" / "TeX" / "otf"
    missing = [(key, family) for key, family, url in rules
               if not url.startswith('"+n+"/') or not (fonts / url.removeprefix('"+n+"/')).exists()]
    assert {family for _, family in missing} >= {"MathJax_Blank", "MathJax_AMS-WEB", "MathJax_Script-WEB"}
    replaced = {**config["HTML-CSS"]["styles"], **config["NativeMML"]["styles"]}
    fetched = [key for key, family in missing
               if not (replaced.get(key, {}).get("font-family") == family and "local(" in replaced[key]["src"])]
    assert fetched == [], f"site/conf.py does not replace these font rules by local() fonts: {fetched}"


def test_a_failing_cell_fails_the_build(tmp_path):
    """What makes the site build a test of the lectures: one cell raising, and sphinx-build fails naming it."""
    import nbformat
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "lectures").mkdir(parents=True)
    (src / "index.md").write_text("# Index\n\n```{toctree}\n:glob:\n\nlectures/*\n```\n")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# Broken"), nbformat.v4.new_code_cell("print(1)"),
                nbformat.v4.new_code_cell("raise ValueError('cell 2 fails')")]
    nbformat.write(nb, src / "lectures" / "99_broken.ipynb")
    result = subprocess.run([sys.executable, "-m", "sphinx", "-b", "dummy", "-c", str(ROOT / "site"), "-q", "-T",
                             str(src), str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "99_broken" in result.stdout + result.stderr and "cell 2 fails" in result.stdout + result.stderr


def test_build_script_stages_no_solutions():
    """The staging step copies the lectures, the released notebooks and the guides; nothing from solutions/."""
    with tempfile.TemporaryDirectory() as tmp:
        copied = [p.relative_to(tmp).as_posix() for p in build_script().stage(Path(tmp))]
    assert not [p for p in copied if p.startswith(("solutions/", "course/", "tests/"))]
    assert {f"lectures/{stem}.ipynb" for stem in LECTURES} <= set(copied)
    assert {f"assignments/{a}/{a}.ipynb" for a in ASSIGNMENTS} <= set(copied)
