"""Input validation shared by every part of nnkit.

Every public entry point turns what the user gave into a float ndarray here, and raises an error
that names what was expected.  Nothing here modifies the caller's array.
"""
from __future__ import annotations

import numbers

import numpy as np

DEFAULT_DTYPE = np.float32


def as_float_array(x, name: str = "input", dtype=None) -> np.ndarray:
    """Return ``x`` as a floating ndarray without copying a float array.

    Floating arrays keep their dtype (float32 in, float32 out).  Integer and boolean arrays (logic
    tables, class labels used as features) become ``dtype`` or nnkit's default float32.
    """
    if isinstance(x, np.ndarray):
        arr = x
    elif isinstance(x, (numbers.Number, list, tuple)) or hasattr(x, "__array__"):
        arr = np.asarray(x)
    else:
        raise TypeError(f"{name} must be a numpy array (or array-like of numbers), got {type(x).__name__}")
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind in "biu":
        return arr.astype(dtype or DEFAULT_DTYPE)
    raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")


def check_ndim(x: np.ndarray, allowed, layer: str, layout: str) -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is one of ``allowed``; ``layout`` describes the shape."""
    allowed = (allowed,) if isinstance(allowed, int) else tuple(allowed)
    if x.ndim not in allowed:
        raise ValueError(f"{layer} expects input of shape {layout}, got shape {tuple(x.shape)}")


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def check_nonnegative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return int(value)


def pair(value, name: str, allow_zero: bool = False) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(3, 5)`` stays; the PyTorch convention for kernel sizes, strides, paddings."""
    check = check_nonnegative_int if allow_zero else check_positive_int
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return check(value[0], name), check(value[1], name)
    v = check(value, name)
    return v, v


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def check_probability(p, name: str = "p") -> float:
    """A drop probability: a real number in [0, 1] (``p = 1`` drops everything, as in PyTorch)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a float in [0, 1], got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {p}")
    return float(p)


def check_nonnegative_real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if value < 0 or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def make_rng(seed=None) -> np.random.Generator:
    """A numpy Generator from ``None`` (fresh entropy), an int seed, or an existing Generator.

    The one place where nnkit turns a ``seed`` argument into random numbers: every layer,
    initializer, data generator and loader that takes ``seed`` calls it, so all of them accept the
    same three kinds of value and reject anything else with the same ``TypeError``.  An int gives a
    fresh ``numpy.random.default_rng(seed)`` (reproducible); a Generator is used as it is, so its
    state advances and the caller can chain several draws from one stream.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be None, an int or a numpy.random.Generator, got {type(seed).__name__}")
