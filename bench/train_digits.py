"""Accuracy benchmark (and the first act of `make demo`): nnkit models on the digits images.

    python bench/train_digits.py [--out DIR] [--seed 0]

Trains an MLP and a small CNN written with nnkit on scikit-learn's bundled 8×8 digits (a stratified
80/20 split), with progress bars; prints test accuracy and training time for each against the targets
(MLP ≥ 97 %, CNN ≥ 98 %, each in under a minute on 2 cores), and saves a loss/accuracy plot.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Batches of 32 make small matrix products: one BLAS thread is as fast, and a second thread that spins
# while another process holds the other core makes each product ~30x slower (measured; bench/README.md).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from nnkit import nn, optim  # noqa: E402
from nnkit.data import load_digits  # noqa: E402
from nnkit.train import evaluate, fit  # noqa: E402

TARGETS = {"MLP": 0.97, "CNN": 0.98}
TIME_LIMIT = 60.0


def mlp(seed: int) -> nn.Sequential:
    """64 → 256 → 128 → 10 with ReLU: the lectures' multilayer perceptron."""
    return nn.Sequential(nn.Linear(64, 256, seed=seed), nn.ReLU(),
                         nn.Linear(256, 128, seed=seed + 1), nn.ReLU(),
                         nn.Linear(128, 10, seed=seed + 2))


def cnn(seed: int) -> nn.Sequential:
    """Two 3×3 convolutions, one 2×2 max-pooling, two fully connected layers (lecture 3, «Сверточный слой»)."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, seed=seed), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1, seed=seed + 1), nn.ReLU(),
                         nn.MaxPool2d(2),
                         nn.Flatten(),
                         nn.Linear(32 * 4 * 4, 128, seed=seed + 2), nn.ReLU(),
                         nn.Linear(128, 10, seed=seed + 3))


def with_shifts(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images plus copies shifted by one pixel up, down, left and right (zeros shifted in).

    Handwriting moves around inside its box; showing the network shifted copies teaches it that a
    digit one pixel to the left is the same digit -- five times the data for free.
    """
    images = X.reshape(len(X), 8, 8)
    copies = [images]
    for axis, step in ((1, 1), (1, -1), (2, 1), (2, -1)):
        shifted = np.roll(images, step, axis=axis)
        edge = 0 if step == 1 else -1
        if axis == 1:
            shifted[:, edge, :] = 0
        else:
            shifted[:, :, edge] = 0
        copies.append(shifted)
    X_aug = np.concatenate(copies).reshape((-1,) + X.shape[1:])
    return X_aug, np.tile(y, len(copies))


def train(name: str, model, data, epochs: int, seed: int, progress: bool = True):
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    scheduler = optim.ExponentialLR(optimizer, gamma=0.8)  # smaller steps late in training settle the weights
    start = time.perf_counter()
    history = fit(model, loss_fn, optimizer, with_shifts(data.X_train, data.y_train), epochs=epochs, batch_size=32,
                  val=(data.X_test, data.y_test), seed=seed, scheduler=scheduler, progress=progress, desc=name)
    seconds = time.perf_counter() - start
    test = evaluate(model, data.X_test, data.y_test, loss_fn)
    return history, test.accuracy, seconds


def run(out: Path | None = None, seed: int = 0, plot: bool = True, progress: bool = True) -> dict:
    results = {}
    flat = load_digits(flatten=True, seed=seed)
    images = load_digits(seed=seed)
    for name, model, data, epochs in (("MLP", mlp(seed), flat, 20), ("CNN", cnn(seed), images, 12)):
        history, acc, seconds = train(name, model, data, epochs, seed, progress)
        results[name] = (history, acc, seconds)
    print(f"\n{'model':<6} {'test accuracy':>14} {'target':>8} {'train time':>11}  verdict")
    for name, (_, acc, seconds) in results.items():
        ok = acc >= TARGETS[name] and seconds < TIME_LIMIT
        print(f"{name:<6} {acc:>13.2%} {TARGETS[name]:>8.0%} {seconds:>10.1f}s  {'PASS' if ok else 'FAIL'}")
    print(f"({len(flat.y_test)} test images; seed {seed}; {np.__name__} {np.__version__})")
    if plot and out is not None:
        save_plot(results, Path(out) / "digits_training.png")
    return results


def save_plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for name, (history, _, _) in results.items():
        epochs = np.arange(1, len(history) + 1)
        ax_loss.plot(epochs, history.train_loss, label=f"{name} train")
        ax_loss.plot(epochs, history.val_loss, "--", label=f"{name} test")
        ax_acc.plot(epochs, history.val_accuracy, label=f"{name} test")
    ax_loss.set(title="Cross-entropy loss", xlabel="epoch", ylabel="loss", yscale="log")
    ax_acc.set(title="Test accuracy on the digits", xlabel="epoch", ylabel="accuracy", ylim=(0.8, 1.0))
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench/output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    run(Path(args.out), seed=args.seed, plot=not args.no_plot)


if __name__ == "__main__":
    main()
