"""nnkit against PyTorch, side by side in one process: training-step speed of the core layers.

    python bench/bench_speed.py                  # 1 thread for both libraries (the default)
    python bench/bench_speed.py --threads 2      # both libraries on 2 threads
    python bench/bench_speed.py --clock cpu      # CPU time instead of elapsed time (busy machine)

Both libraries run in float32 with the same number of threads: ``torch.set_num_threads(n)`` for
PyTorch and ``threadpoolctl.threadpool_limits(n)`` for numpy's BLAS (numpy's element-wise
operations are single-threaded anyway).  Each case is warmed up, then timed in alternating blocks
(nnkit, PyTorch, PyTorch, nnkit, ...) so that a slow spell of a shared machine hits both; the
figure is the median time of one call.  The ratio is nnkit / PyTorch, and each row is checked
against its target.

Cases: (a) an MLP 784-512-256-10 training step at batch 256 (forward, cross-entropy, backward,
SGD step), once with dL/d(input) computed by both libraries (PyTorch's input requires grad) and once
skipped by both (``backward(..., input_grad=False)``, what ``nnkit.train.fit`` does).
(b) Conv2d forward + backward (input, weight and bias gradients) on four shapes; (c) MaxPool2d
2x2 forward + backward.  Exit status 1 if any row misses its target.

``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE``: if set, they are removed and the script restarts
itself, because forcing an older OpenBLAS kernel (e.g. ``Haswell`` on an AVX-512 CPU) makes
numpy's matrix products much slower while PyTorch (MKL) is unaffected; ``--keep-openblas-env``
measures with them.  The header prints the kernel actually used.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def restart_without_openblas_overrides() -> None:
    """numpy reads OPENBLAS_* when it loads, so removing them means starting Python again."""
    present = [k for k in OPENBLAS_VARS if k in os.environ]
    if not present or "--keep-openblas-env" in sys.argv[1:] or "NNKIT_BENCH_REMOVED_OPENBLAS_ENV" in os.environ:
        return
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
    env["NNKIT_BENCH_REMOVED_OPENBLAS_ENV"] = ", ".join(f"{k}={os.environ[k]}" for k in present)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


if __name__ == "__main__":
    restart_without_openblas_overrides()     # before numpy is imported

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout without installing

import numpy as np
import torch

import nnkit
from nnkit import nn as knn
from nnkit.optim import SGD

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:   # pragma: no cover - threadpoolctl comes with scikit-learn, a declared dependency
    threadpool_info = threadpool_limits = None

DT = np.float32


# --- the cases: each returns (nnkit_step, torch_step), two argument-less callables -------------------
def mlp_case(batch=256, sizes=(784, 512, 256, 10), seed=0, input_grad=True):
    """Both libraries compute dL/d(input), or (``input_grad=False``, as in training) both skip it."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(DT)
    labels = rng.integers(0, sizes[-1], size=batch)

    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(knn.Linear(a, b, seed=seed + 2 * i))
        if i < len(sizes) - 2:
            layers.append(knn.ReLU())
    net = knn.Sequential(*layers)
    loss = knn.CrossEntropyLoss()
    opt = SGD(net.parameters(), lr=0.01)

    def nnkit_step():
        opt.zero_grad()
        loss(net(x), labels)
        net.backward(loss.backward(), input_grad=input_grad)
        opt.step()

    tlayers = []
    for layer in layers:
        if isinstance(layer, knn.Linear):
            t = torch.nn.Linear(layer.in_features, layer.out_features)
            with torch.no_grad():
                t.weight.copy_(torch.from_numpy(layer.weight.data))
                t.bias.copy_(torch.from_numpy(layer.bias.data))
            tlayers.append(t)
        else:
            tlayers.append(torch.nn.ReLU())
    tnet = torch.nn.Sequential(*tlayers)
    tloss = torch.nn.CrossEntropyLoss()
    topt = torch.optim.SGD(tnet.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x).requires_grad_(input_grad), torch.from_numpy(labels)

    def torch_step():
        topt.zero_grad()
        xt.grad = None
        tloss(tnet(xt), yt).backward()
        topt.step()

    return nnkit_step, torch_step


