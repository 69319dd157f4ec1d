r"""``Conv2d``: the convolutional layer of deck 004 ("Сверточные нейросети", "Сверточный слой").

The lecture builds the layer in two steps.  A *locally connected* layer ("Локально-связанный слой")
lets each output unit see only a small patch of neighboring pixels, because neighboring pixels
are the ones that are strongly related.  Sharing one set of weights between all positions
("Инвариантность к перемещению") then says that an object may appear anywhere in the image.  The
result is the convolution (strictly, cross-correlation, as in every deep-learning library)

.. math:: y_{n,o,h,w} = b_o + \sum_{c}\sum_{i=0}^{k_h-1}\sum_{j=0}^{k_w-1}
          W_{o,c,i,j}\, \tilde x_{n,c,\,s_h h + i,\, s_w w + j},

where :math:`\tilde x` is the input padded with zeros and :math:`s` the stride.  The output size is
:math:`\lfloor (H + 2p - k)/s \rfloor + 1`.

**im2col.**  Copy every receptive field (one per output pixel) into a row of a matrix ``cols``
and append a column of ones -- the linear models' constant feature, so that the bias is just one
more weight.  Then the whole layer is ONE matrix product, which BLAS runs at full speed:
``y = cols @ [W.reshape(out, -1).T; b]``.  Backward is two more matrix products and the adjoint
of the copy (col2im):

* :math:`\partial L/\partial [W; b] = g^\top\,\text{cols}` (summed over the batch); the column of
  ones makes its last column :math:`\partial L/\partial b_o = \sum_{n,h,w} g_{n,o,h,w}`;
* :math:`\partial L/\partial\,\text{cols} = g\,W`, then col2im adds every row of that back onto
  the pixels it was copied from -- pixels shared by overlapping windows collect the sum, which
  is exactly the chain rule for a value used several times.

Each of the three products is ONE call over the whole batch, never one per image: a call on
``N * H_out * W_out`` rows is big enough for BLAS to split over all its threads, while per-image
products are small (OpenBLAS runs small products on one thread, and splitting one costs more
than it saves).

**Two memory orders.**  numpy copies fastest when long runs of numbers are contiguous.

* *channels-first* (the textbook im2col): ``cols`` has one row per ``(c, i, j)`` and one column
  per output pixel of the whole batch, and ``y = W @ cols`` comes out as ``y[o, (n, h, w)]``.  A
  copied run is ``out_w`` numbers long (stride 1).  Used when there are few input channels (a grey
  or RGB input layer).  The output is returned as the ``(N, O, H, W)`` array it is -- values and
  shape as usual, memory channel-major (``y.transpose(1, 0, 2, 3)`` is contiguous); so is the
  input gradient.
* *channels-last* (NHWC): the padded input is transposed once so that channels are the last axis;
  a row of a window is then ``kernel_w * C`` adjacent numbers.  Used for the usual layers with
  many channels.  The output comes out with one row per pixel, ``y[(n, h, w), o]``, and is returned
  as the ``(N, O, H, W)`` array it is, strides NHWC's (PyTorch calls this memory order
  ``channels_last``).  The input gradient is returned the same way.  Backward computes
  :math:`g W` one kernel row ``i`` at a time (the columns of ``cols`` that hold row ``i`` of every
  window), so each block is still in the CPU cache when col2im scatters it back.

Copying an output into NCHW order would be one more pass over memory, on one core, that changes
nothing else: every nnkit layer takes any memory order, and ``np.ascontiguousarray`` makes one
when needed.  The gradient flowing back into a layer usually arrives in the order of its output
(element-wise layers keep it), and is then used as a matrix without a copy.

The arithmetic is the same in both orders, and both are tested against PyTorch.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import init
from .._checks import DEFAULT_DTYPE, as_float_array, check_ndim, check_positive_int, make_rng, pair
from ..threads import batch_chunks, run_chunks
from .module import Module
from .parameter import Parameter


class Workspace:
    """Scratch arrays reused between calls, keyed by name.

    Allocating a fresh multi-megabyte array on every call costs more than the arithmetic: the
    operating system hands the memory over page by page, on first touch.  A layer keeps its
    im2col matrix and friends here and reuses them while the input shape stays the same.  Only
    private intermediates live here -- outputs and returned gradients are always fresh arrays, so
    a caller may keep them.
    """

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple, dtype, zeros: bool = False) -> np.ndarray:
        """An array of ``shape``/``dtype``; reused if the last one of this name matches.

        ``zeros=True`` zero-fills a *new* array only; a reused one keeps its contents (used for
        padded buffers whose zero border is never written).
        """
        arr = self._arrays.get(name)
        if arr is None or arr.shape != tuple(shape) or arr.dtype != dtype:
            arr = (np.zeros if zeros else np.empty)(shape, dtype=dtype)
            self._arrays[name] = arr
        return arr

    def clear(self) -> None:
        self._arrays.clear()

    # Scratch memory is not worth saving: copies and pickles of a layer start with an empty one.
    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self._arrays = {}


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """:math:`\\lfloor (\\text{size} + 2\\,\\text{padding} - \\text{kernel}) / \\text{stride} \\rfloor + 1`."""
    return (size + 2 * padding - kernel) // stride + 1


class Conv2d(Module):
    r"""2-D convolution over an ``(N, C, H, W)`` batch, as ``torch.nn.Conv2d`` (zero padding).

    ``weight`` has shape ``(out_channels, in_channels, kh, kw)`` and ``bias`` ``(out_channels,)``;
    both start from :math:`U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})` with
    ``fan_in = in_channels * kh * kw`` -- PyTorch's default, the lectures' uniform(-1/√h, 1/√h)
    rule.  ``kernel_size``, ``stride`` and ``padding`` are an int or an ``(h, w)`` pair.

    Forward and backward (see the module docstring for the derivation), with
    :math:`g = \partial L/\partial y` and ``cols`` the im2col matrix of the padded input:

    ================================  ==============================================================
    forward                           :math:`y = \text{cols}\, W^\top + b`
    :math:`\partial L/\partial W`     :math:`g^\top\,\text{cols}`, summed over the batch
    :math:`\partial L/\partial b`     :math:`\sum_{n,h,w} g`
    :math:`\partial L/\partial x`     col2im of :math:`g\,W` (overlapping windows add up)
    ================================  ==============================================================

    The layer keeps ``cols`` from ``forward`` for ``backward``, and reuses that memory from call to
    call (see :class:`Workspace`).  The output and the input gradient come back in the memory order
    of the im2col layout used -- ``channels_last`` with many input channels, channel-major with few
    (see the module docstring); values and shapes are PyTorch's either way.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, dtype=DEFAULT_DTYPE, seed=None):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding", allow_zero=True)
        kh, kw = self.kernel_size
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels, kh, kw), dtype=dtype))
        self.bias = Parameter(np.empty(self.out_channels, dtype=dtype)) if bias else None
        self.reset_parameters(seed)
        self._work = Workspace()
        self._cache = None

    def reset_parameters(self, seed=None) -> None:
        """Draw the weight, then the bias; ``seed`` is ``None``, an int or a ``numpy.random.Generator``.

        A Generator is used for both draws, one after the other (as ``Linear`` does).  An int gives
        the numbers Conv2d has always given for it: the weight from ``default_rng(seed)``, the bias
        from ``default_rng(seed + 1)``.
        """
        rng = make_rng(seed)                 # validates seed: None, an int or a Generator
        init.fan_in_uniform_(self.weight, seed=rng)
        if self.bias is not None:
            # PyTorch bounds the bias by the weight's fan_in too (not by the bias's own length).
            bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
            bias_rng = make_rng(int(seed) + 1) if isinstance(seed, numbers.Integral) else rng
            init.uniform_(self.bias, -bound, bound, seed=bias_rng)

    # --- shapes and checks ----------------------------------------------------------------------
    def _check_input(self, x) -> np.ndarray:
        x = as_float_array(x, "Conv2d input", self.weight.dtype)
        check_ndim(x, 4, "Conv2d", "(N, C, H, W)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d expects input of shape (N, C, H, W) with C={self.in_channels}, "
                             f"got {tuple(x.shape)}")
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        hp, wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
        if kh > hp or kw > wp:
            raise ValueError(f"Conv2d kernel_size {self.kernel_size} is larger than the padded input "
                             f"{hp}x{wp} (input {x.shape[2]}x{x.shape[3]}, padding {self.padding})")
        return x

    def _channels_last(self, out_w: int) -> bool:
        """True if a channels-last window row (kw*C numbers) is longer than a channels-first one."""
        run_channels_first = out_w if self.stride[1] == 1 else 1
        return self.kernel_size[1] * self.in_channels >= run_channels_first

    # --- forward --------------------------------------------------------------------------------
    def forward(self, x):
        x = self._check_input(x)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
        if self._channels_last(ow):
            y, saved = self._forward_channels_last(x, oh, ow)
        else:
            y, saved = self._forward_channels_first(x, oh, ow)
        self._cache = (x.shape, x.dtype, saved)
        return y

    def _forward_channels_first(self, x, oh, ow):
        n, c, h, w = x.shape
        dt = x.dtype
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        k, pixels = c * kh * kw, oh * ow
        # the zero border of the reused padded buffer is written once and never touched
        xp = self._work.get("x_padded", (n, c, h + 2 * ph, w + 2 * pw), dt, zeros=True) if ph or pw else x
        # windows[n, c, oh, ow, i, j] = xp[n, c, sh*oh + i, sw*ow + j]: a view, nothing copied yet
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        cols = self._work.get("cols", (k + self._ones, n * pixels), dt)   # rows (c, i, j) [, 1]; columns pixels
        cols6 = cols[:k].reshape(c, kh, kw, n, oh, ow)
        w_rows = self._weight_matrix(dt, channels_last=False).T           # (O, (c, i, j) [, bias])
        y = np.empty((self.out_channels, n * pixels), dt)

        def images(_, a, b):                      # images a..b-1: all their work, on one thread (nnkit.threads)
            if xp is not x:
                xp[a:b, :, ph:ph + h, pw:pw + w] = x[a:b]
            np.copyto(cols6[:, :, :, a:b], windows[a:b].transpose(1, 4, 5, 0, 2, 3))
            if self._ones:
                cols[k, a * pixels:b * pixels] = 1
            np.matmul(w_rows, cols[:, a * pixels:b * pixels], out=y[:, a * pixels:b * pixels])   # THE product
        run_chunks(images, self._pieces(n, cols, channels_last=False))
        # The (N, O, OH, OW) view of y[o, (n, h, w)]: channel-major memory
        return y.reshape(self.out_channels, n, oh, ow).transpose(1, 0, 2, 3), ("channels_first", cols)

    def _forward_channels_last(self, x, oh, ow):
        n, c, h, w = x.shape
        dt = x.dtype
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        k, pixels = c * kh * kw, oh * ow
        xp = self._work.get("x_padded_nhwc", (n, h + 2 * ph, w + 2 * pw, c), dt, zeros=True)
        # windows[n, oh, ow, c, i, j] = xp[n, sh*oh + i, sw*ow + j, c]: a view, nothing copied yet
        windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
        cols = self._work.get("cols", (n * pixels, k + self._ones), dt)   # rows pixels, columns (i, j, c) [, 1]
        cols6 = cols[:, :k].reshape(n, oh, ow, kh, kw, c)
        w_mat = self._weight_matrix(dt, channels_last=True)
        y_pixels = np.empty((n * pixels, self.out_channels), dt)

        def images(_, a, b):                      # images a..b-1: all their work, on one thread (nnkit.threads)
            xp[a:b, ph:ph + h, pw:pw + w, :] = x[a:b].transpose(0, 2, 3, 1)
            np.copyto(cols6[a:b], windows[a:b].transpose(0, 1, 2, 4, 5, 3))
            rows = slice(a * pixels, b * pixels)
            if self._ones:
                cols[rows, k] = 1
            np.matmul(cols[rows], w_mat, out=y_pixels[rows])              # THE matrix product
        run_chunks(images, self._pieces(n, cols, channels_last=True))
        # The (N, O, OH, OW) view of y_pixels[(n, h, w), o], in channels_last memory order.
        y = y_pixels.reshape(n, oh, ow, self.out_channels).transpose(0, 3, 1, 2)
        return y, ("channels_last", cols)

    @staticmethod
    def _pieces(n: int, cols: np.ndarray, channels_last: bool) -> list[tuple[int, int]]:
        """The pieces of the batch that run on nnkit's threads (``nnkit.threads``), each with all its work.

        Channels-last layers (many input channels) are split: there the copies are a third of the
        time, and BLAS's own threads would leave them on one core.  Channels-first layers (1-3 input
        channels) stay whole: their copies are small, and one product over the whole batch on BLAS's
        threads measured faster than pieces of it (64x3x32x32 -> 16 at 2 threads: 6.4 against 7.8 ms).
        """
        return batch_chunks(n, cols.size) if channels_last else [(0, n)]

    @property
    def _ones(self) -> int:
        """1 if ``cols`` carries a column of ones for the bias (so ``y = cols @ [W; b]``), else 0."""
        return int(self.bias is not None)

    def _weight_matrix(self, dt, channels_last: bool) -> np.ndarray:
        r"""``[W; b]`` as a ``(C*kh*kw [+ 1], O)`` matrix whose rows follow the columns of ``cols``.

        The bias is one more row, multiplied by the column of ones in ``cols``: the linear models'
        constant feature, so one matrix product also adds the bias, and in backward the same
        product :math:`g^\top \text{cols}` also gives :math:`\partial L/\partial b = \sum g`.
        """
        w = self.weight.data.astype(dt, copy=False)                       # (O, C, kh, kw)
        w = w.transpose(2, 3, 1, 0) if channels_last else w.transpose(1, 2, 3, 0)
        rows = [w.reshape(-1, self.out_channels)]
        if self.bias is not None:
            rows.append(self.bias.data.astype(dt, copy=False)[None, :])
        return np.concatenate(rows)

    # --- backward -------------------------------------------------------------------------------
    accepts_input_grad_flag = True

    def backward(self, grad_output, *, input_grad: bool = True):
        """Accumulates dL/dW and dL/db; returns dL/dx (None with ``input_grad=False``)."""
        if self._cache is None:
            raise RuntimeError("Conv2d.backward called before forward")
        (n, c, h, w), dt, (layout, cols) = self._cache
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
        g = as_float_array(grad_output, "grad_output")
        if g.shape != (n, self.out_channels, oh, ow):
            raise ValueError(f"Conv2d.backward expects grad_output of shape {(n, self.out_channels, oh, ow)}, "
                             f"got {tuple(g.shape)}")
        channels_last = layout == "channels_last"
        # g as a matrix in the memory order of cols: (pixels, O) channels-last, (O, pixels) channels-first;
        # a view of g, or scratch memory that each piece of the batch fills with its images
        g_mat, copy_g = self._grad_matrix(g.astype(dt, copy=False), channels_last)
        k, pixels = c * kh * kw, oh * ow
        chunks = self._pieces(n, cols, channels_last)
        # dL/d[W; b] = g^T cols: one matrix product per piece of the batch (the sum over its images is in
        # it), and the pieces' partial sums added up
        dw_parts = np.empty((len(chunks), self.out_channels, k + self._ones), dt)
        d_input = None
        if input_grad:
            d_input = (self._input_grad_channels_last if channels_last else self._input_grad_channels_first)(
                g_mat, (n, c, h, w), oh, ow)

        def images(index, a, b):                  # images a..b-1: all their work, on one thread (nnkit.threads)
            rows = slice(a * pixels, b * pixels)
            if copy_g is not None:
                copy_g(a, b)
            if channels_last:
                np.matmul(g_mat[rows].T, cols[rows], out=dw_parts[index])        # (O, (i, j, c) [, 1])
            else:
                np.matmul(g_mat[:, rows], cols[:, rows].T, out=dw_parts[index])  # (O, (c, i, j) [, 1])
            if d_input is not None:
                d_input.images(a, b)
        run_chunks(images, chunks)
        dw = dw_parts[0] if len(chunks) == 1 else dw_parts.sum(axis=0)
        if self.bias is not None:
            self.bias.grad += dw[:, k].astype(self.bias.dtype, copy=False)
        dw = dw[:, :k].reshape((self.out_channels,) + ((kh, kw, c) if channels_last else (c, kh, kw)))
        if channels_last:
            dw = dw.transpose(0, 3, 1, 2)                                 # (O, C, kh, kw)
        self.weight.grad += dw.astype(self.weight.dtype, copy=False)
        return None if d_input is None else d_input.result()

    def _grad_matrix(self, g, channels_last: bool):
        """``(g_mat, copy_images)``: g as a matrix in the memory order of cols, and what fills it.

        ``g_mat`` is a view of ``g`` when g arrived in that order (the gradient of this layer's own
        output usually does), and ``copy_images`` is then None; otherwise ``g_mat`` is scratch memory
        and ``copy_images(a, b)`` copies images a..b-1 into it -- each piece of the batch its own.
        """
        n, o, oh, ow = g.shape
        order = (0, 2, 3, 1) if channels_last else (1, 0, 2, 3)         # NHWC or ONHW
        shape = (n * oh * ow, o) if channels_last else (o, n * oh * ow)
        view = g.transpose(order)
        if view.flags.c_contiguous:
            return view.reshape(shape), None
        g_mat = self._work.get("g_matrix", shape, g.dtype)
        target = g_mat.reshape(view.shape)

        def copy_images(a, b):
            if channels_last:
                np.copyto(target[a:b], view[a:b])
            else:
                np.copyto(target[:, a:b], view[:, a:b])
        return g_mat, copy_images

    def _input_grad_channels_first(self, g_mat, shape, oh, ow) -> "_InputGrad":
        n, c, h, w = shape
        dt = g_mat.dtype
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        pixels = oh * ow
        w_rows = self.weight.data.astype(dt, copy=False).reshape(self.out_channels, -1)
        dcols = self._work.get("dcols", (c * kh * kw, n * pixels), dt)
        dcols6 = dcols.reshape(c, kh, kw, n, oh, ow)
        dxp = self._work.get("dx_padded_cnhw", (c, n, h + 2 * ph, w + 2 * pw), dt)

        def images(a, b):
            # dL/dcols = W^T g, then col2im scatters every column back onto its window
            cols = slice(a * pixels, b * pixels)
            np.matmul(w_rows.T, g_mat[:, cols], out=dcols[:, cols])
            dxp[:, a:b].fill(0)
            _col2im_channels_first(dcols6[:, :, :, a:b], dxp[:, a:b], self.stride)

        # A fresh copy of the interior, returned as (N, C, H, W) in channel-major memory order.
        return _InputGrad(images, lambda: dxp[:, :, ph:ph + h, pw:pw + w].copy().transpose(1, 0, 2, 3))

    def _input_grad_channels_last(self, g_pixels, shape, oh, ow) -> "_InputGrad":
        n, c, h, w = shape
        dt = g_pixels.dtype
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        pixels = oh * ow
        w_taps = self._weight_matrix(dt, channels_last=True)[:c * kh * kw].reshape(kh, kw, c, -1)
        dxp = self._work.get("dx_padded_nhwc", (n, h + 2 * ph, w + 2 * pw, c), dt)
        if sw == 1:
            d_taps = self._work.get("dcols_taps", (kw, n * pixels, c), dt)
            taps = d_taps.reshape(kw, n, oh, ow, c)
        else:
            d_rows = self._work.get("dcols_row", (n * pixels, kw * c), dt)
            window_rows = d_rows.reshape(n, oh, ow, kw, c)

        def images(a, b):
            # dL/dcols = g W, one kernel row i at a time (the columns (i, :, :) of cols), so that each
            # block is still in the CPU cache when col2im scatters it back onto the padded input.
            rows = slice(a * pixels, b * pixels)
            dxp[a:b].fill(0)
            for i in range(kh):
                if sw == 1:
                    # Tap by tap: block (j, pixel, c) = g W_ij -- kw matrix products; tap (i, j) adds it
                    # onto the input window shifted by (i, j), whose rows of out_w * C numbers are
                    # contiguous in both arrays.
                    np.matmul(g_pixels[rows], w_taps[i].transpose(0, 2, 1), out=d_taps[:, rows])
                    for j in range(kw):
                        dxp[a:b, i:i + sh * (oh - 1) + 1:sh, j:j + ow] += taps[j, a:b]
                else:
                    # Strided: a tap's slice would move runs of only C numbers; move whole window rows.
                    np.matmul(g_pixels[rows], w_taps[i].reshape(kw * c, -1).T, out=d_rows[rows])
                    _col2im_row_channels_last(window_rows[a:b], dxp[a:b], i, self.stride)

        # A fresh copy of the interior, returned as (N, C, H, W) in channels_last memory order.
        return _InputGrad(images, lambda: dxp[:, ph:ph + h, pw:pw + w, :].copy().transpose(0, 3, 1, 2))

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        return s + ("" if self.bias is not None else ", bias=False")


