r"""Dropout as plain functions (``torch.nn.functional.dropout``); ``nnkit.nn.Dropout`` calls them.

Deck 001, «Выключение нейронов (Dropout)».  In training every element is kept or zeroed on its own:
:math:`\xi \sim \text{Bernoulli}(1 - p)`, so :math:`P(\xi = 0) = p`.  Two ways keep the *expected*
output the same in training and in evaluation (see ``nnkit.nn.dropout`` for the lecture's story):

=====================  ==================================  ================================
mode                   training                            evaluation
=====================  ==================================  ================================
``"inverted"``         :math:`y = \xi x / (1 - p)`         :math:`y = x`
(PyTorch, default)
``"scale_at_test"``    :math:`y = \xi x`                   :math:`y = (1 - p)\,x`
=====================  ==================================  ================================

In training :math:`y = m \odot x` with the *mask* :math:`m` = :func:`dropout_mask`, and since the
mask does not depend on :math:`x`, :math:`\partial y/\partial x = m`: the backward pass multiplies
the incoming gradient by the same mask, :math:`\partial L/\partial x = m \odot g`.

``p = 1`` drops every element.  There is then nothing to rescale (:math:`1/(1 - p)` does not
exist), and PyTorch returns ``input * 0`` -- zeros (``nan`` where the input is ``inf`` or ``nan``),
with a zero gradient.  So do these functions: the mask is all zeros and no random numbers are drawn.
"""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_choice, check_probability, make_rng

__all__ = ["dropout", "dropout_mask"]

MODES = ("inverted", "scale_at_test")


def dropout_mask(shape, p: float = 0.5, mode: str = "inverted", seed=None, dtype=np.float32) -> np.ndarray:
    r"""The factor a training forward multiplies its input by: :math:`\xi/(1-p)` (inverted) or :math:`\xi`.

    :math:`\xi_i \sim \text{Bernoulli}(1 - p)` independently for every element of ``shape``.  It is also
    :math:`\partial y/\partial x`, what backward multiplies the gradient by.  ``seed`` is ``None``, an
    int or a ``numpy.random.Generator`` (advanced by the draw); ``p = 1`` gives zeros without drawing.
    """
    p = check_probability(p, "p")
    check_choice(mode, "mode", MODES)
    dtype = np.dtype(dtype)
    if p == 1.0:
        return np.zeros(shape, dtype=dtype)
    keep = make_rng(seed).random(shape, dtype=np.float32) >= p      # xi = 1 with probability 1 - p
    mask = keep.astype(dtype)
    if mode == "inverted" and p > 0:
        mask *= dtype.type(1.0 / (1.0 - p))
    return mask


def _eval_scale(p: float, mode: str) -> float:
    """What evaluation multiplies by: 1 (inverted dropout) or the keep probability 1 - p (scale at test)."""
    return 1.0 if mode == "inverted" else 1.0 - p


def dropout(input, p: float = 0.5, training: bool = True, mode: str = "inverted", seed=None):
    r"""Dropout of ``input`` (``torch.nn.functional.dropout(input, p, training)``; deck 001).

    ``training=True``: ``input * dropout_mask(input.shape, p, mode, seed)`` -- a fresh mask per call
    unless ``seed`` is an int.  ``training=False``: ``input`` itself (inverted dropout, as PyTorch) or
    ``(1 - p) * input`` (``mode="scale_at_test"``).  ``p = 1`` in training gives ``input * 0``, as
    PyTorch.  The input is never modified; the output has its float dtype.
    """
    p = check_probability(p, "p")
    check_choice(mode, "mode", MODES)
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False, got {training!r}")
    x = as_float_array(input, "dropout input")
    if training:
        return x * dropout_mask(x.shape, p, mode, seed, x.dtype)
    scale = _eval_scale(p, mode)
    return x if scale == 1.0 else x * x.dtype.type(scale)
