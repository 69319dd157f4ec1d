"""Lecture 5 (05_training.ipynb) keeps the promises of its review, read from the notebook's source (nothing is
executed here; running the notebook is the site build's job, tests/test_site.py): every decision is taken on a validation split and the test sets
are only evaluated, the deck's step-size section has its schedule demo, the optimizer comparison tunes each method's
learning rate over several seeds, the initialization section links to the lectures that own the shared demos, the
deck's imprecisions are Notes and its errors Errata, and the spelling is American."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "lectures" / "05_training.ipynb"


@pytest.fixture(scope="module")
def cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def sources(cells, kind):
    return ["".join(c["source"]) for c in cells if c["cell_type"] == kind]


def calls(code, name):
    """The text of every call `name(...)` in `code`, parentheses balanced."""
    found = []
    for match in re.finditer(re.escape(name) + r"\(", code):
        depth = 0
        for end in range(match.end() - 1, len(code)):
            depth += {"(": 1, ")": -1}.get(code[end], 0)
            if depth == 0:
                found.append(code[match.start():end + 1])
                break
    return found


TEST_SETS = ("X_te", "Y_te", "y_te", "Xb_te", "yb_te", "A_te", "S_te", "X_unseen", "y_unseen")


def test_the_digits_have_a_validation_split_carved_from_the_training_part(cells):
    code = "\n".join(sources(cells, "code"))
    assert re.search(r"X_tr, X_val, y_tr, y_val = nnkit\.data\.train_test_split\(X_train_all, y_train_all", code)
    assert re.search(r"Xb_tr, Xb_val, yb_tr, yb_val = nnkit\.data\.train_test_split\(Xb_rest, yb_rest", code)


def test_no_test_set_is_watched_during_training_or_used_to_decide(cells):
    code = "\n".join(sources(cells, "code"))
    fits = calls(code, "nnkit.train.fit")
    assert len(fits) >= 6
    for call in fits:
        val = re.search(r"val=\(([^)]*)\)", call)
        assert val is None or not set(re.findall(r"\w+", val.group(1))) & set(TEST_SETS), call
    (stop_rule,) = calls(code, "obd.obd_prune_and_retrain")
    assert "X_val, Y_val" in stop_rule and not set(re.findall(r"\w+", stop_rule)) & set(TEST_SETS)
    # the learning rates and starting rates are chosen by validation losses
    assert re.search(r"min\(means, key=means\.get\)", code)
    assert re.search(r"np\.argmin\(means\)", code)


def test_pruning_curves_and_feature_selection_are_measured_on_validation_images(cells):
    code = "\n".join(sources(cells, "code"))
    for name in ("one_shot_curve", "prune_and_retrain"):
        body = code[code.index(f"def {name}("):]
        body = body[:body.index("\n\n\n")]
        assert "accuracy(net, X_val, y_val)" in body and "X_te" not in body
    assert "accuracy(digits_net, X_val, y_val)" in code


def test_the_optimizer_comparison_tunes_every_method_over_several_seeds(cells):
    code = "\n".join(sources(cells, "code"))
    grids = re.search(r"optimizer_grids = \{(.*?)\n\}", code, re.S).group(1)
    methods = re.findall(r'"(\w+)": \(lambda ps, lr: optim\.(\w+)\(ps, lr=lr.*?\), \(([^)]*)\)\)', grids)
    assert [m for m, _, _ in methods] == ["SGD", "Momentum", "NAG", "RMSProp", "AdaDelta", "Adam"]
    for _, _, grid in methods:
        assert len(grid.split(",")) >= 3
    assert re.search(r"EPOCHS, SEEDS = \d+, \(0, 1, 2\)", code)
    assert "fill_between" in code and "INSIDE" not in code


def test_the_step_size_section_has_a_schedule_demo(cells):
    markdown = "\n".join(sources(cells, "markdown"))
    headings = [line for line in markdown.splitlines() if re.match(r"#{1,4} ", line)]
    sgd = next(i for i, h in enumerate(headings) if h.endswith("(Модификации SGD (Momentum, NAG, RMSProp, AdaDelta, Adam))"))
    steps = next(i for i, h in enumerate(headings) if h.endswith("(Модификации выбора шага (темпа обучения))"))
    assert sgd < steps < len(headings) - 1
    code = "\n".join(sources(cells, "code"))
    assert "class CosineLR(optim.LRScheduler)" in code and "optim.StepLR(" in code
    assert '"constant": lambda opt: None' in code


def test_initialization_links_to_the_lectures_that_own_the_shared_demos(cells):
    markdown = sources(cells, "markdown")
    init = next(t for t in markdown if t.startswith("## The initial weights (Начальное приближение весов)"))
    assert "(04_activations_init_losses.ipynb)" in init and "Инициализация константой" in init
    assert "(03_networks_as_models_and_cnn.ipynb)" in init
    code = "\n".join(sources(cells, "code"))
    assert "init.constant_" not in code            # the constant-initialization symmetry demo lives in lecture 4


def test_errata_and_notes(cells):
    markdown = "\n".join(sources(cells, "markdown"))
    errata = re.findall(r"> \*\*Erratum\.\*\*(.*?)(?=\n\n|\Z)", markdown, re.S)
    notes = re.findall(r"> \*\*Note\.\*\*(.*?)(?=\n\n|\Z)", markdown, re.S)
    assert any("Glorot bound" in e and r"\sqrt 6" in e for e in errata)
    assert any(r"1 - \alpha^t" in e for e in errata)
    assert any("AdaDelta is plain SGD" in e for e in errata)
    assert any(r"S_{jh} = w_{jh}^2" in e for e in errata)
    assert any("Rule 1" in n for n in notes) and not any("Rule 1" in e for e in errata)


def test_american_spelling(cells):
    text = "\n".join("".join(c["source"]) for c in cells)
    british = re.findall(r"\b\w*(?:ise|ised|ises|ising|isation|isations|iser|isers)\b", text)
    british = [w for w in british if re.search(
        r"(standard|regular|initial|optim|normal|equal|minim|maxim|stabil|penal|general|visual|summar|paralys|"
        r"organ|recogn|real|util|character|special|memor|random|vector|parametr)is", w, re.I)]
    assert british == []
    assert not re.search(r"\b(behaviour|colour|centre|centres|centred|modelling|labelled)\b", text)


def test_the_reviewed_claims_match_what_the_figures_show(cells):
    markdown = "\n".join(sources(cells, "markdown"))
    assert "islands" not in markdown                     # the moons figure has none
    assert "keep the test loss low" not in markdown      # the L2 and dropout validation losses rise too
    rmsprop = re.search(r"- \*\*RMSProp\*\*(.*?)\n- \*\*AdaDelta\*\*", markdown, re.S).group(1)
    assert "hovering" not in rmsprop and "falls to" in rmsprop and "step 200" in rmsprop
