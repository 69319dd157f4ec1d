r"""Optimal Brain Damage: diagonal second derivatives, saliencies, pruning and retraining.

Lecture 5 (deck 001, «Удаление связей (Optimal brain damage)») after LeCun, Denker & Solla,
"Optimal Brain Damage", NIPS 2 (1990).

The idea
--------
At a local minimum :math:`w` of the loss :math:`Q` the gradient vanishes, so a small change
:math:`\delta` of the weights changes the loss by the quadratic form

.. math:: Q(w + \delta) - Q(w) \approx \tfrac12\, \delta^\top Q''(w)\, \delta .

Pretend the Hessian :math:`Q''` is diagonal (the OBD heuristic).  Deleting weight :math:`w_k`
means :math:`\delta_k = -w_k` and every other :math:`\delta = 0`, so it raises the loss by the
**saliency**

.. math:: s_k = \tfrac12\, h_{kk}\, w_k^2, \qquad h_{kk} = \frac{\partial^2 Q}{\partial w_k^2}.

The deck defines :math:`S_{jh} = w_{jh}^2\, \partial^2 Q / \partial w_{jh}^2`, without the
:math:`\tfrac12` -- twice the loss change its own Taylor expansion predicts.  The factor does not
change which weights are least salient; :func:`saliency` uses LeCun's :math:`\tfrac12` by default
and ``half=False`` gives the deck's number.

The second derivatives by backpropagation
-----------------------------------------
Notation for one sample: layer :math:`\ell` computes :math:`z^\ell = W^\ell a^{\ell-1} + b^\ell`,
then :math:`a^\ell = f(z^\ell)` (elementwise); :math:`a^0 = x`; the network output :math:`y` is the
last :math:`a` (or :math:`z` when the network ends with a ``Linear``).  Because :math:`z_i` depends
on :math:`W_{ij}` linearly, :math:`\partial^2 z_i/\partial W_{ij}^2 = 0` and

.. math:: \frac{\partial^2 Q}{\partial W_{ij}^2} = \sum_n \frac{\partial^2 Q}{\partial z_i^2}\, a_j^2,
          \qquad \frac{\partial^2 Q}{\partial b_i^2} = \sum_n \frac{\partial^2 Q}{\partial z_i^2}

(sums over the samples :math:`n`, whose quantities carry an implicit index :math:`n`).  The
second derivatives w.r.t. the pre-activations are propagated from the output down, like
gradients, by two rules:

* through an elementwise activation :math:`a = f(z)` -- exact, by the chain rule:

  .. math:: \frac{\partial^2 Q}{\partial z_i^2} = f'(z_i)^2\, \frac{\partial^2 Q}{\partial a_i^2}
            + f''(z_i)\, \frac{\partial Q}{\partial a_i}

  ``method="gauss_newton"`` drops the second term (LeCun et al. call this the Levenberg–Marquardt
  approximation): it needs no gradient and never produces a negative :math:`h_{kk}`.
  Note the **plus** sign: :math:`a = f(z)` gives
  :math:`\partial_z^2 Q = f'^2 \partial_a^2 Q + f''\, \partial_a Q` by the product rule.
  (Written with a minus in front of the :math:`f''` term, as retellings of the paper's eq. 7
  sometimes have it, the rule is wrong.  The paper's output boundary condition
  :math:`2f'(a)^2 - 2(d - x) f''(a)` is this rule with the plus, because
  :math:`\partial E/\partial x = -2(d - x)` for :math:`E = \sum (d - x)^2`.  ``tests/test_obd.py``
  checks the sign against PyTorch.)

* through a linear layer :math:`z^{\ell+1} = W^{\ell+1} a^\ell + b^{\ell+1}` -- *the OBD
  approximation*:

  .. math:: \frac{\partial^2 Q}{\partial a_j^2} \approx \sum_l W_{lj}^2\, \frac{\partial^2 Q}{\partial z_l^2}.

  The exact value adds :math:`\sum_{l \ne l'} W_{lj} W_{l'j}\, \partial^2 Q/\partial z_l \partial z_{l'}`;
  the recursion keeps only diagonal second derivatives, so it drops these cross terms.

The recursion starts from the diagonal of the loss's Hessian w.r.t. the network output:

* ``loss="mse"``: :math:`Q = \frac{1}{NK}\sum_{n,k} (y_{nk} - t_{nk})^2` (PyTorch's ``MSELoss()``,
  mean over all :math:`N \times K` entries), so :math:`\partial^2 Q/\partial y_{nk}^2 = 2/(NK)`.
  ``reduction="sum"`` gives :math:`Q = \sum (y - t)^2`, exactly the paper's :math:`E`
  (:math:`\partial^2 E/\partial y^2 = 2`).  A course's :math:`\tfrac12\sum (y - t)^2` has
  :math:`\partial^2/\partial y^2 = 1`: its :math:`h_{kk}` is ``reduction="sum"``'s divided by 2, and
  ``reduction="mean"``'s multiplied by :math:`NK/2`.  Constant factors never change the ranking.
* ``loss="cross_entropy"``: :math:`Q = -\frac1N \sum_n \log p_{n,t_n}`,
  :math:`p = \mathrm{softmax}(y)` (PyTorch's ``CrossEntropyLoss()`` on logits :math:`y`).  Its
  Hessian w.r.t. the logits of one sample is :math:`(\mathrm{diag}(p) - pp^\top)/N`; the
  recursion starts from its diagonal :math:`p_k(1 - p_k)/N` and drops :math:`-p_k p_{k'}/N`.

What is exact and what is not
-----------------------------
* The **last** ``Linear`` layer: ``method="full"`` gives the exact diagonal of the Hessian
  :math:`Q''`, for either loss and with or without an output activation; ``method="gauss_newton"``
  gives the exact diagonal of the Gauss–Newton matrix :math:`\sum_n J_n^\top H_n J_n`
  (:math:`J_n = \partial y_n/\partial w`, :math:`H_n` the loss's Hessian w.r.t. :math:`y_n`).
* The ``Linear`` just below it (the one feeding the last hidden layer) is exact too, in both
  methods, *if* the loss's Hessian w.r.t. the output is diagonal (MSE, with or without an output
  activation): there are no cross terms to drop.  For cross-entropy the dropped
  :math:`-p_k p_{k'}` terms make it differ.
* Every layer further down differs from the exact diagonal **by design**: hidden units of one
  layer share the units above them, :math:`\partial^2 Q/\partial z_l \partial z_{l'} \ne 0`, and the
  recursion drops those cross terms.  It costs one backward pass instead of one per weight.

A deleted weight is set to zero and frozen there (LeCun et al.): :class:`PruningMask` records what
is deleted and :class:`MaskedOptimizer` keeps it at zero while the network retrains.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from . import functional as F
from ._checks import (as_float_array, check_choice, check_nonnegative_int, check_nonnegative_real,
                      check_positive_int, make_rng)
from .nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from .nn.linear import Flatten, Identity, Linear
from .nn.loss import CrossEntropyLoss, MSELoss
from .nn.module import Module, Sequential
from .nn.parameter import Parameter

__all__ = [
    "hessian_diagonal", "saliency", "feature_saliency",
    "PruningMask", "MaskedOptimizer", "prune_", "magnitude_prune_",
    "obd_prune_and_retrain",
]

LOSSES = ("mse", "cross_entropy")
METHODS = ("full", "gauss_newton")
REDUCTIONS = ("mean", "sum")


# --- first and second derivatives of the supported activations -------------------------------
# Each entry maps an activation class to a function (z, module) -> (f'(z), f''(z)), both evaluated
# at the pre-activation z and both taken from nnkit.functional, where each formula is written once
# (f' is what the modules' own backward uses).  f'' is None for the piecewise-linear units: it is 0
# wherever it exists, so their f'' term is left out.
_ACTIVATION_DERIVATIVES = OrderedDict([   # isinstance order matters only for subclasses; none here
    (Sigmoid, lambda z, m: (F.sigmoid_derivative(z), F.sigmoid_second_derivative(z))),
    (Tanh, lambda z, m: (F.tanh_derivative(z), F.tanh_second_derivative(z))),
    (ReLU, lambda z, m: (F.relu_derivative(z), None)),           # I[z > 0]: 0 at z = 0, as PyTorch
    (LeakyReLU, lambda z, m: (F.leaky_relu_derivative(z, m.negative_slope), None)),
    (Identity, lambda z, m: (F.identity_derivative(z), None)),
])


def _activation_rule(module):
    """The (f', f'') function for ``module``, or ``None`` if it is not a supported activation."""
    for cls, rule in _ACTIVATION_DERIVATIVES.items():
        if isinstance(module, cls):
            return rule
    return None


def _layers(model) -> list[Module]:
    """The model's modules in forward order (nested ``Sequential``\\ s flattened), all supported."""
    if not isinstance(model, Sequential):
        raise TypeError(f"OBD works on an MLP built as nnkit.nn.Sequential(Linear, activation, ..., Linear), "
                        f"got {type(model).__name__}")
    layers = []
    for m in model:
        if isinstance(m, Sequential):
            layers.extend(_layers(m))
        elif isinstance(m, (Linear, Flatten)) or _activation_rule(m) is not None:
            layers.append(m)
        else:
            raise TypeError(
                f"OBD supports Sequential models of Linear, Flatten and the elementwise activations "
                f"{', '.join(c.__name__ for c in _ACTIVATION_DERIVATIVES)}; got a {type(m).__name__} layer")
    if not any(isinstance(m, Linear) for m in layers):
        raise ValueError("the model has no Linear layer: there are no weights to compute saliencies for")
    return layers


def _module_names(model) -> dict[int, str]:
    return {id(m): name for name, m in model.named_modules()}


def _param_name(prefix: str, attr: str) -> str:
    return f"{prefix}.{attr}" if prefix else attr


# --- the loss at the output: value, gradient and Hessian diagonal ------------------------------
def _check_target(output: np.ndarray, target, loss: str):
    """``target`` as an array fit for ``output`` (N, K), or a ``ValueError`` that says what was expected."""
    n, k = output.shape
    if loss == "mse":
        t = as_float_array(target, "target", output.dtype)
        if t.shape != output.shape:
            raise ValueError(f"mse loss expects a target of the output's shape {output.shape}, "
                             f"got {tuple(t.shape)}")
        return t.astype(output.dtype, copy=False)
    t = np.asarray(target)                                 # cross-entropy: class indices, on logits
    if t.shape != (n,) or t.dtype.kind not in "iu":
        raise ValueError(f"cross_entropy loss expects integer class labels of shape ({n},), "
                         f"got an array of shape {tuple(t.shape)} and dtype {t.dtype}")
    if n and (t.min() < 0 or t.max() >= k):
        raise ValueError(f"class labels must be in [0, {k}), got values in [{t.min()}, {t.max()}]")
    return t


def _loss_derivatives(output: np.ndarray, target, loss: str, reduction: str = "mean"):
    r"""``(Q, dQ/dy, diag d²Q/dy²)`` for the network output ``y`` of shape ``(N, K)``.

    The value and the gradient are ``nnkit.functional``'s ``mse_loss``/``cross_entropy`` and their
    ``_grad`` -- the numbers ``nnkit.nn.MSELoss``/``CrossEntropyLoss`` give.  The per-entry arrays
    include the reduction's factor (:math:`1/(NK)` for the MSE mean, :math:`1/N` for the
    cross-entropy mean), so summing per-sample contributions gives the derivatives of the reduced loss.
    """
    t = _check_target(output, target, loss)
    if loss == "mse":
        value = float(F.mse_loss(output, t, reduction))
        grad = F.mse_loss_grad(output, t, reduction)
        scale = 1.0 / output.size if reduction == "mean" else 1.0
        return value, grad, np.full_like(output, 2 * scale)          # d²(y - t)²/dy² = 2
    value = float(F.cross_entropy(output, t, reduction=reduction))
    grad = F.cross_entropy_grad(output, t, reduction=reduction)
    p = F.softmax(output, dim=1)                                     # d²Q/dy_k² = p_k (1 - p_k)
    scale = 1.0 / output.shape[0] if reduction == "mean" else 1.0
    return value, grad, scale * p * (1 - p)


def _resolve_loss(loss, reduction):
    """``(name, reduction)`` from a loss name or an ``nnkit.nn`` loss module (whose reduction wins)."""
    if isinstance(loss, (MSELoss, CrossEntropyLoss)):
        if reduction is not None and reduction != loss.reduction:
            raise ValueError(f"reduction={reduction!r} contradicts the loss module's reduction={loss.reduction!r}")
        if isinstance(loss, CrossEntropyLoss) and (loss.weight is not None or loss.label_smoothing != 0):
            raise ValueError("OBD supports CrossEntropyLoss without class weights and label smoothing")
        name, reduction = ("mse" if isinstance(loss, MSELoss) else "cross_entropy"), loss.reduction
    elif isinstance(loss, str):
        name = loss
    else:
        raise TypeError(f"loss must be 'mse', 'cross_entropy', nnkit.nn.MSELoss() or nnkit.nn.CrossEntropyLoss(), "
                        f"got {type(loss).__name__}")
    check_choice(name, "loss", LOSSES)
    reduction = "mean" if reduction is None else reduction
    check_choice(reduction, "reduction", REDUCTIONS)
    return name, reduction


# --- the backward pass of second derivatives ---------------------------------------------------
def hessian_diagonal(model, X, y, loss="mse", method: str = "full",
                     reduction: str | None = None) -> "OrderedDict[str, np.ndarray]":
    r"""Diagonal second derivatives :math:`h_{kk} = \partial^2 Q/\partial w_k^2` of an MLP's loss.

    One forward pass and one backward pass of second derivatives, vectorized over the batch (see
    the module docstring for the recursion and what it drops):

    .. math:: D^{\text{out}} = \operatorname{diag} \frac{\partial^2 Q}{\partial y^2}, \qquad
              D_z = f'(z)^2 D_a + f''(z)\, G_a, \qquad
              D_a^{\ell-1} = D_z^{\ell} \,(W^{\ell})^{\circ 2}, \qquad
              h(W^\ell) = (D_z^\ell)^\top (a^{\ell-1})^{\circ 2}, \qquad h(b^\ell) = \textstyle\sum_n D_z^\ell

    (rows are samples; :math:`^{\circ 2}` squares elementwise; :math:`G_a = \partial Q/\partial a` is
    the ordinary backpropagated gradient; ``method="gauss_newton"`` omits the :math:`f''` term).

    Parameters
    ----------
    model : nnkit.nn.Sequential
        ``Sequential(Linear, act, Linear, act, ..., Linear[, act])``; activations ``Sigmoid``,
        ``Tanh``, ``ReLU``, ``LeakyReLU``, ``Identity``; a ``Flatten`` may reshape the input.
        Anything else raises ``TypeError``.
    X : array (N, features)
        Inputs; the derivatives are of the loss on this whole batch.
    y : array
        Targets: the output's shape ``(N, K)`` for ``"mse"``, integer labels ``(N,)`` for
        ``"cross_entropy"`` (the model's output are logits).
    loss : ``"mse"``, ``"cross_entropy"``, or an ``nnkit.nn.MSELoss`` / ``CrossEntropyLoss`` module
        PyTorch's ``MSELoss()`` / ``CrossEntropyLoss()`` (a module brings its own ``reduction``).
    method : ``"full"`` or ``"gauss_newton"``
        Keep or drop the :math:`f''(z)\,\partial Q/\partial a` terms.
    reduction : ``"mean"`` (default, PyTorch's) or ``"sum"``
        ``"mean"`` differentiates :math:`\frac{1}{NK}\sum (y-t)^2` or
        :math:`-\frac1N \sum \log p_{t}`; ``"sum"`` the sums (for MSE, the paper's :math:`E`).

    Returns
    -------
    OrderedDict parameter name -> array of the parameter's shape and dtype, in
    ``model.named_parameters()`` order (``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ...).

    The parameters' ``.grad`` are not touched (this is not ``model.backward``).
    """
    loss, reduction = _resolve_loss(loss, reduction)
    check_choice(method, "method", METHODS)
    layers = _layers(model)
    X = as_float_array(X, "X")
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty batch of shape (N, features), got shape {tuple(X.shape)}")

    # Forward, remembering each module's input: a Linear needs a^{l-1} (for x_j^2 and its weight's
    # h), an activation needs its z (for f'(z), f''(z)).
    inputs = []
    a = X
    for m in layers:
        inputs.append(a)
        a = m(a)
    if a.ndim != 2:
        raise ValueError(f"the model's output must have shape (N, K), got shape {tuple(a.shape)}")

    _, grad, d2 = _loss_derivatives(a, y, loss, reduction)
    full = method == "full"
    names = _module_names(model)
    found: dict[str, np.ndarray] = {}

    # Backward: grad = dQ/d(output of the current module), d2 = its OBD second derivative, both
    # (N, units): one row per sample, because the h of a weight is a *sum over samples* of
    # per-sample products (D_z,i * a_j^2), not a product of sums.
    for m, inp in zip(reversed(layers), reversed(inputs)):
        if isinstance(m, Linear):
            w = m.weight.data.astype(inp.dtype, copy=False)
            prefix = names[id(m)]
            found[_param_name(prefix, "weight")] = (d2.T @ (inp * inp)).astype(m.weight.dtype, copy=False)
            if m.bias is not None:
                found[_param_name(prefix, "bias")] = d2.sum(axis=0).astype(m.bias.dtype, copy=False)
            # the OBD step: squared weights carry only the diagonal of d2Q/dz dz^T down; the
            # cross terms W_lj W_l'j d2Q/dz_l dz_l' (l != l') are dropped
            d2 = d2 @ (w * w)
            grad = grad @ w
        elif isinstance(m, Flatten):
            d2 = d2.reshape(inp.shape)
            grad = grad.reshape(inp.shape)
        else:
            f1, f2 = _activation_rule(m)(inp, m)
            d2 = f1 * f1 * d2                              # chain rule, exact for an elementwise f ...
            if full and f2 is not None:
                d2 = d2 + f2 * grad                        # ... with its f''(z) dQ/da term
            grad = f1 * grad

    # named_parameters order, the order users see everywhere else
    return OrderedDict((name, found[name]) for name, _ in model.named_parameters() if name in found)


def saliency(model, hdiag, half: bool = True) -> "OrderedDict[str, np.ndarray]":
    r"""Saliencies :math:`s_k = \tfrac12 h_{kk} w_k^2` -- the loss increase OBD predicts for deleting :math:`w_k`.

    ``hdiag`` is what :func:`hessian_diagonal` returned.  ``half=False`` gives the deck's
    :math:`S_{jh} = w_{jh}^2\, \partial^2 Q/\partial w_{jh}^2` (twice LeCun's :math:`s_k`; same ranking).
    With ``method="full"`` away from a minimum an :math:`h_{kk}` can be negative, and so can
    :math:`s_k`: the quadratic model then predicts that deleting the weight *lowers* the loss.
    """
    params = dict(model.named_parameters())
    factor = 0.5 if half else 1.0
    out = OrderedDict()
    for name, h in hdiag.items():
        if name not in params:
            raise ValueError(f"hdiag has {name!r}, which is not a parameter of the model")
        w = params[name].data
        h = np.asarray(h)
        if h.shape != w.shape:
            raise ValueError(f"hdiag[{name!r}] has shape {h.shape}, the parameter has {w.shape}")
        out[name] = factor * h * (w * w)
    return out


def _first_linear(model) -> tuple[str, Linear]:
    for m in _layers(model):
        if isinstance(m, Linear):
            return _module_names(model)[id(m)], m
    raise AssertionError("unreachable: _layers guarantees a Linear")


def feature_saliency(model, hdiag, half: bool = True) -> np.ndarray:
    r"""Total saliency of each input feature, :math:`S_j = \sum_h S_{jh}` (deck: «Отбор признаков с помощью OBD»).

    Sums the saliencies of the weights leaving input :math:`j`, i.e. column :math:`j` of the first
    ``Linear``'s weight (shape ``(out, in)``).  A feature with a small :math:`S_j` can be dropped
    at a small predicted cost -- deleting all its weights at once, under the diagonal assumption.
    Returns an array of shape ``(in_features,)``.
    """
    prefix, _ = _first_linear(model)
    name = _param_name(prefix, "weight")
    if name not in hdiag:
        raise ValueError(f"hdiag has no entry {name!r} for the first layer's weight")
    s = saliency(model, OrderedDict([(name, hdiag[name])]), half=half)[name]
    return s.sum(axis=0)


# --- pruning masks --------------------------------------------------------------------------
class PruningMask:
    r"""Which entries of a model's parameters are alive (``True``) and which are deleted (``False``).

    ``PruningMask(model)`` starts with everything alive; :func:`prune_` and
    :func:`magnitude_prune_` switch entries off *in place* (so an optimizer wrapper holding this
    mask sees the change).  A deleted weight is "set to 0 and frozen there" (LeCun et al.):
    :meth:`apply` zeroes the deleted entries of every parameter (and of its ``.grad``), and
    :class:`MaskedOptimizer` calls it around every step.

    ``mask[name]`` is the boolean keep-array of one parameter; ``mask.names`` lists them.
    """

    def __init__(self, model: Module):
        if not isinstance(model, Module):
            raise TypeError(f"PruningMask needs an nnkit Module, got {type(model).__name__}")
        # The Parameter objects themselves: optimizers update p.data in place and load_state_dict
        # writes into it, so these references stay valid for the model's lifetime.
        self._params: "OrderedDict[str, Parameter]" = OrderedDict(model.named_parameters())
        self.keep: "OrderedDict[str, np.ndarray]" = OrderedDict(
            (name, np.ones(p.shape, dtype=bool)) for name, p in self._params.items())

    @property
    def names(self) -> list[str]:
        return list(self.keep)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.keep[name]

    def __contains__(self, name) -> bool:
        return name in self.keep

    def apply(self) -> None:
        """Zero the deleted entries of every parameter and of its gradient, in place."""
        for name, p in self._params.items():
            dead = ~self.keep[name]
            p.data[dead] = 0
            p.grad[dead] = 0

    def mask_grads(self) -> None:
        """Zero the gradient of every deleted entry (so optimizer state never sees it)."""
        for name, p in self._params.items():
            p.grad[~self.keep[name]] = 0

    def n_alive(self, names=None) -> int:
        return int(sum(self.keep[n].sum() for n in (self.names if names is None else names)))

    def n_pruned(self, names=None) -> int:
        return int(sum((~self.keep[n]).sum() for n in (self.names if names is None else names)))

    def fraction_pruned(self, names=None) -> float:
        names = self.names if names is None else names
        total = sum(self.keep[n].size for n in names)
        return self.n_pruned(names) / total if total else 0.0

    def state(self) -> dict:
        """Copies of the keep-arrays (for :meth:`load_state`)."""
        return {name: k.copy() for name, k in self.keep.items()}

    def load_state(self, state: dict) -> None:
        """Restore keep-arrays saved by :meth:`state`, in place."""
        for name, k in state.items():
            self.keep[name][...] = k

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}: {int((~k).sum())}/{k.size}" for n, k in self.keep.items())
        return f"PruningMask(pruned {parts})"


