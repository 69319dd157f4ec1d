"""``nnkit.nn``: parameters, modules, layers, activations and losses (PyTorch's ``torch.nn`` vocabulary)."""
from .parameter import Parameter
from .module import Module, Sequential
from .linear import Linear, Flatten, Identity
from .activation import (Sigmoid, Tanh, ReLU, LeakyReLU, PReLU, ELU, SELU, GELU, SiLU, Softmax, LogSoftmax,
                         Step, SigmoidC, Maxout)
from .loss import (MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss, NLLLoss, CrossEntropyLoss, GaussianNLLLoss,
                   PoissonNLLLoss, MultiMarginLoss)
from .conv import Conv2d
from .pooling import MaxPool2d, AvgPool2d
from .dropout import Dropout
from .batchnorm import BatchNorm1d, BatchNorm2d
