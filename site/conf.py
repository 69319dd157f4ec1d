"""Sphinx configuration of the course site (`make site`, scripts/build_site.py).

Jupyter Book's stack: MyST markdown, MyST-NB for the notebooks (the lectures are executed during the build, a
cell's error fails it; the released assignments are shown as they are), the sphinx-book-theme.  The sources are
the repository's own files, copied by scripts/build_site.py into a staging folder with the repository's layout, so
the notebooks' relative links (`02_neurons_and_backprop.ipynb`, `../assignments/a1_neuron/a1_neuron.ipynb`) work.
The site opens offline: MathJax 2 is served from the site (`_static/mathjax/`, the copy autograder/mathjax.py takes
from the jupyter-server-mathjax package), nothing is loaded from a CDN.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

from autograder.mathjax import CONFIG as MATHJAX_CONFIG  # noqa: E402

project = "Neural networks with Jupyter"
author = "the nnkit course authors"
copyright = "the nnkit course authors, MIT License"
language = "en"

extensions = ["myst_nb", "course_site"]
root_doc = "index"
exclude_patterns = ["**.ipynb_checkpoints"]
include_patterns = ["index.md", "lectures/*.ipynb", "assignments/*/*.ipynb", "docs/*.md"]

# --- MyST and MyST-NB ------------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_dmath_double_inline = True   # $$...$$ inside a paragraph is display math, as Jupyter shows it
myst_heading_anchors = 3
myst_update_mathjax = False     # MyST would write a MathJax 3+ configuration; ours is MathJax 2's (below)
nb_execution_mode = "force"                        # every build runs the lectures (-D nb_execution_mode=off: not)
nb_execution_excludepatterns = ["assignments/*/*.ipynb"]   # the student notebooks are shown, never run
nb_execution_raise_on_error = True                 # a cell's error fails the build
nb_execution_timeout = 300                         # seconds per cell
nb_merge_streams = True                            # one text block per stream of a cell
nb_ipywidgets_js = {}                              # no widget JavaScript (a CDN): progress bars are text (course_site)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")               # inherited by the kernels (bench/README.md: one BLAS thread)

# --- HTML ------------------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_sourcelink_suffix = ""             # the book theme's download button gives the .ipynb itself
html_show_search_summary = False        # summaries fetch() each page, which a browser refuses from file://
html_context = {"default_mode": "light"}   # the theme's light/dark switch starts light (an unset mode logs an error)
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
}

# MathJax 2 from the site itself: _static/mathjax/ (course_site copies it), with the settings of the feedback pages
# (autograder/templates/base/mathjax.html.j2): HTML-CSS in the STIX-Web fonts the package ships, and local() fonts
# for those it lacks, so that the console stays clean.  No automatic line breaks: a formula in a table cell keeps
# its width (the table scrolls) instead of being broken at every operator.
mathjax_path = f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"
mathjax2_config = {
    "TeX": {"equationNumbers": {"autoNumber": "AMS", "useLabelIds": True}},
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                "processEscapes": True, "processEnvironments": True,
                # only the formulas: MyST marks the page's text "ignore", and Sphinx's math elements "math"
                "ignoreClass": "tex2jax_ignore|mathjax_ignore|bd-article", "processClass": "math|output_area"},
    "displayAlign": "center",
    "messageStyle": "none",
    "HTML-CSS": {"availableFonts": [], "imageFont": None, "preferredFont": None, "webFont": "STIX-Web",
                 "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}}},
    "NativeMML": {"styles": {
        "@font-face /*1*/": {"font-family": "MathJax_Caligraphic-WEB", "src": "local('MathJax_Caligraphic')"},
        "@font-face /*2*/": {"font-family": "MathJax_Caligraphic-WEB", "font-weight": "bold",
                             "src": "local('MathJax_Caligraphic Bold')"},
        "@font-face /*3*/": {"font-family": "MathJax_AMS-WEB", "src": "local('MathJax_AMS')"},
        "@font-face /*4*/": {"font-family": "MathJax_Script-WEB", "src": "local('MathJax_Script')"},
        "@font-face /*5*/": {"font-family": "MathJax_Fraktur-WEB", "src": "local('MathJax_Fraktur')"},
        "@font-face /*6*/": {"font-family": "MathJax_Fraktur-WEB", "font-weight": "bold",
                             "src": "local('MathJax_Fraktur Bold')"},
    }},
}

# --- The course (site/_ext/course_site.py) ---------------------------------------------------------------------
# The figure of each lecture on the front page: the first one in the section whose title contains this text (the
# deck's section titles, which tests/test_lectures.py keeps in the headings); a lecture not listed: its first figure.
course_thumbnails = {
    "01_introduction": "Двуслойная нейронная сеть",
    "02_neurons_and_backprop": "Обратное распространение градиента",
    "03_networks_as_models_and_cnn": "Подавление шумов",
    "04_activations_init_losses": "Модификации ReLU",
    "05_training": "Модификации SGD",
}
course_repository = str(HERE.parent)   # links to its files that the site does not show become text