class MaskedOptimizer:
    """Wraps any nnkit optimizer so deleted weights stay exactly zero while the network retrains.

    ``step()`` (1) zeroes the gradients of deleted entries, so momentum buffers and Adam's moments
    receive nothing from them, (2) runs the wrapped optimizer's step, (3) zeroes the deleted
    weights again -- a momentum buffer filled *before* the weight was deleted, or any update rule
    that moves a weight with zero gradient, would otherwise bring it back to life.  Use it as the
    optimizer itself::

        opt = MaskedOptimizer(nnkit.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), mask)
        opt.zero_grad(); model.backward(loss_grad); opt.step()

    Everything else (``param_groups``, ``state``, ``state_dict``, ``lr``) is the wrapped optimizer's.
    """

    def __init__(self, optimizer, mask: PruningMask):
        if not hasattr(optimizer, "step") or not hasattr(optimizer, "zero_grad"):
            raise TypeError(f"MaskedOptimizer wraps an optimizer with step() and zero_grad(), "
                            f"got {type(optimizer).__name__}")
        if not isinstance(mask, PruningMask):
            raise TypeError(f"mask must be a PruningMask, got {type(mask).__name__}")
        self.optimizer = optimizer
        self.mask = mask

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self, closure=None):
        if closure is not None:
            inner = closure

            def closure():                         # the closure recomputes the grads: mask them after
                value = inner()
                self.mask.mask_grads()
                return value
        self.mask.mask_grads()
        loss = self.optimizer.step(closure)
        self.mask.apply()
        return loss

    @property
    def lr(self):
        return self.optimizer.lr

    @lr.setter
    def lr(self, value):
        self.optimizer.lr = value

    def __getattr__(self, name):                   # param_groups, state, state_dict, ...
        if name in ("optimizer", "mask"):
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __repr__(self) -> str:
        return f"MaskedOptimizer({self.optimizer!r}, {self.mask!r})"


