r"""Activation functions as plain numpy functions, each with its derivative (PyTorch's ``torch.nn.functional``).

Lecture 2 (deck 000, «Функции активации») and lecture 4 (deck 003, «Функции активации»).

Three kinds of function live here, and every activation has the first two:

* ``f(x)`` -- the activation itself, elementwise (or along ``dim`` for softmax);
* ``f_derivative(x)`` -- the elementwise derivative :math:`f'(x)` evaluated at the *input* ``x``,
  for plots and for the lecture's chain-rule computations;
* ``f_backward(grad_output, output)`` -- the backward pass as a network runs it: given
  :math:`\partial L/\partial y` and the forward *output* :math:`y = f(x)`, return
  :math:`\partial L/\partial x`.  Sigmoid, tanh and ReLU have one because their derivative is cheap
  to read off the output (PyTorch's ``sigmoid_backward``/``tanh_backward``/``threshold_backward``
  do the same); softmax and log-softmax *need* one because their Jacobian is not diagonal.

Conventions (nnkit/README.md): inputs go through ``as_float_array`` -- float32 stays float32,
integers and booleans become float32 -- and a caller's array is never modified.  Where the lecture's
convention differs from PyTorch's (the derivative of ReLU at 0, LeakyReLU's slope) the code follows
PyTorch and the docstring says how the lecture differs.

Numerical care, because a naive formula overflows long before the answer stops being representable:
``exp`` is only ever applied to non-positive numbers (``exp(-|z|)``, ``exp(min(z, 0))``, ``exp(z - max z)``),
so no overflow warning is ever raised, for ``|z| = 1e4`` or beyond.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._checks import as_float_array, check_choice, check_positive_int

__all__ = [
    "identity", "identity_derivative",
    "heaviside_step", "heaviside_step_derivative",
    "sigmoid", "sigmoid_derivative", "sigmoid_second_derivative", "sigmoid_backward",
    "sigmoid_c", "sigmoid_c_derivative",
    "tanh", "tanh_derivative", "tanh_second_derivative", "tanh_backward",
    "relu", "relu_derivative", "relu_backward",
    "leaky_relu", "leaky_relu_derivative",
    "prelu", "prelu_derivative", "prelu_weight_grad",
    "elu", "elu_derivative",
    "selu", "selu_derivative", "SELU_ALPHA", "SELU_SCALE",
    "gelu", "gelu_derivative",
    "silu", "silu_derivative",
    "softplus", "softplus_derivative",
    "logsumexp", "softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
    "maxout", "maxout_backward",
]


# --- small helpers ----------------------------------------------------------------------------
def _real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def _threshold(value, name: str) -> float:
    """A real number or +inf (softplus's switch to the identity; inf switches it off)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _axis(x: np.ndarray, dim, name: str) -> int:
    """Validate ``dim`` for ``x`` (negative counts from the end, as in PyTorch) and return it >= 0."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{name}: dim must be an int, got {type(dim).__name__}")
    if x.ndim == 0:
        raise ValueError(f"{name} needs an input with at least one dimension, got a scalar")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"{name}: dim {dim} is out of range for input of shape {tuple(x.shape)} "
                         f"(expected {-x.ndim} <= dim < {x.ndim})")
    return int(dim) % x.ndim


def _grad_like(grad_output, output: np.ndarray, name: str) -> np.ndarray:
    g = as_float_array(grad_output, f"{name} grad_output")
    if g.shape != output.shape:
        raise ValueError(f"{name} expects grad_output of the output's shape {tuple(output.shape)}, got {tuple(g.shape)}")
    return g


# --- linear and threshold (deck 000) ---------------------------------------------------------
def identity(x):
    r"""Linear (identity) activation :math:`f(z) = z` -- deck 000, «Тождественная функция»."""
    return as_float_array(x, "identity input")


def identity_derivative(x):
    r""":math:`f'(z) = 1`."""
    return np.ones_like(as_float_array(x, "identity_derivative input"))


def heaviside_step(x):
    r"""The lectures' threshold unit :math:`\mathrm{th}(z) = I[z > 0]` (deck 000, «Пороговая функция»).

    The strict inequality is the decks' convention (deck 000 writes :math:`I[z > 0]`, deck 004 writes
    the logic gates as :math:`[\dots > 0]`), so :math:`\mathrm{th}(0) = 0`.  (``numpy.heaviside`` lets
    you choose the value at 0; ``torch.nn.Threshold`` is something else: it replaces values below a
    threshold by a constant.)
    """
    x = as_float_array(x, "heaviside_step input")
    return (x > 0).astype(x.dtype)


def heaviside_step_derivative(x):
    r""":math:`\partial\,\mathrm{th}/\partial z = 0` wherever it exists (everywhere but :math:`z = 0`).

    A zero derivative is exactly why threshold networks cannot be trained by gradient descent and
    the lectures switch to the sigmoid ("Сигмоиду проще обучать – дифференцируемая").
    """
    return np.zeros_like(as_float_array(x, "heaviside_step_derivative input"))


# --- sigmoid family ---------------------------------------------------------------------------
def sigmoid(x):
    r"""Logistic sigmoid :math:`\sigma(z) = 1/(1 + e^{-z}) \in (0, 1)` (deck 000 «Сигмоида», deck 003 «Sigmoid»).

    Computed as :math:`\sigma(z) = e^{\min(z,0)} / (1 + e^{-|z|})`, the same number for either sign of
    :math:`z` (multiply numerator and denominator by :math:`e^{z}` when :math:`z < 0`), but ``exp`` only
    ever sees non-positive arguments: :math:`e^{-z}` itself would overflow for :math:`z < -709`
    (float64) or :math:`z < -88` (float32).  No branches, no warnings, full relative accuracy.
    """
    x = as_float_array(x, "sigmoid input")
    return np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))


def sigmoid_derivative(x):
    r""":math:`\sigma'(z) = \sigma(z)(1 - \sigma(z)) = \sigma(z)\,\sigma(-z) = e^{-|z|} / (1 + e^{-|z|})^2`.

    At most 0.25 (at :math:`z = 0`) -- the reason deep sigmoid networks suffer vanishing gradients
    (deck 003, «Sigmoid - проблемы»).  The last form is the stable one: :math:`1 - \sigma(z)` would
    round to 0 for :math:`z > 37` while the true derivative is still :math:`\approx e^{-z}`.
    """
    x = as_float_array(x, "sigmoid_derivative input")
    e = np.exp(-np.abs(x))
    return e / ((1 + e) * (1 + e))


def sigmoid_second_derivative(x):
    r""":math:`\sigma''(z) = \sigma'(z)\,(1 - 2\sigma(z)) = -\sigma'(z)\tanh(z/2)` -- what Optimal Brain Damage needs.

    ``nnkit.obd`` propagates second derivatives through the activations (deck 001, «Удаление
    связей»).  :math:`1 - 2\sigma(z) = -\tanh(z/2)` avoids forming :math:`1 - \sigma`, which rounds
    to 0 for large :math:`z`; with the stable :math:`\sigma'` it is finite and accurate for any :math:`z`.
    """
    x = as_float_array(x, "sigmoid_second_derivative input")
    return -sigmoid_derivative(x) * np.tanh(x / 2)


def sigmoid_backward(grad_output, output):
    r""":math:`\partial L/\partial z = \partial L/\partial y \cdot y(1 - y)` from the forward output :math:`y = \sigma(z)`."""
    y = as_float_array(output, "sigmoid_backward output")
    return _grad_like(grad_output, y, "sigmoid_backward") * (y * (1 - y))


def sigmoid_c(x, c: float = 1.0):
    r"""Sigmoid with steepness :math:`c`: :math:`\sigma_c(z) = 1/(1 + e^{-cz}) = \sigma(cz)` (deck 000).

    As :math:`c \to \infty` it tends to the threshold unit :math:`I[z > 0]` everywhere except at
    :math:`z = 0`, where it stays :math:`1/2` -- the deck's «Сигмоида стремится к пороговой функции»:
    a sigmoid network with large :math:`c` reproduces the threshold networks (AND, OR, XOR) while
    staying differentiable.
    """
    c = _real(c, "sigmoid_c: c")
    x = as_float_array(x, "sigmoid_c input")
    return sigmoid(c * x)


def sigmoid_c_derivative(x, c: float = 1.0):
    r""":math:`\sigma_c'(z) = c\,\sigma_c(z)(1 - \sigma_c(z))` (chain rule through :math:`cz`)."""
    c = _real(c, "sigmoid_c_derivative: c")
    x = as_float_array(x, "sigmoid_c_derivative input")
    return c * sigmoid_derivative(c * x)


# --- tanh ------------------------------------------------------------------------------------
def tanh(x):
    r"""Hyperbolic tangent :math:`\tanh z = (e^{z} - e^{-z})/(e^{z} + e^{-z}) = 2\sigma(2z) - 1` (decks 000, 003).

    Zero-centered, unlike the sigmoid, but it saturates just the same.  ``numpy.tanh`` is already
    stable for any :math:`z`.
    """
    return np.tanh(as_float_array(x, "tanh input"))


def tanh_derivative(x):
    r""":math:`\tanh'(z) = 1 - \tanh^2(z)`, at most 1 (at :math:`z = 0`)."""
    t = np.tanh(as_float_array(x, "tanh_derivative input"))
    return 1 - t * t


def tanh_second_derivative(x):
    r""":math:`\tanh''(z) = -2\tanh(z)\,(1 - \tanh^2 z)` (for ``nnkit.obd``'s second-derivative pass)."""
    t = np.tanh(as_float_array(x, "tanh_second_derivative input"))
    return -2 * t * (1 - t * t)


def tanh_backward(grad_output, output):
    r""":math:`\partial L/\partial z = \partial L/\partial y \cdot (1 - y^2)` from the forward output :math:`y = \tanh z`."""
    y = as_float_array(output, "tanh_backward output")
    return _grad_like(grad_output, y, "tanh_backward") * (1 - y * y)


# --- ReLU and its modifications ---------------------------------------------------------------
def relu(x):
    r"""Rectified linear unit :math:`\mathrm{ReLU}(z) = \max(0, z)` (deck 000 «Проблема – затухание градиента», deck 003 «ReLU»)."""
    x = as_float_array(x, "relu input")
    return np.maximum(x, 0)  # the Python 0 is a "weak" scalar: float32 stays float32


def relu_derivative(x):
    r""":math:`\mathrm{ReLU}'(z) = I[z > 0]`; at :math:`z = 0` this gives 0, as PyTorch does.

    Deck 000 writes :math:`I[z > 0]` (0 at zero, agreeing with PyTorch); deck 003 writes
    :math:`f'(x) = 1` for :math:`x \ge 0`.  The derivative does not exist at 0, any value in [0, 1]
    is a valid subgradient; we follow PyTorch so gradients agree with it exactly.
    """
    x = as_float_array(x, "relu_derivative input")
    return (x > 0).astype(x.dtype)


def relu_backward(grad_output, output):
    r""":math:`\partial L/\partial z = \partial L/\partial y \cdot I[y > 0]` from the forward output :math:`y = \mathrm{ReLU}(z)`.

    :math:`y > 0` exactly when :math:`z > 0`, so the output serves as well as the input (PyTorch's
    ``threshold_backward``).  Multiplying by the boolean mask is one pass over memory; it measured
    about as fast as keeping a mask from the forward pass and ten times faster than ``np.where``.
    """
    y = as_float_array(output, "relu_backward output")
    return _grad_like(grad_output, y, "relu_backward") * (y > 0)


def leaky_relu(x, negative_slope: float = 0.01):
    r"""Leaky ReLU: :math:`z` for :math:`z > 0`, :math:`a z` otherwise (``torch.nn.functional.leaky_relu``).

    Deck 000 writes :math:`\max(0.1z, z)`, i.e. slope :math:`a = 0.1`; PyTorch's default is 0.01.
    The max form is only right for :math:`a \le 1`, so we use :math:`\max(z, 0) + a\min(z, 0)`,
    valid for every slope.  A non-zero slope keeps a gradient flowing for negative inputs, the cure
    for "dead" ReLU units (deck 003, «Модификации ReLU»).
    """
    a = _real(negative_slope, "leaky_relu: negative_slope")
    x = as_float_array(x, "leaky_relu input")
    return np.maximum(x, 0) + a * np.minimum(x, 0)


def leaky_relu_derivative(x, negative_slope: float = 0.01):
    r""":math:`1` for :math:`z > 0`, :math:`a` for :math:`z \le 0` (PyTorch's value at 0; deck 003 takes 1 there)."""
    a = _real(negative_slope, "leaky_relu_derivative: negative_slope")
    x = as_float_array(x, "leaky_relu_derivative input")
    return a + (1 - a) * (x > 0).astype(x.dtype)


def _prelu_weight(x: np.ndarray, weight, name: str) -> np.ndarray:
    """PReLU's weight, cast to the input's dtype and shaped to broadcast along channel dim 1."""
    w = as_float_array(weight, f"{name} weight").astype(x.dtype, copy=False)
    if w.ndim != 1:
        raise ValueError(f"{name} expects a 1-D weight of shape (num_parameters,), got shape {tuple(w.shape)}")
    if w.size == 1:
        return w.reshape(())
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.size != channels:
        raise ValueError(f"{name} has {w.size} parameters, one per channel, so it expects input of shape "
                         f"(N, {w.size}, *), got shape {tuple(x.shape)}")
    return w.reshape((1, w.size) + (1,) * (x.ndim - 2))


def prelu(x, weight):
    r"""Parametric ReLU :math:`\max(z, 0) + a_c \min(z, 0)` with a learnable slope per channel :math:`c` (deck 003, «Leaky ReLU, PReLU»).

    ``weight`` has shape ``(1,)`` (one slope shared by everything) or ``(C,)`` with ``C = x.shape[1]``,
    PyTorch's channel dimension.
    """
    x = as_float_array(x, "prelu input")
    a = _prelu_weight(x, weight, "prelu")
    return np.maximum(x, 0) + a * np.minimum(x, 0)


def prelu_derivative(x, weight):
    r""":math:`\partial y/\partial z`: 1 for :math:`z > 0`, :math:`a_c` for :math:`z \le 0` (PyTorch's value at 0)."""
    x = as_float_array(x, "prelu_derivative input")
    a = _prelu_weight(x, weight, "prelu_derivative")
    return a + (1 - a) * (x > 0).astype(x.dtype)


def prelu_weight_grad(grad_output, x, weight):
    r""":math:`\partial L/\partial a_c = \sum \partial L/\partial y \cdot \min(z, 0)` over every position of channel :math:`c`.

    Returns an array of ``weight``'s shape (in the input's dtype).
    """
    x = as_float_array(x, "prelu_weight_grad input")
    a = _prelu_weight(x, weight, "prelu_weight_grad")
    g = _grad_like(grad_output, x, "prelu_weight_grad")
    contrib = g * np.minimum(x, 0)
    if a.ndim == 0:
        return contrib.sum(dtype=x.dtype).reshape(1)
    return contrib.sum(axis=(0,) + tuple(range(2, x.ndim)))


# --- exponential units ------------------------------------------------------------------------
def elu(x, alpha: float = 1.0):
    r"""Exponential linear unit: :math:`z` for :math:`z > 0`, :math:`\alpha(e^{z} - 1)` for :math:`z \le 0` (decks 000, 003).

    Written branch-free as :math:`\max(z, 0) + \alpha\,\mathrm{expm1}(\min(z, 0))`: ``exp`` never sees a
    positive argument (no overflow for large :math:`z`), and ``expm1`` keeps :math:`e^{z} - 1`
    accurate for tiny :math:`|z|`.
    """
    a = _real(alpha, "elu: alpha")
    x = as_float_array(x, "elu input")
    return np.maximum(x, 0) + a * np.expm1(np.minimum(x, 0))


def elu_derivative(x, alpha: float = 1.0):
    r""":math:`1` for :math:`z > 0`, :math:`\alpha e^{z}` for :math:`z \le 0` (PyTorch takes the second branch at 0)."""
    a = _real(alpha, "elu_derivative: alpha")
    x = as_float_array(x, "elu_derivative input")
    pos = x > 0
    return pos + (a * np.exp(np.minimum(x, 0))) * ~pos


# The constants of Klambauer et al. (2017), "Self-Normalizing Neural Networks", as in PyTorch.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    r"""Scaled ELU :math:`\lambda\,\mathrm{ELU}_\alpha(z)` with :math:`\lambda \approx 1.0507`, :math:`\alpha \approx 1.6733`.

    Deck 000 writes :math:`\mathrm{SELU}(z) = \lambda\,\mathrm{ELU}(z)` without the constants: they are
    the fixed point that keeps activations at mean 0 and variance 1 through a deep network
    (``SELU_SCALE``, ``SELU_ALPHA``).
    """
    return SELU_SCALE * elu(as_float_array(x, "selu input"), SELU_ALPHA)


def selu_derivative(x):
    r""":math:`\lambda` for :math:`z > 0`, :math:`\lambda\alpha e^{z}` for :math:`z \le 0`."""
    return SELU_SCALE * elu_derivative(as_float_array(x, "selu_derivative input"), SELU_ALPHA)


# --- GELU and the error function ---------------------------------------------------------------
# erf/erfc by the rational approximations of the Cephes library (S. L. Moshier, ndtr.c, public
# domain, netlib.org/cephes), accurate to about 1e-16 relative in float64 -- as good as math.erf, but
# vectorized, and without adding scipy to nnkit's dependencies.
_ERF_T = (9.60497373987051638749E0, 9.00260197203842689217E1, 2.23200534594684319226E3,
          7.00332514112805075473E3, 5.55923013010394962768E4)
_ERF_U = (3.35617141647503099647E1, 5.21357949780152679795E2, 4.59432382970980127987E3,
          2.26290000613890934246E4, 4.92673942608635921086E4)
_ERFC_P = (2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
           4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
           9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2)
_ERFC_Q = (1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
           9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
           1.65666309194161350182E3, 5.57535340817727675546E2)
_ERFC_R = (5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0,
           6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0)
_ERFC_S = (2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1,
           1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0)


def _polevl(x, coefs):
    """:math:`c_0 x^n + \\dots + c_n` by Horner's rule."""
    r = coefs[0] + 0 * x
    for c in coefs[1:]:
        r = r * x + c
    return r


def _p1evl(x, coefs):
    """Like ``_polevl`` with an implicit leading coefficient 1."""
    r = x + coefs[0]
    for c in coefs[1:]:
        r = r * x + c
    return r


def _erf_small(x):
    """erf for |x| <= 1: ``x T(x^2) / U(x^2)``."""
    z = x * x
    return x * _polevl(z, _ERF_T) / _p1evl(z, _ERF_U)


def _erfc(x):
    """Complementary error function :math:`1 - \\mathrm{erf}(x)`, elementwise, in ``x``'s dtype."""
    x = as_float_array(x, "erfc input")
    ax = np.abs(x)
    small = ax < 1
    # |x| < 1: 1 - erf(x) loses nothing (erf(x) < 0.85).  Evaluate on a clipped copy so the
    # polynomials of the other branch never see numbers they were not fitted for.
    xs = np.clip(x, -1, 1)
    erfc_small = 1 - _erf_small(xs)
    # |x| >= 1: erfc(|x|) = exp(-x^2) P(|x|)/Q(|x|) (R/S beyond 8).  erfc(28) underflows float64 to
    # 0, so clipping at 28 changes nothing and keeps x^2 finite even in float32.
    ab = np.clip(ax, 1, 28)
    ratio = np.where(ab < 8, _polevl(ab, _ERFC_P) / _p1evl(ab, _ERFC_Q),
                     _polevl(ab, _ERFC_R) / _p1evl(ab, _ERFC_S))
    tail = np.exp(-ab * ab) * ratio
    tail = np.where(x < 0, 2 - tail, tail)   # erfc(-a) = 2 - erfc(a)
    return np.where(small, erfc_small, tail)


def _erf(x):
    """Error function :math:`\\mathrm{erf}(x) = \\frac{2}{\\sqrt\\pi}\\int_0^x e^{-t^2} dt`, elementwise."""
    x = as_float_array(x, "erf input")
    return np.where(np.abs(x) < 1, _erf_small(np.clip(x, -1, 1)), 1 - _erfc(x))


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_KAPPA = 0.044715


def _normal_cdf(x):
    r""":math:`\Phi(x) = P(X \le x)`, :math:`X \sim N(0, 1)`, as :math:`\tfrac12\mathrm{erfc}(-x/\sqrt2)` (accurate in both tails)."""
    return 0.5 * _erfc(-x * _SQRT_HALF)


def _normal_pdf(x):
    r""":math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`; clipping at 40 (where it is already 0) keeps :math:`x^2` finite."""
    xc = np.clip(x, -40, 40)
    return _INV_SQRT_2PI * np.exp(-0.5 * xc * xc)


def _gelu_tanh_parts(x):
    # tanh saturates to +-1 well before |x| = 100; clipping keeps x^3 from overflowing in float32.
    xc = np.clip(x, -100, 100)
    return xc, np.tanh(_SQRT_2_OVER_PI * (xc + _GELU_KAPPA * xc * xc * xc))


def gelu(x, approximate: str = "none"):
    r"""Gaussian error linear unit :math:`\mathrm{GELU}(z) = z\,\Phi(z) = z\,P(X \le z)`, :math:`X \sim N(0,1)` (deck 003).

    ``approximate='tanh'`` gives deck 000's form
    :math:`\tfrac{z}{2}\bigl(1 + \tanh(\sqrt{2/\pi}(z + 0.044715 z^3))\bigr)`, as PyTorch's option of
    that name.  The exact form uses :math:`\Phi(z) = \tfrac12\mathrm{erfc}(-z/\sqrt2)`.

    Erratum (deck 003): for small :math:`|z|`, :math:`\mathrm{GELU}(z) \approx z/2 + z^2/\sqrt{2\pi}`
    (since :math:`\Phi(z) \approx 1/2 + z\,\varphi(0)`), not :math:`z/2 + z^2/(2\pi)`.
    """
    check_choice(approximate, "gelu: approximate", ("none", "tanh"))
    x = as_float_array(x, "gelu input")
    if approximate == "tanh":
        _, t = _gelu_tanh_parts(x)
        return 0.5 * x * (1 + t)
    return x * _normal_cdf(x)


def gelu_derivative(x, approximate: str = "none"):
    r""":math:`\mathrm{GELU}'(z) = \Phi(z) + z\,\varphi(z)`; for ``'tanh'``, the derivative of deck 000's form

    .. math:: \tfrac12(1 + t) + \tfrac z2 (1 - t^2)\sqrt{2/\pi}\,(1 + 3 \cdot 0.044715 z^2),
              \quad t = \tanh\bigl(\sqrt{2/\pi}(z + 0.044715 z^3)\bigr).
    """
    check_choice(approximate, "gelu_derivative: approximate", ("none", "tanh"))
    x = as_float_array(x, "gelu_derivative input")
    if approximate == "tanh":
        xc, t = _gelu_tanh_parts(x)
        return 0.5 * (1 + t) + 0.5 * xc * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _GELU_KAPPA * xc * xc)
    return _normal_cdf(x) + x * _normal_pdf(x)