def conv_case(x_shape, out_channels, kernel_size, stride=1, padding=0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(DT)
    conv = knn.Conv2d(x_shape[1], out_channels, kernel_size, stride, padding, seed=seed)
    g = rng.standard_normal(conv(x).shape).astype(DT)

    def nnkit_step():
        conv.zero_grad()
        conv(x)
        conv.backward(g)

    tconv = torch.nn.Conv2d(x_shape[1], out_channels, kernel_size, stride, padding)
    xt = torch.from_numpy(x).requires_grad_()     # PyTorch computes the input gradient too
    gt = torch.from_numpy(g)

    def torch_step():
        tconv.zero_grad()
        xt.grad = None
        tconv(xt).backward(gt)

    return nnkit_step, torch_step


def maxpool_case(x_shape, kernel_size=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(DT)
    pool = knn.MaxPool2d(kernel_size)
    g = rng.standard_normal(pool(x).shape).astype(DT)

    def nnkit_step():
        pool(x)
        pool.backward(g)

    tpool = torch.nn.MaxPool2d(kernel_size)
    xt = torch.from_numpy(x).requires_grad_()
    gt = torch.from_numpy(g)

    def torch_step():
        xt.grad = None
        tpool(xt).backward(gt)

    return nnkit_step, torch_step


CASES = [
    # name, factory, target ratio nnkit / PyTorch (None: for information)
    ("MLP 784-512-256-10, batch 256: fwd+bwd+SGD", lambda: mlp_case(), 1.15),
    ("  same, both skipping dL/d(input) (as in fit)", lambda: mlp_case(input_grad=False), 1.15),
    ("Conv2d 128x1x28x28 -> 8, k5 p2: fwd+bwd", lambda: conv_case((128, 1, 28, 28), 8, 5, 1, 2), 2.0),
    ("Conv2d 64x3x32x32 -> 16, k3 p1: fwd+bwd", lambda: conv_case((64, 3, 32, 32), 16, 3, 1, 1), 2.0),
    ("Conv2d 64x16x16x16 -> 32, k3 p1: fwd+bwd", lambda: conv_case((64, 16, 16, 16), 32, 3, 1, 1), 2.0),
    ("Conv2d 64x16x32x32 -> 32, k3 s2 p1: fwd+bwd", lambda: conv_case((64, 16, 32, 32), 32, 3, 2, 1), 2.0),
    ("MaxPool2d 2x2 on 64x16x32x32: fwd+bwd", lambda: maxpool_case((64, 16, 32, 32)), 2.0),
]


# --- timing ---------------------------------------------------------------------------------------
def time_block(fn, calls: int, clock=time.perf_counter) -> list[float]:
    times = []
    for _ in range(calls):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return times


def compare(nnkit_step, torch_step, rounds: int, calls: int, warmup: int = 3,
            clock=time.perf_counter) -> tuple[float, float]:
    """Median seconds per call of each, timed in alternating blocks after a warm-up."""
    for _ in range(warmup):
        nnkit_step()
        torch_step()
    ours, theirs = [], []
    for r in range(rounds):
        order = [(nnkit_step, ours), (torch_step, theirs)]
        for fn, sink in (order if r % 2 == 0 else order[::-1]):
            sink += time_block(fn, calls, clock)
    return float(np.median(ours)), float(np.median(theirs))


def blas_description() -> str:
    if threadpool_info is None:
        return "threadpoolctl not installed: numpy BLAS threads not controlled"
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            return (f"{lib.get('internal_api')} {lib.get('version')}, kernel {lib.get('architecture')}, "
                    f"{lib.get('num_threads')} thread(s)")
    return "no BLAS library found by threadpoolctl"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for both libraries (default 1)")
    parser.add_argument("--rounds", type=int, default=6, help="alternating timing rounds (default 6)")
    parser.add_argument("--calls", type=int, default=5, help="calls per block (default 5)")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (by default the script restarts without them)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: elapsed time (default); cpu: CPU time of the calling thread, which "
                             "leaves out time stolen by other processes (only with --threads 1)")
    args = parser.parse_args(argv)
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu measures one thread; use it with --threads 1")
    clock = time.perf_counter if args.clock == "wall" else time.thread_time

    removed = os.environ.get("NNKIT_BENCH_REMOVED_OPENBLAS_ENV")
    torch.set_num_threads(args.threads)
    limiter = threadpool_limits(args.threads) if threadpool_limits is not None else None

    env = {k: os.environ.get(k, "(unset)") for k in OPENBLAS_VARS}
    print(f"nnkit {nnkit.__version__}, numpy {np.__version__}, torch {torch.__version__}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"threads: {args.threads} for both (torch.get_num_threads() = {torch.get_num_threads()}; "
          f"numpy BLAS: {blas_description()})")
    print("env: " + ", ".join(f"{k}={v}" for k, v in env.items())
          + (f"  (removed for this run: {removed}; --keep-openblas-env keeps them)" if removed else ""))
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f}  (other processes slow both libraries; "
          "the ratio is the robust figure)")
    if load_before[0] > (os.cpu_count() or 1) - args.threads + 0.5:
        print(f"WARNING: the machine is busy (load {load_before[0]:.1f} on {os.cpu_count()} CPUs): timings are noisy"
              + ("; with several threads per library they become erratic (idle thread pools spin while "
                 "the other library runs), prefer --threads 1" if args.threads > 1 else
                 "; --clock cpu leaves out the time other processes take"))
    print(f"float32; {args.clock} clock; warm-up, then the median of {args.rounds} alternating blocks "
          f"of {args.calls} calls each\n")

    header = f"| {'case':<46} | {'nnkit ms':>9} | {'PyTorch ms':>10} | {'ratio':>6} | {'target':>7} | result |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    failures = 0
    for name, factory, target in CASES:
        nnkit_step, torch_step = factory()
        ours, theirs = compare(nnkit_step, torch_step, args.rounds, args.calls, clock=clock)
        ratio = ours / theirs
        if target is None:
            verdict, target_text = "info", ""
        else:
            verdict, target_text = ("PASS" if ratio <= target else "FAIL"), f"<= {target}"
            failures += ratio > target
        print(f"| {name:<46} | {ours * 1e3:9.2f} | {theirs * 1e3:10.2f} | {ratio:6.2f} | "
              f"{target_text:>7} | {verdict:<6} |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    if limiter is not None:
        limiter.restore_original_limits()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
