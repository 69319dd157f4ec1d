"""nnkit.neuron: the decks' logic gates and XOR constructions (errata included), polygon networks,
and Rosenblatt's perceptron."""
import numpy as np
import pytest

from nnkit.data import (LECTURE_NONCONVEX, LECTURE_POLYGON, logic_table, make_convex_polygon, make_nonconvex,
                        points_in_polygon)
from nnkit.neuron import (AND, NAND, NOT, OR, XOR, McCullochPittsNeuron, Perceptron, ThresholdNetwork,
                          convex_polygon_network, deck_xor_network, deck_xor_polynomial, polygon_union_network,
                          polynomial_features, threshold_neuron, xor_polynomial)

ROWS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])


# --- deck 004: AND, OR, NOT by one neuron -------------------------------------------------------------
@pytest.mark.parametrize("gate, name", [(AND, "and"), (OR, "or"), (NAND, "nand")])
def test_single_neuron_gates_reproduce_their_truth_tables(gate, name):
    X, y = logic_table(name)
    out = gate(X)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, y)


def test_gates_have_the_decks_weights():
    assert (AND.weights.tolist(), AND.threshold) == ([1, 1], 1.5)    # [x1 + x2 - 3/2 > 0]
    assert (OR.weights.tolist(), OR.threshold) == ([1, 1], 0.5)      # [x1 + x2 - 1/2 > 0]
    assert (NOT.weights.tolist(), NOT.threshold) == ([-1], -0.5)     # [-x1 + 1/2 > 0]


def test_not():
    X, y = logic_table("not")
    np.testing.assert_array_equal(NOT(X), y)
    assert NOT([0]) == 1 and NOT([1]) == 0


def test_threshold_is_strict_as_in_the_decks():
    # th(z) = I[z > 0]: a neuron exactly at its threshold does not fire.
    assert McCullochPittsNeuron([1.0], 1.0)([1.0]) == 0
    assert threshold_neuron([1.0, 1.0], [1.0, 1.0], -2.0) == 0
    np.testing.assert_array_equal(threshold_neuron(ROWS, [1, 1], -1.5), [0, 0, 0, 1])  # b = -w0: AND


def test_one_sample_gives_a_scalar_a_batch_gives_a_vector():
    assert np.ndim(AND([1, 1])) == 0 and AND([1, 1]) == 1
    assert AND(ROWS).shape == (4,)
    assert XOR([1, 0]) == 1 and XOR(ROWS).shape == (4,)


# --- XOR: two layers, or a product feature; and the decks' errata ---------------------------------------
def test_xor_network_is_xor():
    np.testing.assert_array_equal(XOR(ROWS), logic_table("xor")[1])


def test_xor_hidden_layer_is_or_and_and():
    hidden, output = XOR.hidden(ROWS)
    np.testing.assert_array_equal(hidden, np.column_stack([OR(ROWS), AND(ROWS)]))
    np.testing.assert_array_equal(output[:, 0], [0, 1, 1, 0])


def test_deck_000_xor_network_actually_computes_xnor():
    """Erratum: th(th(x1 + x2 - 1.5) + th(-x1 - x2 + 0.5) - 0.5) is 1 at (0,0) and (1,1)."""
    np.testing.assert_array_equal(deck_xor_network(ROWS), logic_table("xnor")[1])
    hidden, _ = deck_xor_network.hidden(ROWS)
    # the deck's own intermediate values: th(0+0-1.5) = 0, th(-0-0+0.5) = 1, then th(0 + 1 - 0.5) = 1 ...
    np.testing.assert_array_equal(hidden, [[0, 1], [0, 0], [0, 0], [1, 0]])
    assert not np.array_equal(deck_xor_network(ROWS), XOR(ROWS))


def test_xor_by_the_product_feature():
    np.testing.assert_array_equal(polynomial_features(ROWS)[:, 2], [0, 0, 0, 1])
    np.testing.assert_array_equal(xor_polynomial(ROWS), logic_table("xor")[1])