# --- SiLU / Swish ------------------------------------------------------------------------------
def silu(x):
    r"""Sigmoid linear unit (Swish) :math:`f(z) = z\,\sigma(z) = z/(1 + e^{-z})` (deck 003, «Swish»)."""
    x = as_float_array(x, "silu input")
    return x * sigmoid(x)


def silu_derivative(x):
    r""":math:`f'(z) = \sigma(z)\bigl(1 + z(1 - \sigma(z))\bigr)`.

    Deck 003 writes it as :math:`f(z) + \sigma(z)(1 - f(z))` -- the same thing expanded.  We use
    :math:`1 - \sigma(z) = \sigma(-z)`, which does not cancel to 0 for large :math:`z`.
    """
    x = as_float_array(x, "silu_derivative input")
    return sigmoid(x) * (1 + x * sigmoid(-x))


# --- softplus (the building block of stable log-likelihood losses) -----------------------------
def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    r""":math:`\mathrm{softplus}(z) = \tfrac1\beta\log(1 + e^{\beta z})`, a smooth ReLU (``torch.nn.functional.softplus``).

    Stable form :math:`\max(u, 0) + \log(1 + e^{-|u|})`, :math:`u = \beta z`: ``exp`` never overflows.
    As in PyTorch, it returns :math:`z` itself where :math:`\beta z > \text{threshold}`
    (``threshold=math.inf``: never).  It is :math:`-\log\sigma(-z)`, which is how the logistic
    losses use it.
    """
    b = _real(beta, "softplus: beta")
    thr = _threshold(threshold, "softplus: threshold")
    x = as_float_array(x, "softplus input")
    u = b * x
    out = (np.maximum(u, 0) + np.log1p(np.exp(-np.abs(u)))) / b
    return out if thr == math.inf else np.where(u > thr, x, out)


