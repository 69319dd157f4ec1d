r"""Data for the lectures: mini-batches, standardization, toy problems and the digits images.

* :class:`DataLoader` / :func:`batches` -- deck 001, «Пакеты (batch)» and «Перемешивание набора
  данных»: shuffle, cut into batches of ``batch_size``, take a step on each.
* :class:`StandardScaler` -- deck 001, «Стандартизация переменных на входе в нейронную сеть».
* Toy problems: the logic tables (deck 004), the regression target of deck 002,
  2-D classification sets (moons, circles, blobs, Gaussian quantiles, spirals), a convex polygon and
  a non-convex region (deck 004, «Любую ли функцию можно представить нейросетью?»).
* :func:`load_digits` -- scikit-learn's bundled 8×8 digits (no download) as a small MNIST.

Features come back as ``float32`` (nnkit's default dtype), class labels as ``int64``; every
generator takes ``seed`` (``None``, an int or a ``numpy.random.Generator``) and is reproducible.
"""
from __future__ import annotations

import math
import numbers
from typing import Iterator, NamedTuple

import numpy as np

from ._checks import as_float_array, check_choice, check_nonnegative_real, check_positive_int, make_rng

__all__ = ["DataLoader", "batches", "train_test_split", "StandardScaler",
           "logic_table", "lecture_function", "make_lecture_regression", "LECTURE_X_RANGE",
           "make_moons", "make_circles", "make_blobs", "make_gaussian_quantiles", "make_spirals",
           "regular_polygon", "points_in_polygon", "make_convex_polygon", "make_nonconvex",
           "LECTURE_POLYGON", "LECTURE_NONCONVEX", "Dataset", "SplitDataset", "load_digits"]


# --- mini-batches -----------------------------------------------------------------------------------
def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _as_samples(X, y):
    """``X`` (and ``y``) as arrays with the same number of rows; ints and floats keep their dtype."""
    if X is None or isinstance(X, (str, bytes, dict, set)):
        raise TypeError(f"X must be an array of samples, got {type(X).__name__}")
    X = np.asarray(X)
    if X.ndim == 0:
        raise ValueError("X must have a sample dimension: shape (N, ...), got a scalar")
    if len(X) == 0:
        raise ValueError("X has no samples (N = 0)")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(X):
            raise ValueError(f"X and y must have the same number of samples, got {len(X)} and "
                             f"{'a scalar' if y.ndim == 0 else len(y)}")
    return X, y


