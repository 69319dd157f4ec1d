"""``nnkit.optim``: PyTorch's optimizers in numpy, and the lecture's forms where they differ.

PyTorch's (same formulas, defaults and argument names as ``torch.optim``):
``SGD`` (momentum, Nesterov, weight decay, maximize), ``Adagrad``, ``RMSprop``, ``Adadelta``,
``Adam``, ``AdamW``; schedulers ``StepLR``, ``ExponentialLR``.

Lecture 5, "Модификации SGD", as the slides write them (see each docstring for the relation to
PyTorch's form): ``EMAMomentum``, ``EMANesterov`` (takes a closure), ``LectureAdadelta``,
``LectureAdam``.  The slide's RMSProp is ``RMSprop(alpha=γ)`` exactly; the slide's
L2 regularization ``Q + λ Σ w²`` is ``weight_decay=2λ``.
"""
from .optimizer import Optimizer
from .sgd import SGD
from .adaptive import Adagrad, RMSprop, Adadelta, Adam, AdamW
from .lecture import EMAMomentum, EMANesterov, LectureAdadelta, LectureAdam
from .scheduler import LRScheduler, StepLR, ExponentialLR

__all__ = [
    "Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW",
    "EMAMomentum", "EMANesterov", "LectureAdadelta", "LectureAdam",
    "LRScheduler", "StepLR", "ExponentialLR",
]
