"""Lecture 3 keeps the demonstrations the course review asked for, in the places the lectures divide between them:
the deck's two XOR constructions (the rest of XOR lives in lecture 2), the deck's layer-wise initial approximation
(constant-initialization symmetry lives in lecture 4), an OBD comparison over several seeds that points to lecture 5,
and a trained CNN with its kernels, feature maps and a shifted-digits comparison with a fully connected network.
These are checks of the notebook's text and code; executing it is the course site build's job (tests/test_site.py)."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "lectures" / "03_networks_as_models_and_cnn.ipynb"


@pytest.fixture(scope="module")
def cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


def section(cells, title):
    """The cells from the heading that ends in '(title)' up to the next heading of the same or a higher level."""
    start = next(i for i, c in enumerate(cells)
                 if c["cell_type"] == "markdown" and re.search(rf"^## .*\({re.escape(title)}\)\s*$", source(c), re.M))
    end = next((i for i in range(start + 1, len(cells))
                if cells[i]["cell_type"] == "markdown" and re.match(r"## ", source(cells[i]))), len(cells))
    part = cells[start:end]
    return ("\n".join(source(c) for c in part if c["cell_type"] == "markdown"),
            "\n".join(source(c) for c in part if c["cell_type"] == "code"))


def test_the_notebook_is_committed_without_outputs(cells):
    dirty = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])]
    assert dirty == [], f"cells with outputs: {dirty}"


def test_only_the_sign_of_the_xor_polynomial_is_an_erratum(cells):
    errata = [source(c) for c in cells if c["cell_type"] == "markdown" and "> **Erratum" in source(c)]
    assert len(errata) == 1 and r"2x_1x_2 - \tfrac12" in errata[0]
    notes = [source(c) for c in cells if c["cell_type"] == "markdown" and "> **Note.**" in source(c)]
    assert any("a **sum**" in n for n in notes), "the slide's Q as a sum estimated by a moving average is a Note"
    assert any(r"without the $\frac12$" in n for n in notes), "the missing 1/2 in the algorithm's L_i is a Note"


def test_xor_section_shows_the_decks_two_constructions_and_leaves_the_rest_to_lecture_2(cells):
    text, code = section(cells, "Логическая функция XOR")
    assert "](02_neurons_and_backprop.ipynb)" in text
    assert "deck_xor_polynomial" in code and "xor_polynomial" in code and "nrn.XOR" in code
    assert "deck_xor_network" not in code, "the XNOR network of deck 000 is lecture 2's demonstration"


def test_initial_approximation_is_the_decks_layerwise_fit_on_random_subsamples(cells):
    text, code = section(cells, "Начальное приближение")
    assert "](04_activations_init_losses.ipynb)" in text, "the constant-initialization symmetry is lecture 4's"
    assert not re.search(r"\.data\[\.\.\.\]\s*=\s*0\.5", code), "no constant-initialization copy here"
    assert "def layerwise_init_" in code and "rng.choice(" in code and "least_squares(" in code
    assert re.search(r"for seed in tqdm\(range\(5\)", code), "random vs pre-trained start over several seeds"
    assert "fill_between" in code, "the curves show the spread over the seeds"


def test_obd_against_magnitude_is_averaged_over_seeds_and_explains_lecture_5(cells):
    text, code = section(cells, "Оптимизация структуры сети")
    assert re.search(r"prune_seeds = \[SEED \+ s for s in range\([3-9]\)\]", code)
    assert 'pruning_curves("cross_entropy"' in code and 'pruning_curves("mse"' in code
    assert "](05_training.ipynb)" in text and "squared error" in text and "cross-entropy" in text
    assert "about equal" not in text


def test_cnn_section_trains_a_cnn_and_compares_it_with_a_fully_connected_net_on_shifted_digits(cells):
    text, code = section(cells, "Subsampling слой")
    assert "nn.Conv2d" in code and "nnkit.train.fit(cnn" in code
    assert "cnn[0].weight" in code and "cnn[:2](" in code, "learned kernels and their feature maps"
    assert "def shift_images" in code and "def small_mlp" in code and "for seed in tqdm(range(3)" in code
    assert "Shifted digits" in text


def test_every_figure_has_a_title(cells):
    untitled = []
    for i, c in enumerate(cells):
        if c["cell_type"] == "code":
            for segment in source(c).split("plt.show()")[:-1]:
                if "suptitle(" not in segment and "title=" not in segment:
                    untitled.append(i)
    assert untitled == [], f"figures without a title in cells {untitled}"


BRITISH = r"\b\w+(?:isation|isations|ise|ised|ises|ising)\b|\b(?:neighbour\w*|behaviour|colour\w*|centre|labelled|grey)\b"
ALLOWED = {"noise", "otherwise", "likewise", "piecewise", "promise", "promises", "rise", "raised", "wise", "denoising",
           "precise", "exercise", "exercises", "concise", "advise", "surprise", "surprised", "surprising"}


def test_spelling_is_american(cells):
    words = {w.lower() for c in cells for w in re.findall(BRITISH, source(c), re.I)} - ALLOWED
    assert words == set(), f"British spellings: {sorted(words)}"
