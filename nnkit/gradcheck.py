r"""Numerical gradient checking by central differences -- shared by the tests, lectures and assignments.

For a scalar function :math:`f` the centered difference

.. math:: \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

has error :math:`O(h^2)`; compare it with an analytic gradient by the relative error
:math:`\max |a - n| / \max(|a| + |n|, \text{tiny})`.  In float64 with ``h = 1e-6`` a correct
gradient gives about 1e-8 or less; a wrong one gives something near 1.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .nn.module import Module


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``, perturbed in place.

    ``f`` takes no arguments and reads ``x`` (so it can be a whole network's loss with ``x`` one of
    its parameters).  ``x`` is restored exactly after each probe.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError("numerical_gradient needs a floating ndarray x to perturb")
    grad = np.zeros(x.shape, dtype=np.float64)
    # probe entry by entry through an index, so any memory layout (C, Fortran, a view) works
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = float(f())
        x[idx] = old - h
        f_minus = float(f())
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(analytic, numeric) -> float:
    """``max|a - n| / max(max(|a| + |n|), 1e-12)`` -- scale-free, 0 for identical arrays."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: analytic {a.shape} vs numeric {n.shape}")
    if a.size == 0:
        return 0.0
    denom = max(float(np.max(np.abs(a) + np.abs(n))), 1e-12)
    return float(np.max(np.abs(a - n)) / denom)


def check_module_gradients(module: Module, x, h: float = 1e-6, seed: int = 0) -> dict[str, float]:
    """Relative errors of ``module.backward`` against central differences, per tensor.

    The scalar checked is :math:`L = \\sum y \\odot r` with a fixed random ``r``, so every output
    entry matters.  Returns ``{"input": err, "<param name>": err, ...}``.  Run it in float64 and in
    ``train()`` mode only for deterministic modules (Dropout draws a fresh mask on every forward).
    """
    x = np.array(x, dtype=np.float64, copy=True)
    rng = np.random.default_rng(seed)
    r = rng.standard_normal(np.shape(module(x)))

    def loss():
        return float(np.sum(module(x) * r))

    module.zero_grad()
    module(x)
    grad_input = module.backward(r.copy())
    analytic = {"input": np.asarray(grad_input)}
    analytic.update({name: p.grad.copy() for name, p in module.named_parameters()})

    errors = {"input": relative_error(analytic["input"], numerical_gradient(loss, x, h))}
    for name, p in module.named_parameters():
        errors[name] = relative_error(analytic[name], numerical_gradient(loss, p.data, h))
    return errors


def assert_gradients_close(errors: dict[str, float], tol: float = 1e-6) -> None:
    """Raise ``AssertionError`` naming every tensor whose relative error exceeds ``tol``."""
    bad = {k: v for k, v in errors.items() if not v <= tol}
    if bad:
        detail = ", ".join(f"{k}: {v:.2e}" for k, v in bad.items())
        raise AssertionError(f"gradient check failed (tolerance {tol:.0e}): {detail}")