class DataLoader:
    """Iterate over ``(X_batch, y_batch)`` mini-batches, as ``torch.utils.data.DataLoader``.

    Each pass (epoch) visits every sample exactly once.  With ``shuffle=True`` the order is a fresh
    random permutation every epoch -- deck 001: in a fixed order (say, sorted by class) consecutive
    steps all pull the weights the same way -- drawn from one generator made from ``seed``, so two
    loaders with the same seed give the same sequence of epochs.  The last batch is smaller when
    ``batch_size`` does not divide ``N``, unless ``drop_last=True`` drops it.  Defaults are PyTorch's
    (``batch_size=1``, ``shuffle=False``).  Without ``y`` the loader yields ``X`` batches alone.

    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(self, X, y=None, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed=None):
        self.X, self.y = _as_samples(X, y)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = _check_bool(shuffle, "shuffle")
        self.drop_last = _check_bool(drop_last, "drop_last")
        self.rng = make_rng(seed)
        if self.drop_last and len(self.X) < self.batch_size:
            raise ValueError(f"drop_last=True with batch_size={self.batch_size} > {len(self.X)} samples "
                             f"would give no batches at all")

    def __len__(self) -> int:
        n = len(self.X)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator:
        n = len(self.X)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.X[idx] if self.y is None else (self.X[idx], self.y[idx])

    @property
    def n_samples(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        return (f"DataLoader(n_samples={len(self.X)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")


def batches(X, y=None, batch_size: int = 32, shuffle: bool = True, seed=None, drop_last: bool = False):
    """One epoch of mini-batches as a generator: ``iter(DataLoader(X, y, batch_size, shuffle, drop_last, seed))``."""
    return iter(DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed))


def train_test_split(X, y, test_size: float = 0.25, seed=None, stratify: bool = True):
    """Split into ``X_train, X_test, y_train, y_test`` (scikit-learn's order), shuffled.

    With ``stratify=True`` every class keeps its proportion in both parts: each class puts
    ``round(n_c * test_size)`` of its samples into the test part.
    """
    X, y = _as_samples(X, y)
    if y is None:
        raise TypeError("train_test_split needs labels y")
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    rng = make_rng(seed)
    if _check_bool(stratify, "stratify"):
        # Sort by (class, random key): then each class is a contiguous run in random order, and the
        # first round(n_c * test_size) of each run go to the test part.  No loop over samples.
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        order = np.lexsort((rng.random(len(y)), inverse.ravel()))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(len(y)) - np.repeat(starts, counts)          # position within its class run
        n_test = np.rint(counts * test_size).astype(int)
        is_test = np.zeros(len(y), dtype=bool)
        is_test[order] = rank < np.repeat(n_test, counts)
        test_idx, train_idx = rng.permutation(np.flatnonzero(is_test)), rng.permutation(np.flatnonzero(~is_test))
    else:
        perm = rng.permutation(len(y))
        n_test = int(round(len(y) * test_size))
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    if len(test_idx) == 0 or len(train_idx) == 0:
        raise ValueError(f"test_size={test_size} leaves an empty part for {len(y)} samples")
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


# --- standardization ---------------------------------------------------------------------------------
class StandardScaler:
    r"""Standardize features: :math:`z_j = (x_j - \mu_j) / s_j`, as ``sklearn.preprocessing.StandardScaler``.

    Deck 001, «Стандартизация переменных»: features on very different scales make the loss surface
    a long narrow valley in which gradient descent zig-zags; after standardization every feature has
    mean 0 and variance 1 and the valley becomes rounder.  ``fit`` learns :math:`\mu` and
    :math:`s` (population standard deviation, ``ddof=0``) on the *training* data only; ``transform``
    applies those same numbers to any data.  A constant feature (:math:`s = 0`) gets :math:`s = 1`
    (it is only centered), as scikit-learn does.  Statistics are computed in float64; the output has
    the input's float dtype (integers -> float32).
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean = _check_bool(with_mean, "with_mean")
        self.with_std = _check_bool(with_std, "with_std")
        self.mean_ = self.scale_ = self.var_ = None
        self.n_features_in_ = None

    def _check(self, X, name: str) -> np.ndarray:
        X = as_float_array(X, f"StandardScaler.{name} X")
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"StandardScaler.{name} expects X of shape (N, n_features) with N >= 1, got "
                             f"{tuple(X.shape)}" + ("; use X.reshape(-1, 1) for one feature" if X.ndim == 1 else ""))
        if not np.all(np.isfinite(X)):
            raise ValueError(f"StandardScaler.{name} X contains NaN or infinity")
        if self.n_features_in_ is not None and name != "fit" and X.shape[1] != self.n_features_in_:
            raise ValueError(f"StandardScaler was fitted on {self.n_features_in_} features, got {X.shape[1]}")
        return X

    def fit(self, X) -> "StandardScaler":
        X = self._check(X, "fit")
        X64 = X.astype(np.float64)
        self.n_features_in_ = X.shape[1]
        self.mean_ = X64.mean(axis=0)
        self.var_ = X64.var(axis=0)
        # A (numerically) constant feature: dividing by ~0 would blow it up, so leave its scale at 1.
        std = np.sqrt(self.var_)
        self.scale_ = np.where(std < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(self.mean_), 1.0), 1.0, std)
        return self

    def _fitted(self, name: str) -> None:
        if self.mean_ is None:
            raise RuntimeError(f"StandardScaler.{name} called before fit")

    def transform(self, X) -> np.ndarray:
        self._fitted("transform")
        X = self._check(X, "transform")
        Z = X.astype(np.float64)
        if self.with_mean:
            Z = Z - self.mean_
        if self.with_std:
            Z = Z / self.scale_
        return Z.astype(X.dtype, copy=False)

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        r""":math:`x = z s + \mu`: back to the original units (e.g. to plot predictions)."""
        self._fitted("inverse_transform")
        Z = self._check(Z, "inverse_transform")
        X = Z.astype(np.float64)
        if self.with_std:
            X = X * self.scale_
        if self.with_mean:
            X = X + self.mean_
        return X.astype(Z.dtype, copy=False)

    def __repr__(self) -> str:
        return f"StandardScaler(with_mean={self.with_mean}, with_std={self.with_std})"


# --- logic tables and the lecture's regression target ------------------------------------------------
_TRUTH = {  # outputs for the rows (0,0), (0,1), (1,0), (1,1) -- the decks' order
    "and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "xor": [0, 1, 1, 0],
    "nand": [1, 1, 1, 0], "nor": [1, 0, 0, 0], "xnor": [1, 0, 0, 1],
}