def softplus_derivative(x, beta: float = 1.0, threshold: float = 20.0):
    r""":math:`\mathrm{softplus}'(z) = \sigma(\beta z)` (1 where PyTorch's threshold makes it linear)."""
    b = _real(beta, "softplus_derivative: beta")
    thr = _threshold(threshold, "softplus_derivative: threshold")
    x = as_float_array(x, "softplus_derivative input")
    u = b * x
    return np.where(u > thr, 1, sigmoid(u)).astype(x.dtype, copy=False)


# --- softmax family (deck 000 «Функции активации в задачах классификации», deck 003 «Проблема софтмакса») ---
def logsumexp(x, dim: int = -1, keepdim: bool = False):
    r""":math:`\log\sum_j e^{z_j}` along ``dim``, by the log-sum-exp trick (``torch.logsumexp``).

    :math:`\log\sum_j e^{z_j} = m + \log\sum_j e^{z_j - m}` with :math:`m = \max_j z_j` (deck 000,
    «Функции ошибки»): every exponent is :math:`\le 0` so nothing overflows, and the largest term
    is :math:`e^0 = 1` so the sum cannot underflow to 0 and the log is finite.
    A row of all :math:`-\infty` gives :math:`-\infty`, as in PyTorch.
    """
    x = as_float_array(x, "logsumexp input")
    axis = _axis(x, dim, "logsumexp")
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # an all -inf row: shift by 0 so that -inf - m is not nan
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for an all -inf row
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdim else np.squeeze(out, axis=axis)