def _prunable_names(model, include_bias: bool) -> list[str]:
    """Weight names of every Linear (and bias names, if asked) in named_parameters order."""
    names = _module_names(model)
    wanted = []
    for m in model.modules():
        if isinstance(m, Linear):
            wanted.append(_param_name(names[id(m)], "weight"))
            if include_bias and m.bias is not None:
                wanted.append(_param_name(names[id(m)], "bias"))
    wanted = set(wanted)
    return [n for n, _ in model.named_parameters() if n in wanted]


def prune_(model, n: int, saliencies, mask: PruningMask | None = None,
           include_bias: bool = False) -> PruningMask:
    r"""Delete the ``n`` least salient weights still alive: set them to 0 and mark them in ``mask``.

    The deck's step «удалить N связей с наименьшей значимостью».  Candidates are the weights of
    every ``Linear`` (plus the biases with ``include_bias=True``) that ``mask`` still keeps;
    ``saliencies`` maps their names to arrays (from :func:`saliency`, or any score: the smallest
    score goes first; ties go to the earlier parameter and entry).  ``mask`` is updated in place and
    returned; ``None`` creates one.  ``n`` larger than the number of live candidates raises
    ``ValueError``.
    """
    n = check_nonnegative_int(n, "n")
    if mask is None:
        mask = PruningMask(model)
    elif not isinstance(mask, PruningMask):
        raise TypeError(f"mask must be a PruningMask or None, got {type(mask).__name__}")
    names = _prunable_names(model, include_bias)
    params = dict(model.named_parameters())
    scores, owners, flat_index = [], [], []
    for i, name in enumerate(names):
        if name not in saliencies:
            raise ValueError(f"saliencies has no entry for {name!r}")
        s = np.asarray(saliencies[name], dtype=np.float64)
        if s.shape != params[name].shape:
            raise ValueError(f"saliencies[{name!r}] has shape {s.shape}, the parameter has {params[name].shape}")
        alive = np.flatnonzero(mask[name])         # only weights not deleted before compete
        scores.append(s.reshape(-1)[alive])
        owners.append(np.full(alive.size, i))
        flat_index.append(alive)
    scores = np.concatenate(scores)
    if n > scores.size:
        raise ValueError(f"cannot prune {n} weights: only {scores.size} remain")
    if np.isnan(scores).any():
        raise ValueError("saliencies contain NaN")
    owners, flat_index = np.concatenate(owners), np.concatenate(flat_index)
    chosen = np.argsort(scores, kind="stable")[:n]  # stable: ties are broken by position, reproducibly
    for i, name in enumerate(names):
        idx = flat_index[chosen[owners[chosen] == i]]
        mask[name].reshape(-1)[idx] = False
    mask.apply()
    return mask


