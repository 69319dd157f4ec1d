"""``nnkit.nn``: parameters, modules, layers, activations and losses (PyTorch's ``torch.nn`` vocabulary)."""
from .parameter import Parameter
from .module import Module, Sequential
from .linear import Linear, Flatten, Identity
