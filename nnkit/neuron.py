r"""The McCulloch–Pitts threshold neuron, the logic-gate networks built from it, and Rosenblatt's perceptron.

Lecture 3 (deck 004, «Нейрон (модель МакКаллока-Питтса)»): a neuron with features
:math:`f_1(x), \dots, f_n(x)`, weights :math:`w_1, \dots, w_n` and threshold :math:`w_0` computes

.. math:: a(x, w) = \sigma\Big(\sum_{j=1}^n w_j f_j(x) - w_0\Big),

and with the threshold activation :math:`\mathrm{th}(z) = [z > 0]` (deck 000, «Пороговая функция»)
it answers 0 or 1.  One such neuron realises AND, OR and NOT (deck 004, «Нейронная реализация
логических функций»), but not XOR, whose two classes no line separates; XOR needs either a
non-linear feature or a second layer (deck 004, «Логическая функция XOR»).  Two layers cut out any
convex polygon; three layers any union of polygons (deck 004, «Любую ли функцию можно представить
нейросетью?») -- see :func:`convex_polygon_network` and :func:`polygon_union_network`.

Errata in the decks, corrected here (the deck's versions are kept, named ``deck_*``, for the lecture):

* deck 000's XOR network :math:`\mathrm{th}(\mathrm{th}(x_1 + x_2 - 1.5) + \mathrm{th}(-x_1 - x_2 + 0.5) - 0.5)`
  outputs 1 at (0, 0) and (1, 1): it computes XNOR, the negation of XOR (:data:`deck_xor_network`).
* deck 004's :math:`x_1 \oplus x_2 = [x_1 + x_2 + 2x_1x_2 - 1/2 > 0]` gives 1 at (1, 1); the product
  term needs a minus sign (:func:`deck_xor_polynomial` vs :func:`xor_polynomial`).

Lecture 5 (deck 001, «Обучение одного нейрона: алгоритм Розенблатта»): :class:`Perceptron`.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import as_float_array, check_nonnegative_int, check_positive_int, make_rng
from .functional import heaviside_step

__all__ = ["threshold_neuron", "McCullochPittsNeuron", "ThresholdNetwork", "AND", "OR", "NOT", "NAND",
           "XOR", "deck_xor_network", "polynomial_features", "xor_polynomial", "deck_xor_polynomial",
           "convex_polygon_network", "polygon_union_network", "Perceptron"]


def _inputs(x, n_inputs: int, name: str) -> tuple[np.ndarray, bool]:
    """``x`` as a float (N, n_inputs) array, and whether it was a single sample (n_inputs,)."""
    x = as_float_array(x, f"{name} input")
    single = x.ndim == 1
    if single:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n_inputs:
        raise ValueError(f"{name} expects input of shape (N, {n_inputs}) or ({n_inputs},), got {tuple(x.shape)}")
    return x, single


def threshold_neuron(x, w, b=0.0) -> np.ndarray:
    r"""One threshold neuron in PyTorch's weight/bias form: :math:`\mathrm{th}(\langle w, x\rangle + b) = [\langle w, x\rangle + b > 0]`.

    ``x`` is ``(N, n)`` (or one sample ``(n,)``), ``w`` is ``(n,)``; returns 0/1 as ``int64``.  The
    bias is the negated threshold of deck 004's form, :math:`b = -w_0`.
    """
    w = as_float_array(w, "threshold_neuron w")
    if w.ndim != 1:
        raise ValueError(f"threshold_neuron w must be a vector (n,), got shape {tuple(w.shape)}")
    if not isinstance(b, numbers.Real) or isinstance(b, bool):
        raise TypeError(f"threshold_neuron b must be a real number, got {type(b).__name__}")
    x, single = _inputs(x, len(w), "threshold_neuron")
    out = heaviside_step(x @ w + b).astype(np.int64)
    return out[0] if single else out


class McCullochPittsNeuron:
    r"""A threshold neuron :math:`a(x) = [\sum_j w_j x_j - w_0 > 0]` (deck 004; ``threshold`` is :math:`w_0`).

    Called on ``(N, n)`` inputs it returns ``(N,)`` outputs in {0, 1} (``int64``); on one sample
    ``(n,)``, a scalar.  ``AND``, ``OR`` and ``NOT`` below are instances with the deck's weights.
    """

    def __init__(self, weights, threshold: float):
        w = np.array(as_float_array(weights, "McCullochPittsNeuron weights"), dtype=np.float64)  # a copy
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"McCullochPittsNeuron weights must be a non-empty vector (n,), got shape {w.shape}")
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise TypeError(f"McCullochPittsNeuron threshold must be a real number, got {type(threshold).__name__}")
        self.weights, self.threshold = w, float(threshold)

    @property
    def n_inputs(self) -> int:
        return len(self.weights)

    def __call__(self, x):
        x, single = _inputs(x, self.n_inputs, "McCullochPittsNeuron")
        out = heaviside_step(x @ self.weights - self.threshold).astype(np.int64)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"McCullochPittsNeuron(weights={self.weights.tolist()}, threshold={self.threshold:g})"


class ThresholdNetwork:
    r"""Layers of threshold neurons: :math:`h^{(k)} = \mathrm{th}(W_k h^{(k-1)} - t_k)`, :math:`h^{(0)} = x`.

    ``layers`` is a sequence of ``(W, t)``: ``W`` of shape ``(out, in)`` (one row per neuron, as
    ``nnkit.nn.Linear.weight``) and thresholds ``t`` of shape ``(out,)``.  A last layer with one
    neuron gives ``(N,)`` outputs; ``hidden(x)`` returns every layer's outputs, for the lecture's
    tables of intermediate values.
    """

    def __init__(self, layers):
        self.layers = []
        width = None
        for k, (W, t) in enumerate(layers):
            W = np.array(as_float_array(W, f"layer {k} weights"), dtype=np.float64, ndmin=2)
            t = np.array(as_float_array(t, f"layer {k} thresholds"), dtype=np.float64, ndmin=1)
            if W.ndim != 2 or t.shape != (W.shape[0],):
                raise ValueError(f"layer {k}: weights must be (out, in) and thresholds (out,), "
                                 f"got {W.shape} and {t.shape}")
            if width is not None and W.shape[1] != width:
                raise ValueError(f"layer {k} expects {W.shape[1]} inputs but layer {k - 1} has {width} neurons")
            width = W.shape[0]
            self.layers.append((W, t))
        if not self.layers:
            raise ValueError("ThresholdNetwork needs at least one layer")

    @property
    def n_inputs(self) -> int:
        return self.layers[0][0].shape[1]

    def hidden(self, x) -> list[np.ndarray]:
        """The outputs of every layer, each ``(N, width)`` in {0, 1}."""
        h, _ = _inputs(x, self.n_inputs, "ThresholdNetwork")
        outputs = []
        for W, t in self.layers:
            h = heaviside_step(h @ W.T - t)
            outputs.append(h.astype(np.int64))
        return outputs

    def __call__(self, x):
        _, single = _inputs(x, self.n_inputs, "ThresholdNetwork")
        out = self.hidden(x)[-1]
        if out.shape[1] == 1:
            out = out[:, 0]
        return out[0] if single else out

    def __repr__(self) -> str:
        widths = [self.n_inputs] + [W.shape[0] for W, _ in self.layers]
        return f"ThresholdNetwork({' -> '.join(map(str, widths))})"


# --- deck 004, «Нейронная реализация логических функций» -------------------------------------------
AND = McCullochPittsNeuron([1, 1], 1.5)      # x1 ∧ x2 = [x1 + x2 - 3/2 > 0]
OR = McCullochPittsNeuron([1, 1], 0.5)       # x1 ∨ x2 = [x1 + x2 - 1/2 > 0]
NOT = McCullochPittsNeuron([-1], -0.5)       # ¬x1 = [-x1 + 1/2 > 0]
NAND = McCullochPittsNeuron([-1, -1], -1.5)  # ¬(x1 ∧ x2): AND with every sign flipped

# deck 004, «Логическая функция XOR»: x1 ⊕ x2 = [(x1 ∨ x2) - (x1 ∧ x2) - 1/2 > 0], a two-layer network
# whose hidden layer is OR and AND.  This construction in the deck is correct.
XOR = ThresholdNetwork([
    ([[1, 1], [1, 1]], [OR.threshold, AND.threshold]),   # hidden: h1 = x1 ∨ x2, h2 = x1 ∧ x2
    ([[1, -1]], [0.5]),                                   # output: [h1 - h2 - 1/2 > 0]
])

# deck 000, «Что НЕ может один нейрон»: th(th(x1 + x2 - 1.5) + th(-x1 - x2 + 0.5) - 0.5).  ERRATUM:
# the hidden units are AND and NOR, and the output ORs them, so this is 1 at (0,0) and (1,1) -- XNOR.
# (Negating the output neuron, th(-h1 - h2 + 0.5), would make it XOR.)
deck_xor_network = ThresholdNetwork([
    ([[1, 1], [-1, -1]], [1.5, -0.5]),                   # h1 = x1 ∧ x2, h2 = ¬(x1 ∨ x2)
    ([[1, 1]], [0.5]),                                    # output: h1 ∨ h2
])


def polynomial_features(x) -> np.ndarray:
    r"""``(x1, x2) -> (x1, x2, x1·x2)``: the non-linear feature that lets one neuron compute XOR (deck 004)."""
    x, _ = _inputs(x, 2, "polynomial_features")
    return np.column_stack([x, x[:, 0] * x[:, 1]])


_XOR_ON_FEATURES = McCullochPittsNeuron([1, 1, -2], 0.5)
_DECK_XOR_ON_FEATURES = McCullochPittsNeuron([1, 1, 2], 0.5)


def xor_polynomial(x):
    r"""XOR by one neuron on the features :math:`(x_1, x_2, x_1x_2)`: :math:`[x_1 + x_2 - 2x_1x_2 - 1/2 > 0]`.

    On {0, 1}² the polynomial :math:`x_1 + x_2 - 2x_1x_2` equals :math:`x_1 \oplus x_2` exactly.
    """
    _, single = _inputs(x, 2, "xor_polynomial")
    out = _XOR_ON_FEATURES(polynomial_features(x))
    return out[0] if single else out


def deck_xor_polynomial(x):
    r"""Deck 004's formula as printed, :math:`[x_1 + x_2 + 2x_1x_2 - 1/2 > 0]` -- ERRATUM: it is OR, not XOR (1 at (1, 1))."""
    _, single = _inputs(x, 2, "deck_xor_polynomial")
    out = _DECK_XOR_ON_FEATURES(polynomial_features(x))
    return out[0] if single else out


