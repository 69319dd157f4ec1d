"""nnkit against PyTorch at every thread count, side by side in one run: training-step speed of the core layers.

    python bench/bench_speed.py                      # 1 thread and all cores (here --threads 1,2)
    python bench/bench_speed.py --threads 1,2,all    # any list; "all" (or "N") = every core this process may use
    python bench/bench_speed.py --threads 1 --clock cpu    # CPU time of one thread (a busy machine)
    python bench/bench_speed.py --only Conv2d --repeats 11  # some cases, more repeats

Both libraries run in float32 with the SAME number of threads, set in the same process before each
timed block: ``torch.set_num_threads(t)`` for PyTorch and ``threadpoolctl.threadpool_limits(t, "blas")``
for numpy's BLAS (numpy's element-wise operations are single-threaded anyway).  Without threadpoolctl,
or with ``--isolate``, every (repeat, thread count) runs in a fresh subprocess started with
``OPENBLAS_NUM_THREADS=t OMP_NUM_THREADS=t`` instead.

How one case is timed, for a figure that is stable on a shared, noisy machine: ``--repeats`` rounds;
in each round every thread count in turn (the order reversed every other round), and for each a
block of ``--calls`` calls of nnkit and one of PyTorch (which goes first alternates too).  The ratio
of a round is nnkit's median call over PyTorch's median call, both measured seconds apart; the
figure printed is the median of the rounds' ratios, with their range.  Before every block the script
pauses ``--settle`` seconds: an idle thread pool keeps spinning for a while after its last call
(OpenBLAS's for about 2**28 cycles, ~0.1 s) and would steal a core from the library timed next.
After the pause, two untimed calls of the library about to be timed wake its own threads (and the
cores they run on): the first call after 0.2 s of sleep measured ~35% slower (nnkit's Conv2d at 2
threads, 11.2 against 8.1 ms back to back), and a training loop never pauses between its steps.

Cases: (a) an MLP 784-512-256-10 training step at batch 256 (forward, cross-entropy, backward,
SGD step), once with dL/d(input) computed by both libraries (PyTorch's input requires grad) and once
skipped by both (``backward(..., input_grad=False)``, what ``nnkit.train.fit`` does).
(b) Conv2d forward + backward (input, weight and bias gradients) on four shapes, each followed by
an information row: the three matrix products of nnkit's im2col for that layer alone (numpy's BLAS,
same shapes and FLOPs) against PyTorch's whole conv step -- what nnkit cannot beat without a better
matrix product; (c) MaxPool2d 2x2 forward + backward.  Every ratio with a target is checked at
every thread count; exit status 1 if any misses.  The targets are the course's goal, nnkit within
2x PyTorch's time at every thread count, and at one thread the MLP's stricter 1.15 (bench/README.md).

``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE``: if set, they are removed and the script restarts
itself, because forcing an older OpenBLAS kernel (e.g. ``Haswell`` on an AVX-512 CPU) makes
numpy's matrix products much slower while PyTorch (MKL) is unaffected; ``--keep-openblas-env``
measures with them.  The header prints the kernel actually used.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
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


def conv_gemm_case(x_shape, out_channels, kernel_size, stride=1, padding=0, seed=0):
    """numpy's part of a Conv2d step alone: its three matrix products, against PyTorch's whole conv step.

    The products nnkit's im2col makes for this layer, with the same shapes and FLOPs, on arrays
    prepared once: ``cols @ W`` (forward), ``g^T @ cols`` (dL/dW) and ``g @ W^T`` (dL/dcols).  No
    im2col copy, no col2im, nothing else: a ratio near or above the target says that numpy's BLAS
    alone, not nnkit's data movement, is what keeps the conv row from it.
    """
    n, c, h, w = x_shape
    oh = (h + 2 * padding - kernel_size) // stride + 1
    ow = (w + 2 * padding - kernel_size) // stride + 1
    rows, k = n * oh * ow, c * kernel_size * kernel_size
    rng = np.random.default_rng(seed)
    cols = rng.standard_normal((rows, k + 1)).astype(DT)
    weights = rng.standard_normal((k + 1, out_channels)).astype(DT)
    g = rng.standard_normal((rows, out_channels)).astype(DT)
    y, dw, dcols = (np.empty(s, DT) for s in ((rows, out_channels), (out_channels, k + 1), (rows, k)))

    def gemm_step():
        np.matmul(cols, weights, out=y)
        np.matmul(g.T, cols, out=dw)
        np.matmul(g, weights[:k].T, out=dcols)

    _, torch_step = conv_case(x_shape, out_channels, kernel_size, stride, padding, seed)
    return gemm_step, torch_step


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
    # name, factory, target ratio nnkit / PyTorch: one number for every thread count, or a pair
    # (1 thread, more threads); None: for information
    ("MLP 784-512-256-10, batch 256: fwd+bwd+SGD", lambda: mlp_case(), (1.15, 2.0)),
    ("  same, both skipping dL/d(input) (as in fit)", lambda: mlp_case(input_grad=False), (1.15, 2.0)),
    ("Conv2d 128x1x28x28 -> 8, k5 p2: fwd+bwd", lambda: conv_case((128, 1, 28, 28), 8, 5, 1, 2), 2.0),
    ("  only its 3 GEMMs (numpy), 128x1x28x28 -> 8", lambda: conv_gemm_case((128, 1, 28, 28), 8, 5, 1, 2), None),
    ("Conv2d 64x3x32x32 -> 16, k3 p1: fwd+bwd", lambda: conv_case((64, 3, 32, 32), 16, 3, 1, 1), 2.0),
    ("  only its 3 GEMMs (numpy), 64x3x32x32 -> 16", lambda: conv_gemm_case((64, 3, 32, 32), 16, 3, 1, 1), None),
    ("Conv2d 64x16x16x16 -> 32, k3 p1: fwd+bwd", lambda: conv_case((64, 16, 16, 16), 32, 3, 1, 1), 2.0),
    ("  only its 3 GEMMs (numpy), 64x16x16x16 -> 32", lambda: conv_gemm_case((64, 16, 16, 16), 32, 3, 1, 1), None),
    ("Conv2d 64x16x32x32 -> 32, k3 s2 p1: fwd+bwd", lambda: conv_case((64, 16, 32, 32), 32, 3, 2, 1), 2.0),
    ("  only its 3 GEMMs (numpy), 64x16x32x32 -> 32", lambda: conv_gemm_case((64, 16, 32, 32), 32, 3, 2, 1), None),
    ("MaxPool2d 2x2 on 64x16x32x32: fwd+bwd", lambda: maxpool_case((64, 16, 32, 32)), 2.0),
]
assert len({name for name, _, _ in CASES}) == len(CASES), "case names key the results: they must differ"


# --- threads --------------------------------------------------------------------------------------
def all_cores() -> int:
    """The cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):   # not Linux
        return os.cpu_count() or 1


