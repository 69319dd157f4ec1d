r"""``Dropout``: switching neurons off at random (deck 001, "Выключение нейронов (Dropout)").

During training each output is kept or zeroed independently: :math:`\xi \sim \text{Bernoulli}(1-p)`,
:math:`P(\xi = 0) = p`.  The network cannot rely on any single unit, so different parts of it learn
to solve the task on their own instead of compensating for each other's errors -- a regulariser
that "chooses, among all networks, the one most robust to losing pN neurons".

Two ways to keep the *expected* output the same in training and in use (both in the lecture):

=====================  ==================================  ================================
mode                   training                            evaluation (``.eval()``)
=====================  ==================================  ================================
``"inverted"``         :math:`y = \xi x / (1 - p)`         :math:`y = x`
(PyTorch, default)
``"scale_at_test"``    :math:`y = \xi x`                   :math:`y = (1 - p)\,x`
(the lecture's first)
=====================  ==================================  ================================

In both, :math:`E[y_\text{train}] = y_\text{eval}` because :math:`E[\xi] = 1 - p`.  Inverted
dropout ("На практике чаще используют ... Inverted Dropout") moves the correction into training,
so evaluation needs neither a change nor knowledge of :math:`p`; it is what ``torch.nn.Dropout``
does.

Backward multiplies by the same factor as forward -- the same mask in training:
:math:`\partial L/\partial x = \xi\, g / (1 - p)` (inverted) or :math:`\xi\, g` (scale at test).
"""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_choice, check_probability, make_rng
from .module import Module

MODES = ("inverted", "scale_at_test")


class Dropout(Module):
    """Zero each element with probability ``p`` during training (``torch.nn.Dropout``; deck 001).

    ``mode="inverted"`` (default, PyTorch's) scales the kept elements by ``1/(1-p)`` in training
    and is the identity in evaluation; ``mode="scale_at_test"`` (the lecture's first form) keeps
    training outputs unscaled and multiplies by ``1-p`` in evaluation.  Both give the same
    expected output; see the module docstring.  ``seed`` (an int or ``numpy.random.Generator``)
    makes the masks reproducible; every training forward draws a fresh mask.
    """

    def __init__(self, p: float = 0.5, mode: str = "inverted", seed=None):
        super().__init__()
        self.p = check_probability(p, "p")
        self.mode = check_choice(mode, "mode", MODES)
        self._rng = make_rng(seed)
        self._factor = None   # what forward multiplied by: the scaled mask, or a number

    def forward(self, x):
        x = as_float_array(x, "Dropout input")
        if self.training:
            keep = self._rng.random(x.shape, dtype=np.float32) >= self.p      # xi = 1 with probability 1-p
            factor = keep.astype(x.dtype)
            if self.mode == "inverted" and self.p > 0:
                factor *= x.dtype.type(1.0 / (1.0 - self.p))
        else:
            factor = 1.0 if self.mode == "inverted" else 1.0 - self.p
        self._factor = factor
        if isinstance(factor, float):   # evaluation: inverted dropout returns its input itself, as PyTorch
            return x if factor == 1.0 else x * x.dtype.type(factor)
        return x * factor

    def backward(self, grad_output):
        if self._factor is None:
            raise RuntimeError("Dropout.backward called before forward")
        g = as_float_array(grad_output, "grad_output")
        factor = self._factor
        if isinstance(factor, float):
            return g if factor == 1.0 else g * g.dtype.type(factor)
        if g.shape != factor.shape:
            raise ValueError(f"Dropout.backward expects grad_output of shape {factor.shape}, got {tuple(g.shape)}")
        return g * factor.astype(g.dtype, copy=False)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"
