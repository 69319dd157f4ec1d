r"""Stochastic gradient descent with momentum and Nesterov momentum, as ``torch.optim.SGD``.

Lecture 5 ("Алгоритм стохастического градиента", "Модификации SGD").  The lecture writes momentum
as an exponential moving average of the gradient; PyTorch writes it as a plain decaying sum.  The
lecture's forms are :class:`nnkit.optim.EMAMomentum` and :class:`nnkit.optim.EMANesterov`; their
docstrings give the exact correspondence with this class.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_nonnegative_real
from .optimizer import Optimizer, _check_bool

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (Polyak) or Nesterov momentum.

    With :math:`g = \nabla Q(w)` (negated if ``maximize``) plus ``weight_decay``:math:`\cdot w`,

    .. math::

        b_1 = g_1, \qquad b_t = \mu\, b_{t-1} + (1 - \tau)\, g_t \quad (t > 1)

        d_t = g_t + \mu\, b_t \ \text{(nesterov)} \qquad\text{or}\qquad d_t = b_t

        w := w - \eta\, d_t

    where :math:`\mu` = ``momentum``, :math:`\tau` = ``dampening``, :math:`\eta` = ``lr``.
    With ``momentum=0`` this is the slide's plain step :math:`w := w - \eta L'`.

    Note the buffer starts at the *first gradient* (not at zero, and without dampening) — exactly
    PyTorch's rule.  ``nesterov=True`` needs ``momentum > 0`` and ``dampening = 0``.

    The slide's L2 regularization :math:`\tilde Q = Q + \lambda\sum w^2` is ``weight_decay = 2λ``.

    Arguments are in PyTorch's order: ``SGD(params, lr, momentum, dampening, weight_decay, nesterov,
    *, maximize)``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        group["momentum"] = check_nonnegative_real(group["momentum"], "momentum")
        group["dampening"] = check_nonnegative_real(group["dampening"], "dampening")
        group["weight_decay"] = check_nonnegative_real(group["weight_decay"], "weight_decay")
        group["nesterov"] = _check_bool(group["nesterov"], "nesterov")
        group["maximize"] = _check_bool(group["maximize"], "maximize")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p, state, group):
        grad = self._gradient(p, group)
        mu = group["momentum"]
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # PyTorch initializes the buffer with the first gradient itself (no dampening).
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * grad
            # Nesterov: step along the gradient plus the *updated* buffer (a look-ahead in disguise,
            # see EMANesterov); classical momentum steps along the buffer alone.
            grad = grad + mu * buf if group["nesterov"] else buf
        p.data -= group["lr"] * grad