def parse_threads(text: str) -> list[int]:
    """``"1,2,all"`` -> ``[1, 2, <all cores>]``, duplicates dropped, order kept."""
    counts = []
    for part in text.split(","):
        part = part.strip().lower()
        n = all_cores() if part in ("all", "n") else int(part)
        if n < 1:
            raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {n}")
        if n not in counts:
            counts.append(n)
    return counts


def set_threads(n: int) -> None:
    torch.set_num_threads(n)
    nnkit.set_num_threads(n)   # nnkit's own threads (im2col, col2im) and, through threadpoolctl, numpy's BLAS
    if threadpool_limits is not None:
        threadpool_limits(limits=n, user_api="blas")   # numpy's OpenBLAS; takes effect immediately


def blas_description() -> str:
    if threadpool_info is None:
        return "threadpoolctl not installed: BLAS threads set by OPENBLAS_NUM_THREADS in subprocesses"
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            return f"{lib.get('internal_api')} {lib.get('version')}, kernel {lib.get('architecture')}"
    return "no BLAS library found by threadpoolctl"


# --- timing ---------------------------------------------------------------------------------------
WAKE_CALLS = 2   # untimed calls after each pause: threads and cores asleep for 0.2 s take a few ms to wake


def time_block(fn, calls: int, clock) -> float:
    """Median seconds of ``calls`` consecutive calls."""
    times = []
    for _ in range(calls):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return float(np.median(times))