def test_deck_004_product_formula_with_plus_sign_is_wrong_at_one_one():
    """Erratum: [x1 + x2 + 2x1x2 - 1/2 > 0] gives 1 at (1, 1) -- it is OR."""
    out = deck_xor_polynomial(ROWS)
    np.testing.assert_array_equal(out, logic_table("or")[1])
    assert out[3] == 1 and xor_polynomial([1, 1]) == 0


def test_no_single_neuron_learns_xor():
    # The perceptron never completes an epoch without a mistake: XOR is not linearly separable.
    X, y = logic_table("xor")
    mistakes = Perceptron(2, seed=0).fit(X, 2 * y - 1, epochs=200)
    assert len(mistakes) == 200 and min(mistakes) > 0


# --- deck 004: convex polygons need two layers, unions of them three ----------------------------------
def test_two_layer_network_cuts_out_the_convex_polygon():
    X, y = make_convex_polygon(3000, seed=1)
    net = convex_polygon_network(LECTURE_POLYGON)
    assert len(net.layers) == 2 and net.layers[0][0].shape == (5, 2)
    np.testing.assert_array_equal(net(X), y)


def test_polygon_orientation_does_not_matter():
    X, _ = make_convex_polygon(500, seed=2)
    np.testing.assert_array_equal(convex_polygon_network(LECTURE_POLYGON[::-1])(X),
                                  convex_polygon_network(LECTURE_POLYGON)(X))


def test_three_layer_network_cuts_out_the_nonconvex_region():
    X, y = make_nonconvex(3000, seed=3)
    net = polygon_union_network(LECTURE_NONCONVEX)
    assert len(net.layers) == 3
    np.testing.assert_array_equal(net(X), y)
    assert 0.05 < y.mean() < 0.5


def test_polygon_networks_reject_bad_polygons():
    with pytest.raises(ValueError, match="not convex"):
        convex_polygon_network([[0, 0], [2, 0], [1, 0.2], [1, 2]])
    with pytest.raises(ValueError, match="collinear"):
        convex_polygon_network([[0, 0], [1, 1], [2, 2]])
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        convex_polygon_network([[0, 0], [1, 1]])
    with pytest.raises(ValueError, match="at least one"):
        polygon_union_network([])


def test_points_in_polygon_agrees_with_the_network_on_a_square():
    square = [[0, 0], [1, 0], [1, 1], [0, 1]]
    pts = np.array([[0.5, 0.5], [1.5, 0.5], [0.5, -0.1], [0.99, 0.99]])
    np.testing.assert_array_equal(points_in_polygon(pts, square), [True, False, False, True])
    np.testing.assert_array_equal(convex_polygon_network(square)(pts), [1, 0, 0, 1])


# --- ThresholdNetwork and neuron validation -------------------------------------------------------------
def test_threshold_network_checks_layer_shapes():
    with pytest.raises(ValueError, match="expects 3 inputs"):
        ThresholdNetwork([([[1, 1]], [0.5]), ([[1, 1, 1]], [0.5])])
    with pytest.raises(ValueError, match="thresholds"):
        ThresholdNetwork([([[1, 1], [1, 1]], [0.5])])
    with pytest.raises(ValueError, match="at least one layer"):
        ThresholdNetwork([])