def softmax(x, dim: int = -1):
    r""":math:`\mathrm{softmax}_k(z) = e^{z_k} / \sum_j e^{z_j}` along ``dim`` (decks 000, 003).

    Outputs are positive and sum to 1, so they read as class probabilities.  Deck 000's examples:
    ``[0.5, 0.5, 0.1, 0.7] -> [0.257, 0.257, 0.172, 0.314]``, ``[-1, 0, 1, 0, -1] -> [0.07, 0.18, 0.5, 0.18, 0.07]``.

    Deck 003's trick: softmax does not change when the same :math:`c` is added to every :math:`z_j`,
    so we subtract :math:`\max_j z_j` first.  Then no :math:`e^{z}` overflows (the naive formula
    gives ``inf/inf = nan`` at :math:`z = 1000`) and the denominator is at least 1, never 0.
    """
    x = as_float_array(x, "softmax input")
    axis = _axis(x, dim, "softmax")
    e = x - np.max(x, axis=axis, keepdims=True)   # a new array: the caller's x is untouched
    np.exp(e, out=e)                              # in place: one array for the whole computation
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def softmax_backward(grad_output, output, dim: int = -1):
    r"""Backward of softmax from its output :math:`s`: :math:`\partial L/\partial z = s \odot (g - \langle g, s\rangle)`.

    The Jacobian :math:`\partial s_i/\partial z_j = s_i(\delta_{ij} - s_j)` is a full matrix per row, but
    its product with :math:`g = \partial L/\partial s` needs only one dot product per row:
    :math:`\sum_i g_i s_i(\delta_{ij} - s_j) = s_j (g_j - \sum_i g_i s_i)`.
    """
    s = as_float_array(output, "softmax_backward output")
    g = _grad_like(grad_output, s, "softmax_backward")
    axis = _axis(s, dim, "softmax_backward")
    return s * (g - np.sum(g * s, axis=axis, keepdims=True))


