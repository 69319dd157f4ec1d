r"""Loss functions as plain numpy functions, each with its gradient (PyTorch's ``torch.nn.functional``).

Lecture 4 (deck 003, «Задачи и функции потерь»): a model :math:`f(x, \theta)` outputs the parameters
of a distribution :math:`P(y \mid f(x, \theta))`, and training maximizes the likelihood of the data --
equivalently, minimizes the *negative log-likelihood*

.. math:: \mathcal L(\theta) = -\sum_{i=1}^N \log P\bigl(y_i \mid f(x_i, \theta)\bigr).

Each choice of distribution gives one of the losses here:

=========================  ======================================  ==============================
distribution of y          the model predicts                      loss
=========================  ======================================  ==============================
Gaussian, fixed variance   the mean                                ``mse_loss``
Gaussian                   mean and variance                       ``gaussian_nll_loss``
Laplace                    the location (median)                   ``l1_loss``
Bernoulli                  the probability (or its logit)          ``binary_cross_entropy[_with_logits]``
categorical                class probabilities (or logits)         ``nll_loss``, ``cross_entropy``
Poisson                    the rate (or its log)                   ``poisson_nll_loss``
=========================  ======================================  ==============================

plus ``multi_margin_loss``, the multi-class hinge loss (deck 003, «Какие еще бывают функции потерь»).

Every loss ``name(input, target, ..., reduction='mean')`` has ``name_grad(input, target, ...,
reduction='mean', grad_output=None)`` returning :math:`\partial\,\text{loss}/\partial\,\text{input}`.
``reduction`` is ``'mean'`` (the default), ``'sum'`` or ``'none'`` (the per-element losses); with
``'none'`` the gradient needs ``grad_output`` of the loss's shape.  The loss of a float32 input is
computed in float32: a numpy scalar of the input's dtype for ``'mean'``/``'sum'``.

Implementation: each loss is one private function computing the unreduced loss and returning it with
a ``backward`` closure that holds what the forward pass computed; ``_reduce`` and ``_backward`` apply
the reduction, and ``nnkit.nn``'s loss modules call the same functions, so the math is written once.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, NamedTuple

import numpy as np

from .._checks import as_float_array, check_choice, check_nonnegative_real
from .activations import log_softmax, sigmoid, softplus

__all__ = [
    "mse_loss", "mse_loss_grad",
    "l1_loss", "l1_loss_grad",
    "binary_cross_entropy", "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad",
    "nll_loss", "nll_loss_grad",
    "cross_entropy", "cross_entropy_grad",
    "gaussian_nll_loss", "gaussian_nll_loss_grad",
    "poisson_nll_loss", "poisson_nll_loss_grad",
    "multi_margin_loss", "multi_margin_loss_grad",
]

REDUCTIONS = ("mean", "sum", "none")


# --- the machinery shared by every loss ------------------------------------------------------------
class _LossResult(NamedTuple):
    """An unreduced loss, the divisor of its ``'mean'``, and the closure computing input gradients.

    ``backward(g)`` takes :math:`\\partial\\,\\text{loss}/\\partial\\,\\text{loss}_i` already scaled by the
    reduction (a scalar or an array of the loss's shape) and returns the gradient for the input
    (``gaussian_nll_loss``: a pair, input and var).
    """
    loss: np.ndarray
    denominator: float
    backward: Callable
    dtype: np.dtype


def _check_reduction(reduction) -> str:
    return check_choice(reduction, "reduction", REDUCTIONS)


def _reduce(result: _LossResult, reduction: str):
    """``'none'``: the per-element losses; ``'sum'``: their sum; ``'mean'``: the sum / ``denominator``."""
    if reduction == "none":
        return result.loss
    total = result.loss.sum(dtype=result.dtype)
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 = nan when every target is ignored, as PyTorch
        return result.dtype.type(total / result.dtype.type(result.denominator))


def _backward(result: _LossResult, reduction: str, grad_output, name: str):
    """Turn ``grad_output`` (= dL/d loss, default 1) into dL/d loss_i and run the loss's backward closure."""
    dtype = result.dtype
    if reduction == "none":
        if grad_output is None:
            raise ValueError(f"{name} with reduction='none' needs grad_output of the loss's shape "
                             f"{tuple(result.loss.shape)}")
        g = as_float_array(grad_output, f"{name} grad_output").astype(dtype, copy=False)
        if g.shape != result.loss.shape:
            raise ValueError(f"{name} expects grad_output of the loss's shape {tuple(result.loss.shape)}, "
                             f"got {tuple(g.shape)}")
    else:
        g = 1.0 if grad_output is None else grad_output
        g = as_float_array(g, f"{name} grad_output")
        if g.size != 1:
            raise ValueError(f"{name} with reduction={reduction!r} returns a scalar, so grad_output must be a "
                             f"scalar, got shape {tuple(g.shape)}")
        g = dtype.type(g.reshape(()))
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                g = dtype.type(g / dtype.type(result.denominator))
    return result.backward(g)


def _input(x, name: str) -> np.ndarray:
    return as_float_array(x, f"{name} input")


def _target_like(target, x: np.ndarray, name: str) -> np.ndarray:
    """A float target of exactly the input's shape, in the input's dtype (no broadcasting, unlike PyTorch's warning)."""
    t = as_float_array(target, f"{name} target").astype(x.dtype, copy=False)
    if t.shape != x.shape:
        raise ValueError(f"{name} expects target of the input's shape {tuple(x.shape)}, got {tuple(t.shape)}")
    return t


def _elementwise_weight(weight, x: np.ndarray, name: str):
    """An optional rescaling weight broadcastable to the input (BCE's ``weight``, ``pos_weight``)."""
    if weight is None:
        return None
    w = as_float_array(weight, name).astype(x.dtype, copy=False)
    try:
        shape = np.broadcast_shapes(w.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"{name} of shape {tuple(w.shape)} does not broadcast to the input's shape {tuple(x.shape)}")
    return w


def _class_weight(weight, n_classes: int, dtype, name: str):
    """An optional per-class weight of shape ``(C,)`` (cross-entropy, NLL, multi-margin)."""
    if weight is None:
        return None
    w = as_float_array(weight, f"{name} weight").astype(dtype, copy=False)
    if w.shape != (n_classes,):
        raise ValueError(f"{name} expects weight of shape (C,) = ({n_classes},), one per class, got {tuple(w.shape)}")
    return w


def _class_targets(target, x: np.ndarray, name: str, ignore_index=None) -> np.ndarray:
    """Validate class-index targets for an input of shape (N, C, d1, ...) -- or (C,) unbatched."""
    t = np.asarray(target) if not isinstance(target, np.ndarray) else target
    expected = x.shape[:1] + x.shape[2:] if x.ndim >= 2 else ()
    layout = "(N,) or (N, d1, ...) for input (N, C) or (N, C, d1, ...)" if x.ndim >= 2 else "() for unbatched input (C,)"
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name} expects integer class indices as target, got an array of dtype {t.dtype}")
    if t.shape != expected:
        raise ValueError(f"{name} expects target of shape {expected} (class indices: {layout}) "
                         f"for input of shape {tuple(x.shape)}, got {tuple(t.shape)}")
    n_classes = x.shape[1] if x.ndim >= 2 else x.shape[0]
    bad = (t < 0) | (t >= n_classes)
    if ignore_index is not None:
        bad &= t != ignore_index
    if bad.any():
        value = t[bad].flat[0]
        also = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise ValueError(f"{name}: target value {value} is not a class index for C={n_classes} classes "
                         f"(expected 0 <= target < {n_classes}{also})")
    return t


