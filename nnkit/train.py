r"""A training loop with a progress bar and a history, and the helpers around it.

Lecture 5 (deck 001, «Пакеты (batch)», «Перемешивание набора данных»): an epoch shuffles the
training set, cuts it into mini-batches and makes one gradient step on each.  One step is::

    optimizer.zero_grad()                   # gradients accumulate, so clear the previous step's
    output = model(x_batch)                 # forward: every layer stores what backward needs
    loss = loss_fn(output, y_batch)         # the batch's mean loss
    model.backward(loss_fn.backward())      # backward: dL/d(output) flows back, filling p.grad
    optimizer.step()                        # w := w - (a rule computed from p.grad)

After each epoch the model is evaluated (``model.eval()``, so dropout is off and batch norm uses its
running statistics) on the validation set, and the numbers go into a :class:`History`.
"""
from __future__ import annotations

import inspect
import math
import numbers
import warnings
from dataclasses import dataclass, field, fields
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from ._checks import as_float_array, check_positive_int
from .data import DataLoader
from .nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MultiMarginLoss, NLLLoss

__all__ = ["History", "Evaluation", "fit", "train_step", "evaluate", "predict", "accuracy"]


@dataclass
class History:
    """Per-epoch numbers recorded by :func:`fit`: one entry per epoch in each non-empty list.

    ``train_loss``: mean loss over the epoch's training batches (measured while the weights move,
    in train mode); ``train_accuracy``: likewise; ``val_loss``/``val_accuracy``: on the validation
    set after the epoch, in eval mode; ``lr``: the first parameter group's learning rate during the
    epoch.  Lists stay empty for what was not measured.  ``history["val_loss"]`` works too.
    """

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    lr: list = field(default_factory=list)

    def __len__(self) -> int:
        """The number of epochs completed."""
        return len(self.train_loss)

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)]

    def __getitem__(self, key: str) -> list:
        if key not in self.keys():
            raise KeyError(f"History has {self.keys()}, not {key!r}")
        return getattr(self, key)

    def as_dict(self) -> dict[str, list]:
        return {k: list(getattr(self, k)) for k in self.keys()}

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={getattr(self, k)[-1]:.4g}" for k in self.keys() if getattr(self, k))
        return f"History(epochs={len(self)}{', last: ' + last if last else ''})"


class Evaluation(NamedTuple):
    """What :func:`evaluate` measured: the mean loss and the accuracy (``None`` when not measured)."""
    loss: float | None
    accuracy: float | None


# --- checks --------------------------------------------------------------------------------------
def _check_model(model, needs_backward: bool = True) -> None:
    missing = [m for m in ("train", "eval") + (("backward",) if needs_backward else ()) if not hasattr(model, m)]
    if not callable(model) or missing:
        raise TypeError(f"model must be an nnkit Module (callable, with train(), eval() and backward()), "
                        f"got {type(model).__name__}")


