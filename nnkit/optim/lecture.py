r"""The optimizers exactly as lecture 5 ("Модификации SGD") writes them, where PyTorch differs.

Notation of the slides: :math:`L' = \partial Q(w)/\partial w` is the gradient, :math:`\eta > 0` the
learning rate, :math:`\gamma, \alpha \in [0, 1]` smoothing constants, :math:`\odot`, :math:`\div`
element-wise product and division, :math:`t` the iteration number.  Every moving average starts at
zero.  Each class's docstring writes the slide's formula next to PyTorch's and states how they
are related, so a notebook can show both and a test can check the relation.

The slide's RMSProp needs no class of its own: it *is* :class:`nnkit.optim.RMSprop` with
``alpha = γ`` (ε outside the square root in both).
"""
from __future__ import annotations

import warnings

import numpy as np

from .._checks import check_nonnegative_real
from .optimizer import Optimizer, _check_real_in

__all__ = ["EMAMomentum", "EMANesterov", "LectureAdadelta", "LectureAdam"]


class EMAMomentum(Optimizer):
    r"""Momentum as on the slide: an exponential moving average of the gradient (Polyak, 1964).

    Slide ("Momentum"):

    .. math:: v := \gamma v + (1-\gamma) L', \qquad w := w - \eta v, \qquad v_0 = 0.

    PyTorch (:class:`nnkit.optim.SGD` with ``momentum=μ, dampening=τ``):

    .. math:: b_1 = L'_1, \qquad b_t = \mu b_{t-1} + (1-\tau) L'_t, \qquad w := w - \eta' b.

    They are the same method with a rescaled learning rate.  Unrolling,
    :math:`v_t = (1-\gamma)\sum_{s \le t}\gamma^{t-s} L'_s` while ``SGD(momentum=γ)``
    (``dampening=0``) keeps :math:`b_t = \sum_{s \le t} \gamma^{t-s} L'_s` — its rule
    :math:`b_1 = L'_1` is that same sum.  Hence, step for step and exactly:

    * ``EMAMomentum(lr=η, gamma=γ)`` ≡ ``SGD(lr=η(1−γ), momentum=γ)``.  PyTorch's buffer is the
      EMA divided by :math:`1-\gamma`, so its effective step is :math:`1/(1-\gamma)` times larger
      (10× for γ = 0.9) at the same ``lr``.
    * ``SGD(lr=η, momentum=γ, dampening=γ)`` has the slide's recursion but starts the buffer at
      :math:`b_1 = L'_1` instead of :math:`v_1 = (1-\gamma)L'_1`, so :math:`b_t = v_t + \gamma^t L'_1`:
      it differs only through the first step's initialization, by a term that decays like
      :math:`\gamma^t`.
    """

    def __init__(self, params, lr: float, gamma: float = 0.9):
        super().__init__(params, dict(lr=lr, gamma=gamma))

    def _check_group(self, group):
        super()._check_group(group)
        group["gamma"] = _check_real_in(group["gamma"], "gamma", high_inclusive=True)

    def _update(self, p, state, group):
        if not state:
            state["velocity"] = np.zeros_like(p.data)
        gamma, v = group["gamma"], state["velocity"]
        v *= gamma
        v += (1 - gamma) * p.grad
        p.data -= group["lr"] * v


