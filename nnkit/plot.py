"""Matplotlib helpers the lectures reuse: decision regions, training curves, function fits, activations,
digit images and the computational graph of ``nnkit.autograd``.

Every function takes an optional ``ax`` (draw into an existing figure) and returns the ``Figure``.
Without ``ax`` a new figure is made with ``pyplot``, so a notebook shows it at the end of the cell;
end the line with ``;`` (or assign the result) to avoid showing it twice.  This is the only nnkit
module that imports matplotlib.
"""
from __future__ import annotations

from typing import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from ._checks import as_float_array, check_positive_int

__all__ = ["plot_decision_regions", "plot_history", "plot_function_fit", "plot_activation", "plot_digits",
           "plot_computational_graph"]

# Color-blind-safe qualitative colors (matplotlib's tab10 order): class k gets _COLORS[k % 10].
_COLORS = plt.get_cmap("tab10").colors


def _figure_and_axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    if not hasattr(ax, "plot") or not hasattr(ax, "figure"):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax.figure, ax


def _points_2d(X, name: str) -> np.ndarray:
    X = as_float_array(X, name)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, 2) with N >= 1 (two features to plot), got {tuple(X.shape)}")
    return X


def _as_labels(output, threshold: float) -> np.ndarray:
    """What a predictor returned -> one class label per row.

    Class scores ``(M, C)`` -> argmax; integer or boolean labels ``(M,)`` stay; a single float per row
    (a probability, or a logit with ``threshold=0``) -> ``output > threshold`` as 0/1.
    """
    out = np.asarray(output)
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    out = out.reshape(len(out), -1)
    if out.shape[1] != 1:
        raise ValueError(f"predict_fn must return labels (M,), one score (M, 1) or class scores (M, C), "
                         f"got shape {np.shape(output)}")
    out = out[:, 0]
    if out.dtype.kind in "biu":
        return out.astype(np.int64)
    return (out > threshold).astype(np.int64)


def plot_decision_regions(predict_fn: Callable, X, y=None, ax=None, resolution: int = 200, padding: float = 0.5,
                          threshold: float = 0.5, title: str | None = "Decision regions"):
    """Color the plane by the class ``predict_fn`` assigns to each point; overlay the data ``(X, y)``.

    ``predict_fn`` maps an ``(M, 2)`` array of points to labels ``(M,)``, class scores ``(M, C)``
    (argmax is taken) or one probability per point (``> threshold``; pass ``threshold=0`` for a
    logit).  The grid is ``resolution × resolution`` points spanning the data plus ``padding``.
    Lectures 1 and 3: what AND/OR/XOR networks, a perceptron or an MLP have learned.
    """
    if not callable(predict_fn):
        raise TypeError(f"predict_fn must be callable (points (M, 2) -> labels), got {type(predict_fn).__name__}")
    X = _points_2d(X, "plot_decision_regions X")
    resolution = check_positive_int(resolution, "resolution")
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(X):
            raise ValueError(f"y must have one label per point: {len(X)} points, {len(y)} labels")
    low, high = X.min(axis=0) - padding, X.max(axis=0) + padding
    g0, g1 = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()]).astype(X.dtype)
    predicted = _as_labels(predict_fn(grid), threshold)
    if predicted.shape != (len(grid),):
        raise ValueError(f"predict_fn returned {predicted.shape[0]} predictions for {len(grid)} points")

    # One color per class value (labels may be {0, 1}, {-1, +1} or 0..9): index into the sorted union.
    classes = np.unique(predicted if y is None else np.concatenate([predicted, y.astype(predicted.dtype)]))
    colors = [_COLORS[i % len(_COLORS)] for i in range(len(classes))]
    fig, ax = _figure_and_axes(ax, (5, 4.5))
    region = np.searchsorted(classes, predicted).reshape(g0.shape)
    ax.contourf(g0, g1, region, levels=np.arange(len(classes) + 1) - 0.5, cmap=ListedColormap(colors), alpha=0.3)
    if y is not None:
        for k, c in enumerate(classes):
            mask = y == c
            if mask.any():
                ax.scatter(X[mask, 0], X[mask, 1], color=colors[k], edgecolors="k", linewidths=0.5, s=25,
                           label=f"class {c:g}")
        ax.legend(loc="best", fontsize="small")
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return fig


def _history_dict(history) -> dict:
    if hasattr(history, "as_dict"):
        return history.as_dict()
    if isinstance(history, Mapping):
        return {k: list(v) for k, v in history.items()}
    raise TypeError(f"history must be an nnkit.train.History or a dict of lists, got {type(history).__name__}")


