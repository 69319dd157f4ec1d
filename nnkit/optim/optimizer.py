r"""``Optimizer``: the base class of every optimizer in ``nnkit.optim`` (``torch.optim.Optimizer``).

An optimizer holds references to a model's ``Parameter`` objects.  Training repeats

    optimizer.zero_grad()      # p.grad = 0 for every parameter
    loss = model_loss(...)     # forward
    model.backward(...)        # backward: adds dQ/dw into p.grad
    optimizer.step()           # w := w - (something computed from p.grad and the optimizer's state)

The "something" is what distinguishes SGD, Momentum, Adam, ... (lecture 5, "Модификации SGD").
Updates are written *in place* into ``p.data``: a layer, a notebook or another optimizer may hold a
reference to that very array, so it is never replaced by a new one.

Parameter groups work as in PyTorch: ``params`` is either an iterable of Parameters (one group) or
an iterable of dicts ``{"params": [...], "lr": ...}`` whose keys override the defaults for that
group.  Per-parameter memory (momentum buffers, moving averages, the step counter) lives in
``optimizer.state[p]``, a dict created on the parameter's first step.
"""
from __future__ import annotations

import copy
import numbers
from collections import defaultdict

import numpy as np

from .._checks import check_nonnegative_real
from ..nn.module import Module
from ..nn.parameter import Parameter

__all__ = ["Optimizer"]


