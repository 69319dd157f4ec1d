r"""``BatchNorm1d`` and ``BatchNorm2d``: batch normalization (Ioffe & Szegedy, 2015).

Deck 002 uses ``nn.BatchNorm2d`` after every convolution of its U-Net; deck 001 lists input
normalization among the heuristics that make training converge ("Подготовка данных ...
нормализация").  Batch normalization applies that idea *inside* the network: every channel is
standardized with the statistics of the current mini-batch, then rescaled by learned parameters.

For channel :math:`c` with the :math:`m` values :math:`x_i` it has in the batch (over the batch
and, for images, over all pixels):

.. math::
    \mu = \frac{1}{m}\sum_i x_i, \qquad \sigma^2 = \frac{1}{m}\sum_i (x_i - \mu)^2, \qquad
    \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \varepsilon}}, \qquad y_i = \gamma \hat x_i + \beta .

``weight`` is :math:`\gamma` (starts at 1) and ``bias`` :math:`\beta` (starts at 0).  Training also
keeps running estimates for use at evaluation time, exactly as PyTorch:
``running_mean = (1 - momentum) * running_mean + momentum * mu`` and the same for
``running_var`` but with the *unbiased* variance :math:`\sigma^2 m/(m-1)`.  (``momentum=None``
gives the plain average over all batches seen.)  Evaluation uses the running estimates instead of
the batch's, so an example's output no longer depends on the rest of its batch.

Backward.  With :math:`g = \partial L/\partial y` and :math:`\hat g = \gamma g`:

.. math::
    \frac{\partial L}{\partial \gamma} = \sum_i g_i \hat x_i, \qquad
    \frac{\partial L}{\partial \beta} = \sum_i g_i, \qquad
    \frac{\partial L}{\partial x_i} = \frac{1}{\sqrt{\sigma^2+\varepsilon}}
      \Big(\hat g_i - \overline{\hat g} - \hat x_i\, \overline{\hat g \hat x}\Big)
    \quad\text{(training)},

where the bars are means over the channel's :math:`m` values: :math:`\mu` and :math:`\sigma`
depend on every :math:`x_i`, which adds the two correction terms.  In evaluation the statistics
are constants and :math:`\partial L/\partial x_i = \hat g_i/\sqrt{\sigma^2_\text{running}+\varepsilon}`.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import DEFAULT_DTYPE, as_float_array, check_ndim, check_nonnegative_real, check_positive_int
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    """Shared implementation; subclasses say which input shapes they take."""

    _buffers = ("running_mean", "running_var")   # saved by Module.state_dict
    _ndims: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=DEFAULT_DTYPE):
        super().__init__()
        self.num_features = check_positive_int(num_features, "num_features")
        self.eps = check_nonnegative_real(eps, "eps")
        if momentum is not None:
            if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
                raise TypeError(f"momentum must be a float in [0, 1] or None, got {type(momentum).__name__}")
            if not 0.0 <= momentum <= 1.0:
                raise ValueError(f"momentum must be in [0, 1] (or None for a cumulative average), got {momentum}")
            momentum = float(momentum)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
        else:
            self.weight = self.bias = None
        if self.track_running_stats:
            self.running_mean = np.zeros(self.num_features, dtype=dtype)
            self.running_var = np.ones(self.num_features, dtype=dtype)
            self.num_batches_tracked = 0
        else:
            self.running_mean = self.running_var = None
            self._buffers = ()            # nothing to save
        self._dtype = np.dtype(dtype)
        self._cache = None

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked = 0

    def _check_input(self, x) -> np.ndarray:
        name = type(self).__name__
        x = as_float_array(x, f"{name} input", self._dtype)
        check_ndim(x, self._ndims, name, self._layout)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name} expects input of shape {self._layout} with C={self.num_features}, "
                             f"got {tuple(x.shape)}")
        return x

    def forward(self, x):
        x = self._check_input(x)
        dt = x.dtype
        axes = (0,) + tuple(range(2, x.ndim))            # everything but the channel axis
        shape = (1, self.num_features) + (1,) * (x.ndim - 2)
        m = x.size // self.num_features                  # values per channel
        use_batch_stats = self.training or not self.track_running_stats
        if use_batch_stats:
            if self.training and m <= 1:
                raise ValueError(f"{type(self).__name__} needs more than 1 value per channel when training, "
                                 f"got input of shape {tuple(x.shape)}")
            mean = x.mean(axis=axes)
            centered = x - mean.reshape(shape)
            var = np.mean(centered * centered, axis=axes)  # biased: what the batch is normalized with
            if self.training and self.track_running_stats:
                self._update_running_stats(mean, var, m)
        else:
            mean = self.running_mean.astype(dt, copy=False)
            var = self.running_var.astype(dt, copy=False)
            centered = x - mean.reshape(shape)
        inv_std = 1.0 / np.sqrt(var + dt.type(self.eps))
        x_hat = centered * inv_std.reshape(shape)
        if self.affine:
            y = x_hat * self.weight.data.astype(dt, copy=False).reshape(shape)
            y += self.bias.data.astype(dt, copy=False).reshape(shape)
        else:
            y = x_hat.copy()
        self._cache = (x_hat, inv_std, use_batch_stats, axes, shape)
        return y

    def _update_running_stats(self, mean, var, m) -> None:
        self.num_batches_tracked += 1
        f = self.momentum if self.momentum is not None else 1.0 / self.num_batches_tracked
        unbiased = var * (m / (m - 1))
        # In place, so arrays obtained earlier (and load_state_dict) keep referring to the buffers.
        self.running_mean *= 1.0 - f
        self.running_mean += (f * mean).astype(self.running_mean.dtype, copy=False)
        self.running_var *= 1.0 - f
        self.running_var += (f * unbiased).astype(self.running_var.dtype, copy=False)

    def backward(self, grad_output):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        x_hat, inv_std, use_batch_stats, axes, shape = self._cache
        g = as_float_array(grad_output, "grad_output")
        if g.shape != x_hat.shape:
            raise ValueError(f"{type(self).__name__}.backward expects grad_output of shape {x_hat.shape}, "
                             f"got {tuple(g.shape)}")
        g = g.astype(x_hat.dtype, copy=False)
        if self.affine:
            self.weight.grad += (g * x_hat).sum(axis=axes).astype(self.weight.dtype, copy=False)
            self.bias.grad += g.sum(axis=axes).astype(self.bias.dtype, copy=False)
            g_hat = g * self.weight.data.astype(g.dtype, copy=False).reshape(shape)
        else:
            g_hat = g
        if not use_batch_stats:                          # running statistics are constants
            return g_hat * inv_std.reshape(shape)
        # mu and sigma depend on every x of the channel: the two mean terms are their share.
        mean_g = g_hat.mean(axis=axes).reshape(shape)
        mean_gx = (g_hat * x_hat).mean(axis=axes).reshape(shape)
        return (g_hat - mean_g - x_hat * mean_gx) * inv_std.reshape(shape)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` features or ``(N, C, L)`` sequences (``torch.nn.BatchNorm1d``).

    Statistics are per channel ``C``, over the batch (and ``L``).  See the module docstring.
    """

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)`` images (``torch.nn.BatchNorm2d``), per channel.

    Statistics are per channel, over the batch and all pixels.  See the module docstring.
    """

    _ndims = (4,)
    _layout = "(N, C, H, W)"
