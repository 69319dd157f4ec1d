"""``nnkit.functional``: activations and losses as plain functions, each with its derivative.

PyTorch's ``torch.nn.functional`` vocabulary (``relu``, ``softmax``, ``cross_entropy``, ...) plus the
lectures' own units (``heaviside_step``, ``sigmoid_c``, ``maxout``).  Every activation ``f`` has
``f_derivative(x)``, its elementwise derivative at the input; every loss ``name`` has ``name_grad``,
the gradient with respect to its input; ``dropout`` has ``dropout_mask``, the factor (and derivative)
a training forward multiplies by.  ``nnkit.nn``'s modules and ``nnkit.obd`` call these functions, so
each formula is written once.  Import as ``import nnkit.functional as F``.
"""
from .activations import *  # noqa: F401,F403  (the names are listed in activations.__all__)
from .activations import __all__ as _activation_names
from .losses import *  # noqa: F401,F403
from .losses import __all__ as _loss_names
from .dropout import *  # noqa: F401,F403
from .dropout import __all__ as _dropout_names

__all__ = list(_activation_names) + list(_loss_names) + list(_dropout_names)