def one_round(steps, threads: list[int], calls: int, settle: float, clock, r: int) -> dict:
    """One round of one case: for every thread count, (nnkit, PyTorch) median seconds per call."""
    nnkit_step, torch_step = steps
    out = {}
    for i, t in enumerate(threads if r % 2 == 0 else threads[::-1]):
        set_threads(t)
        nnkit_step()                    # warm at this thread count (pools started, scratch memory sized)
        torch_step()
        pair = [("nnkit", nnkit_step), ("torch", torch_step)]
        result = {}
        for name, fn in (pair if (r + i) % 2 == 0 else pair[::-1]):
            time.sleep(settle)          # let the other library's idle threads stop spinning
            for _ in range(WAKE_CALLS):  # ... then wake this one's (a training loop never pauses between steps)
                fn()
            result[name] = time_block(fn, calls, clock)
        out[t] = (result["nnkit"], result["torch"])
    return out


def run_cases(cases, threads, repeats, calls, settle, clock, progress=None) -> dict:
    """``{case name: {threads: [(nnkit s, torch s) per round]}}``, all in this process."""
    results = {}
    for name, factory, _ in cases:
        steps = factory()
        set_threads(threads[0])
        for fn in steps * 2:            # first calls: allocations, thread pools, oneDNN's kernel choice
            fn()
        per_thread = {t: [] for t in threads}
        for r in range(repeats):
            for t, pair in one_round(steps, threads, calls, settle, clock, r).items():
                per_thread[t].append(pair)
        results[name] = per_thread
        if progress:
            progress(name, per_thread)
    return results


def run_isolated(cases, threads, repeats, calls, settle, clock_name, progress=None) -> dict:
    """The same measurements, each (round, thread count) in a fresh process with *_NUM_THREADS set."""
    results = {name: {t: [] for t in threads} for name, _, _ in cases}
    names = [name for name, _, _ in cases]
    for r in range(repeats):
        for t in (threads if r % 2 == 0 else threads[::-1]):
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), NNKIT_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
            cmd = [sys.executable, __file__, "--worker", "--threads", str(t), "--calls", str(calls),
                   "--settle", str(settle), "--clock", clock_name, "--round", str(r), "--keep-openblas-env",
                   "--only", json.dumps(names)]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            for name, pair in json.loads(done.stdout.strip().splitlines()[-1]).items():
                results[name][t].append(tuple(pair))
    if progress:
        for name in names:
            progress(name, results[name])
    return results


# --- report ---------------------------------------------------------------------------------------
def summary(pairs) -> tuple[float, float, float, float, float]:
    """nnkit ms, PyTorch ms (medians over rounds), median ratio and the range of the rounds' ratios."""
    ours = np.array([p[0] for p in pairs])
    theirs = np.array([p[1] for p in pairs])
    ratios = ours / theirs
    return (1e3 * float(np.median(ours)), 1e3 * float(np.median(theirs)), float(np.median(ratios)),
            float(ratios.min()), float(ratios.max()))


