"""nnkit.plot: every helper returns a Figure with titles, axis labels and legends, draws what it was
given, accepts an existing Axes, and rejects bad input."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import nnkit.functional as F  # noqa: E402
from nnkit import plot  # noqa: E402
from nnkit.autograd import Value  # noqa: E402
from nnkit.data import load_digits, logic_table, make_moons  # noqa: E402
from nnkit.neuron import XOR, Perceptron  # noqa: E402
from nnkit.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# --- decision regions ------------------------------------------------------------------------------------
def test_decision_regions_of_the_xor_network():
    X, y = logic_table("xor")
    calls = []

    def predict(points):
        calls.append(points.shape)
        return XOR(points)

    fig = plot.plot_decision_regions(predict, X, y, resolution=50, title="XOR")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert calls == [(2500, 2)]
    assert ax.get_title() == "XOR" and ax.get_xlabel() and ax.get_ylabel()
    assert legend_texts(ax) == ["class 0", "class 1"]
    assert len(ax.collections) >= 2       # the filled regions and the scattered points


def test_decision_regions_accepts_scores_probabilities_and_pm_one_labels():
    X, y = make_moons(60, seed=0)
    w = np.array([[1.0, -1.0], [-1.0, 1.0]])
    plot.plot_decision_regions(lambda p: p @ w, X, y, resolution=20)                     # class scores
    plot.plot_decision_regions(lambda p: 1 / (1 + np.exp(-p[:, :1])), X, y, resolution=20)  # probabilities
    p = Perceptron(2, seed=0)
    p.fit(X, 2 * y - 1, epochs=5)
    fig = plot.plot_decision_regions(p.predict, X, 2 * y - 1, resolution=20)
    assert legend_texts(fig.axes[0]) == ["class -1", "class 1"]


def test_decision_regions_draws_into_a_given_axes():
    X, y = logic_table("and")
    fig, (a, b) = plt.subplots(1, 2)
    assert plot.plot_decision_regions(lambda p: p.sum(axis=1) > 1.5, X, y, ax=b, resolution=10) is fig
    assert not a.collections and b.collections


def test_decision_regions_errors():
    X, y = logic_table("or")
    with pytest.raises(TypeError, match="callable"):
        plot.plot_decision_regions("model", X, y)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot.plot_decision_regions(lambda p: p[:, 0], np.zeros((4, 3)), y)
    with pytest.raises(ValueError, match="one label per point"):
        plot.plot_decision_regions(lambda p: p[:, 0], X, y[:3])
    with pytest.raises(ValueError, match="predict_fn must return"):
        plot.plot_decision_regions(lambda p: np.zeros((len(p), 2, 2)), X, y, resolution=5)
    with pytest.raises(TypeError, match="Axes"):
        plot.plot_decision_regions(lambda p: p[:, 0], X, y, ax="left")


# --- training curves --------------------------------------------------------------------------------------
def test_history_with_accuracy_has_two_labelled_panels():
    h = History(train_loss=[1.0, 0.5, 0.3], val_loss=[1.1, 0.6, 0.4], train_accuracy=[0.5, 0.8, 0.9],
                val_accuracy=[0.4, 0.7, 0.85])
    fig = plot.plot_history(h)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "Loss" and acc_ax.get_title() == "Accuracy"
    assert (loss_ax.get_xlabel(), loss_ax.get_ylabel(), acc_ax.get_ylabel()) == ("epoch", "loss", "accuracy")
    assert legend_texts(loss_ax) == ["train loss", "validation loss"]
    assert legend_texts(acc_ax) == ["train accuracy", "validation accuracy"]
    np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(acc_ax.lines[1].get_ydata(), h.val_accuracy)


def test_regression_history_has_one_panel_and_a_dict_works():
    fig = plot.plot_history({"train_loss": [3.0, 2.0], "val_loss": []}, title="MLP")
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "MLP: loss"
    assert legend_texts(fig.axes[0]) == ["train loss"]


def test_history_into_given_axes():
    h = History(train_loss=[1.0, 0.5], train_accuracy=[0.5, 0.9])
    fig, axes = plt.subplots(1, 2)
    assert plot.plot_history(h, ax=axes) is fig
    assert axes[1].get_title() == "Accuracy"


def test_history_errors():
    with pytest.raises(ValueError, match="train_loss"):
        plot.plot_history(History())
    with pytest.raises(TypeError, match="History"):
        plot.plot_history([1.0, 0.5])


# --- function fits, activations, digits --------------------------------------------------------------------
def test_function_fit_draws_target_prediction_and_data():
    x = np.linspace(0, 1, 50)[::-1, None]               # unsorted (N, 1) input is fine
    fig = plot.plot_function_fit(x, np.sin(x), np.sin(x) + 0.1, x_train=x[::5], y_train=np.sin(x[::5]))
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and len(ax.collections) == 1
    assert np.all(np.diff(ax.lines[0].get_xdata()) > 0)  # drawn in order of x
    assert legend_texts(ax) == ["training data", "target $f(x)$", "network"]
    assert ax.get_title() and ax.get_xlabel() == "$x$"
    with pytest.raises(ValueError, match="same length"):
        plot.plot_function_fit(x, np.sin(x), np.sin(x)[:10])


def test_activation_and_its_derivative():
    fig = plot.plot_activation(F.sigmoid, F.sigmoid_derivative, "sigmoid")
    ax = fig.axes[0]
    assert ax.get_title() == "sigmoid" and ax.get_xlabel() == "$z$"
    curves = [line for line in ax.lines if len(line.get_xdata()) > 2]   # not the axis lines
    assert len(curves) == 2
    z = curves[0].get_xdata()
    np.testing.assert_allclose(curves[0].get_ydata(), F.sigmoid(z))
    np.testing.assert_allclose(curves[1].get_ydata(), F.sigmoid_derivative(z))
    assert plot.plot_activation(F.relu).axes[0].get_title() == "relu"
    with pytest.raises(TypeError, match="callables"):
        plot.plot_activation(F.relu, "not a function")


def test_digits_grid_marks_wrong_predictions():
    d = load_digits(split=False)
    pred = d.y[:12].copy()
    pred[3] = (pred[3] + 1) % 10
    fig = plot.plot_digits(d.X, d.y, pred, n=12, ncols=6, title="digits")
    shown = [a for a in fig.axes if a.images]
    assert len(shown) == 12 and len(fig.axes) == 12
    colors = [a.title.get_color() for a in shown]
    assert colors[3] == "tab:red" and colors.count("k") == 11
    assert fig._suptitle.get_text() == "digits"
    assert len([a for a in plot.plot_digits(d.X.reshape(-1, 64), n=5).axes if a.images]) == 5
    with pytest.raises(ValueError, match="square"):
        plot.plot_digits(np.zeros((3, 10)))


# --- the computational graph --------------------------------------------------------------------------------
def test_computational_graph_into_given_axes():
    a = Value(2.0, label="a")
    out = (a * a).tanh()
    out.backward()
    fig, ax = plt.subplots()
    assert plot.plot_computational_graph(out, ax=ax, title="tanh(a²)") is fig
    assert ax.get_title() == "tanh(a²)"
    boxes = [t for t in ax.texts if not isinstance(t, matplotlib.text.Annotation)]
    assert len(boxes) == 3
    arrows = [t for t in ax.texts if isinstance(t, matplotlib.text.Annotation)]
    assert len(arrows) == 2                 # a → a*a (drawn once although a is used twice), a*a → tanh


def test_figures_render():
    # Drawing resolves the annotations anchored on other texts: make sure it works end to end.
    x, y = Value(1.0, label="x"), Value(2.0, label="y")
    f = (x + y) * (y - 3.0)
    f.backward()
    fig = plot.plot_computational_graph(f)
    fig.canvas.draw()
