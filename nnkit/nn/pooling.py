r"""``MaxPool2d`` and ``AvgPool2d``: the subsampling layers of deck 004 ("Subsampling слой").

The lecture: subsampling "adds robustness to small deformations", and *max-subsampling is a
convolutional layer in which the operation "+" is replaced by "max"*.  Each output looks at a
``kh x kw`` window of one channel (windows ``stride`` apart) and keeps its maximum (or mean):

.. math:: y_{n,c,h,w} = \max_{0 \le i < k_h,\ 0 \le j < k_w} \tilde x_{n,c,\,s_h h + i,\, s_w w + j}
          \qquad\text{or}\qquad
          y_{n,c,h,w} = \frac{1}{k_h k_w}\sum_{i,j} \tilde x_{n,c,\,s_h h + i,\, s_w w + j}.

There are no parameters.  Backward routes the gradient back through the windows:

* max: the whole of :math:`g_{n,c,h,w}` goes to the input pixel that was the maximum (the
  derivative of :math:`\max` is 1 for the winner and 0 for the rest); with ties PyTorch picks the
  first maximum in row-major order inside the window, and so does nnkit;
* mean: every pixel of the window receives :math:`g_{n,c,h,w} / (k_h k_w)`.

Where windows overlap (stride < kernel) a pixel collects the sum over every window it is in.

Both layers work *tap by tap*: a kernel tap ``(i, j)`` picks the same offset in every window, which
is one strided slice of the input.  Looping over the ``kh * kw`` taps (never over the batch) keeps
every operation a whole-array numpy call, for any stride, padding or overlap.  (For the common
non-overlapping 2x2 case it also measured about 3x faster than reshaping the input into windows
and taking ``argmax`` over a copied window axis.)
"""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_ndim, pair
from .module import Module


def _tap(a: np.ndarray, i: int, j: int, out_hw, stride) -> np.ndarray:
    """The strided view ``a[:, :, s_h*h + i, s_w*w + j]`` over every output position ``(h, w)``."""
    (oh, ow), (sh, sw) = out_hw, stride
    return a[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]


