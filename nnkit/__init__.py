"""nnkit -- a numpy neural-network library that implements what the course's lectures teach.

It speaks PyTorch's vocabulary (``nnkit.nn.Linear``, ``nnkit.optim.SGD``, ``nnkit.init.xavier_uniform_``)
and agrees with PyTorch numerically, with every backward pass written out explicitly.

``nnkit.data``, ``nnkit.train`` and ``nnkit.plot`` (which need scikit-learn, tqdm and matplotlib) are
imported on demand: ``import nnkit.train``.
"""
from . import functional, gradcheck, init, nn, obd, optim
from .threads import get_num_threads, set_num_threads

__version__ = "0.1.0"