def magnitude_prune_(model, n: int, mask: PruningMask | None = None,
                     include_bias: bool = False) -> PruningMask:
    """The baseline OBD is compared with: delete the ``n`` live weights of smallest :math:`|w|`.

    The same as :func:`prune_` with the score :math:`|w_k|` instead of :math:`\\tfrac12 h_{kk} w_k^2`;
    it ignores how much the loss cares about each weight (a small weight on a large input can matter
    more than a large weight on a tiny one).
    """
    scores = {name: np.abs(p.data) for name, p in model.named_parameters()}
    return prune_(model, n, scores, mask=mask, include_bias=include_bias)


# --- the deck's algorithm: prune, retrain, stop when validation gets worse ---------------------
_LOSS_MODULES = {"mse": MSELoss, "cross_entropy": CrossEntropyLoss}


def _fit(model, optimizer, loader, loss_fn, epochs: int) -> None:
    """``epochs`` epochs of ``nnkit.train.fit`` (the course's one training loop), quietly, mode kept."""
    if epochs == 0:
        return
    from .train import fit                         # on demand, as everywhere: nnkit.train needs tqdm
    was_training = model.training
    fit(model, loss_fn, optimizer, loader, epochs, accuracy=False, progress=False)
    model.train(was_training)


def obd_prune_and_retrain(model, optimizer, X, y, X_val, y_val, *, n_per_round: int,
                          loss="mse", method: str = "full", tol: float = 0.05,
                          retrain_epochs: int = 20, pretrain_epochs: int = 0, batch_size=None,
                          max_rounds=None, criterion: str = "obd", include_bias: bool = False,
                          half: bool = True, seed=0):
    r"""The deck's OBD procedure: train, delete the N least salient weights, retrain, repeat.

    Deck 001, «Удаление связей»:

    1. train until :math:`Q(w)` reaches a minimum (``pretrain_epochs`` more epochs, if the model is
       not trained yet; OBD's quadratic model assumes :math:`\nabla Q = 0`);
    2. compute :math:`h_{kk}` on the training set (:func:`hessian_diagonal`) and the saliencies;
    3. delete the ``n_per_round`` weights of smallest saliency (already deleted ones stay deleted);
    4. retrain for ``retrain_epochs`` epochs with the deleted weights frozen at 0;
    5. if the validation loss rose above :math:`(1 + \text{tol})\, Q_{\text{val}}^{0}` (the unpruned
       network's), restore the weights and the mask from before this round -- "вернуть последние
       удалённые связи" -- and stop; otherwise go to 2.

    It also stops when every weight is deleted or after ``max_rounds`` rounds.  ``criterion=
    "magnitude"`` runs the same loop with :func:`magnitude_prune_` for comparison.  The deck also
    watches the training loss; here only the validation loss decides.

    ``optimizer`` is any nnkit optimizer over ``model.parameters()``; it is wrapped in a
    :class:`MaskedOptimizer`.  Training is ``nnkit.train.fit``: it minimizes the mean loss
    (``MSELoss()`` / ``CrossEntropyLoss()``) on mini-batches of ``batch_size`` (``None``: the whole
    set), reshuffled every epoch by a generator made from ``seed``.

    Returns ``(mask, history)``: the final :class:`PruningMask` and a list of dicts, one per round
    (round 0 is the unpruned network), with keys ``round``, ``n_pruned``, ``fraction_pruned``
    (of the prunable weights), ``train_loss``, ``val_loss``, ``val_accuracy`` (``None`` for MSE)
    and ``accepted`` (``False`` only for a rejected last round, whose removal was undone).
    """
    loss, _ = _resolve_loss(loss, None)            # training and evaluation use the mean loss
    check_choice(method, "method", METHODS)
    check_choice(criterion, "criterion", ("obd", "magnitude"))
    _layers(model)
    n_per_round = check_positive_int(n_per_round, "n_per_round")
    tol = check_nonnegative_real(tol, "tol")
    retrain_epochs = check_nonnegative_int(retrain_epochs, "retrain_epochs")
    pretrain_epochs = check_nonnegative_int(pretrain_epochs, "pretrain_epochs")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    if max_rounds is not None:
        max_rounds = check_nonnegative_int(max_rounds, "max_rounds")
    X, X_val = as_float_array(X, "X"), as_float_array(X_val, "X_val")
    y, y_val = np.asarray(y), np.asarray(y_val)
    y = _check_target(model(X), y, loss)           # clear errors before any training
    y_val = _check_target(model(X_val), y_val, loss)
    from .data import DataLoader                   # on demand, as nnkit/__init__ promises
    from .train import accuracy                    # (nnkit.train needs tqdm)

    mask = PruningMask(model)
    opt = MaskedOptimizer(optimizer, mask)
    prunable = _prunable_names(model, include_bias)
    loss_fn = _LOSS_MODULES[loss]()                # the mean loss: what training minimizes and reports
    # One loader for every round: its generator (made from ``seed``) shuffles each epoch's mini-batches;
    # full-batch training (batch_size None) keeps the samples in order.
    bs = len(X) if batch_size is None else batch_size
    loader = DataLoader(X, y, batch_size=bs, shuffle=bs < len(X), seed=make_rng(seed))

    def evaluate(r, accepted=True):
        train_loss = float(loss_fn(model(X), y))
        out = model(X_val)
        val_loss = float(loss_fn(out, y_val))
        val_accuracy = accuracy(out, y_val) if loss == "cross_entropy" else None
        return dict(round=r, n_pruned=mask.n_pruned(prunable), fraction_pruned=mask.fraction_pruned(prunable),
                    train_loss=train_loss, val_loss=val_loss, val_accuracy=val_accuracy, accepted=accepted)

    _fit(model, opt, loader, loss_fn, pretrain_epochs)
    history = [evaluate(0)]
    limit = (1 + tol) * history[0]["val_loss"]
    r = 0
    while (max_rounds is None or r < max_rounds) and mask.n_alive(prunable) > 0:
        r += 1
        # a snapshot to return to if this round's removal is too costly
        saved_weights, saved_mask = model.state_dict(), mask.state()
        saved_opt = optimizer.state_dict() if hasattr(optimizer, "state_dict") else None
        n = min(n_per_round, mask.n_alive(prunable))
        if criterion == "obd":
            h = hessian_diagonal(model, X, y, loss=loss, method=method)
            prune_(model, n, saliency(model, h, half=half), mask=mask, include_bias=include_bias)
        else:
            magnitude_prune_(model, n, mask=mask, include_bias=include_bias)
        _fit(model, opt, loader, loss_fn, retrain_epochs)
        record = evaluate(r)
        if record["val_loss"] > limit:
            record["accepted"] = False
            history.append(record)
            model.load_state_dict(saved_weights)
            mask.load_state(saved_mask)
            if saved_opt is not None:
                optimizer.load_state_dict(saved_opt)
            break
        history.append(record)
    return mask, history
