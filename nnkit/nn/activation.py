r"""Activation modules (``torch.nn.ReLU``, ``Sigmoid``, ...) and the lectures' own units (``Step``, ``SigmoidC``, ``Maxout``).

Lecture 2 (deck 000, «Функции активации») and lecture 4 (deck 003, «Функции активации»).  Every
module's math lives in ``nnkit.functional``; a module only remembers what its backward needs --
the input, or the output when the derivative reads off it more cheaply (sigmoid, tanh, ReLU,
softmax) -- and applies the chain rule :math:`\partial L/\partial x = \partial L/\partial y \cdot f'(x)`.
The linear activation is ``nnkit.nn.Identity`` (in ``linear.py``).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import DEFAULT_DTYPE, as_float_array, check_choice, check_positive_int
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "SiLU",
           "Softmax", "LogSoftmax", "Step", "SigmoidC", "Maxout"]


class _Activation(Module):
    """Shared plumbing: input conversion, the cache, and the checks on ``backward``.

    A subclass defines ``_forward(x) -> y`` and ``_backward(g, x, y) -> dL/dx``.
    """

    def __init__(self):
        super().__init__()
        self._input = None
        self._output = None

    def forward(self, x):
        x = as_float_array(x, f"{type(self).__name__} input")
        y = self._forward(x)
        self._input, self._output = x, y
        return y

    def backward(self, grad_output):
        if self._output is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        g = as_float_array(grad_output, "grad_output")
        if g.shape != self._output.shape:
            raise ValueError(f"{type(self).__name__}.backward expects grad_output of shape "
                             f"{tuple(self._output.shape)}, got {tuple(g.shape)}")
        return self._backward(g, self._input, self._output)


class Sigmoid(_Activation):
    r""":math:`\sigma(z) = 1/(1 + e^{-z})`, backward :math:`g\,\sigma(1 - \sigma)` from the stored output (``torch.nn.Sigmoid``)."""

    def _forward(self, x):
        return F.sigmoid(x)

    def _backward(self, g, x, y):
        return F.sigmoid_backward(g, y)


class Tanh(_Activation):
    r""":math:`\tanh z`, backward :math:`g(1 - \tanh^2 z)` from the stored output (``torch.nn.Tanh``)."""

    def _forward(self, x):
        return F.tanh(x)

    def _backward(self, g, x, y):
        return F.tanh_backward(g, y)


class ReLU(_Activation):
    r""":math:`\max(0, z)`, backward :math:`g\,I[z > 0]` -- 0 at :math:`z = 0`, as PyTorch (``torch.nn.ReLU``).

    Only the output is kept (``y > 0`` exactly where ``z > 0``); it is alive anyway as the next
    layer's input, so ReLU costs no extra memory.
    """

    def _forward(self, x):
        return F.relu(x)

    def _backward(self, g, x, y):
        return F.relu_backward(g, y)

    def forward(self, x):
        x = as_float_array(x, "ReLU input")
        self._output = y = self._forward(x)   # keep no reference to the input: its memory can be freed
        return y


class LeakyReLU(_Activation):
    r""":math:`z` for :math:`z > 0`, :math:`a z` otherwise; default :math:`a = 0.01` as PyTorch (deck 000 uses 0.1)."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def _forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def _backward(self, g, x, y):
        return g * F.leaky_relu_derivative(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(_Activation):
    r"""Leaky ReLU with a learnable slope :math:`a_c` per channel (``torch.nn.PReLU``; deck 003, «Leaky ReLU, PReLU»).

    ``weight`` has shape ``(num_parameters,)``, initialized to ``init``; with ``num_parameters = C`` it
    has one slope per channel, the input's dim 1 (``(N, C)``, ``(N, C, H, W)``).  Backward adds
    :math:`\sum g \min(z, 0)` per channel to ``weight.grad``.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=DEFAULT_DTYPE):
        super().__init__()
        self.num_parameters = check_positive_int(num_parameters, "num_parameters")
        self.weight = Parameter(np.full(self.num_parameters, init, dtype=dtype))

    def _forward(self, x):
        return F.prelu(x, self.weight.data)

    def _backward(self, g, x, y):
        self.weight.grad += F.prelu_weight_grad(g, x, self.weight.data).astype(self.weight.dtype, copy=False)
        return g * F.prelu_derivative(x, self.weight.data)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(_Activation):
    r""":math:`z` for :math:`z > 0`, :math:`\alpha(e^{z} - 1)` otherwise (``torch.nn.ELU``)."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = float(alpha)

    def _forward(self, x):
        return F.elu(x, self.alpha)

    def _backward(self, g, x, y):
        return g * F.elu_derivative(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class SELU(_Activation):
    r""":math:`\lambda\,\mathrm{ELU}_\alpha(z)`, :math:`\lambda \approx 1.0507`, :math:`\alpha \approx 1.6733` (``torch.nn.SELU``)."""

    def _forward(self, x):
        return F.selu(x)

    def _backward(self, g, x, y):
        return g * F.selu_derivative(x)


class GELU(_Activation):
    r""":math:`z\,\Phi(z)`, or with ``approximate='tanh'`` deck 000's tanh formula (``torch.nn.GELU``)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = check_choice(approximate, "approximate", ("none", "tanh"))

    def _forward(self, x):
        return F.gelu(x, self.approximate)

    def _backward(self, g, x, y):
        return g * F.gelu_derivative(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(_Activation):
    r"""Swish :math:`z\,\sigma(z)` (``torch.nn.SiLU``; deck 003, «Swish»)."""

    def _forward(self, x):
        return F.silu(x)

    def _backward(self, g, x, y):
        return g * F.silu_derivative(x)


class Softmax(_Activation):
    r"""Softmax along ``dim`` (``torch.nn.Softmax``); backward by ``softmax_backward`` (the Jacobian is not diagonal).

    ``dim=None`` means the last dimension.  (PyTorch's ``dim=None`` is deprecated and picks dim 0
    for 0-, 1- and 3-D inputs, dim 1 otherwise -- the same as "last" only for 1-D and 2-D; pass
    ``dim`` explicitly for anything else.)
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def _forward(self, x):
        return F.softmax(x, -1 if self.dim is None else self.dim)

    def _backward(self, g, x, y):
        return F.softmax_backward(g, y, -1 if self.dim is None else self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(_Activation):
    r"""Log-softmax along ``dim`` (``torch.nn.LogSoftmax``), stable by the log-sum-exp trick; ``dim=None`` means last."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def _forward(self, x):
        return F.log_softmax(x, -1 if self.dim is None else self.dim)

    def _backward(self, g, x, y):
        return F.log_softmax_backward(g, y, -1 if self.dim is None else self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Step(_Activation):
    r"""The lectures' threshold unit :math:`\mathrm{th}(z) = I[z > 0]` (deck 000, «Пороговая функция»).

    Its gradient is 0 everywhere (backward returns zeros), which is why threshold networks are
    built by hand, not trained -- see ``SigmoidC``.  Not to be confused with ``torch.nn.Threshold``,
    which replaces values below a threshold with a constant.
    """

    def _forward(self, x):
        return F.heaviside_step(x)

    def _backward(self, g, x, y):
        return g * F.heaviside_step_derivative(x)


class SigmoidC(_Activation):
    r"""Sigmoid with steepness :math:`c`: :math:`\sigma_c(z) = 1/(1 + e^{-cz})` (deck 000).

    Tends to ``Step`` as :math:`c \to \infty` (except at :math:`z = 0`, where it is 1/2) while staying
    differentiable: backward :math:`g\,c\,\sigma_c(1 - \sigma_c)`.  ``c = 1`` is the ordinary sigmoid.
    """

    def __init__(self, c: float = 1.0):
        super().__init__()
        self.c = float(c)

    def _forward(self, x):
        return F.sigmoid_c(x, self.c)

    def _backward(self, g, x, y):
        return g * F.sigmoid_c_derivative(x, self.c)

    def extra_repr(self):
        return f"c={self.c}"


class Maxout(Module):
    r"""Maxout layer: ``out_features`` units, each the maximum of ``pieces`` affine functions (deck 000, «Maxout»).

    .. math:: y_k = \max_{p < \text{pieces}} \bigl(w_{k,p}^\top x + b_{k,p}\bigr)

    -- deck 000's :math:`\max(w^\top z + w_0, v^\top z + v_0)` is ``pieces=2``.  The affine maps are one
    ``Linear(in_features, out_features * pieces)`` (``self.linear``): rows ``k*pieces ... k*pieces +
    pieces - 1`` of its weight belong to unit :math:`k`.  In PyTorch the same layer is
    ``linear(x).view(*x.shape[:-1], out_features, pieces).max(-1).values``.  Backward sends each
    unit's gradient to its winning piece only (``F.maxout_backward``), then through the linear map.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 2, bias: bool = True,
                 dtype=DEFAULT_DTYPE, seed=None):
        super().__init__()
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        self.pieces = check_positive_int(pieces, "pieces")
        self.linear = Linear(self.in_features, self.out_features * self.pieces, bias=bias, dtype=dtype, seed=seed)
        self._z = None

    def forward(self, x):
        z = self.linear(x)
        self._z = z
        return F.maxout(z, self.pieces)

    def backward(self, grad_output):
        if self._z is None:
            raise RuntimeError("Maxout.backward called before forward")
        g = as_float_array(grad_output, "grad_output")
        expected = self._z.shape[:-1] + (self.out_features,)
        if g.shape != expected:
            raise ValueError(f"Maxout.backward expects grad_output of shape {expected}, got {tuple(g.shape)}")
        return self.linear.backward(F.maxout_backward(g, self._z, self.pieces))

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}"
