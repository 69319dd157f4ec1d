r"""Optimizers with per-weight adaptive step sizes: Adagrad, RMSprop, Adadelta, Adam, AdamW.

Each follows PyTorch's ``torch.optim`` class of the same name — formula, defaults, order of
operations — so a trajectory agrees with PyTorch's to rounding.  Lecture 5 ("Модификации SGD")
presents RMSProp, AdaDelta and Adam; where the slide's form differs from PyTorch's, the lecture's
version lives in :mod:`nnkit.optim.lecture` and the docstrings below say how they differ.

Notation: :math:`g` is the gradient (negated if ``maximize``; plus ``weight_decay``:math:`\cdot w`
where the optimizer uses L2 weight decay), :math:`t` counts this parameter's steps from 1, and
:math:`\odot`, :math:`\div`, :math:`\sqrt{\cdot}` act element-wise.  Every buffer has the shape and
dtype of its parameter, and every update is written in place.
"""
from __future__ import annotations

import math

import numpy as np

from .._checks import check_nonnegative_real
from .optimizer import Optimizer, _check_betas, _check_bool, _check_real_in

__all__ = ["Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011): divide by the root of the *sum* of all squared gradients.

    .. math::

        s := s + g \odot g, \qquad
        w := w - \frac{\eta}{1 + (t-1)\,\text{lr\_decay}}\; g \div (\sqrt{s} + \varepsilon)

    :math:`s` starts at ``initial_accumulator_value``.  Weights that received large gradients take
    small steps.  Because :math:`s` only grows, the steps shrink for ever — the problem RMSProp
    fixes by replacing the sum with a moving average.  (Not on the slides; it is RMSProp's
    ancestor.)
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[name] = check_nonnegative_real(group[name], name)
        group["maximize"] = _check_bool(group["maximize"], "maximize")

    def _update(self, p, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        grad = self._gradient(p, group)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        std = np.sqrt(state["sum"]) + group["eps"]
        p.data -= clr * (grad / std)


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, 2012): divide by the root of a *moving average* of squared gradients.

    .. math::

        v := \alpha v + (1 - \alpha)\, g \odot g, \qquad
        w := w - \eta\, g \div (\sqrt{v} + \varepsilon), \qquad v_0 = 0

    Options, as PyTorch: ``centered=True`` subtracts the squared moving average of the gradient,
    :math:`\bar g := \alpha \bar g + (1-\alpha) g`, and uses :math:`\sqrt{v - \bar g^2}` (an estimate
    of the standard deviation rather than the RMS); ``momentum`` :math:`\mu > 0` keeps a buffer
    :math:`b := \mu b + g \div (\sqrt{v} + \varepsilon)` (starting at 0) and steps
    :math:`w := w - \eta b`.

    Lecture 5 ("RMSProp"): the slide's
    :math:`v := \gamma v + (1-\gamma) L' \odot L',\ w := w - \eta L' \div (\sqrt v + \varepsilon)`
    is *exactly* this class with ``alpha = γ`` (and ``momentum=0``, ``centered=False``): PyTorch,
    too, puts :math:`\varepsilon` outside the square root.  So there is no separate lecture form.
    (PyTorch's default ``alpha = 0.99``; Hinton's lecture used 0.9.)
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        group["alpha"] = _check_real_in(group["alpha"], "alpha", high_inclusive=True)
        for name in ("eps", "weight_decay", "momentum"):
            group[name] = check_nonnegative_real(group[name], name)
        group["centered"] = _check_bool(group["centered"], "centered")
        group["maximize"] = _check_bool(group["maximize"], "maximize")

    def _update(self, p, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        grad = self._gradient(p, group)
        alpha, sq = group["alpha"], state["square_avg"]
        sq *= alpha
        sq += (1 - alpha) * (grad * grad)
        if group["centered"]:
            ga = state["grad_avg"]
            ga += (1 - alpha) * (grad - ga)          # the same EMA, written as a lerp (as PyTorch)
            # v - ḡ² >= 0 in exact arithmetic (Jensen); clip the rounding noise that would give NaN.
            avg = np.sqrt(np.maximum(sq - ga * ga, 0)) + group["eps"]
        else:
            avg = np.sqrt(sq) + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * (grad / avg)


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), PyTorch's form: the step's own RMS replaces the learning rate.

    .. math::

        v := \rho v + (1-\rho)\, g \odot g

        \delta = g \odot \sqrt{\Delta + \varepsilon} \div \sqrt{v + \varepsilon}

        \Delta := \rho \Delta + (1-\rho)\, \delta \odot \delta

        w := w - \eta\, \delta

    with :math:`v_0 = \Delta_0 = 0`.  The ratio :math:`\sqrt{\Delta}/\sqrt{v}` has the units of
    :math:`w` over the units of :math:`g`, so :math:`\eta = 1` is a sensible default.

    Lecture 5 ("AdaDelta") writes it differently — see :class:`nnkit.optim.LectureAdadelta`:
    the slide computes :math:`\delta` with the *previous* :math:`v` (Zeiler and PyTorch update
    :math:`v` first, so the current gradient is in the denominator), puts :math:`\varepsilon`
    outside the square roots, and has two smoothing constants (α for Δ, γ for v) where this has
    one ρ.  The first difference matters a lot: with α = γ the slide's version is plain SGD.
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        group["rho"] = _check_real_in(group["rho"], "rho", high_inclusive=True)
        group["eps"] = check_nonnegative_real(group["eps"], "eps")
        group["weight_decay"] = check_nonnegative_real(group["weight_decay"], "weight_decay")
        group["maximize"] = _check_bool(group["maximize"], "maximize")

    def _update(self, p, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            state["acc_delta"] = np.zeros_like(p.data)
        state["step"] += 1
        grad = self._gradient(p, group)
        rho, eps = group["rho"], group["eps"]
        sq, acc = state["square_avg"], state["acc_delta"]
        sq *= rho
        sq += (1 - rho) * (grad * grad)                    # v first: the current g is in the RMS
        delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * grad
        acc *= rho
        acc += (1 - rho) * (delta * delta)
        p.data -= group["lr"] * delta


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015) = momentum + RMSProp, with bias-corrected moving averages.

    .. math::

        m := \beta_1 m + (1-\beta_1)\, g, \qquad v := \beta_2 v + (1-\beta_2)\, g \odot g

        \hat m = \frac{m}{1-\beta_1^t}, \qquad \hat v = \frac{v}{1-\beta_2^t}, \qquad
        w := w - \eta\, \hat m \div (\sqrt{\hat v} + \varepsilon)

    :math:`m_0 = v_0 = 0`, so the raw averages are biased toward zero early on; dividing by
    :math:`1-\beta^t` removes that bias.  The *stored* :math:`m, v` stay raw — only the copies
    :math:`\hat m, \hat v` used for this step are corrected.  ``amsgrad=True`` uses the running
    maximum of :math:`v` in the denominator (Reddi et al., 2018).  ``weight_decay`` adds
    :math:`\lambda w` to the gradient (L2; for decoupled decay use :class:`AdamW`).

    Lecture 5 ("Adam") names :math:`\beta_1 \to \gamma`, :math:`\beta_2 \to \alpha`,
    :math:`m \to \mu` and divides the stored averages by :math:`1-\alpha^t`, :math:`1-\gamma^t`
    *in place*; that is :class:`nnkit.optim.LectureAdam`, which agrees with this class at the first
    step and differs from the second on (see its docstring: the in-place correction compounds).
    """

    _decoupled = False   # AdamW sets this: decay the weights directly instead of the gradient

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        group["betas"] = _check_betas(group["betas"])
        group["eps"] = check_nonnegative_real(group["eps"], "eps")
        group["weight_decay"] = check_nonnegative_real(group["weight_decay"], "weight_decay")
        group["amsgrad"] = _check_bool(group["amsgrad"], "amsgrad")
        group["maximize"] = _check_bool(group["maximize"], "maximize")

    def _update(self, p, state, group):
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        if self._decoupled:
            grad = -p.grad if group["maximize"] else p.grad
            if wd != 0:
                p.data *= 1 - lr * wd              # AdamW: shrink the weights, outside the moments
        else:
            grad = self._gradient(p, group)        # Adam: L2 decay enters the gradient, and the moments
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (grad - m)              # = beta1*m + (1-beta1)*g, as PyTorch's lerp
        v *= beta2
        v += (1 - beta2) * (grad * grad)
        bias_correction1 = 1 - beta1 ** t
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** t)
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        # sqrt(v̂) = sqrt(v)/sqrt(1-β2^t) and m̂ = m/(1-β1^t): corrected copies, stored m, v stay raw.
        denom = np.sqrt(v) / bias_correction2_sqrt + group["eps"]
        p.data -= (lr / bias_correction1) * (m / denom)


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with *decoupled* weight decay.

    .. math::

        w := w\,(1 - \eta\lambda), \quad\text{then the Adam step on } g \text{ (without } \lambda w\text{)}

    In Adam, L2 decay :math:`\lambda w` is added to the gradient and then divided by
    :math:`\sqrt{\hat v}`, so weights with large gradients are barely regularized.  AdamW shrinks
    every weight by the same factor instead.  Default ``weight_decay = 1e-2`` as PyTorch.
    """

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