def _check_loss(loss_fn) -> str:
    if not callable(loss_fn) or not hasattr(loss_fn, "backward"):
        raise TypeError(f"loss_fn must be an nnkit loss module (value = loss_fn(output, target); "
                        f"grad = loss_fn.backward()), got {type(loss_fn).__name__}")
    reduction = getattr(loss_fn, "reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"training needs a scalar loss: reduction='mean' or 'sum', got {reduction!r}")
    return reduction


def _accuracy_threshold(loss_fn, accuracy, y=None):
    """The decision threshold for :func:`accuracy`, or ``None`` when accuracy is not measured.

    ``"auto"`` measures accuracy for classification losses: a logit is positive exactly when its
    sigmoid exceeds 1/2, so ``BCEWithLogitsLoss`` thresholds at 0 and the others at 0.5 (for class
    scores ``(N, C)`` the threshold is unused: the prediction is the argmax).
    """
    if accuracy is False or accuracy is None:
        return None
    if accuracy not in (True, "auto"):
        raise ValueError(f"accuracy must be True, False or 'auto', got {accuracy!r}")
    if isinstance(loss_fn, BCEWithLogitsLoss):
        return 0.0
    if accuracy is True or isinstance(loss_fn, (BCELoss, CrossEntropyLoss, NLLLoss, MultiMarginLoss)):
        return 0.5
    if loss_fn is None and y is not None and np.asarray(y).dtype.kind in "biu":   # labels, no loss to go by
        return 0.5
    return None


def _as_loader(data, batch_size, shuffle, seed, name: str) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return DataLoader(data[0], data[1], batch_size=batch_size, shuffle=shuffle, seed=seed)
    raise TypeError(f"{name} must be a DataLoader or a pair (X, y), got {type(data).__name__}")


def _step_takes_closure(optimizer) -> bool:
    try:
        return "closure" in inspect.signature(optimizer.step).parameters
    except (TypeError, ValueError):
        return False


# --- one step, one epoch, the loop ---------------------------------------------------------------
def train_step(model, loss_fn, optimizer, x, y):
    """One gradient step on one batch; returns ``(loss, output)`` of the forward pass.

    The forward and backward pass are packaged as a ``closure`` and given to ``optimizer.step`` --
    PyTorch's convention, which every nnkit optimizer accepts: ``SGD`` runs it once and then
    updates; ``EMANesterov`` runs it at its look-ahead point, where it needs the gradient.  An
    optimizer whose ``step()`` takes no closure gets the plain sequence of the module docstring.
    """
    return _train_step(model, loss_fn, optimizer, x, y, _step_takes_closure(optimizer))


def _train_step(model, loss_fn, optimizer, x, y, takes_closure: bool):
    result = {}

    def closure():
        optimizer.zero_grad()                  # gradients accumulate: clear the previous step's
        output = model(x)                      # forward
        loss = loss_fn(output, y)
        grad = loss_fn.backward()              # backward: dL/d(output) through every layer into p.grad;
        if getattr(model, "accepts_input_grad_flag", False):   # dL/d(input) is not needed: skip it, as
            model.backward(grad, input_grad=False)             # PyTorch does for data that needs no grad
        else:
            model.backward(grad)
        result["loss"], result["output"] = loss, output
        return loss

    if takes_closure:
        optimizer.step(closure)
    else:
        closure()
        optimizer.step()
    return float(result["loss"]), result["output"]


def fit(model, loss_fn, optimizer, train, epochs: int = 10, *, val=None, batch_size: int = 32,
        shuffle: bool = True, seed=None, accuracy="auto", scheduler=None, progress: bool = True,
        desc: str = "training") -> History:
    """Train ``model`` for ``epochs`` epochs and return the :class:`History`.

    Parameters
    ----------
    model : nnkit Module
        ``output = model(x)``, ``model.backward(grad_output)``, ``train()``/``eval()``.
    loss_fn : nnkit loss module
        ``value = loss_fn(output, target)``, ``grad = loss_fn.backward()``; reduction 'mean' or 'sum'
        (losses are reported per sample either way).
    optimizer : nnkit optimizer
        Holds ``model.parameters()``; ``zero_grad()`` and ``step()``.
    train : DataLoader or (X, y)
        A pair is wrapped in ``DataLoader(X, y, batch_size, shuffle, seed)``.
    val : (X_val, y_val), optional
        Evaluated after every epoch (``val_loss``, ``val_accuracy``).
    accuracy : 'auto', True or False
        'auto' records accuracy for classification losses (cross-entropy, NLL, BCE, multi-margin).
    scheduler : nnkit.optim scheduler, optional
        ``scheduler.step()`` after every epoch.
    progress : bool
        A tqdm bar over epochs showing the losses (``False`` for none, e.g. in tests).

    If the training loss stops being finite (a learning rate that is too large), training stops
    with a ``RuntimeWarning`` and the history so far is returned.
    """
    _check_model(model)
    reduction = _check_loss(loss_fn)
    if not (hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad")):
        raise TypeError(f"optimizer must have step() and zero_grad(), got {type(optimizer).__name__}")
    epochs = check_positive_int(epochs, "epochs")
    loader = _as_loader(train, batch_size, shuffle, seed, "train")
    if val is not None and not (isinstance(val, (tuple, list)) and len(val) == 2):
        raise TypeError(f"val must be a pair (X_val, y_val), got {type(val).__name__}")
    threshold = _accuracy_threshold(loss_fn, accuracy)
    takes_closure = _step_takes_closure(optimizer)

    history = History()
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress)
    for _ in bar:
        model.train()
        loss_sum, correct, seen = 0.0, 0.0, 0
        for x, y in loader:
            loss, output = _train_step(model, loss_fn, optimizer, x, y, takes_closure)
            n = len(x)
            # 'mean' gives the batch mean, so weight it by the batch size; 'sum' is already a sum.
            loss_sum += loss * n if reduction == "mean" else loss
            if threshold is not None:
                correct += _accuracy(output, y, threshold) * n
            seen += n
        history.train_loss.append(loss_sum / seen)
        if threshold is not None:
            history.train_accuracy.append(correct / seen)
        if hasattr(optimizer, "param_groups"):
            history.lr.append(float(optimizer.param_groups[0]["lr"]))
        if val is not None:
            result = evaluate(model, val[0], val[1], loss_fn, batch_size=max(batch_size, 256),
                              accuracy=threshold is not None)
            history.val_loss.append(result.loss)
            if threshold is not None:
                history.val_accuracy.append(result.accuracy)
        bar.set_postfix({k: f"{getattr(history, k)[-1]:.4f}" for k in ("train_loss", "val_loss", "val_accuracy")
                         if getattr(history, k)}, refresh=False)
        if not math.isfinite(history.train_loss[-1]):
            warnings.warn(f"the training loss became {history.train_loss[-1]} in epoch {len(history)}; "
                          f"training stopped (try a smaller learning rate)", RuntimeWarning, stacklevel=2)
            break
        if scheduler is not None:
            scheduler.step()
    bar.close()
    return history


# --- evaluation ----------------------------------------------------------------------------------
class _EvalMode:
    """``with _EvalMode(model):`` -- eval mode inside, the previous mode restored afterwards."""

    def __init__(self, model):
        self.model, self.was_training = model, getattr(model, "training", True)

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was_training)