def log_softmax(x, dim: int = -1):
    r""":math:`\log\mathrm{softmax}_k(z) = z_k - \log\sum_j e^{z_j}`, computed as :math:`(z_k - m) - \log\sum_j e^{z_j - m}`.

    Taking the log of ``softmax(x)`` instead would give :math:`\log 0 = -\infty` for a probability
    that underflowed; this form is finite for any finite input (deck 000, «Функции ошибки»:
    :math:`-a_y + \max_j a_j + \log\sum_j e^{a_j - \max_j a_j}`).
    """
    x = as_float_array(x, "log_softmax input")
    axis = _axis(x, dim, "log_softmax")
    shifted = x - np.max(x, axis=axis, keepdims=True)
    shifted -= np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return shifted


def log_softmax_backward(grad_output, output, dim: int = -1):
    r"""Backward of log-softmax from its output :math:`\ell = \log s`: :math:`\partial L/\partial z = g - s \sum_i g_i`.

    From :math:`\partial \ell_i/\partial z_j = \delta_{ij} - s_j` and :math:`s = e^{\ell}`.
    """
    ell = as_float_array(output, "log_softmax_backward output")
    g = _grad_like(grad_output, ell, "log_softmax_backward")
    axis = _axis(ell, dim, "log_softmax_backward")
    return g - np.exp(ell) * np.sum(g, axis=axis, keepdims=True)