def logic_table(name: str):
    """The truth table of a logic function: ``X`` float32 ``(4, 2)`` rows (0,0), (0,1), (1,0), (1,1) and ``y`` int64 ``(4,)``.

    ``name`` is one of 'and', 'or', 'xor', 'nand', 'nor', 'xnor' (case-insensitive), or 'not'
    (``X`` is then ``(2, 1)``).  Deck 004, «Нейронная реализация логических функций».
    """
    if not isinstance(name, str):
        raise TypeError(f"logic_table name must be a string, got {type(name).__name__}")
    key = check_choice(name.lower(), "logic_table name", tuple(_TRUTH) + ("not",))
    if key == "not":
        return np.array([[0], [1]], dtype=np.float32), np.array([1, 0], dtype=np.int64)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    return X, np.array(_TRUTH[key], dtype=np.int64)


LECTURE_X_RANGE = (0.0, 1.0)   # deck 002 approximates f on [0, 1] (Cybenko's theorem is stated on [0, 1]^d)


def lecture_function(x):
    r"""Deck 002's target, «Пример»: :math:`f(x) = 0.2 + 0.4x^2 + 0.3x\sin(15x) + 0.1\cos(50x)`.

    Elementwise; a float array keeps its dtype, anything else is computed in float32.
    """
    x = as_float_array(x, "lecture_function x")
    return 0.2 + 0.4 * x ** 2 + 0.3 * x * np.sin(15 * x) + 0.1 * np.cos(50 * x)


def make_lecture_regression(n_samples: int = 200, noise: float = 0.0, seed=None, x_range=LECTURE_X_RANGE):
    r"""``x`` uniform on ``x_range`` (deck 002's [0, 1]), sorted, and ``y = f(x) + noise·ε``, :math:`\varepsilon \sim N(0, 1)`.

    Both are float32 of shape ``(n_samples, 1)`` -- what ``Linear(1, ·)`` takes and ``MSELoss``
    compares with.  Sorted, so plotting is easy; shuffle when training (``DataLoader(shuffle=True)``).
    """
    n = check_positive_int(n_samples, "n_samples")
    noise = check_nonnegative_real(noise, "noise")
    lo, hi = _check_range(x_range)
    rng = make_rng(seed)
    x = np.sort(rng.uniform(lo, hi, size=n))
    y = lecture_function(x) + noise * rng.standard_normal(n)
    return x[:, None].astype(np.float32), y[:, None].astype(np.float32)


def _check_range(x_range) -> tuple[float, float]:
    if not isinstance(x_range, (tuple, list)) or len(x_range) != 2 or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in x_range) or not x_range[0] < x_range[1]:
        raise ValueError(f"x_range must be a pair (low, high) with low < high, got {x_range!r}")
    return float(x_range[0]), float(x_range[1])


# --- 2-D classification sets -------------------------------------------------------------------------
def _split_counts(n: int, k: int) -> np.ndarray:
    """``n`` samples over ``k`` classes as evenly as possible (the first classes get the remainder)."""
    return np.full(k, n // k) + (np.arange(k) < n % k)


def _finish(X, y, noise: float, rng, shuffle: bool = True):
    """Add Gaussian noise, shuffle, and return ``(X float32, y int64)``."""
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
    return X[order].astype(np.float32), y[order].astype(np.int64)


def _check_common(n_samples, noise, minimum: int = 1):
    n = check_positive_int(n_samples, "n_samples")
    if n < minimum:
        raise ValueError(f"n_samples must be at least {minimum}, got {n}")
    return n, check_nonnegative_real(noise, "noise")


def make_moons(n_samples: int = 200, noise: float = 0.1, seed=None):
    """Two interleaving half circles (class 0 above, class 1 below), as ``sklearn.datasets.make_moons``."""
    n, noise = _check_common(n_samples, noise, 2)
    rng = make_rng(seed)
    n0, n1 = _split_counts(n, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.concatenate([np.column_stack([np.cos(t0), np.sin(t0)]),
                        np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)])])
    y = np.repeat([0, 1], [n0, n1])
    return _finish(X, y, noise, rng)


def make_circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed=None):
    """A circle of radius ``factor`` (class 1) inside the unit circle (class 0), as scikit-learn's (whose default factor is 0.8)."""
    n, noise = _check_common(n_samples, noise, 2)
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = make_rng(seed)
    n0, n1 = _split_counts(n, 2)
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.concatenate([np.column_stack([np.cos(t0), np.sin(t0)]),
                        factor * np.column_stack([np.cos(t1), np.sin(t1)])])
    return _finish(X, np.repeat([0, 1], [n0, n1]), noise, rng)