def test_neurons_validate_their_inputs():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        AND(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        XOR(np.zeros((4, 1)))
    with pytest.raises(TypeError):
        AND("11")
    with pytest.raises(TypeError, match="threshold"):
        McCullochPittsNeuron([1, 1], "1.5")
    with pytest.raises(ValueError, match="vector"):
        McCullochPittsNeuron([[1, 1]], 1.5)


def test_neuron_does_not_alias_the_callers_weights():
    w = np.array([1.0, 1.0])
    n = McCullochPittsNeuron(w, 1.5)
    w[0] = -5
    assert n.weights[0] == 1.0


# --- Rosenblatt's perceptron ----------------------------------------------------------------------------
def separable_set(seed=0, n=300, margin=0.2):
    """Points on either side of the line x1 - 2 x2 + 0.3 = 0, none closer than ``margin`` to it."""
    rng = np.random.default_rng(seed)
    w_true, b_true = np.array([1.0, -2.0]), 0.3
    X = rng.uniform(-2, 2, size=(4 * n, 2))
    dist = (X @ w_true + b_true) / np.linalg.norm(w_true)
    X, dist = X[np.abs(dist) > margin][:n], dist[np.abs(dist) > margin][:n]
    return X, np.where(dist > 0, 1, -1), w_true, b_true


def test_perceptron_converges_and_its_weights_separate_the_data():
    X, y, _, _ = separable_set()
    p = Perceptron(2, seed=0)
    mistakes = p.fit(X, y, epochs=1000)
    assert mistakes[-1] == 0 and all(m > 0 for m in mistakes[:-1])
    assert np.all(y * (X @ p.weight + p.bias) > 0)          # the final boundary separates every point
    np.testing.assert_array_equal(p.predict(X), y)
    assert p.predict(X).dtype == np.int64


def test_perceptron_respects_novikoffs_mistake_bound():
    X, y, w_true, b_true = separable_set(seed=1)
    p = Perceptron(2, seed=1)
    total = sum(p.fit(X, y, epochs=1000))
    # In the space of (x, 1) the true separator u = (w, b)/|(w, b)| has margin γ; R = max |(x, 1)|.
    u = np.append(w_true, b_true) / np.linalg.norm(np.append(w_true, b_true))
    Xa = np.column_stack([X, np.ones(len(X))])
    gamma, R = np.min(y * (Xa @ u)), np.max(np.linalg.norm(Xa, axis=1))
    assert 0 < total <= (R / gamma) ** 2


def test_perceptron_learns_and_or_with_pm_one_labels():
    for name in ("and", "or"):
        X, y = logic_table(name)
        p = Perceptron(2, seed=0)
        assert p.fit(X, 2 * y - 1, epochs=100)[-1] == 0
        np.testing.assert_array_equal(p.predict(X), 2 * y - 1)


def test_perceptron_is_reproducible_and_the_learning_rate_only_rescales():
    X, y, _, _ = separable_set(seed=2)
    a, b, c = Perceptron(2, lr=1.0, seed=5), Perceptron(2, lr=1.0, seed=5), Perceptron(2, lr=0.01, seed=5)
    ma, mb, mc = a.fit(X, y), b.fit(X, y), c.fit(X, y)
    assert ma == mb == mc
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_allclose(c.weight, 0.01 * a.weight, rtol=1e-9)
    np.testing.assert_allclose(c.bias, 0.01 * a.bias, rtol=1e-9)


def test_perceptron_without_shuffle_follows_the_given_order():
    X = np.array([[2.0, 0.0], [-1.0, 0.0]])
    p = Perceptron(2)
    # From zero weights the first sample is on the boundary, a mistake: w = (2, 0), b = 1; then the
    # second scores -2 + 1 < 0, correct.  The second epoch has no mistakes.
    assert p.fit(X, [1, -1], epochs=5, shuffle=False) == [1, 0]
    np.testing.assert_array_equal(p.weight, [2.0, 0.0])
    assert p.bias == 1.0


def test_perceptron_rejects_bad_input():
    p = Perceptron(2)
    with pytest.raises(ValueError, match=r"-1 or \+1"):
        p.fit(ROWS, [0, 0, 0, 1])
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        p.fit(ROWS, [1, -1])
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        p.fit(np.zeros((4, 3)), [1, 1, -1, -1])
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        p.predict(np.zeros(2))
    with pytest.raises(ValueError, match="lr"):
        Perceptron(2, lr=0)
    with pytest.raises(TypeError):
        Perceptron(2.5)
    with pytest.raises(TypeError, match="seed"):
        Perceptron(2, seed="0")