def table(results, cases, threads) -> tuple[list[str], int]:
    """A markdown table: per thread count t, nnkit ms, PyTorch ms and the ratio with its range."""
    head = ["case", "target"]
    for t in threads:
        head += [f"{t}T nnkit ms", f"{t}T torch ms", f"{t}T ratio (range)"]
    head.append("result")
    rows = []
    failures = 0
    for name, _, target in cases:
        shown = "" if target is None else (f"<= {target[0]} / {target[1]}" if isinstance(target, tuple)
                                          else f"<= {target}")
        row = [name, shown]
        ok = True
        for t in threads:
            ours, theirs, ratio, lo, hi = summary(results[name][t])
            limit = target[0 if t == 1 else 1] if isinstance(target, tuple) else target
            missed = limit is not None and ratio > limit
            ok &= not missed
            row += [f"{ours:.2f}", f"{theirs:.2f}", f"{ratio:.2f}{'*' if missed else ''} ({lo:.2f}-{hi:.2f})"]
        verdict = "info" if target is None else ("PASS" if ok else "FAIL")
        failures += verdict == "FAIL"
        rows.append(row + [verdict])
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) + " |"
    lines = [fmt(head), "|" + "|".join(("-" * (w + 1)) + (":" if i else "-") for i, w in enumerate(widths)) + "|"]
    return lines + [fmt(r) for r in rows], failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=parse_threads, default=None,
                        help='comma-separated thread counts for both libraries; "all" (or "N") = every core '
                             '(default: 1,all)')
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds per case (default 7)")
    parser.add_argument("--calls", type=int, default=5, help="calls per timed block (default 5)")
    parser.add_argument("--settle", type=float, default=0.2,
                        help="seconds of pause before each timed block (default 0.2; see the docstring)")
    parser.add_argument("--only", default=None,
                        help="run only the cases whose name contains this text (e.g. Conv2d)")
    parser.add_argument("--isolate", action="store_true",
                        help="a fresh subprocess per (round, thread count), threads set by environment variables")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (by default the script restarts without them)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: elapsed time (default); cpu: CPU time of the calling thread, which "
                             "leaves out time stolen by other processes (only with --threads 1)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    threads = args.threads or parse_threads("1,all")
    if args.clock == "cpu" and threads != [1]:
        parser.error("--clock cpu measures one thread; use it with --threads 1")
    clock = time.perf_counter if args.clock == "wall" else time.thread_time

    if args.worker:                   # one round at one thread count, for run_isolated; JSON on stdout
        wanted = json.loads(args.only)
        cases = [c for c in CASES if c[0] in wanted]
        set_threads(threads[0])
        out = {}
        for name, factory, _ in cases:
            steps = factory()
            for fn in steps * 2:
                fn()
            out[name] = one_round(steps, threads, args.calls, args.settle, clock, args.round)[threads[0]]
        print(json.dumps(out))
        return 0

    cases, keep = [], False
    for case in CASES:                # an indented row goes with the case above it
        if not case[0].startswith("  "):
            keep = args.only is None or args.only.lower() in case[0].lower()
        if keep:
            cases.append(case)
    if not cases:
        parser.error(f"no case matches --only {args.only!r}")
    isolate = args.isolate or threadpool_limits is None
    removed = os.environ.get("NNKIT_BENCH_REMOVED_OPENBLAS_ENV")
    env = {k: os.environ.get(k, "(unset)") for k in OPENBLAS_VARS + ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print(f"nnkit {nnkit.__version__}, numpy {np.__version__}, torch {torch.__version__}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs ({all_cores()} usable)")
    print(f"threads: {', '.join(map(str, threads))} -- each for both libraries "
          + ("(a subprocess per round and thread count, *_NUM_THREADS set)" if isolate else
             "(torch.set_num_threads and threadpoolctl, switched in this process)")
          + f"; numpy BLAS: {blas_description()}")
    print("env: " + ", ".join(f"{k}={v}" for k, v in env.items())
          + (f"  (removed for this run: {removed}; --keep-openblas-env keeps them)" if removed else ""))
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} on {all_cores()} cores (other processes slow both "
          "libraries; only ratios from one run are comparable)")
    if load_before[0] > all_cores() - 0.5:
        print(f"WARNING: the machine is busy (load {load_before[0]:.1f}): timings are noisy, multi-threaded "
              "ones most (a thread that loses its core holds up the others at every barrier)")
    print(f"float32; {args.clock} clock; per case {args.repeats} interleaved rounds, each a block of "
          f"{args.calls} calls per library and thread count after a {args.settle:g} s pause; the ratio is the "
          "median over rounds of (nnkit median call / PyTorch median call), the range its min-max\n")

    def progress(name, per_thread):
        text = ", ".join(f"{t} thr {summary(p)[2]:.2f}" for t, p in per_thread.items())
        print(f"  {name.strip()}: {text}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    if isolate:
        results = run_isolated(cases, threads, args.repeats, args.calls, args.settle, args.clock, progress)
    else:
        results = run_cases(cases, threads, args.repeats, args.calls, args.settle, clock, progress)
    lines, failures = table(results, cases, threads)
    print("\n".join(lines))
    print(f"\n'NT' = N threads for both libraries; a target 'a / b' is a at 1 thread, b at more; "
          f"'*' marks a ratio above its target.  "
          f"{time.perf_counter() - start:.0f} s; "
          f"load average after: {os.getloadavg()[0]:.2f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
