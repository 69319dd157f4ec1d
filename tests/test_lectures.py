"""The lecture notebooks keep the promises of issue 5: each follows its deck section by section (the deck's Russian
titles in the headings, in the deck's order), opens with a header, marks the deck's known errata, ends with a
"check yourself" section, and links only to files that exist.  Running them is the site build's job (tests/test_site.py)."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LECTURES = ROOT / "lectures"

# The deck sections, in order, as listed in the course's source material (shared/seeds/README.md).  A heading
# carries its deck title in parentheses: "## English title (Русское название)".
DECK_SECTIONS = {
    "01_introduction.ipynb": [
        "Что такое нейронные сети?", "Мозг", "Биологический нейрон", "Историческая справка", "Области применения",
        "Модель нейрона", "Решение задачи регрессии", "Однослойная нейронная сеть", "Двуслойная нейронная сеть",
        "Теорема (Цыбенко, 1989)", "Пример", "Обучение двухслойной нейронной сети", "Виды градиентного спуска",
    ],
    "02_neurons_and_backprop.ipynb": [
        "Простейшая нейросеть – 1 нейрон", "Функции активации", "Функциональная выразимость нейрона",
        "Теорема об универсальной аппроксимации", "Сеть прямого распространения", "Обучение", "Функции ошибки",
        "Производные на компьютере", "Проблема затухания градиента", "Обратное распространение градиента",
    ],
    "03_networks_as_models_and_cnn.ipynb": [
        "Нейрон (модель МакКаллока-Питтса)", "Линейные алгоритмы классификации и регрессии",
        "Нейронная реализация логических функций", "Логическая функция XOR",
        "Любую ли функцию можно представить нейросетью?", "Многослойная нейронная сеть", "Стохастический градиент",
        "Быстрое вычисление градиента", "Алгоритм обратного распространения ошибки",
        "Стандартные эвристики для метода SG", "Ускорение сходимости", "Начальное приближение",
        "Оптимизация структуры сети", "Deep learning", "Сверточные нейросети", "Локально-связанный слой",
        "Инвариантность к перемещению", "Простейшая свертка", "Фильтр Гаусса", "Подавление шумов",
        "Сверточный слой", "Subsampling слой",
    ],
    "04_activations_init_losses.ipynb": [
        "Recap", "Stochastic Gradient Descent", "Backpropagation", "Vanishing / exploding gradients",
        "Функции активации", "Sigmoid", "tanh", "ReLU", "Модификации ReLU", "GELU", "Swish",
        "Universal approximation theorem", "Инициализация весов", "Инициализация константой",
        "Инициализация случайными значениями", "Xavier/Glorot", "He", "Ортогональная инициализация",
        "Задачи и функции потерь", "Регрессия", "Бинарная классификация", "Многоклассовая классификация",
        "Проблема софтмакса", "Какие еще бывают функции потерь",
    ],
    "05_training.ipynb": [
        "Алгоритм стохастического градиента", "Недостатки алгоритма стохастического градиентного спуска (SGD)",
        "Пакеты (batch)", "Перемешивание набора данных", "Стандартизация переменных", "L2-регуляризация",
        "Выбор функции активации", "Начальное приближение весов", "Выключение нейронов (Dropout)",
        "Удаление связей (Optimal brain damage)", "Модификации SGD (Momentum, NAG, RMSProp, AdaDelta, Adam)",
    ],
}

# The deck errata known so far (shared/seeds/README.md): each lecture has an "Erratum" block mentioning these.
KNOWN_ERRATA = {
    "01_introduction.ipynb": [r"\\nabla L\(\\theta_t\)", r"scalars", r"s_2 = 0\.35", r"\\hat y_d", r"u\^T W_2"],
    "02_neurons_and_backprop.ipynb": [r"XNOR", r"misses the \$\\partial\$"],
    "03_networks_as_models_and_cnn.ipynb": [r"2x_1x_2 - \\tfrac12"],
    "04_activations_init_losses.ipynb": [r"\\frac\{1\}\{2\\pi\}", r"\\delta_\{ik\}",
                                         r"lists \$\\partial L/\\partial f_2\$ twice"],
    "05_training.ipynb": [r"Glorot bound", r"1 - \\alpha\^t", r"defines the saliency as \$S_\{jh\} = w_\{jh\}\^2"],
}

# What the decks say imprecisely or by another valid convention: a **Note**, never an **Erratum** (the review of
# issue 14: L1's remark on a lost figure, L2's "any continuous function" without "on a compact set", L4's
# ReLU'(0) = 1, a valid subgradient, and its N(0, sigma) notation for He).
NOT_ERRATA = {
    "01_introduction.ipynb": [r"equals 0\.4, 0\.8 and 1\.5"],
    "02_neurons_and_backprop.ipynb": [r"without saying \*where\*"],
    "04_activations_init_losses.ipynb": [r"f'\(0\) = 1", r"\*standard deviation\*"],
    "03_networks_as_models_and_cnn.ipynb": [r"a \*\*sum\*\*"],
    "05_training.ipynb": [r"Rule 1 gets the scale"],
}

# The deck each lecture follows, as its header names it.
DECK_TITLES = {
    "01_introduction.ipynb": "Введение в нейронные сети",
    "02_neurons_and_backprop.ipynb": "Нейронные сети",
    "03_networks_as_models_and_cnn.ipynb": "Лекция 12. Нейронные сети",
    "04_activations_init_losses.ipynb": "Функции активации. Инициализация весов",
    "05_training.ipynb": "Обучение нейронных сетей",
}


def load(name):
    return json.loads((LECTURES / name).read_text())


def markdown(nb):
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def headings(nb):
    return [line for text in markdown(nb) for line in text.splitlines() if re.match(r"#{1,4} ", line)]


def test_there_is_one_notebook_per_deck():
    assert sorted(p.name for p in LECTURES.glob("*.ipynb")) == sorted(DECK_SECTIONS)


@pytest.mark.parametrize("name", sorted(DECK_SECTIONS))
def test_headings_follow_the_deck_in_order(name):
    found = headings(load(name))
    position = 0
    for title in DECK_SECTIONS[name]:
        matches = [i for i, h in enumerate(found) if i >= position and h.rstrip().endswith(f"({title})")]
        assert matches, f"{name}: no heading ending in '({title})' after {found[position - 1] if position else 'the start'!r}"
        position = matches[0] + 1


@pytest.mark.parametrize("name", sorted(DECK_SECTIONS))
def test_header_names_the_deck_prerequisites_and_assignments(name):
    header = markdown(load(name))[0]
    assert header.startswith("# Lecture "), "the first cell is the lecture's title"
    assert DECK_TITLES[name] in header, "the header names the deck it follows"
    assert "What to know first" in header
    assert re.search(r"\(\.\./assignments/a\d_\w+/a\d_\w+\.ipynb\)", header), "the header links its assignments"


@pytest.mark.parametrize("name", sorted(DECK_SECTIONS))
def test_known_errata_are_marked(name):
    errata = [t for t in markdown(load(name)) if "**Erratum" in t]
    for pattern in KNOWN_ERRATA[name]:
        assert any(re.search(pattern, t) for t in errata), f"{name}: no Erratum block matches {pattern!r}"


def blocks(nb, kind: str) -> list[str]:
    """The text of each **Erratum** or **Note** block: from its bold label to the next label or the cell's end."""
    found = []
    for text in markdown(nb):
        parts = re.split(r"(?=\*\*(?:Erratum|Note)\b)", text)
        found += [p for p in parts if p.startswith(f"**{kind}")]
    return found