def plot_history(history, ax=None, title: str | None = None):
    """Loss curves (train, validation) and, when recorded, accuracy curves, against the epoch.

    ``history`` is the ``History`` returned by ``nnkit.train.fit`` (or a dict with keys
    ``train_loss``, ``val_loss``, ``train_accuracy``, ``val_accuracy``).  ``ax`` may be one Axes
    (the losses only) or a pair (losses, accuracies); by default a figure with one or two panels.
    """
    h = _history_dict(history)
    if not h.get("train_loss"):
        raise ValueError("history has no train_loss values to plot (did training run for at least one epoch?)")
    has_accuracy = bool(h.get("train_accuracy") or h.get("val_accuracy"))
    if ax is None:
        fig, axes = plt.subplots(1, 2 if has_accuracy else 1, figsize=(10 if has_accuracy else 5, 4))
        axes = list(np.atleast_1d(axes))
    else:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        fig = _figure_and_axes(axes[0], None)[0]

    panels = [("loss", "Loss")] + ([("accuracy", "Accuracy")] if has_accuracy and len(axes) > 1 else [])
    for a, (key, name) in zip(axes, panels):
        for split, style in (("train", "-"), ("val", "--")):
            values = h.get(f"{split}_{key}") or []
            if values:
                epochs = np.arange(1, len(values) + 1)
                a.plot(epochs, values, style, marker="o" if len(values) <= 30 else None, markersize=3,
                       label=f"{'train' if split == 'train' else 'validation'} {key}")
        a.set_xlabel("epoch")
        a.set_ylabel(key)
        a.set_title(name if title is None else f"{title}: {name.lower()}")
        a.legend(loc="best")
        a.grid(alpha=0.3)
    return fig


def _vector(v, name: str) -> np.ndarray:
    v = as_float_array(v, name)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise ValueError(f"{name} must have shape (N,) or (N, 1), got {tuple(v.shape)}")
    return v


def plot_function_fit(x, y_true, y_pred, ax=None, x_train=None, y_train=None,
                      title: str | None = "Function and its approximation"):
    """The target function and a network's approximation on one axis, optionally with the training points.

    Lecture 1 (deck 002, «Пример»): a two-layer network approximating
    :math:`f(x) = 0.2 + 0.4x^2 + 0.3x\\sin(15x) + 0.1\\cos(50x)`.  Arrays may be ``(N,)`` or ``(N, 1)``;
    the curves are drawn in order of ``x``.
    """
    x = _vector(x, "x")
    y_true, y_pred = _vector(y_true, "y_true"), _vector(y_pred, "y_pred")
    if not len(x) == len(y_true) == len(y_pred):
        raise ValueError(f"x, y_true, y_pred must have the same length, got {len(x)}, {len(y_true)}, {len(y_pred)}")
    fig, ax = _figure_and_axes(ax, (6, 4))
    order = np.argsort(x, kind="stable")
    if x_train is not None and y_train is not None:
        ax.scatter(_vector(x_train, "x_train"), _vector(y_train, "y_train"), s=10, color="0.6",
                   label="training data", zorder=1)
    ax.plot(x[order], y_true[order], color=_COLORS[0], lw=2, label="target $f(x)$", zorder=2)
    ax.plot(x[order], y_pred[order], color=_COLORS[3], lw=2, ls="--", label="network", zorder=3)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    if title:
        ax.set_title(title)
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    return fig


def plot_activation(fn: Callable, derivative: Callable | None = None, name: str | None = None, x=None, ax=None):
    """An activation :math:`f(z)` and (dashed) its derivative :math:`f'(z)` on ``x`` (default [-5, 5]).

    Lecture 2 (deck 000, «Функции активации») and lecture 4 (deck 003): e.g.
    ``plot_activation(F.sigmoid, F.sigmoid_derivative, "sigmoid")``.
    """
    if not callable(fn) or (derivative is not None and not callable(derivative)):
        raise TypeError("fn and derivative must be callables that map an array to an array")
    x = np.linspace(-5.0, 5.0, 501) if x is None else _vector(x, "x")
    name = name or getattr(fn, "__name__", "f")
    fig, ax = _figure_and_axes(ax, (5, 3.5))
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.plot(x, np.asarray(fn(x)).reshape(x.shape), color=_COLORS[0], lw=2, label=f"{name}$(z)$")
    if derivative is not None:
        ax.plot(x, np.asarray(derivative(x)).reshape(x.shape), color=_COLORS[1], lw=2, ls="--",
                label=f"{name}$'(z)$")
    ax.set_xlabel("$z$")
    ax.set_ylabel("value")
    ax.set_title(name)
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    return fig