def _classes_input(input, name: str) -> np.ndarray:
    x = _input(input, name)
    if x.ndim == 0 or x.shape[-1 if x.ndim == 1 else 1] == 0:
        raise ValueError(f"{name} expects input of shape (C,), (N, C) or (N, C, d1, ...) with C >= 1, "
                         f"got shape {tuple(x.shape)}")
    return x


# --- regression: Gaussian and Laplace likelihoods ----------------------------------------------------
def _mse(input, target, name="mse_loss") -> _LossResult:
    x = _input(input, name)
    t = _target_like(target, x, name)
    diff = x - t
    return _LossResult(diff * diff, diff.size, lambda g: 2 * diff * g, x.dtype)


def mse_loss(input, target, reduction: str = "mean"):
    r"""Mean squared error :math:`(x - y)^2` per element (``torch.nn.functional.mse_loss``).

    Deck 003, «Регрессия»: with Gaussian noise :math:`y = f(x,\theta) + \epsilon`,
    :math:`\epsilon \sim N(0, \sigma^2)`, the negative log-likelihood is
    :math:`\sum_i \bigl[\log\sqrt{2\pi\sigma^2} + (y_i - f(x_i,\theta))^2 / 2\sigma^2\bigr]`; for fixed
    :math:`\sigma` only the squared error depends on :math:`\theta` -- least squares.
    Gradient: :math:`\partial/\partial x = 2(x - y)` (divided by the number of elements for ``'mean'``).
    """
    _check_reduction(reduction)
    return _reduce(_mse(input, target), reduction)


