"""Lectures 1 and 2 keep the demonstrations the course review asked for, in the places the lectures divide between
them: Hebb's rule and a 2-D classification with the hidden neurons' lines in lecture 1 (which also keeps the
approximation staircase); in lecture 2 the hidden-layer width on lecture 1's circles, the «if and only if» of the
universal approximation theorem instead of a second staircase, no constant-initialization demo (lecture 4 has it),
and a micrograd-style `Value` written in the notebook and checked against nnkit and PyTorch.  Errata are kept for
real errors of the decks; imprecisions are notes.  These are checks of the notebooks' text and code; running them
is the site build's job (tests/test_site.py)."""
import json
import re
from pathlib import Path

import pytest

LECTURES = Path(__file__).resolve().parent.parent / "lectures"
L1, L2 = "01_introduction.ipynb", "02_neurons_and_backprop.ipynb"


def load(name):
    return json.loads((LECTURES / name).read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


def section(cells, title):
    """(markdown, code) of the cells from the '## ... (title)' heading up to the next '## ' heading."""
    start = next(i for i, c in enumerate(cells)
                 if c["cell_type"] == "markdown" and re.search(rf"^## .*\({re.escape(title)}\)\s*$", source(c), re.M))
    end = next((i for i in range(start + 1, len(cells))
                if cells[i]["cell_type"] == "markdown" and re.match(r"## ", source(cells[i]))), len(cells))
    part = cells[start:end]
    return ("\n\n".join(source(c) for c in part if c["cell_type"] == "markdown"),
            "\n".join(source(c) for c in part if c["cell_type"] == "code"))


def blocks(markdown, kind):
    """The '> **Erratum.**' or '> **Note.**' blockquotes of a piece of markdown, one string each."""
    return [p for p in re.split(r"\n\s*\n", markdown) if p.startswith(f"> **{kind}")]


@pytest.mark.parametrize("name", [L1, L2])
def test_the_notebook_is_committed_without_outputs(name):
    dirty = [i for i, c in enumerate(load(name)) if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])]
    assert dirty == [], f"cells with outputs: {dirty}"


@pytest.mark.parametrize("name", [L1, L2])
def test_spelling_is_american(name):
    text = "\n".join(source(c) for c in load(name))
    british = re.findall(r"\b\w*(?:i[sS](?:e|ed|es|ing)|isations?)\b", text)
    british = [w for w in british if re.search(r"(organ|recogn|optim|normal|regular|minim|parametr|initial|vector|"
                                               r"general|standard|summar|character|visual|real)is", w, re.I)]
    british += re.findall(r"\b(?:tumour|modelling|centred|behaviour|colour|labelled|towards)\b", text, re.I)
    assert british == [], f"British spellings: {sorted(set(british))}"


# --- lecture 1 --------------------------------------------------------------------------------------------------

def test_l1_history_runs_hebbs_rule_and_its_normalized_variant():
    text, code = section(load(L1), "Историческая справка")
    assert "Hebb" in text and "weight growth" in text and "Oja" in text
    assert re.search(r"w \+= eta \* y \* x\b", code), "Hebb's update, Δw = η x y"
    assert re.search(r"w \+= eta \* y \* \(x - y \* w\)", code), "Oja's normalized update"
    assert "semilogy" in code, "the growth of |w| is shown on a log scale"


def test_l1_example_keeps_only_the_real_error_as_erratum():
    text, code = section(load(L1), "Пример")
    errata, notes = blocks(text, "Erratum"), blocks(text, "Note")
    assert len(errata) == 1 and "s_2 = 0.35" in errata[0], errata
    assert "scale" not in errata[0] and "averages" not in errata[0], "the heights remark is not an error of the deck"
    assert any("0.4, 0.8 and 1.5" in n for n in notes), "the heights remark is a Note"
    assert "deck_steps[-1]" in code, "the Note's heights 0.4, 0.8, 1.5 are printed by the code"
    assert "def staircase(" in code, "the approximation staircase lives in lecture 1"


def test_l1_training_classifies_points_in_the_plane_with_the_hidden_lines_over_time():
    text, code = section(load(L1), "Обучение двухслойной нейронной сети")
    assert "make_circles" in code and "BCEWithLogitsLoss" in code
    snapshots = re.search(r"SNAPSHOTS = \(([^)]*)\)", code)
    assert snapshots and len(snapshots.group(1).split(",")) >= 3, "snapshots at several steps, in one figure"
    assert "def draw_hidden_lines" in code and "plot_decision_regions" in code
    seeds = re.search(r"for seed in range\(SEED, SEED \+ (\d+)\)", code)
    assert seeds and int(seeds.group(1)) >= 3, "the result is shown over several seeds"
    assert "Функциональная выразимость нейрона" in text, "links to lecture 2's discussion of width"


# --- lecture 2 --------------------------------------------------------------------------------------------------

def test_l2_xor_search_states_the_number_of_neurons_the_code_draws():
    text, code = section(load(L2), "Функциональная выразимость нейрона")
    drawn = int(re.search(r"W_try = rng\.normal\(size=\(([\d_]+), 2\)\)", code).group(1).replace("_", ""))
    assert f"{drawn:,} random neurons" in text
    assert f"{drawn:,} neurons" in code and "1e6" not in code


def test_l2_width_demo_on_lecture_1s_circles_links_back():
    text, code = section(load(L2), "Функциональная выразимость нейрона")
    assert "make_circles" in code and "WIDTHS" in code and "CIRCLE_SEEDS" in code
    assert "(01_introduction.ipynb)" in text


def test_l2_universal_approximation_links_to_the_staircase_instead_of_repeating_it():
    cells = load(L2)
    text, code = section(cells, "Теорема об универсальной аппроксимации")
    assert "(01_introduction.ipynb)" in text and "«Пример»" in text
    assert "staircase_network" not in code and "def staircase" not in code
    assert "np.square" in code, "the «if and only if» demo keeps a polynomial activation"
    assert blocks(text, "Erratum") == [], "«on a compact set» is an imprecision of the deck: a Note"
    assert any("compact set" in n for n in blocks(text, "Note"))


def test_l2_training_leaves_constant_initialization_to_lecture_4():
    text, code = section(load(L2), "Обучение")
    assert "constant_" not in code
    assert "(04_activations_init_losses.ipynb)" in text and "«Инициализация константой»" in text


def test_l2_backprop_writes_a_scalar_autodiff_and_checks_it():
    text, code = section(load(L2), "Обратное распространение градиента")
    assert re.search(r"^class Value:", code, re.M), "a Value class written in the notebook"
    for method in ("__add__", "__mul__", "tanh", "sigmoid", "backward"):
        assert re.search(rf"def {method}\(", code), method
    assert "reversed(order)" in code, "backward walks a topological order in reverse"
    assert re.search(r"Value\(1\.0\), Value\(2\.0\), Value\(3\.0\)", code), "the deck's f at (1, 2, 3)"
    assert "autograd.Value" in code and "torch" in code, "checked against nnkit.autograd.Value and PyTorch"
    assert "topologic" in text