def predict(model, X, batch_size: int = 256) -> np.ndarray:
    """The model's outputs on ``X`` in eval mode, computed in batches and concatenated (mode restored)."""
    _check_model(model, needs_backward=False)
    batch_size = check_positive_int(batch_size, "batch_size")
    with _EvalMode(model):
        return np.concatenate([model(x) for x in DataLoader(X, batch_size=batch_size)])


def evaluate(model, X, y, loss_fn=None, batch_size: int = 256, accuracy="auto") -> Evaluation:
    """Mean loss and accuracy of ``model`` on ``(X, y)`` in eval mode (the previous mode is restored).

    ``accuracy='auto'`` measures it for classification losses, or -- without ``loss_fn`` -- when
    ``y`` holds integer labels.  Returns ``Evaluation(loss, accuracy)`` (``None`` for what was not
    measured).
    """
    _check_model(model, needs_backward=False)
    batch_size = check_positive_int(batch_size, "batch_size")
    reduction = _check_loss(loss_fn) if loss_fn is not None else None
    threshold = _accuracy_threshold(loss_fn, accuracy, y)
    if loss_fn is None and threshold is None:
        raise ValueError("evaluate has nothing to measure: pass loss_fn, or integer labels y for accuracy")
    loss_sum, correct, seen = 0.0, 0.0, 0
    with _EvalMode(model):
        for x, t in DataLoader(X, y, batch_size=batch_size):
            output = model(x)
            n = len(x)
            if loss_fn is not None:
                value = float(loss_fn(output, t))
                loss_sum += value * n if reduction == "mean" else value
            if threshold is not None:
                correct += _accuracy(output, t, threshold) * n
            seen += n
    return Evaluation(loss_sum / seen if loss_fn is not None else None,
                      correct / seen if threshold is not None else None)


def accuracy(output, target, threshold: float = 0.5) -> float:
    """The fraction of samples classified correctly.

    * class scores ``(N, C)`` with ``C > 1`` (logits or probabilities): the prediction is the argmax;
      ``target`` holds class indices ``(N,)`` or one-hot rows ``(N, C)``;
    * one score per sample, ``(N,)`` or ``(N, 1)``: the prediction is ``score > threshold`` --
      0.5 for a probability, 0 for a logit -- compared with 0/1 targets.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a real number, got {type(threshold).__name__}")
    return _accuracy(output, target, float(threshold))


def _accuracy(output, target, threshold: float) -> float:
    out = as_float_array(output, "accuracy output")
    t = np.asarray(target)
    if out.ndim == 0 or len(out) == 0:
        raise ValueError(f"accuracy needs a batch of outputs (N, ...) with N >= 1, got shape {tuple(out.shape)}")
    if out.ndim == 2 and out.shape[1] > 1:
        predicted = out.argmax(axis=1)
        if t.shape == out.shape:
            t = t.argmax(axis=1)               # one-hot targets
    elif out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        predicted = (out.reshape(-1) > threshold).astype(np.int64)
        t = t.reshape(-1) if t.ndim == 2 and t.shape[1] == 1 else t
        if t.size and not np.isin(t, (0, 1)).all():
            raise ValueError("accuracy with one score per sample needs 0/1 targets")
    else:
        raise ValueError(f"accuracy expects outputs of shape (N, C) or (N,), got {tuple(out.shape)}")
    if t.shape != predicted.shape:
        raise ValueError(f"accuracy: {len(predicted)} predictions but target of shape {tuple(t.shape)}")
    return float(np.mean(predicted == t))