# --- validators for hyper-parameters (kept here: they are specific to optimizers) -------------
def _check_real_in(value, name: str, *, high: float = 1.0, high_inclusive: bool = False) -> float:
    """A real number in ``[0, high)`` (or ``[0, high]``); smoothing constants, betas, rho."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    ok = 0.0 <= value <= high if high_inclusive else 0.0 <= value < high
    if not ok:
        interval = f"[0, {high:g}]" if high_inclusive else f"[0, {high:g})"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return float(value)


def _check_betas(betas, name: str = "betas") -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{name} must be a pair (beta1, beta2), got {betas!r}")
    return (_check_real_in(betas[0], f"{name}[0]"), _check_real_in(betas[1], f"{name}[1]"))


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


class Optimizer:
    """Base class: holds parameter groups and per-parameter state; subclasses write ``_update``.

    Parameters
    ----------
    params : iterable of ``Parameter`` or of dicts
        What to optimize, e.g. ``model.parameters()``.  An empty iterable raises ``ValueError``;
        anything that is not an nnkit ``Parameter`` raises ``TypeError``.
    defaults : dict
        The optimizer's hyper-parameters; a group may override any of them.

    A subclass implements ``_check_group(group)`` (validate and normalize hyper-parameters, raising
    ``ValueError``/``TypeError``) and ``_update(p, state, group)`` (one parameter's in-place step).
    Parameters with ``requires_grad=False`` are left untouched (frozen).
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)   # Parameter -> its own dict of buffers
        self.param_groups: list[dict] = []
        for group in self._as_groups(params):
            self.add_param_group(group)

    # --- construction ---------------------------------------------------------------------------
    @staticmethod
    def _as_groups(params) -> list[dict]:
        if isinstance(params, Parameter):
            raise TypeError("params must be an iterable of Parameters (or of dicts), got a single "
                            "Parameter; wrap it in a list: [p]")
        if isinstance(params, Module):
            raise TypeError(f"params must be an iterable of Parameters; got the module "
                            f"{type(params).__name__} itself, pass model.parameters()")
        if isinstance(params, (dict, np.ndarray, str, bytes)) or not hasattr(params, "__iter__"):
            raise TypeError(f"params must be an iterable of Parameters (or of dicts), "
                            f"got {type(params).__name__}")
        items = list(params)   # a generator such as model.parameters() may be consumed only once
        if not items:
            raise ValueError("optimizer got an empty parameter list")
        if all(isinstance(item, dict) for item in items):
            return [dict(item) for item in items]
        if any(isinstance(item, dict) for item in items):
            raise TypeError("params must be all Parameters or all dicts (parameter groups), not a mix")
        return [{"params": items}]

    def add_param_group(self, group: dict) -> None:
        """Add a group ``{"params": [...], **overrides}``; missing hyper-parameters take the defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"a parameter group must be a dict with a 'params' key, got {group!r}")
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        if not params:
            raise ValueError("a parameter group has an empty parameter list")
        for p in params:
            if not isinstance(p, Parameter):
                hint = " (wrap arrays in nnkit.nn.Parameter)" if isinstance(p, np.ndarray) else ""
                raise TypeError(f"optimizer can only optimize nnkit Parameters, got {type(p).__name__}{hint}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError("some parameters appear more than once (in one group or in several groups)")
        unknown = set(group) - set(self.defaults) - {"params", "name"}
        if unknown:
            # PyTorch silently keeps unknown keys; a typo such as "learning_rate" would then be ignored.
            raise ValueError(f"unknown hyper-parameter(s) {sorted(unknown)} for {type(self).__name__}; "
                             f"known: {sorted(self.defaults)}")
        group = {**self.defaults, **group, "params": params}
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Validate (and normalize in place) one group's hyper-parameters.  Subclasses extend this."""
        group["lr"] = check_nonnegative_real(group["lr"], "lr")

    # --- the learning rate, as a scheduler or a demo wants to see it -----------------------------
    @property
    def lr(self) -> float:
        """The learning rate (of every group; reading it needs all groups to agree)."""
        lrs = {g["lr"] for g in self.param_groups}
        if len(lrs) != 1:
            raise ValueError(f"the parameter groups have different learning rates {sorted(lrs)}; "
                             "read optimizer.param_groups[i]['lr']")
        return lrs.pop()

    @lr.setter
    def lr(self, value) -> None:
        value = check_nonnegative_real(value, "lr")
        for g in self.param_groups:
            g["lr"] = value

    # --- the training-loop API ------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Reset ``p.grad`` to zeros in place (nnkit keeps ``grad`` an array; there is no ``None``)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.zero_grad()

    def step(self, closure=None):
        """Update every parameter from its ``.grad``.

        ``closure``, if given, is called first and should re-evaluate the model (zero the grads,
        forward, backward) and return the loss; ``step`` returns that loss (PyTorch's convention).
        """
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.requires_grad:
                    self._update(p, self.state[p], group)
        return loss

    def _update(self, p: Parameter, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update(p, state, group)")

    @staticmethod
    def _gradient(p: Parameter, group: dict) -> np.ndarray:
        r"""The gradient the update uses: :math:`\pm g + \lambda_{wd} w` (a new array; ``p.grad`` is not touched).

        ``maximize`` flips the sign (gradient *ascent*).  ``weight_decay`` adds the gradient of the
        L2 penalty (lecture 5, "L2-регуляризация"): the slide's
        :math:`\tilde Q(w) = Q(w) + \lambda \sum w^2` has gradient :math:`\nabla Q + 2\lambda w`,
        so the slide's :math:`\lambda` corresponds to ``weight_decay = 2λ``.
        """
        grad = -p.grad if group.get("maximize", False) else p.grad
        wd = group.get("weight_decay", 0.0)
        if wd != 0:
            grad = grad + wd * p.data
        return grad

    # --- saving and restoring -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Copies of the hyper-parameters and of every buffer; parameters are referred to by index."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index[id(p)] = len(index)
                ids.append(index[id(p)])
            groups.append({**{k: copy.deepcopy(v) for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` saved (same parameters, same order of groups)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError("the saved state has a different number of groups or parameters")
        params = [p for g in self.param_groups for p in g["params"]]
        for saved, own in zip(groups, self.param_groups):
            own.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
        self.state = defaultdict(dict)
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            restored = copy.deepcopy(s)
            for k, v in restored.items():
                if isinstance(v, np.ndarray) and v.shape != p.shape:
                    raise ValueError(f"state {k!r} of parameter {i} has shape {v.shape}, expected {p.shape}")
            self.state[p] = restored

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        lines.append(")")
        return "\n".join(lines)