class EMANesterov(Optimizer):
    r"""Nesterov's accelerated gradient (NAG, Nesterov 1983) as on the slide: the gradient is taken
    at the look-ahead point :math:`w - \eta\gamma v`.

    Slide ("NAG"):

    .. math::

        v := \gamma v + (1-\gamma)\, \frac{\partial Q(w - \eta\gamma v)}{\partial w}, \qquad
        w := w - \eta v, \qquad v_0 = 0.

    The look-ahead is where the momentum alone would carry the weights; correcting with the
    gradient *there* lets the method brake before it overshoots.

    Because the gradient is needed at a point other than the current weights, ``step`` takes a
    ``closure`` (PyTorch's convention, as for ``LBFGS``): a function that runs forward and
    backward at the parameters' current values and returns the loss.  ``step(closure)``

    1. moves every parameter to :math:`\tilde w = w - \eta\gamma v`,
    2. zeroes the gradients and calls ``closure()`` (so ``p.grad`` is :math:`\partial Q(\tilde w)`),
    3. restores :math:`w` and applies the update above.

    It returns the closure's loss, i.e. the loss *at the look-ahead point*; afterwards ``p.grad``
    holds the look-ahead gradient.  ``step()`` without a closure raises ``RuntimeError``.

    PyTorch (:class:`nnkit.optim.SGD` with ``nesterov=True``) needs no closure because it tracks
    the look-ahead point itself: with :math:`u = w - \eta\gamma v`, the slide's recursion becomes
    :math:`u := u - \eta\,(\gamma v + (1-\gamma)\nabla Q(u))`, and writing :math:`b = v/(1-\gamma)`
    this is ``SGD(lr=η(1−γ), momentum=γ, nesterov=True)``:
    :math:`b := \gamma b + \nabla Q(u),\ u := u - \eta'(\nabla Q(u) + \gamma b)`.  Exactly: started
    from the same weights, PyTorch's iterates are this optimizer's look-ahead points
    :math:`w_t - \eta\gamma v_t`.
    """

    def __init__(self, params, lr: float, gamma: float = 0.9):
        super().__init__(params, dict(lr=lr, gamma=gamma))

    def _check_group(self, group):
        super()._check_group(group)
        group["gamma"] = _check_real_in(group["gamma"], "gamma", high_inclusive=True)

    def _active(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.requires_grad:
                    yield p, group, self.state[p]

    def step(self, closure=None):
        if closure is None:
            raise RuntimeError(
                "EMANesterov.step needs a closure: the gradient must be evaluated at the look-ahead "
                "point w - lr*gamma*v, so pass a function that runs forward and backward at the "
                "current parameter values and returns the loss: optimizer.step(closure)")
        if not callable(closure):
            raise TypeError(f"closure must be callable, got {type(closure).__name__}")
        saved = []
        for p, group, state in self._active():
            if not state:
                state["velocity"] = np.zeros_like(p.data)
            saved.append(p.data.copy())
            p.data -= (group["lr"] * group["gamma"]) * state["velocity"]   # go to the look-ahead point
        try:
            self.zero_grad()
            loss = closure()
        finally:
            # Restore w exactly (copies, not "+= lr*gamma*v", which would add rounding error),
            # even if the closure raised.
            for (p, _, _), w in zip(self._active(), saved):
                p.data[...] = w
        for p, group, state in self._active():
            gamma, v = group["gamma"], state["velocity"]
            v *= gamma
            v += (1 - gamma) * p.grad                   # p.grad = dQ/dw at the look-ahead point
            p.data -= group["lr"] * v
        return loss


class LectureAdadelta(Optimizer):
    r"""AdaDelta in the order the slide writes it: :math:`\delta` uses the *previous* :math:`v`.

    Slide ("AdaDelta"), with :math:`\Delta_0 = v_0 = 0`:

    .. math::

        \delta = L' \odot (\sqrt{\Delta} + \varepsilon) \div (\sqrt{v} + \varepsilon)

        \Delta := \alpha \Delta + (1-\alpha)\, \delta \odot \delta

        v := \gamma v + (1-\gamma)\, L' \odot L'

        w := w - \eta\, \delta

    Zeiler (2012) and PyTorch (:class:`nnkit.optim.Adadelta`, one constant ρ):

    .. math::

        v := \rho v + (1-\rho) L' \odot L', \quad
        \delta = L' \odot \sqrt{\Delta + \varepsilon} \div \sqrt{v + \varepsilon}, \quad
        \Delta := \rho \Delta + (1-\rho)\, \delta \odot \delta, \quad w := w - \eta\delta.

    Differences: PyTorch updates :math:`v` *first* (the current gradient is inside its own RMS),
    puts :math:`\varepsilon` inside the square roots, and uses one constant for both averages.

    The order is not a detail.  On the slide, the first step has :math:`\Delta = v = 0`, so
    :math:`\delta = L' \cdot \varepsilon/\varepsilon = L'`; then :math:`\Delta_1 = (1-\alpha)L'^2`
    and :math:`v_1 = (1-\gamma)L'^2`.  With :math:`\alpha = \gamma` (the defaults) the two
    accumulators stay equal for ever (induction: equal ⇒ :math:`\delta = L'` ⇒ equal again), so the
    slide's AdaDelta *is plain SGD* :math:`w := w - \eta L'` — with the slide's advice
    :math:`\eta = 1`.  Zeiler's order breaks the tie: :math:`v` already holds :math:`L'^2` while
    :math:`\Delta` does not, so the first steps are of size :math:`\sim\sqrt{\varepsilon}` and grow
    as :math:`\Delta` accumulates.  Only with :math:`\alpha \ne \gamma` does the slide's version
    adapt at all, and then fragilely: after the first step
    :math:`\sqrt{\Delta}/\sqrt{v} = \sqrt{(1-\alpha)/(1-\gamma)}` (≈ 3.2 for α = 0.9, γ = 0.99), a
    factor that multiplies the next step and feeds on itself — on an ill-conditioned quadratic
    α < γ by that much diverges, while α slightly below γ (0.8/0.9, 0.9/0.95) converges.  (A deck
    erratum; this class implements the slide as written, so a lecture can show it.)
    """

    def __init__(self, params, lr: float = 1.0, alpha: float = 0.9, gamma: float = 0.9,
                 eps: float = 1e-6):
        super().__init__(params, dict(lr=lr, alpha=alpha, gamma=gamma, eps=eps))

    def _check_group(self, group):
        super()._check_group(group)
        group["alpha"] = _check_real_in(group["alpha"], "alpha", high_inclusive=True)
        group["gamma"] = _check_real_in(group["gamma"], "gamma", high_inclusive=True)
        group["eps"] = check_nonnegative_real(group["eps"], "eps")
        if group["eps"] == 0:
            raise ValueError("LectureAdadelta needs eps > 0: the first step divides (0 + eps) by (0 + eps)")

    def _update(self, p, state, group):
        if not state:
            state["acc_delta"] = np.zeros_like(p.data)    # Δ on the slide
            state["square_avg"] = np.zeros_like(p.data)   # v on the slide
        g = p.grad
        alpha, gamma, eps = group["alpha"], group["gamma"], group["eps"]
        acc, v = state["acc_delta"], state["square_avg"]
        delta = g * ((np.sqrt(acc) + eps) / (np.sqrt(v) + eps))   # uses the OLD v and Δ
        acc *= alpha
        acc += (1 - alpha) * (delta * delta)
        v *= gamma
        v += (1 - gamma) * (g * g)
        p.data -= group["lr"] * delta


class LectureAdam(Optimizer):
    r"""Adam as the slide writes it: the moving averages are bias-corrected *in place*.

    Slide ("Adam"), with :math:`v_0 = \mu_0 = 0`:

    .. math::

        v := \frac{\alpha v + (1-\alpha) L' \odot L'}{1 - \alpha^t}, \qquad
        \mu := \frac{\gamma \mu + (1-\gamma) L'}{1 - \gamma^t}, \qquad
        w := w - \eta\, \mu \div (\sqrt{v} + \varepsilon)

    The slide's numerator for :math:`\mu` reads :math:`\gamma v`; that is a typo for
    :math:`\gamma\mu` (:math:`v` holds squared gradients and would give the wrong units), and this
    class uses :math:`\gamma\mu`.

    PyTorch (:class:`nnkit.optim.Adam`, :math:`\beta_1 = \gamma`, :math:`\beta_2 = \alpha`) keeps the
    *raw* averages :math:`m := \beta_1 m + (1-\beta_1)g`, :math:`v := \beta_2 v + (1-\beta_2)g^2` and
    corrects only the copies used for the step, :math:`\hat m = m/(1-\beta_1^t)`,
    :math:`\hat v = v/(1-\beta_2^t)`.

    At :math:`t = 1` the two agree (:math:`\mu_1 = \hat m_1 = L'_1`, :math:`v_1 = \hat v_1 = L'^2_1`).
    From :math:`t = 2` on they differ, because on the slide the stored average has *already* been
    divided and is divided again at every step: the corrections compound.  For a constant gradient
    :math:`v_t/L'^2` grows roughly like :math:`1000^t/t!` for :math:`\alpha = 0.999`
    (500 at t = 2, 1.7·10⁵ at t = 3, 3·10²⁰ at t = 10), while :math:`\mu_t/L'` peaks near 4·10³
    at t ≈ 21 (for :math:`\gamma = 0.9`) before settling back to 1.  The step
    :math:`\mu/\sqrt{v}` therefore collapses (≈10⁻³ of Adam's by t = 5) and :math:`v` overflows —
    to ``inf`` at t ≈ 20 in float32 and t ≈ 340 in float64 — after which the weights never move
    again.  This is the deck's erratum (Adam's bias correction must not be
    stored); the class reproduces the slide so a lecture can show the failure, and warns
    (``RuntimeWarning``) once :math:`v` has overflowed.  Use :class:`nnkit.optim.Adam` to train.
    """

    def __init__(self, params, lr: float = 1e-3, alpha: float = 0.999, gamma: float = 0.9,
                 eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, alpha=alpha, gamma=gamma, eps=eps))
        self._warned = False

    def _check_group(self, group):
        super()._check_group(group)
        # alpha = 1 or gamma = 1 would divide by 1 - 1**t = 0.
        group["alpha"] = _check_real_in(group["alpha"], "alpha")
        group["gamma"] = _check_real_in(group["gamma"], "gamma")
        group["eps"] = check_nonnegative_real(group["eps"], "eps")

    def _update(self, p, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)   # v on the slide
            state["exp_avg"] = np.zeros_like(p.data)      # μ on the slide
        state["step"] += 1
        t, g = state["step"], p.grad
        alpha, gamma = group["alpha"], group["gamma"]
        v, mu = state["square_avg"], state["exp_avg"]
        with np.errstate(over="ignore"):   # the overflow is the point being demonstrated; warn once below
            v *= alpha
            v += (1 - alpha) * (g * g)
            v /= 1 - alpha ** t            # stored corrected: next step divides this again
            mu *= gamma
            mu += (1 - gamma) * g
            mu /= 1 - gamma ** t
            p.data -= group["lr"] * (mu / (np.sqrt(v) + group["eps"]))
        if not self._warned and not np.all(np.isfinite(v)):
            self._warned = True
            warnings.warn("LectureAdam: the second-moment average overflowed to inf because the slide's "
                          "in-place bias correction compounds; the weights will no longer move "
                          "(use nnkit.optim.Adam)", RuntimeWarning, stacklevel=3)