class _InputGrad:
    """dL/dx in two steps: ``images(a, b)`` for each piece of the batch (on nnkit's threads), then ``result()``."""

    def __init__(self, images, result):
        self.images, self.result = images, result


def _col2im_channels_first(dcols: np.ndarray, dxp: np.ndarray, stride) -> None:
    """Add ``dcols[c, i, j, n, oh, ow]`` into ``dxp[c, n, sh*oh + i, sw*ow + j]`` (the adjoint of im2col).

    One strided slice-add per kernel tap ``(i, j)``: within one tap the output pixels land on
    distinct input pixels, so a single vectorized ``+=`` is safe; different taps overlap and are
    added one after another.
    """
    _, kh, kw, _, oh, ow = dcols.shape
    sh, sw = stride
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += dcols[:, i, j]


def _col2im_row_channels_last(dcols_i: np.ndarray, dxp: np.ndarray, i: int, stride) -> None:
    """Add kernel row ``i``'s ``dcols_i[n, oh, ow, j, c]`` into ``dxp[n, sh*oh + i, sw*ow + j, c]``.

    The ``kw * C`` numbers of one window row are contiguous in both arrays, so they are added as
    one block.  Windows of neighboring outputs overlap, so one ``+=`` over all of them would lose
    updates; but windows ``m = ceil(kw / sw)`` outputs apart do not overlap.  So: ``m`` vectorized
    adds, one per residue ``ow mod m``.
    """
    _, oh, ow, kw, _ = dcols_i.shape
    sh, sw = stride
    m = -(-kw // sw)
    # starts[n, hp, q, j, c] = dxp[n, hp, q + j, c]: a writeable view of every width-kw window
    starts = sliding_window_view(dxp, kw, axis=2, writeable=True).transpose(0, 1, 2, 4, 3)
    rows = starts[:, i:i + sh * (oh - 1) + 1:sh]                      # the input rows kernel row i touches
    for r in range(min(m, ow)):
        count = len(range(r, ow, m))
        rows[:, :, sw * r::sw * m][:, :, :count] += dcols_i[:, :, r::m]