def mse_loss_grad(input, target, reduction: str = "mean", grad_output=None):
    """:math:`\\partial\\,` ``mse_loss`` :math:`/\\partial\\,` ``input``."""
    _check_reduction(reduction)
    return _backward(_mse(input, target), reduction, grad_output, "mse_loss_grad")


def _l1(input, target, name="l1_loss") -> _LossResult:
    x = _input(input, name)
    t = _target_like(target, x, name)
    diff = x - t
    return _LossResult(np.abs(diff), diff.size, lambda g: np.sign(diff) * g, x.dtype)


def l1_loss(input, target, reduction: str = "mean"):
    r"""Mean absolute error :math:`|x - y|` per element (``torch.nn.functional.l1_loss``).

    Deck 003, «Регрессия - другие варианты»: Laplace noise, density
    :math:`\tfrac{1}{2b}e^{-|y - f|/b}`, has negative log-likelihood :math:`|y - f|/b + \log 2b` --
    the absolute error, whose minimizer is the median (robust to outliers).
    Gradient :math:`\operatorname{sign}(x - y)`, taken as 0 at :math:`x = y` (PyTorch's choice).
    """
    _check_reduction(reduction)
    return _reduce(_l1(input, target), reduction)


def l1_loss_grad(input, target, reduction: str = "mean", grad_output=None):
    """:math:`\\partial\\,` ``l1_loss`` :math:`/\\partial\\,` ``input``."""
    _check_reduction(reduction)
    return _backward(_l1(input, target), reduction, grad_output, "l1_loss_grad")


def _var_for(var, x: np.ndarray, name: str):
    """GaussianNLLLoss's shape rules for ``var`` (PyTorch's): same shape as input; input's shape without
    the last dim (one variance per row); same ndim with exactly one dim of size 1 where the input's
    differs; or a scalar.  Returns the var broadcast-ready and the axes to sum its gradient over."""
    v = as_float_array(var, f"{name} var").astype(x.dtype, copy=False)
    if np.any(v < 0):
        raise ValueError(f"{name}: var must be non-negative, got a negative entry {v[v < 0].flat[0]}")
    if v.ndim == 0 or v.shape == x.shape:
        return v
    if v.shape == x.shape[:-1]:
        return v[..., None]
    mismatched = [(a, b) for a, b in zip(x.shape, v.shape) if a != b] if v.ndim == x.ndim else None
    if mismatched is not None and len(mismatched) == 1 and mismatched[0][1] == 1:
        return v
    raise ValueError(f"{name} expects var of the input's shape {tuple(x.shape)}, of shape {tuple(x.shape[:-1])}, "
                     f"or of the input's shape with one dimension equal to 1; got {tuple(v.shape)}")


