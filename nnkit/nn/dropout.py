r"""``Dropout``: switching neurons off at random (deck 001, "Выключение нейронов (Dropout)").

During training each output is kept or zeroed independently: :math:`\xi \sim \text{Bernoulli}(1-p)`,
:math:`P(\xi = 0) = p`.  The network cannot rely on any single unit, so different parts of it learn
to solve the task on their own instead of compensating for each other's errors -- a regularizer
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

``p = 1`` switches every neuron off: training outputs and gradients are zeros (``x * 0``, as
``torch.nn.Dropout(1.0)``); evaluation is the identity (inverted) or multiplies by 0 (scale at test).
The formulas live in ``nnkit.functional.dropout``; the module keeps the mask for backward.
"""
from __future__ import annotations

from .._checks import as_float_array, check_choice, check_probability, make_rng
from ..functional.dropout import MODES, _eval_scale, dropout_mask
from .module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` during training (``torch.nn.Dropout``; deck 001).

    ``mode="inverted"`` (default, PyTorch's) scales the kept elements by ``1/(1-p)`` in training
    and is the identity in evaluation; ``mode="scale_at_test"`` (the lecture's first form) keeps
    training outputs unscaled and multiplies by ``1-p`` in evaluation.  Both give the same
    expected output; see the module docstring.  ``p`` is in [0, 1]; ``p = 1`` gives zeros in
    training, as PyTorch.  ``seed`` (``None``, an int or a ``numpy.random.Generator``) makes the
    masks reproducible; every training forward draws a fresh mask.
    """

    def __init__(self, p: float = 0.5, mode: str = "inverted", seed=None):
        super().__init__()
        self.p = check_probability(p, "p")
        self.mode = check_choice(mode, "mode", MODES)
        self._rng = make_rng(seed)
        self._factor = None   # what forward multiplied by: the scaled mask, or a number

    def forward(self, x):
        x = as_float_array(x, "Dropout input")
        if self.training:   # xi/(1-p) or xi, drawn from this layer's generator (zeros for p = 1)
            factor = dropout_mask(x.shape, self.p, self.mode, self._rng, x.dtype)
        else:
            factor = _eval_scale(self.p, self.mode)
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