@pytest.mark.parametrize("name", sorted(DECK_SECTIONS))
def test_imprecisions_and_conventions_are_notes_not_errata(name):
    nb = load(name)
    errata, notes = blocks(nb, "Erratum"), blocks(nb, "Note")
    for pattern in NOT_ERRATA[name]:
        assert any(re.search(pattern, t) for t in notes), f"{name}: no Note block matches {pattern!r}"
        assert not any(re.search(pattern, t) for t in errata), f"{name}: {pattern!r} is marked as an Erratum"


@pytest.mark.parametrize("name", sorted(DECK_SECTIONS))
def test_ends_with_check_yourself_and_answers(name):
    found = headings(load(name))
    assert found[-1].startswith("## Check yourself")
    last = markdown(load(name))[-1]
    assert "<summary>Answers</summary>" in last and len(re.findall(r"^\d+\. ", last, re.M)) >= 10


@pytest.mark.parametrize("name", sorted(DECK_SECTIONS))
def test_relative_links_resolve(name):
    broken = []
    for text in markdown(load(name)):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not re.match(r"[a-z]+://", target) and not (LECTURES / target).exists():
                broken.append(target)
    assert not broken, f"{name}: links to missing files {broken}"


@pytest.mark.parametrize("name", sorted(DECK_SECTIONS))
def test_code_runs_on_nnkit(name):
    code = "\n".join("".join(c["source"]) for c in load(name)["cells"] if c["cell_type"] == "code")
    assert re.search(r"^(import nnkit|from nnkit)", code, re.M)
