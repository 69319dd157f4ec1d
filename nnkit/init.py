r"""Weight initializers with PyTorch's names, gains and fan rules (``torch.nn.init``).

Each function fills a ``Parameter`` (its ``.data``) or a float ndarray *in place* and returns it.
Pass ``seed`` (an int or a ``numpy.random.Generator``) for reproducible draws.

Fans follow PyTorch: for a weight of shape ``(out, in, *kernel)``,
``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.

Lecture 4 ("Инициализация весов") derives why the scale matters: for a layer with ``fan_in``
inputs, :math:`\mathrm{Var}(z) = \text{fan\_in}\,\mathrm{Var}(w)\,\mathrm{Var}(x)`, so keeping the
variance of activations constant across layers needs :math:`\mathrm{Var}(w) \approx 1/\text{fan}`
(Xavier/Glorot for tanh-like units) or :math:`2/\text{fan\_in}` (He/Kaiming for ReLU).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ._checks import check_choice, make_rng

__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
    "fan_in_uniform_", "fans",
]


def _array(tensor) -> np.ndarray:
    # A Parameter is recognized by its ``data`` array rather than by importing nnkit.nn, which imports
    # this module (its layers initialize themselves here): nnkit's imports go one way only.
    arr = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "data", None)
    if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
        raise TypeError(f"expected a Parameter or a floating numpy array, got {type(tensor).__name__}")
    return arr


def fans(tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)`` (at least 2-D)."""
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid", "identity")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        # As PyTorch: the slope must be a real number (True/False are ints in Python: reject them).
        if param is not None and (isinstance(param, bool) or not isinstance(param, numbers.Real)):
            raise ValueError(f"negative_slope {param!r} not a valid number")
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    check_choice(nonlinearity, "nonlinearity", linear + ("tanh", "relu", "leaky_relu", "selu"))


def _fill(tensor, values: np.ndarray):
    arr = _array(tensor)
    arr[...] = values.astype(arr.dtype, copy=False)
    return tensor


def uniform_(tensor, a: float = 0.0, b: float = 1.0, seed=None):
    """Fill with :math:`U(a, b)`."""
    if not a <= b:
        raise ValueError(f"uniform_ needs a <= b, got a={a}, b={b}")
    return _fill(tensor, make_rng(seed).uniform(a, b, size=_array(tensor).shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, seed=None):
    """Fill with :math:`\\mathcal{N}(\\text{mean}, \\text{std}^2)`."""
    if std < 0:
        raise ValueError(f"normal_ needs std >= 0, got {std}")
    return _fill(tensor, make_rng(seed).normal(mean, std, size=_array(tensor).shape))


def constant_(tensor, val: float):
    """Fill with ``val``.  Lecture 4 shows why this is a bad idea for weights: every unit stays identical."""
    _array(tensor)[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain: float = 1.0, seed=None):
    r"""Glorot & Bengio (2010): :math:`U(-a, a)`, :math:`a = \text{gain}\sqrt{6/(\text{fan\_in} + \text{fan\_out})}`.

    (Deck 001 prints the bound as :math:`6/\sqrt{h+m}`; the square root covers the 6.)
    """
    fan_in, fan_out = fans(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, seed=seed)


def xavier_normal_(tensor, gain: float = 1.0, seed=None):
    r""":math:`\mathcal{N}(0, \sigma^2)`, :math:`\sigma = \text{gain}\sqrt{2/(\text{fan\_in} + \text{fan\_out})}`."""
    fan_in, fan_out = fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), seed=seed)


def _kaiming_std(tensor, a, mode, nonlinearity) -> float:
    check_choice(mode, "mode", ("fan_in", "fan_out"))
    fan_in, fan_out = fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", seed=None):
    r"""He et al. (2015): :math:`U(-b, b)`, :math:`b = \text{gain}\sqrt{3/\text{fan}}`."""
    if _array(tensor).size == 0:   # as PyTorch: a zero-element tensor is a no-op (fan would be 0)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, seed=seed)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", seed=None):
    r"""He et al. (2015): :math:`\mathcal{N}(0, \sigma^2)`, :math:`\sigma = \text{gain}/\sqrt{\text{fan}}`."""
    if _array(tensor).size == 0:
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), seed=seed)


def orthogonal_(tensor, gain: float = 1.0, seed=None):
    """Saxe et al. (2013): a (semi-)orthogonal matrix from the QR decomposition of a Gaussian one.

    The weight is viewed as ``(shape[0], prod(shape[1:]))``; rows are orthonormal when there are
    fewer rows than columns, columns otherwise.  Signs follow ``diag(R)`` so the draw is uniform
    (Haar) over orthogonal matrices, as in PyTorch.
    """
    arr = _array(tensor)
    if arr.ndim < 2:
        raise ValueError(f"orthogonal_ needs a tensor with at least 2 dimensions, got shape {arr.shape}")
    if arr.size == 0:   # as PyTorch: nothing to fill (and rows = 0 would divide by zero)
        return tensor
    rows, cols = arr.shape[0], arr.size // arr.shape[0]
    flat = make_rng(seed).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(arr.shape))


def fan_in_uniform_(tensor, seed=None):
    r"""The lectures' rule :math:`U(-1/\sqrt{h}, 1/\sqrt{h})` with ``h = fan_in``.

    This is also what PyTorch's ``Linear`` and ``Conv2d`` use by default (their
    ``kaiming_uniform_(a=√5)`` reduces to exactly this bound).
    """
    fan_in, _ = fans(tensor) if _array(tensor).ndim >= 2 else (_array(tensor).shape[0], None)
    bound = 1.0 / math.sqrt(fan_in)
    return uniform_(tensor, -bound, bound, seed=seed)
