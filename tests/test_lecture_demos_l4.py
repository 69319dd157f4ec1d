"""Lecture 4 keeps the corrections and demonstrations the course review asked for: one Jacobian convention for a
layer's derivative, ReLU'(0) as a Note (a valid subgradient), text that says what its figures show (each small-weight
layer *multiplies* the spread; Leaky ReLU with alpha = 0.01 over several seeds), per-layer histograms for every
initialization, SGD leaving a saddle that gradient descent cannot, and the focal loss on imbalanced data with a
gradient check. ReLU piecewise-linear fits link to lecture 1's staircase; constant-initialization symmetry lives here.
These are checks of the notebook's text and code; running it is the site build's job (tests/test_site.py)."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "lectures" / "04_activations_init_losses.ipynb"
INITIALIZATIONS = ("constant", "small", "large", "Xavier", "He", "orthogonal")


@pytest.fixture(scope="module")
def cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


def markdown(cells):
    return "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")


def blocks(cells):
    """(type, text) pieces in order; a markdown cell is cut at each heading, so a piece holds at most one heading."""
    for c in cells:
        if c["cell_type"] != "markdown":
            yield c["cell_type"], source(c)
            continue
        for piece in re.split(r"(?m)^(?=#{1,6} )", source(c)):
            if piece.strip():
                yield "markdown", piece


def section(cells, title, level="##"):
    """Markdown and code from the heading ending in '(title)' up to the next heading of the same or a higher level."""
    pieces = list(blocks(cells))
    start = next(i for i, (kind, text) in enumerate(pieces)
                 if kind == "markdown" and re.match(rf"{level} .*\({re.escape(title)}\)\s*$", text.splitlines()[0]))
    end = next((i for i in range(start + 1, len(pieces))
                if pieces[i][0] == "markdown" and re.match(rf"#{{1,{len(level)}}} ", pieces[i][1])), len(pieces))
    part = pieces[start:end]
    return ("\n".join(text for kind, text in part if kind == "markdown"),
            "\n".join(text for kind, text in part if kind == "code"))


def test_the_notebook_is_committed_without_outputs(cells):
    dirty = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])]
    assert dirty == [], f"cells with outputs: {dirty}"


def test_errata_are_real_errors_and_conventions_are_notes(cells):
    errata = [source(c) for c in cells if c["cell_type"] == "markdown" and "> **Erratum" in source(c)]
    assert len(errata) == 3
    assert any(r"\frac{1}{2\pi}" in e for e in errata), "GELU's x^2 coefficient"
    assert any(r"\delta_{ik}" in e for e in errata), "the orthonormality condition's index"
    assert any("lists $\\partial L/\\partial f_2$ twice" in e for e in errata), "the backprop summary slide"
    assert not any("subgradient" in e for e in errata), "ReLU'(0) = 1 is a valid subgradient: a Note, not an Erratum"
    notes = [source(c) for c in cells if c["cell_type"] == "markdown" and "> **Note.**" in source(c)]
    assert any("subgradient" in n and r"\mathrm{ReLU}'(0) = 0" in n for n in notes)
    assert any("denominator layout" in n for n in notes), "the deck's W_k^T for df_k/dh_{k-1}"


def test_one_jacobian_convention_for_a_layers_derivative(cells):
    text = markdown(cells)
    deck_form = r"\frac{\partial f_k}{\partial h_{k-1}} = W_k^\top"
    outside_the_note = [line for line in text.splitlines() if deck_form in line and not line.startswith(">")]
    assert outside_the_note == [], "only the Note quotes the deck's transposed form"
    assert r"\frac{\partial f_k}{\partial h_{k-1}} = W_k," in text
    assert r"\frac{\partial L}{\partial h_{k-1}} = W_k^\top\,\frac{\partial L}{\partial f_k}" in text


def test_small_weights_multiply_the_spread(cells):
    text = markdown(cells)
    assert "divides the spread" not in text
    assert r"*multiplies* the spread by about $0.01\sqrt{256} = 0.16$" in text


def test_leaky_relu_runs_several_seeds_and_the_text_says_the_units_do_not_recover(cells):
    text, code = section(cells, "Модификации ReLU", level="###")
    assert re.search(r"seeds = range\(5\)", code) and "train_hidden_layer(act, 1.5, seed=seed)" in code
    assert "recover more slowly" not in text
    assert re.search(r"\$\\alpha = 0\.01\$: the units do \*\*not\*\* come back", text)


def test_every_initialization_gets_per_layer_activation_and_gradient_histograms(cells):
    _, code = section(cells, "Ортогональная инициализация", level="###")
    names = re.search(r"initializations = \{(.*?)\n\}", code, re.S).group(1)
    assert all(f'"{name}' in names for name in INITIALIZATIONS)
    assert "for row, name in enumerate(initializations)" in code and "np.histogram(" in code
    assert "signals[activation, name][col]" in code, "activations (col 0) and gradients (col 1) for each"


def test_sgd_leaves_the_saddle_that_gradient_descent_stops_in(cells):
    text, code = section(cells, "Stochastic Gradient Descent", level="###")
    assert r"L(x, y) = x^2 - y^2 + \tfrac12 y^4" in text
    assert 'descend((1.5, 0.0))' in code and "descend((1.5, 0.0), batch_size=10, seed=seed)" in code
    assert "contour(" in code


def test_focal_loss_is_written_here_checked_and_compared_on_imbalanced_data(cells):
    text, code = section(cells, "Какие еще бывают функции потерь", level="###")
    assert "class FocalLoss" in code
    assert "numerical_gradient(lambda: focal(z_check, y_check), z_check)" in code, "checked by central differences"
    assert "binary_cross_entropy_with_logits(z_t, y_t" in code, "and against torch autograd of torchvision's formula"
    assert "imbalanced_blobs(1000, rng)" in code and "minority=0.05" in code
    assert "precision_recall(" in code and "for seed in tqdm(range(5)" in code
    assert "pos_weight=[19.0]" in code, "the asymmetric fix it is compared with"


def test_universal_approximation_links_lecture_1s_staircase_and_symmetry_lives_here(cells):
    text, code = section(cells, "Universal approximation theorem")
    assert "](01_introduction.ipynb)" in text and "«Пример»" in text
    assert "relu_interpolant" in code
    text, code = section(cells, "Инициализация константой", level="###")
    assert "distinct_units(" in code and "init.constant_(w, 0.3)" in code


def test_american_spelling(cells):
    everything = "\n".join(source(c) for c in cells)
    british = re.findall(r"\b\w*(?:initialis|minimis|maximis|optimis|regularis|standardis|normalis|vectoris|"
                         r"centred|centre\b|towards|behaviour|colour|grey|neighbour|modell|labell)\w*", everything, re.I)
    assert british == []
