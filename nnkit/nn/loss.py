r"""Loss modules with PyTorch's names (``torch.nn.MSELoss``, ``CrossEntropyLoss``, ...).

Lecture 4 (deck 003, «Задачи и функции потерь»): every loss here is the negative log-likelihood of
some distribution of the target -- see ``nnkit.functional.losses`` for the derivations.

A loss module is called like PyTorch's, ``value = loss(input, target)``, and remembers what its
backward needs.  Unlike a PyTorch tensor the value has no ``.backward()``; the module has:
``grad_input = loss.backward()`` returns :math:`\partial\,\text{loss}/\partial\,\text{input}`, the
starting gradient of a network's backward pass::

    logits = net(x)
    value = criterion(logits, y)
    net.backward(criterion.backward())

``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``.  The value is a numpy scalar of the
input's dtype for ``'mean'``/``'sum'``, the per-element losses for ``'none'`` -- then ``backward``
needs ``grad_output`` of the losses' shape (for the others it defaults to 1).
"""
from __future__ import annotations

from .._checks import as_float_array, check_choice, check_nonnegative_real
from ..functional import losses as FL
from .module import Module

__all__ = ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss", "CrossEntropyLoss",
           "GaussianNLLLoss", "PoissonNLLLoss", "MultiMarginLoss"]


class _Loss(Module):
    """Base of the loss modules: the reduction, the cache, and ``backward(grad_output=None)``.

    A subclass implements ``_compute(input, target, ...)`` by calling the private function of
    ``nnkit.functional.losses`` that also backs the functional form.
    """

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = check_choice(reduction, "reduction", FL.REDUCTIONS)
        self._result = None

    def forward(self, input, target):
        self._result = self._compute(input, target)
        return FL._reduce(self._result, self.reduction)

    def backward(self, grad_output=None):
        """:math:`\\partial\\,\\text{loss}/\\partial\\,\\text{input}`, times ``grad_output`` (default 1; required for ``'none'``)."""
        if self._result is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return FL._backward(self._result, self.reduction, grad_output, f"{type(self).__name__}.backward")

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


def _optional_array(value, name):
    return None if value is None else as_float_array(value, name).copy()


class MSELoss(_Loss):
    r"""Mean squared error :math:`(x - y)^2` -- the Gaussian negative log-likelihood (``torch.nn.MSELoss``)."""

    def _compute(self, input, target):
        return FL._mse(input, target, "MSELoss")


class L1Loss(_Loss):
    r"""Mean absolute error :math:`|x - y|` -- the Laplace negative log-likelihood (``torch.nn.L1Loss``)."""

    def _compute(self, input, target):
        return FL._l1(input, target, "L1Loss")


class BCELoss(_Loss):
    r"""Binary cross-entropy of probabilities in [0, 1] -- the Bernoulli likelihood (``torch.nn.BCELoss``).

    ``weight`` (optional) rescales each element's loss and must broadcast to the input.
    """

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = _optional_array(weight, "BCELoss weight")

    def _compute(self, input, target):
        return FL._bce(input, target, self.weight, "BCELoss")


class BCEWithLogitsLoss(_Loss):
    r"""Sigmoid + binary cross-entropy in one stable formula, :math:`(1 - y)z + \log(1 + e^{-z})` (``torch.nn.BCEWithLogitsLoss``).

    ``pos_weight`` weights the positive examples (e.g. one value per class, broadcast along the last
    dimension); ``weight`` rescales each element's loss.
    """

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.weight = _optional_array(weight, "BCEWithLogitsLoss weight")
        self.pos_weight = _optional_array(pos_weight, "BCEWithLogitsLoss pos_weight")

    def _compute(self, input, target):
        return FL._bce_logits(input, target, self.weight, self.pos_weight, "BCEWithLogitsLoss")