def make_blobs(n_samples: int = 300, centers=3, cluster_std: float = 1.0, n_features: int = 2,
               box=(-10.0, 10.0), seed=None):
    """Gaussian clusters of std ``cluster_std``; ``centers`` is a count (drawn uniformly in ``box``) or a ``(k, n_features)`` array."""
    n = check_positive_int(n_samples, "n_samples")
    cluster_std = check_nonnegative_real(cluster_std, "cluster_std")
    n_features = check_positive_int(n_features, "n_features")
    rng = make_rng(seed)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        lo, hi = _check_range(box)
        centers = rng.uniform(lo, hi, size=(check_positive_int(centers, "centers"), n_features))
    else:
        centers = np.array(as_float_array(centers, "centers"), dtype=np.float64)
        if centers.ndim != 2 or centers.shape[1] != n_features or len(centers) == 0:
            raise ValueError(f"centers must be an int or an array of shape (k, {n_features}), got {centers.shape}")
    y = np.repeat(np.arange(len(centers)), _split_counts(n, len(centers)))
    return _finish(centers[y], y, cluster_std, rng)


def make_gaussian_quantiles(n_samples: int = 300, n_classes: int = 2, n_features: int = 2, seed=None):
    """Standard normal points, classes = quantile shells of the distance from 0 (nested rings), as scikit-learn's."""
    n, _ = _check_common(n_samples, 0.0)
    k = check_positive_int(n_classes, "n_classes")
    n_features = check_positive_int(n_features, "n_features")
    if k > n:
        raise ValueError(f"n_classes={k} is more than n_samples={n}")
    rng = make_rng(seed)
    X = rng.standard_normal((n, n_features))
    rank = np.argsort(np.argsort(np.sum(X ** 2, axis=1), kind="stable"), kind="stable")
    y = np.repeat(np.arange(k), _split_counts(n, k))[rank]     # the closest n/k points are class 0, ...
    return X.astype(np.float32), y.astype(np.int64)


def make_spirals(n_samples: int = 300, n_classes: int = 2, noise: float = 0.2, turns: float = 1.0, seed=None):
    r"""``n_classes`` interleaved spiral arms (CS231n's spiral data): arm ``k`` at radius :math:`r \in [0, 1]` has angle
    :math:`2\pi(\text{turns}\cdot r + k / K)` plus ``noise`` radians of Gaussian jitter.  Not linearly separable."""
    n, noise = _check_common(n_samples, noise)
    k = check_positive_int(n_classes, "n_classes")
    turns = check_nonnegative_real(turns, "turns")
    rng = make_rng(seed)
    y = np.repeat(np.arange(k), _split_counts(n, k))
    counts = _split_counts(n, k)
    r = np.concatenate([np.linspace(0.05, 1, c) for c in counts])   # a loop over classes, not samples
    angle = 2 * np.pi * (turns * r + y / k) + noise * rng.standard_normal(n)
    X = np.column_stack([r * np.cos(angle), r * np.sin(angle)])
    return _finish(X, y, 0.0, rng)


# --- polygons: deck 004's two- and three-layer demonstrations --------------------------------------
def regular_polygon(n_vertices: int = 5, radius: float = 0.7, center=(0.0, 0.0), rotation: float = 0.0) -> np.ndarray:
    """Vertices ``(n_vertices, 2)`` of a regular polygon, counter-clockwise, the first at angle ``rotation + π/2``."""
    k = check_positive_int(n_vertices, "n_vertices")
    if k < 3:
        raise ValueError(f"a polygon has at least 3 vertices, got {k}")
    t = rotation + np.pi / 2 + 2 * np.pi * np.arange(k) / k
    return np.column_stack([np.cos(t), np.sin(t)]) * radius + np.asarray(center, dtype=np.float64)


def points_in_polygon(X, vertices) -> np.ndarray:
    r"""Boolean mask: which rows of ``X`` ``(N, 2)`` lie strictly inside the *convex* polygon ``vertices``.

    A point is inside when it is on the interior side of every edge: the cross product
    :math:`(v_{i+1} - v_i) \times (x - v_i)` has the sign of the polygon's orientation for every edge.
    """
    X = as_float_array(X, "points_in_polygon X")
    v = np.asarray(as_float_array(vertices, "polygon vertices"), dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"points_in_polygon expects X of shape (N, 2), got {tuple(X.shape)}")
    if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
        raise ValueError(f"polygon vertices must have shape (K, 2) with K >= 3, got {v.shape}")
    e = np.roll(v, -1, axis=0) - v                                       # (K, 2) edges
    d = X[:, None, :].astype(np.float64) - v[None, :, :]                 # (N, K, 2) from each vertex
    cross = e[None, :, 0] * d[..., 1] - e[None, :, 1] * d[..., 0]        # (N, K)
    orientation = np.sign(np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1]))
    return np.all(orientation * cross > 0, axis=1)


