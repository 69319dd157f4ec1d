"""``Parameter``: a learnable array and the gradient that backward accumulates into it."""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array


class Parameter:
    """A learnable tensor, as ``torch.nn.Parameter``.

    ``data`` holds the values and ``grad`` the gradient of the loss with respect to them; both are
    ndarrays of one shape and dtype.  ``Module.backward`` *adds* into ``grad`` (so gradients of
    several backward passes accumulate, as in PyTorch) and ``zero_grad`` resets it.
    """

    __slots__ = ("data", "grad", "requires_grad")

    def __init__(self, data, requires_grad: bool = True):
        data = as_float_array(data, "Parameter data")
        self.data = np.array(data, copy=True)  # never alias the caller's array
        self.grad = np.zeros_like(self.data)
        self.requires_grad = requires_grad

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def zero_grad(self) -> None:
        self.grad[...] = 0

    def accumulate(self, grad: np.ndarray) -> None:
        """Add ``grad`` (computed in any float dtype) into ``.grad``."""
        if grad.shape != self.data.shape:
            raise ValueError(f"gradient of shape {grad.shape} does not match parameter of shape {self.data.shape}")
        self.grad += grad

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"
