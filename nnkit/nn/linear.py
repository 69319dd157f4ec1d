"""``Linear``, ``Flatten`` and ``Identity``: the affine layer and the shape plumbing around it."""
from __future__ import annotations

import math

import numpy as np

from .. import init
from .._checks import DEFAULT_DTYPE, as_float_array, check_positive_int, make_rng
from .module import Module
from .parameter import Parameter


class Linear(Module):
    r"""Fully connected layer :math:`y = x W^\top + b`, as ``torch.nn.Linear``.

    ``weight`` has shape ``(out_features, in_features)`` and ``bias`` ``(out_features,)``; both are
    initialized, as in PyTorch, from :math:`U(-1/\sqrt{\text{in}}, 1/\sqrt{\text{in}})` -- the
    lecture's uniform(-1/√h, 1/√h) rule.  Input may have any number of leading dimensions.

    Backward (lecture 2, "Обратное распространение градиента"), with :math:`g = \partial L/\partial y`:
    :math:`\partial L/\partial W = g^\top x`, :math:`\partial L/\partial b = \sum g`,
    :math:`\partial L/\partial x = g W`.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=DEFAULT_DTYPE, seed=None):
        super().__init__()
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        self.bias = Parameter(np.empty(self.out_features, dtype=dtype)) if bias else None
        self.reset_parameters(seed)
        self._input = None

    def reset_parameters(self, seed=None) -> None:
        rng = make_rng(seed)  # one generator for weight and bias: an int seed or a Generator
        bound = 1.0 / math.sqrt(self.in_features)
        init.uniform_(self.weight, -bound, bound, seed=rng)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, seed=rng)

    def forward(self, x):
        x = as_float_array(x, "Linear input", self.weight.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear expects input of shape (*, {self.in_features}), got shape {tuple(x.shape)}")
        self._input = x
        w = self.weight.data.astype(x.dtype, copy=False)
        y = x @ w.T
        if self.bias is not None:
            y += self.bias.data.astype(x.dtype, copy=False)
        return y

    accepts_input_grad_flag = True

    def backward(self, grad_output, *, input_grad: bool = True):
        """Accumulates dL/dW and dL/db; returns dL/dx (None with ``input_grad=False``)."""
        if self._input is None:
            raise RuntimeError("Linear.backward called before forward")
        x = self._input
        g = as_float_array(grad_output, "grad_output")
        if g.shape != x.shape[:-1] + (self.out_features,):
            raise ValueError(f"Linear.backward expects grad_output of shape {x.shape[:-1] + (self.out_features,)}, "
                             f"got {tuple(g.shape)}")
        x2 = x.reshape(-1, self.in_features)
        g2 = g.reshape(-1, self.out_features)
        self.weight.grad += (g2.T @ x2).astype(self.weight.dtype, copy=False)
        if self.bias is not None:
            self.bias.grad += g2.sum(axis=0).astype(self.bias.dtype, copy=False)
        if not input_grad:
            return None
        return g @ self.weight.data.astype(g.dtype, copy=False)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flattens dimensions ``start_dim..end_dim`` into one (``torch.nn.Flatten``, defaults 1 and -1)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim
        self._shape = None

    def forward(self, x):
        x = as_float_array(x, "Flatten input")
        nd = x.ndim
        start = self.start_dim % nd if nd else 0
        end = self.end_dim % nd if nd else 0
        if nd == 0 or start > end:
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) cannot flatten shape {x.shape}")
        self._shape = x.shape
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])

    def backward(self, grad_output):
        if self._shape is None:
            raise RuntimeError("Flatten.backward called before forward")
        return np.asarray(grad_output).reshape(self._shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (``torch.nn.Identity``); the lectures' *linear* activation."""

    def forward(self, x):
        return as_float_array(x, "Identity input")

    def backward(self, grad_output):
        return grad_output