# --- deck 004, «Любую ли функцию можно представить нейросетью?» --------------------------------------
def _edge_layer(vertices) -> tuple[np.ndarray, np.ndarray]:
    r"""One threshold neuron per edge of a convex polygon, firing on the polygon's side of the edge.

    For vertices in counter-clockwise order and the edge :math:`v_i \to v_{i+1} = v_i + e`, the
    interior is where the cross product :math:`e \times (x - v_i) = -e_y x_1 + e_x x_2 + (e_y v_x - e_x v_y)`
    is positive: weights :math:`(-e_y, e_x)`, threshold :math:`e_x v_y - e_y v_x`.
    """
    v = np.array(as_float_array(vertices, "polygon vertices"), dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
        raise ValueError(f"a polygon needs vertices of shape (K, 2) with K >= 3, got {v.shape}")
    nxt = np.roll(v, -1, axis=0)
    signed_area = 0.5 * np.sum(v[:, 0] * nxt[:, 1] - nxt[:, 0] * v[:, 1])   # the shoelace formula
    if signed_area == 0:
        raise ValueError("the polygon's vertices are collinear: it has no interior")
    if signed_area < 0:                  # clockwise: reverse, so the interior is left of every edge
        v = v[::-1]
    e = np.roll(v, -1, axis=0) - v
    e_next = np.roll(e, -1, axis=0)
    if np.any(e[:, 0] * e_next[:, 1] - e[:, 1] * e_next[:, 0] < -1e-12):   # a right turn somewhere
        raise ValueError("the polygon is not convex; split it into convex parts and use polygon_union_network")
    W = np.column_stack([-e[:, 1], e[:, 0]])
    t = e[:, 0] * v[:, 1] - e[:, 1] * v[:, 0]
    return W, t


def convex_polygon_network(vertices) -> ThresholdNetwork:
    r"""A two-layer threshold network that is 1 exactly inside a convex polygon.

    Hidden layer: one half-plane per edge (:func:`_edge_layer`); output: their AND,
    :math:`[\sum_k h_k - K + 1/2 > 0]` for :math:`K` edges.  Vertices ``(K, 2)`` in either orientation.
    """
    W, t = _edge_layer(vertices)
    K = len(t)
    return ThresholdNetwork([(W, t), (np.ones((1, K)), [K - 0.5])])


def polygon_union_network(polygons) -> ThresholdNetwork:
    r"""A three-layer threshold network that is 1 inside a union of convex polygons (deck 004).

    Layer 1: the edge half-planes of every polygon; layer 2: one AND per polygon (its own edges only);
    layer 3: the OR of the polygons, :math:`[\sum_p g_p - 1/2 > 0]`.  The union need be neither
    convex nor connected.
    """
    parts = [_edge_layer(p) for p in polygons]
    if not parts:
        raise ValueError("polygon_union_network needs at least one polygon")
    W1 = np.concatenate([W for W, _ in parts])
    t1 = np.concatenate([t for _, t in parts])
    sizes = [len(t) for _, t in parts]
    W2 = np.zeros((len(parts), len(t1)))
    start = np.cumsum([0] + sizes[:-1])
    for p, (s, k) in enumerate(zip(start, sizes)):   # a loop over polygons (the architecture), not samples
        W2[p, s:s + k] = 1.0
    t2 = np.array(sizes) - 0.5
    return ThresholdNetwork([(W1, t1), (W2, t2), (np.ones((1, len(parts))), [0.5])])


# --- deck 001, Rosenblatt's perceptron -------------------------------------------------------------
class Perceptron:
    r"""Rosenblatt's perceptron: :math:`a(x) = \operatorname{sign}(\langle w, x\rangle + b)` with labels :math:`y \in \{-1, +1\}`.

    The deck's convention (deck 004, «Линейные алгоритмы классификации»: :math:`Y = \{\pm 1\}`,
    :math:`a(x, w) = \operatorname{sign}\langle w, x\rangle`); ``bias`` :math:`b = -w_0`.  Training
    (deck 001, «Обучение одного нейрона: алгоритм Розенблатта») goes through the samples one at a
    time, in a fresh random order each epoch (deck 001, «Перемешивание набора данных»), and on every
    *mistake*, :math:`y_i(\langle w, x_i\rangle + b) \le 0`, moves the boundary towards the sample:

    .. math:: w \leftarrow w + \eta\, y_i x_i, \qquad b \leftarrow b + \eta\, y_i.

    This is stochastic gradient descent on the perceptron loss :math:`\max(0, -y(\langle w, x\rangle + b))`.
    A point exactly on the boundary counts as a mistake, so training starts even from zero weights.
    If the classes are linearly separable with margin :math:`\gamma` and :math:`\|x_i\| \le R`, the
    number of mistakes is at most :math:`(R/\gamma)^2` (Novikoff, 1962) -- whatever :math:`\eta`:
    from zero weights, :math:`\eta` only rescales :math:`(w, b)`, not the boundary.

    ``predict`` returns :math:`+1` where :math:`\langle w, x\rangle + b > 0`, otherwise :math:`-1`.
    """

    def __init__(self, n_features: int, lr: float = 1.0, seed=None):
        self.n_features = check_positive_int(n_features, "n_features")
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0 or not np.isfinite(lr):
            raise ValueError(f"lr must be a positive finite number, got {lr!r}")
        self.lr = float(lr)
        self.rng = make_rng(seed)
        self.weight = np.zeros(self.n_features)
        self.bias = 0.0

    def _check_X(self, X, name: str) -> np.ndarray:
        X = as_float_array(X, name)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"{name} expects X of shape (N, {self.n_features}), got {tuple(X.shape)}")
        return X

    def decision_function(self, X) -> np.ndarray:
        r""":math:`\langle w, x\rangle + b` for each row of ``X`` ``(N, n_features)``."""
        X = self._check_X(X, "Perceptron.decision_function")
        return X @ self.weight + self.bias

    def predict(self, X) -> np.ndarray:
        """Labels in {-1, +1} (``int64``)."""
        return np.where(self.decision_function(X) > 0, 1, -1)

    def fit(self, X, y, epochs: int = 100, shuffle: bool = True) -> list[int]:
        """Run Rosenblatt's rule for up to ``epochs`` passes; return the number of mistakes in each pass.

        Stops early after the first pass without a mistake (the data are then separated), so the list
        ends with 0 exactly when training converged.  ``y`` must hold only -1 and +1.
        """
        X = self._check_X(X, "Perceptron.fit")
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(f"Perceptron.fit expects y of shape ({len(X)},), got {y.shape}")
        if y.dtype.kind not in "biuf" or not np.isin(y, (-1, 1)).all():
            raise ValueError(f"Perceptron labels must be -1 or +1 (the deck's Y = {{±1}}), got values "
                             f"{np.unique(y)[:5].tolist()}; convert 0/1 labels with 2*y - 1")
        epochs = check_nonnegative_int(epochs, "epochs")
        y = y.astype(np.float64)
        mistakes_per_epoch = []
        for _ in range(epochs):
            order = self.rng.permutation(len(X)) if shuffle else np.arange(len(X))
            mistakes = 0
            # Rosenblatt's rule is online: each update changes the boundary the next sample meets,
            # so this loop over samples is the algorithm itself and cannot be vectorized.
            for i in order:
                if y[i] * (X[i] @ self.weight + self.bias) <= 0:
                    self.weight += self.lr * y[i] * X[i]
                    self.bias += self.lr * y[i]
                    mistakes += 1
            mistakes_per_epoch.append(mistakes)
            if mistakes == 0:
                break
        return mistakes_per_epoch

    def __repr__(self) -> str:
        return f"Perceptron(n_features={self.n_features}, lr={self.lr:g})"