def plot_digits(images, labels=None, predictions=None, n: int = 20, ncols: int = 10,
                title: str | None = None):
    """The first ``n`` images in a grid, titled with the label (and the prediction, red when wrong).

    ``images``: ``(N, 1, H, W)``, ``(N, H, W)`` or flattened square ``(N, H*W)`` -- e.g. ``load_digits()``.
    """
    images = as_float_array(images, "images")
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    elif images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"flattened images must be square, got {images.shape[1]} pixels per image")
        images = images.reshape(len(images), side, side)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, 1, H, W), (N, H, W) or (N, H*W), got {tuple(images.shape)}")
    n = min(check_positive_int(n, "n"), len(images))
    ncols = min(check_positive_int(ncols, "ncols"), n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.1 * ncols, 1.3 * nrows), squeeze=False)
    for i, a in enumerate(axes.ravel()):
        a.axis("off")
        if i >= n:
            continue
        a.imshow(images[i], cmap="gray_r")
        if labels is not None:
            text, color = f"{np.asarray(labels)[i]}", "k"
            if predictions is not None:
                p = np.asarray(predictions)[i]
                text, color = f"{p} ({text})", ("k" if p == np.asarray(labels)[i] else "tab:red")
            a.set_title(text, color=color, fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def _node_text(node) -> str:
    head = node.label or ""
    if node._op:
        head = f"{head} ({node._op})" if head else f"({node._op})"
    return f"{head}\ndata {node.data:.4g}\ngrad {node.grad:.4g}"


def plot_computational_graph(root, ax=None, title: str | None = None):
    """Draw the graph that computed the ``nnkit.autograd.Value`` ``root``: inputs left, ``root`` right.

    Each box shows the node's label and operation, its value (forward pass) and its gradient
    (backward pass: call ``root.backward()`` first).  A node's column is the length of the longest
    path to it from an input, so every arrow points right; within a column nodes are ordered by the
    mean row of their inputs, which keeps arrows short.  Lecture 2 (deck 000, «Производные на
    компьютере»).
    """
    # Checked by what is used -- data, grad, label, _op, _prev, topological_order -- rather than by
    # importing nnkit.autograd: that module imports this one (for draw_graph), and nnkit's modules
    # import each other in one direction only (tests/test_imports.py).
    if not all(hasattr(root, a) for a in ("data", "grad", "label", "_op", "_prev", "topological_order")):
        raise TypeError(f"plot_computational_graph draws an nnkit.autograd.Value, got {type(root).__name__}")
    order = root.topological_order()          # inputs before the nodes computed from them
    column = {}
    for node in order:
        column[id(node)] = 1 + max((column[id(c)] for c in node._prev), default=-1)
    n_cols = max(column.values()) + 1
    rows: dict[int, float] = {}
    by_column = [[] for _ in range(n_cols)]
    for node in order:
        by_column[column[id(node)]].append(node)
    for col, nodes in enumerate(by_column):
        if col > 0:   # barycenter ordering; stable sort keeps topological order for ties
            nodes.sort(key=lambda v: np.mean([rows[id(c)] for c in v._prev]))
        offset = (len(nodes) - 1) / 2
        for i, node in enumerate(nodes):
            rows[id(node)] = i - offset
    height = max(len(nodes) for nodes in by_column)

    fig, ax = _figure_and_axes(ax, (max(4.0, 2.4 * n_cols), max(2.5, 1.3 * height)))
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(height / 2 + 0.1, -height / 2 - 0.1)     # row 0 at the top
    ax.axis("off")
    boxes = {}
    for node in order:
        is_root = node is root
        boxes[id(node)] = ax.text(
            column[id(node)], rows[id(node)], _node_text(node), ha="center", va="center", fontsize=9,
            family="monospace",
            bbox=dict(boxstyle="round,pad=0.4", fc="#fde0c5" if is_root else ("#dbe9f6" if node._prev else "#e5f5e0"),
                      ec="0.3"))
    for node in order:
        for child in dict.fromkeys(node._prev):   # x * x: draw the edge once
            ax.annotate("", xy=(0, 0.5), xycoords=boxes[id(node)], xytext=(1, 0.5), textcoords=boxes[id(child)],
                        arrowprops=dict(arrowstyle="->", color="0.35", shrinkA=2, shrinkB=2))
    ax.set_title(title or "Computational graph: forward values (data) and gradients (grad)")
    return fig
