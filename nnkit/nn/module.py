"""``Module`` and ``Sequential``: the small module system every layer of nnkit is built on.

A module computes ``forward(x)`` and remembers what it needs; ``backward(grad_output)`` receives
dL/d(output), adds dL/d(parameter) into each parameter's ``.grad`` and returns dL/d(input).  That
is backpropagation written out explicitly, one layer at a time, as in the lectures.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from .parameter import Parameter


class Module:
    """Base class of every layer, activation and network (``torch.nn.Module``'s vocabulary).

    Subclasses implement ``forward`` and ``backward``.  Parameters and sub-modules assigned as
    attributes are registered automatically, in assignment order, so ``parameters()``,
    ``named_parameters()``, ``zero_grad()``, ``train()`` and ``eval()`` see them.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- registration -------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"call super().__init__() in {type(self).__name__}.__init__ before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    # --- the computation ----------------------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} must implement backward(grad_output)")

    #: True for modules whose ``backward`` takes ``input_grad=False``: fill the parameters' gradients but skip
    #: dL/d(input) and return None -- the work PyTorch skips when the input does not require grad.
    accepts_input_grad_flag = False

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- traversal ----------------------------------------------------------------------------
    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        seen = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    # --- saving -------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter and buffer (``running_mean``, ``running_var``) by dotted name."""
        state = OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())
        for mod_name, module in self.named_modules():
            for buf in getattr(module, "_buffers", ()):
                state[f"{mod_name}.{buf}" if mod_name else buf] = np.array(getattr(module, buf), copy=True)
        return state

    def load_state_dict(self, state) -> None:
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            raise ValueError(f"state_dict mismatch: missing {missing}, unexpected {unexpected}")
        params = dict(self.named_parameters())
        for name, value in state.items():
            value = np.asarray(value)
            if value.shape != own[name].shape:
                raise ValueError(f"{name}: expected shape {own[name].shape}, got {value.shape}")
            if name in params:
                params[name].data[...] = value
            else:
                mod_name, _, buf = name.rpartition(".")
                module = dict(self.named_modules())[mod_name]
                getattr(module, buf)[...] = value

    # --- display ------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        lines.append(")")
        return "\n".join(lines)


class Sequential(Module):
    """Modules applied one after another; backward runs them in reverse (``torch.nn.Sequential``).

    Indexable (``net[0]``, ``net[1:]`` gives a Sequential), iterable and sized, as PyTorch's.
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            self.append(m, _index=i)

    def append(self, module: Module, _index=None) -> "Sequential":
        if not isinstance(module, Module):
            raise TypeError(f"Sequential takes nnkit Modules, got {type(module).__name__}")
        setattr(self, str(len(self._modules) if _index is None else _index), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index):
        mods = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*mods[index])
        try:
            return mods[index]
        except (IndexError, TypeError):
            raise IndexError(f"Sequential index {index!r} out of range for {len(mods)} modules") from None

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    accepts_input_grad_flag = True

    def backward(self, grad_output, *, input_grad: bool = True):
        """Backpropagate through the layers in reverse; returns dL/d(input).

        With ``input_grad=False`` nothing below the first layer that has parameters is computed: that layer
        fills its parameters' gradients only (if it supports the flag), the parameter-free layers before it
        are skipped, and None is returned.  ``nnkit.train`` uses this, as PyTorch does for an input that does
        not require grad."""
        modules = list(self._modules.values())
        first = 0 if input_grad else next(
            (i for i, m in enumerate(modules) if any(True for _ in m.parameters())), len(modules))
        for i in reversed(range(first, len(modules))):
            if i == first and not input_grad and modules[i].accepts_input_grad_flag:
                modules[i].backward(grad_output, input_grad=False)
            else:
                grad_output = modules[i].backward(grad_output)
        return grad_output if input_grad else None