class NLLLoss(_Loss):
    r"""Negative log-likelihood of class indices given log-probabilities (``torch.nn.NLLLoss``).

    Use after ``LogSoftmax(dim=1)``; ``CrossEntropyLoss`` is the two in one.  ``weight`` (C,) rescales
    classes; targets equal to ``ignore_index`` are skipped.
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = _optional_array(weight, "NLLLoss weight")
        self.ignore_index = ignore_index

    def _compute(self, input, target):
        return FL._nll(input, target, self.weight, self.ignore_index, "NLLLoss")


class CrossEntropyLoss(_Loss):
    r"""Softmax cross-entropy of logits: :math:`-z_y + \log\sum_j e^{z_j}` (``torch.nn.CrossEntropyLoss``).

    Input (N, C), (N, C, d1, ...) or unbatched (C,); target class indices -- integers in [0, C) of
    shape (N,), (N, d1, ...) or () -- or class probabilities of the input's shape.  Computed by the
    log-sum-exp trick, so finite for logits of any size; the gradient is
    :math:`\mathrm{softmax}(z) - \text{onehot}(y)`.  Supports ``weight`` (C,), ``ignore_index`` and
    ``label_smoothing`` with PyTorch's semantics.
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.weight = _optional_array(weight, "CrossEntropyLoss weight")
        self.ignore_index = ignore_index
        self.label_smoothing = check_nonnegative_real(label_smoothing, "label_smoothing")
        if self.label_smoothing > 1:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")

    def _compute(self, input, target):
        return FL._cross_entropy(input, target, self.weight, self.ignore_index, self.label_smoothing,
                                 "CrossEntropyLoss")


class GaussianNLLLoss(_Loss):
    r"""Gaussian negative log-likelihood with a predicted variance, called as ``loss(input, target, var)`` (``torch.nn.GaussianNLLLoss``).

    :math:`\tfrac12(\log v + (x - y)^2/v)` with :math:`v = \max(\text{var}, \epsilon)` (plus
    :math:`\tfrac12\log 2\pi` if ``full``).  ``backward()`` returns the gradient for ``input`` and
    stores the gradient for ``var`` in ``grad_var`` (of ``var``'s shape), since a network that
    predicts the variance (deck 003) needs both.
    """

    def __init__(self, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full = bool(full)
        self.eps = check_nonnegative_real(eps, "eps")
        self.grad_var = None

    def forward(self, input, target, var):
        self._result = FL._gaussian_nll(input, target, var, self.full, self.eps, "GaussianNLLLoss")
        return FL._reduce(self._result, self.reduction)

    def backward(self, grad_output=None):
        grad_input, self.grad_var = super().backward(grad_output)
        return grad_input

    def extra_repr(self):
        return f"full={self.full}, eps={self.eps}, reduction={self.reduction!r}"


class PoissonNLLLoss(_Loss):
    r"""Poisson negative log-likelihood for counts (``torch.nn.PoissonNLLLoss``).

    ``log_input=True``: the input is :math:`\log\lambda`, loss :math:`e^{x} - y x`; otherwise the
    input is the rate :math:`\lambda \ge 0`, loss :math:`x - y\log(x + \epsilon)`.  ``full`` adds the
    Stirling term for :math:`\log y!`.
    """

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8, reduction: str = "mean"):
        super().__init__(reduction)
        self.log_input = bool(log_input)
        self.full = bool(full)
        self.eps = check_nonnegative_real(eps, "eps")

    def _compute(self, input, target):
        return FL._poisson_nll(input, target, self.log_input, self.full, self.eps, "PoissonNLLLoss")

    def extra_repr(self):
        return f"log_input={self.log_input}, full={self.full}, reduction={self.reduction!r}"


class MultiMarginLoss(_Loss):
    r"""Multi-class hinge loss :math:`\frac1C\sum_{j \ne y} w_y\max(0, \text{margin} - z_y + z_j)^p` (``torch.nn.MultiMarginLoss``).

    Input (N, C) or (C,), target class indices; ``p`` is 1 or 2.
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        if p not in (1, 2) or isinstance(p, bool):
            raise ValueError(f"MultiMarginLoss: only p = 1 and p = 2 are supported, got p={p!r}")
        self.p = int(p)
        self.margin = float(margin)
        self.weight = _optional_array(weight, "MultiMarginLoss weight")

    def _compute(self, input, target):
        return FL._multi_margin(input, target, self.p, self.margin, self.weight, "MultiMarginLoss")

    def extra_repr(self):
        return f"p={self.p}, margin={self.margin}, reduction={self.reduction!r}"