def _sum_to_shape(a: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast gradient back to the shape of the array that was broadcast (``shape``)."""
    if a.shape == shape:
        return a
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and a.shape[i + lead] != 1)
    return a.sum(axis=axes, keepdims=True).reshape(shape)


def _gaussian_nll(input, target, var, full=False, eps=1e-6, name="gaussian_nll_loss") -> _LossResult:
    x = _input(input, name)
    t = _target_like(target, x, name)
    eps = check_nonnegative_real(eps, f"{name}: eps")
    v_orig_shape = np.shape(var)
    v = _var_for(var, x, name)
    # PyTorch clamps var at eps *without* letting the clamp into the gradient (torch.no_grad): the
    # gradient with respect to var is the formula's, evaluated at the clamped value.
    vc = np.maximum(v, eps)
    diff = x - t
    loss = 0.5 * (np.log(vc) + diff * diff / vc)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)

    def backward(g):
        grad_input = g * diff / vc
        grad_var = g * 0.5 * (1 / vc - diff * diff / (vc * vc))
        grad_var = _sum_to_shape(np.broadcast_to(grad_var, x.shape), vc.shape).reshape(v_orig_shape)
        return grad_input, grad_var

    return _LossResult(loss, x.size, backward, x.dtype)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
    r"""Gaussian negative log-likelihood with a predicted variance (``torch.nn.functional.gaussian_nll_loss``).

    .. math:: \text{loss} = \tfrac12\Bigl(\log \max(\text{var}, \epsilon) + \frac{(x - y)^2}{\max(\text{var}, \epsilon)}\Bigr)
              \;\bigl[+\ \tfrac12 \log 2\pi \text{ if full}\bigr]

    Deck 003, «Регрессия - другие варианты»: a network can predict the mean :math:`f_1` *and* the
    variance :math:`f_2^2` of the Gaussian; the likelihood then trades fit against confidence.
    ``var`` has the input's shape, or one variance per row (the input's shape without its last dim),
    or a shape with one dimension 1, or is a scalar.
    """
    _check_reduction(reduction)
    return _reduce(_gaussian_nll(input, target, var, full, eps), reduction)


def gaussian_nll_loss_grad(input, target, var, full: bool = False, eps: float = 1e-6,
                           reduction: str = "mean", grad_output=None):
    r"""Gradients of ``gaussian_nll_loss`` as a pair ``(d/d input, d/d var)``.

    :math:`\partial/\partial x = (x - y)/v`, :math:`\partial/\partial v = \tfrac12(1/v - (x - y)^2/v^2)`;
    the var gradient has ``var``'s shape (summed over the entries a shared variance serves).
    """
    _check_reduction(reduction)
    return _backward(_gaussian_nll(input, target, var, full, eps), reduction, grad_output,
                     "gaussian_nll_loss_grad")


def _poisson_nll(input, target, log_input=True, full=False, eps=1e-8, name="poisson_nll_loss") -> _LossResult:
    x = _input(input, name)
    t = _target_like(target, x, name)
    eps = check_nonnegative_real(eps, f"{name}: eps")
    if np.any(t < 0):
        raise ValueError(f"{name}: target holds counts and must be non-negative, got {t[t < 0].flat[0]}")
    if log_input:
        rate = np.exp(x)
        loss = rate - t * x
        grad = rate - t                 # d/dx [e^x - t x]
    else:
        if np.any(x < 0):
            raise ValueError(f"{name}(log_input=False) expects non-negative rates as input, got {x[x < 0].flat[0]}")
        loss = x - t * np.log(x + eps)
        grad = 1 - t / (x + eps)        # d/dx [x - t log(x + eps)]
    if full:
        # Stirling's approximation of log(t!) = t log t - t + 1/2 log(2 pi t), added for t > 1 only
        # (PyTorch's rule); it does not depend on the input, so the gradient is unchanged.
        big = t > 1
        ts = np.where(big, t, 1)
        loss = loss + (ts * np.log(ts) - ts + 0.5 * np.log(2 * math.pi * ts)) * big
    return _LossResult(loss, x.size, lambda g: grad * g, x.dtype)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                     reduction: str = "mean"):
    r"""Poisson negative log-likelihood for counts (``torch.nn.functional.poisson_nll_loss``).

    Deck 003: a Poisson output :math:`P(y \mid \lambda) = \lambda^y e^{-\lambda}/y!` predicts event
    counts.  Its negative log-likelihood is :math:`\lambda - y\log\lambda + \log y!`.  With
    ``log_input=True`` (default) the input is :math:`\log\lambda` and the loss :math:`e^{x} - y x`;
    otherwise the input is :math:`\lambda` and the loss :math:`x - y\log(x + \epsilon)`.  ``full`` adds
    Stirling's :math:`\log y! \approx y\log y - y + \tfrac12\log 2\pi y` (for :math:`y > 1`).
    """
    _check_reduction(reduction)
    return _reduce(_poisson_nll(input, target, log_input, full, eps), reduction)


def poisson_nll_loss_grad(input, target, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                          reduction: str = "mean", grad_output=None):
    r""":math:`e^{x} - y` (``log_input``) or :math:`1 - y/(x + \epsilon)`."""
    _check_reduction(reduction)
    return _backward(_poisson_nll(input, target, log_input, full, eps), reduction, grad_output,
                     "poisson_nll_loss_grad")


# --- binary classification: the Bernoulli likelihood ------------------------------------------------
def _bce(input, target, weight=None, name="binary_cross_entropy") -> _LossResult:
    x = _input(input, name)
    if x.size and (np.min(x) < 0 or np.max(x) > 1 or np.isnan(x).any()):
        raise ValueError(f"{name} expects probabilities in [0, 1] as input (apply a sigmoid, or use "
                         f"binary_cross_entropy_with_logits), got values in [{np.nanmin(x)}, {np.nanmax(x)}]")
    t = _target_like(target, x, name)
    w = _elementwise_weight(weight, x, f"{name} weight")
    # PyTorch clamps each log at -100 so that a confident wrong answer costs 100, not infinity.
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(x), -100)
        log_q = np.maximum(np.log1p(-x), -100)
    loss = -(t * log_p + (1 - t) * log_q)
    if w is not None:
        loss = loss * w

    def backward(g):
        # d/dx = (x - t) / (x (1 - x)), its denominator kept >= 1e-12 as PyTorch does.
        grad = (x - t) / np.maximum(x * (1 - x), 1e-12)
        return grad * g if w is None else grad * (w * g)

    return _LossResult(loss, x.size, backward, x.dtype)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    r"""Binary cross-entropy of probabilities :math:`p`: :math:`-w\,[y\log p + (1 - y)\log(1 - p)]` (``torch.nn.functional.binary_cross_entropy``).

    Deck 003, «Бинарная классификация»: a Bernoulli outcome with :math:`P(y \mid \lambda) =
    \lambda^y(1 - \lambda)^{1-y}`, :math:`\lambda = \sigma(f(x,\theta))`; the negative log-likelihood
    is exactly this.  Inputs must lie in [0, 1] (``ValueError`` otherwise); each log is clamped at
    :math:`-100` as in PyTorch.  Gradient :math:`(p - y)/(p(1 - p))`.
    Prefer ``binary_cross_entropy_with_logits`` on the sigmoid's *input*: it is stable where this
    loses everything (:math:`\sigma(40) = 1` in float64, and :math:`\log(1 - 1) = -\infty`).
    """
    _check_reduction(reduction)
    return _reduce(_bce(input, target, weight), reduction)


def binary_cross_entropy_grad(input, target, weight=None, reduction: str = "mean", grad_output=None):
    """:math:`\\partial\\,` ``binary_cross_entropy`` :math:`/\\partial\\,` ``input``."""
    _check_reduction(reduction)
    return _backward(_bce(input, target, weight), reduction, grad_output, "binary_cross_entropy_grad")


def _bce_logits(input, target, weight=None, pos_weight=None, name="binary_cross_entropy_with_logits") -> _LossResult:
    x = _input(input, name)
    t = _target_like(target, x, name)
    w = _elementwise_weight(weight, x, f"{name} weight")
    pw = _elementwise_weight(pos_weight, x, f"{name} pos_weight")
    # -log sigma(z) = softplus(-z) and -log(1 - sigma(z)) = z + softplus(-z), so
    # -[t log sigma(z) + (1 - t) log(1 - sigma(z))] = (1 - t) z + softplus(-z): stable for any z.
    sp = softplus(-x, threshold=math.inf)
    if pw is None:
        loss = (1 - t) * x + sp
    else:
        # pos_weight multiplies the positive term t log sigma(z): weight (1 + (pw - 1) t) on softplus(-z).
        log_weight = 1 + (pw - 1) * t
        loss = (1 - t) * x + log_weight * sp
    if w is not None:
        loss = loss * w

    def backward(g):
        if pw is None:
            grad = sigmoid(x) - t                          # the famous "prediction minus target"
        else:
            grad = (1 - t) - log_weight * sigmoid(-x)
        return grad * g if w is None else grad * (w * g)

    return _LossResult(loss, x.size, backward, x.dtype)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None):
    r"""Binary cross-entropy of logits :math:`z` (``torch.nn.functional.binary_cross_entropy_with_logits``).

    The BCE of :math:`p = \sigma(z)`, rewritten with :math:`-\log\sigma(z) = \mathrm{softplus}(-z)`:

    .. math:: \text{loss} = (1 - y)\,z + \log(1 + e^{-z}), \qquad \partial/\partial z = \sigma(z) - y,

    and :math:`\log(1 + e^{-z}) = \max(-z, 0) + \log(1 + e^{-|z|})` never overflows -- finite and
    exact even for :math:`|z| = 10^4`.  ``pos_weight`` (broadcast along the last dimension, e.g. one
    per class) weights the positive term: :math:`-w[p_w\,y\log\sigma(z) + (1 - y)\log(1 - \sigma(z))]`.
    """
    _check_reduction(reduction)
    return _reduce(_bce_logits(input, target, weight, pos_weight), reduction)


def binary_cross_entropy_with_logits_grad(input, target, weight=None, reduction: str = "mean",
                                          pos_weight=None, grad_output=None):
    """:math:`\\partial\\,` ``binary_cross_entropy_with_logits`` :math:`/\\partial\\,` ``input``."""
    _check_reduction(reduction)
    return _backward(_bce_logits(input, target, weight, pos_weight), reduction, grad_output,
                     "binary_cross_entropy_with_logits_grad")


# --- multi-class classification: the categorical likelihood -----------------------------------------
def _batched(x: np.ndarray, t: np.ndarray):
    """Unbatched (C,) input with a scalar target -> a batch of one; returns the reshape to undo it."""
    if x.ndim == 1:
        return x[None], t.reshape(1), ()
    return x, t, None


def _nll_core(logp: np.ndarray, t: np.ndarray, weight, ignore_index: int, label_smoothing: float, dtype):
    r"""The categorical negative log-likelihood from log-probabilities ``logp`` (N, C, d1, ...).

    Returns the per-example loss, the sum of the weights of the counted examples (the divisor of
    'mean', as PyTorch), and :math:`\partial\,\text{loss}_i/\partial\,\text{logp}` pieces for the backward.
    """
    n_classes = logp.shape[1]
    valid = t != ignore_index
    t_safe = np.where(valid, t, 0)                      # any class index; these rows are zeroed below
    picked = np.take_along_axis(logp, t_safe[:, None], axis=1)[:, 0]
    w_t = valid.astype(dtype) if weight is None else weight[t_safe] * valid
    loss = -picked * w_t
    if label_smoothing:
        # The smoothed target puts 1 - eps + eps/C on the true class and eps/C on every other:
        # loss = (1 - eps) nll + (eps/C) sum_c w_c (-logp_c)  (PyTorch's formula, ignored rows zero).
        wshape = (1, n_classes) + (1,) * (logp.ndim - 2)
        smooth = -(logp.sum(axis=1) if weight is None else (logp * weight.reshape(wshape)).sum(axis=1)) * valid
        loss = (1 - label_smoothing) * loss + (label_smoothing / n_classes) * smooth
    return loss, w_t.sum(dtype=dtype), w_t, t_safe, valid


def _nll_grad_logp(shape, w_t, t_safe, valid, weight, label_smoothing, g, dtype):
    """:math:`\\partial L/\\partial\\,\\text{logp}`: :math:`-w_{y_i}` at the target (times :math:`1 - \\epsilon`), minus the smoothing term."""
    n_classes = shape[1]
    grad = np.zeros(shape, dtype=dtype)
    coef = -(w_t * g)
    if label_smoothing:
        coef = (1 - label_smoothing) * coef
        wshape = (1, n_classes) + (1,) * (len(shape) - 2)
        wc = np.ones(wshape, dtype=dtype) if weight is None else weight.reshape(wshape)
        grad -= (label_smoothing / n_classes) * wc * np.expand_dims(valid * g, 1)
    np.put_along_axis(grad, t_safe[:, None], np.take_along_axis(grad, t_safe[:, None], axis=1) + coef[:, None], axis=1)
    return grad


def _nll(input, target, weight=None, ignore_index=-100, name="nll_loss") -> _LossResult:
    x = _classes_input(input, name)
    ignore_index = _int(ignore_index, f"{name}: ignore_index")
    t = _class_targets(target, x, name, ignore_index)
    x2, t2, unbatch = _batched(x, t)
    w = _class_weight(weight, x2.shape[1], x.dtype, name)
    loss, denom, w_t, t_safe, valid = _nll_core(x2, t2, w, ignore_index, 0.0, x.dtype)

    def backward(g):
        g = np.broadcast_to(g if unbatch is None else np.reshape(g, (1,)), loss.shape)
        grad = _nll_grad_logp(x2.shape, w_t, t_safe, valid, w, 0.0, g, x.dtype)
        return grad if unbatch is None else grad.reshape(x.shape)

    return _LossResult(loss if unbatch is None else loss.reshape(()), denom, backward, x.dtype)


def _int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    r"""Negative log-likelihood of class indices, from log-probabilities (``torch.nn.functional.nll_loss``).

    ``input`` holds :math:`\log p_{ic}` with classes along dim 1 -- shape (N, C), (N, C, d1, ...) or
    unbatched (C,) -- and ``target`` the classes :math:`y_i` (integers in [0, C)); the loss is
    :math:`-w_{y_i}\log p_{i y_i}`.  ``'mean'`` divides by :math:`\sum_i w_{y_i}` over the examples not
    equal to ``ignore_index`` (PyTorch's weighted mean).  Deck 003, «Многоклассовая классификация».
    """
    _check_reduction(reduction)
    return _reduce(_nll(input, target, weight, ignore_index), reduction)


def nll_loss_grad(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean", grad_output=None):
    r""":math:`\partial/\partial \log p_{ic} = -w_{y_i}[c = y_i]` (scaled by the reduction)."""
    _check_reduction(reduction)
    return _backward(_nll(input, target, weight, ignore_index), reduction, grad_output, "nll_loss_grad")


def _cross_entropy(input, target, weight=None, ignore_index=-100, label_smoothing=0.0,
                   name="cross_entropy") -> _LossResult:
    x = _classes_input(input, name)
    ignore_index = _int(ignore_index, f"{name}: ignore_index")
    label_smoothing = check_nonnegative_real(label_smoothing, f"{name}: label_smoothing")
    if label_smoothing > 1:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    t_arr = target if isinstance(target, np.ndarray) else np.asarray(target)
    if t_arr.dtype.kind == "f":
        return _cross_entropy_probs(x, t_arr, weight, label_smoothing, name)
    t = _class_targets(t_arr, x, name, ignore_index)
    x2, t2, unbatch = _batched(x, t)
    w = _class_weight(weight, x2.shape[1], x.dtype, name)
    logp = log_softmax(x2, dim=1)
    loss, denom, w_t, t_safe, valid = _nll_core(logp, t2, w, ignore_index, label_smoothing, x.dtype)

    def backward(g):
        g = np.broadcast_to(g if unbatch is None else np.reshape(g, (1,)), loss.shape)
        p = np.exp(logp)                                   # softmax probabilities
        if w is None and not label_smoothing:
            # The common case in two passes: softmax minus one-hot, scaled per example.
            scale = np.expand_dims(valid * g, 1)          # (N, 1, d1, ...): 0 for ignored examples
            grad = p * scale
            idx = t_safe[:, None]
            np.put_along_axis(grad, idx, np.take_along_axis(grad, idx, axis=1) - scale, axis=1)
        else:
            # Chain rule through log-softmax: dL/dz = dL/dlogp - softmax * sum_c dL/dlogp_c.
            dlogp = _nll_grad_logp(logp.shape, w_t, t_safe, valid, w, label_smoothing, g, x.dtype)
            grad = dlogp - p * dlogp.sum(axis=1, keepdims=True)
        return grad if unbatch is None else grad.reshape(x.shape)

    return _LossResult(loss if unbatch is None else loss.reshape(()), denom, backward, x.dtype)


def _cross_entropy_probs(x, t, weight, label_smoothing, name) -> _LossResult:
    """Cross-entropy against class *probabilities* (soft labels) of the input's shape."""
    t = _target_like(t, x, name)
    axis = 0 if x.ndim == 1 else 1
    n_classes = x.shape[axis]
    w = _class_weight(weight, n_classes, x.dtype, name)
    if label_smoothing:
        t = (1 - label_smoothing) * t + label_smoothing / n_classes
    wt = t if w is None else t * w.reshape((n_classes,) + (1,) * (x.ndim - axis - 1))
    logp = log_softmax(x, dim=axis)
    loss = -(wt * logp).sum(axis=axis)

    def backward(g):
        g = np.expand_dims(np.broadcast_to(g, loss.shape), axis)
        # d/dz_j of -sum_c wt_c logp_c = p_j sum_c wt_c - wt_j
        return (np.exp(logp) * wt.sum(axis=axis, keepdims=True) - wt) * g

    return _LossResult(loss, loss.size, backward, x.dtype)


def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    r"""Softmax cross-entropy of logits (``torch.nn.functional.cross_entropy``): ``nll_loss(log_softmax(input, 1), target)``.

    Deck 003, «Многоклассовая классификация»: :math:`P(y = k \mid f) = \mathrm{softmax}_k(f)`, so the
    negative log-likelihood of class :math:`y` is

    .. math:: -\log\frac{e^{z_y}}{\sum_j e^{z_j}} = -z_y + \log\sum_j e^{z_j}
              = -z_y + m + \log\sum_j e^{z_j - m}, \quad m = \max_j z_j

    (deck 000, «Функции ошибки»: the last form is the stable one, finite for :math:`|z| = 10^4`).
    Its gradient is the famous :math:`\partial/\partial z_j = \mathrm{softmax}_j(z) - [j = y]`.

    ``target`` is either class indices (integers of shape (N,) or (N, d1, ...) for input (N, C) or
    (N, C, d1, ...), a scalar for unbatched (C,)) or class probabilities of the input's shape.
    ``weight`` (C,) rescales each class; ``ignore_index`` drops examples (index targets only);
    ``label_smoothing`` :math:`\epsilon` mixes the target with the uniform distribution:
    :math:`(1-\epsilon)\,\text{target} + \epsilon/C`.  ``'mean'`` divides index-target losses by
    :math:`\sum_i w_{y_i}` over counted examples, probability-target losses by N (times d1...), as PyTorch.
    """
    _check_reduction(reduction)
    return _reduce(_cross_entropy(input, target, weight, ignore_index, label_smoothing), reduction)


def cross_entropy_grad(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                       label_smoothing: float = 0.0, grad_output=None):
    r""":math:`\partial\,` ``cross_entropy`` :math:`/\partial z = \mathrm{softmax}(z) - \text{onehot}(y)` (weighted, smoothed and reduced)."""
    _check_reduction(reduction)
    return _backward(_cross_entropy(input, target, weight, ignore_index, label_smoothing), reduction,
                     grad_output, "cross_entropy_grad")


def _multi_margin(input, target, p=1, margin=1.0, weight=None, name="multi_margin_loss") -> _LossResult:
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"{name}: only p = 1 and p = 2 are supported, got p={p!r}")
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise TypeError(f"{name}: margin must be a real number, got {type(margin).__name__}")
    x = _classes_input(input, name)
    if x.ndim > 2:
        raise ValueError(f"{name} expects input of shape (N, C) or (C,), got {tuple(x.shape)}")
    t = _class_targets(target, x, name)
    x2, t2, unbatch = _batched(x, t)
    n, n_classes = x2.shape
    w = _class_weight(weight, n_classes, x.dtype, name)
    rows = np.arange(n)
    # hinge_ij = max(0, margin - z_{i,y_i} + z_ij) for the wrong classes j != y_i
    h = margin - x2[rows, t2][:, None] + x2
    h[rows, t2] = 0
    np.maximum(h, 0, out=h)
    wy = 1 if w is None else w[t2][:, None]
    loss = ((h if p == 1 else h * h) * wy).sum(axis=1) / n_classes

    def backward(g):
        g = np.broadcast_to(g if unbatch is None else np.reshape(g, (1,)), loss.shape)
        coef = (h > 0) if p == 1 else 2 * h                # d(h^p)/dh for h > 0
        grad = coef * (wy * g[:, None] / n_classes)
        grad = grad.astype(x.dtype, copy=False)
        grad[rows, t2] = -grad.sum(axis=1)                 # z_y enters every hinge with a minus sign
        return grad if unbatch is None else grad.reshape(x.shape)

    return _LossResult(loss if unbatch is None else loss.reshape(()), loss.size, backward, x.dtype)


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"):
    r"""Multi-class hinge loss (``torch.nn.functional.multi_margin_loss``), one of deck 003's «other losses».

    .. math:: \text{loss}_i = \frac1C \sum_{j \ne y_i} w_{y_i} \max(0, \text{margin} - z_{i y_i} + z_{ij})^p

    Zero once the true class's score beats every other by the margin (the SVM idea), so unlike
    cross-entropy it stops pushing on examples that are already right.  Input (N, C) or (C,).
    """
    _check_reduction(reduction)
    return _reduce(_multi_margin(input, target, p, margin, weight), reduction)


def multi_margin_loss_grad(input, target, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean",
                           grad_output=None):
    r"""Each active hinge adds :math:`w_{y_i} p\,h^{p-1}/C` to :math:`z_{ij}` and subtracts it from :math:`z_{i y_i}`."""
    _check_reduction(reduction)
    return _backward(_multi_margin(input, target, p, margin, weight), reduction, grad_output,
                     "multi_margin_loss_grad")
