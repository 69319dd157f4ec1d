"""nnkit -- a numpy neural-network library that implements what the course's lectures teach.

It speaks PyTorch's vocabulary (``nnkit.nn.Linear``, ``nnkit.optim.SGD``, ``nnkit.init.xavier_uniform_``)
and agrees with PyTorch numerically, with every backward pass written out explicitly.
"""
from . import nn, init, gradcheck

__version__ = "0.1.0"