LECTURE_POLYGON = regular_polygon(5, radius=0.7)
# A non-convex "chevron" (an arrow head pointing right) and a separate square: the union is neither
# convex nor connected -- what a three-layer network can carve out and a two-layer one cannot.
LECTURE_NONCONVEX = (
    np.array([[-0.8, 0.7], [-0.4, 0.7], [0.2, 0.0], [-0.2, 0.0]]),       # upper arm of the chevron
    np.array([[-0.2, 0.0], [0.2, 0.0], [-0.4, -0.7], [-0.8, -0.7]]),     # lower arm
    np.array([[0.4, -0.8], [0.8, -0.8], [0.8, -0.4], [0.4, -0.4]]),      # a square apart from it
)


def _uniform_square(n: int, rng) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, size=(n, 2))


def make_convex_polygon(n_samples: int = 500, vertices=None, seed=None):
    """Points uniform in [-1, 1]², class 1 strictly inside a convex polygon (default :data:`LECTURE_POLYGON`).

    A two-layer threshold network separates it exactly: ``nnkit.neuron.convex_polygon_network(vertices)``.
    """
    n = check_positive_int(n_samples, "n_samples")
    vertices = LECTURE_POLYGON if vertices is None else vertices
    X = _uniform_square(n, make_rng(seed))
    return X.astype(np.float32), points_in_polygon(X, vertices).astype(np.int64)


def make_nonconvex(n_samples: int = 800, polygons=None, seed=None):
    """Points uniform in [-1, 1]², class 1 inside a union of convex polygons (default :data:`LECTURE_NONCONVEX`).

    A three-layer threshold network separates it exactly: ``nnkit.neuron.polygon_union_network(polygons)``.
    Note: a point on an edge shared by two parts counts as outside (each part's interior is open).
    """
    n = check_positive_int(n_samples, "n_samples")
    polygons = LECTURE_NONCONVEX if polygons is None else polygons
    if len(polygons) == 0:
        raise ValueError("make_nonconvex needs at least one polygon")
    X = _uniform_square(n, make_rng(seed))
    inside = np.zeros(n, dtype=bool)
    for p in polygons:                     # a loop over the region's parts, not over samples
        inside |= points_in_polygon(X, p)
    return X.astype(np.float32), inside.astype(np.int64)


# --- the digits images -------------------------------------------------------------------------------
class Dataset(NamedTuple):
    """Features and labels: ``X, y = load_digits(split=False)``."""
    X: np.ndarray
    y: np.ndarray


class SplitDataset(NamedTuple):
    """A train/test split: ``X_train, y_train, X_test, y_test = load_digits()`` (or use the attributes)."""
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def load_digits(split: bool = True, test_size: float = 0.2, seed=0, flatten: bool = False, scale: bool = True):
    """scikit-learn's bundled handwritten digits (1797 images, 8×8, classes 0–9) as a small MNIST.

    Images are float32 ``(N, 1, 8, 8)`` -- PyTorch's NCHW layout, ready for ``Conv2d`` -- or
    ``(N, 64)`` with ``flatten=True`` (for ``Linear``); ``scale=True`` maps the raw intensities 0..16
    to [0, 1].  Labels are int64.  With ``split=True`` (default) returns a :class:`SplitDataset`,
    stratified (each digit keeps its share in both parts) and shuffled with ``seed``; otherwise a
    :class:`Dataset` in the original order.  No download: the data ship with scikit-learn.
    """
    split, flatten, scale = (_check_bool(split, "split"), _check_bool(flatten, "flatten"),
                             _check_bool(scale, "scale"))
    from sklearn.datasets import load_digits as _sk_load_digits   # imported here: only this needs sklearn
    raw = _sk_load_digits()
    X = raw.images.astype(np.float32)          # (1797, 8, 8), values 0..16
    if scale:
        X /= 16.0
    X = X.reshape(len(X), -1) if flatten else X[:, None, :, :]
    y = raw.target.astype(np.int64)
    if not split:
        return Dataset(X, y)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, seed=seed, stratify=True)
    return SplitDataset(X_train, y_train, X_test, y_test)