class _Pool2d(Module):
    """Shared argument handling, shape checks and the tap iteration of the two pooling layers."""

    _name = "Pool2d"

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        self.padding = pair(padding, "padding", allow_zero=True)
        for p, k in zip(self.padding, self.kernel_size):
            if 2 * p > k:   # PyTorch's rule: a window must never lie entirely in the padding
                raise ValueError(f"{self._name} padding should be at most half of kernel_size, "
                                 f"got padding={self.padding}, kernel_size={self.kernel_size}")
        self._cache = None

    def _check_input(self, x) -> np.ndarray:
        x = as_float_array(x, f"{self._name} input")
        check_ndim(x, 4, self._name, "(N, C, H, W)")
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if kh > x.shape[2] + 2 * ph or kw > x.shape[3] + 2 * pw:
            raise ValueError(f"{self._name} kernel_size {self.kernel_size} is larger than the padded input "
                             f"{x.shape[2] + 2 * ph}x{x.shape[3] + 2 * pw} (input shape {tuple(x.shape)}, "
                             f"padding {self.padding})")
        return x

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def _padded(self, x: np.ndarray, fill: float) -> np.ndarray:
        ph, pw = self.padding
        if not (ph or pw):
            return x
        n, c, h, w = x.shape
        xp = np.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
        xp[:, :, ph:ph + h, pw:pw + w] = x
        return xp

    def _taps(self):
        """Kernel taps ``(i, j)`` in row-major order."""
        kh, kw = self.kernel_size
        return [(i, j) for i in range(kh) for j in range(kw)]

    def _grad_views(self, xp, out_hw, dtype):
        """A zero dL/d(padded x) and, for every tap, the strided view of it that the tap touched.

        Adding into the views one tap after another is col2im for pooling: within one tap the
        windows touch distinct pixels, and a pixel shared by overlapping windows collects the sum.
        The gradient gets the memory order of the input (``zeros_like``), e.g. ``channels_last``.
        """
        dxp = np.zeros_like(xp, dtype=dtype)
        return dxp, [((i, j), _tap(dxp, i, j, out_hw, self.stride)) for i, j in self._taps()]

    def _unpad(self, dxp: np.ndarray, shape) -> np.ndarray:
        (ph, pw), (h, w) = self.padding, shape[2:]
        return dxp[:, :, ph:ph + h, pw:pw + w] if (ph or pw) else dxp

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    r"""Max-subsampling over ``kh x kw`` windows (``torch.nn.MaxPool2d``; deck 004, "Subsampling слой").

    ``stride`` defaults to ``kernel_size`` (non-overlapping windows); ``padding`` pads with
    :math:`-\infty` (a padded pixel never wins) and may be at most half the kernel, as in PyTorch.

    forward:  :math:`y = \max_{(i,j)\in\text{window}} \tilde x`;
    backward: :math:`\partial L/\partial x = g` at the winner of each window, 0 elsewhere.

    Ties go to the first maximum in row-major order inside the window, as in PyTorch.  A NaN in a
    window makes its output NaN, as in PyTorch; its gradient goes to the first NaN (PyTorch's CPU
    kernel picks the last one).

    Forward keeps the maxima; backward finds each window's winner again by comparing the taps with
    them, first tap first -- cheaper than tracking an argmax through the forward pass.
    """

    _name = "MaxPool2d"

    def forward(self, x):
        x = self._check_input(x)
        out_hw = self._out_hw(x.shape[2], x.shape[3])
        xp = self._padded(x, -np.inf)
        y = None
        for i, j in self._taps():
            tap = _tap(xp, i, j, out_hw, self.stride)
            y = tap.copy(order="K") if y is None else np.maximum(y, tap, out=y)   # np.maximum propagates NaN
        # A private copy of the maxima: the caller may change the returned array before backward.
        self._cache = (x.shape, xp, y.copy())
        return y

    def backward(self, grad_output):
        if self._cache is None:
            raise RuntimeError("MaxPool2d.backward called before forward")
        shape, xp, y = self._cache
        g = as_float_array(grad_output, "grad_output")
        if g.shape != y.shape:
            raise ValueError(f"MaxPool2d.backward expects grad_output of shape {y.shape}, got {tuple(g.shape)}")
        nan_windows = bool(np.isnan(y).any())
        claimed = np.zeros_like(y, dtype=bool)        # windows whose winner has been found
        dxp, views = self._grad_views(xp, y.shape[2:], g.dtype)
        for (i, j), view in views:
            # The winner of a window is the first tap, in row-major order, that equals the maximum.
            hit = _tap(xp, i, j, y.shape[2:], self.stride) == y
            if nan_windows:
                hit |= np.isnan(_tap(xp, i, j, y.shape[2:], self.stride))
            np.logical_and(hit, ~claimed, out=hit)
            claimed |= hit
            view += g * hit
        return self._unpad(dxp, shape)


class AvgPool2d(_Pool2d):
    r"""Mean-subsampling over ``kh x kw`` windows (``torch.nn.AvgPool2d``; deck 004, "Subsampling слой").

    ``stride`` defaults to ``kernel_size``.  ``padding`` pads with zeros that are *counted* in the
    mean -- PyTorch's default ``count_include_pad=True`` -- so every window divides by
    :math:`k_h k_w`.

    forward:  :math:`y = \frac{1}{k_h k_w}\sum_{(i,j)\in\text{window}} \tilde x`;
    backward: every pixel of a window receives :math:`g / (k_h k_w)` (summed over the windows it is in).
    """

    _name = "AvgPool2d"

    def forward(self, x):
        x = self._check_input(x)
        out_hw = self._out_hw(x.shape[2], x.shape[3])
        xp = self._padded(x, 0.0)
        y = None
        for i, j in self._taps():
            tap = _tap(xp, i, j, out_hw, self.stride)
            y = tap.copy(order="K") if y is None else np.add(y, tap, out=y)
        kh, kw = self.kernel_size
        y *= y.dtype.type(1.0 / (kh * kw))
        self._cache = (x.shape, xp, y.shape)
        return y

    def backward(self, grad_output):
        if self._cache is None:
            raise RuntimeError("AvgPool2d.backward called before forward")
        shape, xp, out_shape = self._cache
        g = as_float_array(grad_output, "grad_output")
        if g.shape != out_shape:
            raise ValueError(f"AvgPool2d.backward expects grad_output of shape {out_shape}, got {tuple(g.shape)}")
        kh, kw = self.kernel_size
        share = g * g.dtype.type(1.0 / (kh * kw))
        dxp, views = self._grad_views(xp, out_shape[2:], g.dtype)
        for _, view in views:
            view += share
        return self._unpad(dxp, shape)