# --- maxout (deck 000, «Maxout») ---------------------------------------------------------------
def _maxout_groups(z: np.ndarray, pieces: int, name: str) -> np.ndarray:
    if z.ndim == 0 or z.shape[-1] % pieces:
        raise ValueError(f"{name} with pieces={pieces} expects input of shape (*, units * {pieces}), "
                         f"got shape {tuple(z.shape)}")
    return z.reshape(z.shape[:-1] + (z.shape[-1] // pieces, pieces))


def maxout(z, pieces: int):
    r"""Maxout: the maximum over groups of ``pieces`` consecutive features along the last axis.

    Unit :math:`k` outputs :math:`\max_{p} z_{k,p}` with :math:`z_{k,p}` = ``z[..., k*pieces + p]``.
    Applied to a linear layer's output this is deck 000's
    :math:`\mathrm{Maxout}(x) = \max(w^\top x + w_0, v^\top x + v_0)` (``pieces=2``), a learnable
    piecewise-linear convex activation ("не совсем функция активации, т.к. есть параметры");
    ``nnkit.nn.Maxout`` packages the linear layer with it.
    """
    pieces = check_positive_int(pieces, "maxout: pieces")
    z = as_float_array(z, "maxout input")
    return _maxout_groups(z, pieces, "maxout").max(axis=-1)


def maxout_backward(grad_output, z, pieces: int):
    r""":math:`\partial L/\partial z_{k,p} = \partial L/\partial y_k \cdot I[p = \arg\max_q z_{k,q}]`.

    The gradient of a max goes entirely to the piece that won (the first one on a tie, as
    ``numpy.argmax``); the other pieces of that unit get 0 for this example.
    """
    pieces = check_positive_int(pieces, "maxout_backward: pieces")
    z = as_float_array(z, "maxout_backward input")
    groups = _maxout_groups(z, pieces, "maxout_backward")
    g = as_float_array(grad_output, "maxout_backward grad_output")
    if g.shape != groups.shape[:-1]:
        raise ValueError(f"maxout_backward expects grad_output of shape {groups.shape[:-1]}, got {tuple(g.shape)}")
    winner = np.argmax(groups, axis=-1)[..., None]
    grad = np.zeros(groups.shape, dtype=np.result_type(g, z))
    np.put_along_axis(grad, winner, g[..., None], axis=-1)
    return grad.reshape(z.shape)
