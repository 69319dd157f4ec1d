"""Conv2d with the batch cut into pieces on nnkit's threads, against one piece on BLAS's threads, and PyTorch.

    python bench/bench_conv_pieces.py [--threads 2] [--rounds 12]

An A/B of ``nnkit.threads`` in one process: for each layer of bench_speed.py's conv rows, rounds of
three blocks -- nnkit as it runs (channels-last layers in pieces, see ``Conv2d._pieces``), nnkit forced
to one piece (BLAS's own threads), PyTorch -- in alternating order, each after a 0.2 s pause and two
untimed calls; prints the median over rounds of each block's median call (ms).  Also the forced
opposite for channels-first layers (pieces), which is why they stay whole.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nnkit  # noqa: E402
from nnkit import threads  # noqa: E402
from nnkit.nn import Conv2d  # noqa: E402

LAYERS = [((128, 1, 28, 28), 8, 5, 1, 2), ((64, 3, 32, 32), 16, 3, 1, 1),
          ((64, 16, 16, 16), 32, 3, 1, 1), ((64, 16, 32, 32), 32, 3, 2, 1)]


def main() -> int:
    import torch
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=threads.get_num_threads())
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    nnkit.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    as_shipped = Conv2d.__dict__["_pieces"]
    one_piece = staticmethod(lambda n, cols, channels_last: [(0, n)])
    all_pieces = staticmethod(lambda n, cols, channels_last: threads.batch_chunks(n, cols.size))
    print(f"{args.threads} threads for nnkit, numpy's BLAS and PyTorch; float32; forward + backward; ms per call")
    for shape, out_channels, k, stride, padding in LAYERS:
        rng = np.random.default_rng(0)
        conv = Conv2d(shape[1], out_channels, k, stride, padding, seed=0)
        x = rng.standard_normal(shape).astype(np.float32)
        g = rng.standard_normal(conv(x).shape).astype(np.float32)
        tconv = torch.nn.Conv2d(shape[1], out_channels, k, stride, padding)
        xt, gt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(g)
        channels_last = conv._channels_last(conv(x).shape[3])
        other = ("one piece", one_piece) if channels_last else ("in pieces", all_pieces)
        variants = {"nnkit": as_shipped, f"nnkit {other[0]}": other[1]}

        def step(name):
            if name == "torch":
                tconv.zero_grad()
                xt.grad = None
                tconv(xt).backward(gt)
                return
            Conv2d._pieces = variants[name]
            conv.zero_grad()
            conv(x)
            conv.backward(g)

        names = [*variants, "torch"]
        medians = {name: [] for name in names}
        try:
            for r in range(args.rounds):
                for name in (names if r % 2 == 0 else names[::-1]):
                    time.sleep(0.2)
                    step(name)
                    step(name)
                    calls = []
                    for _ in range(7):
                        t0 = time.perf_counter()
                        step(name)
                        calls.append(time.perf_counter() - t0)
                    medians[name].append(np.median(calls))
        finally:
            Conv2d._pieces = as_shipped
        layout = "channels-last" if channels_last else "channels-first"
        figures = ", ".join(f"{name} {1e3 * np.median(v):.2f}" for name, v in medians.items())
        print(f"Conv2d {'x'.join(map(str, shape))} -> {out_channels}, k{k} s{stride} p{padding} ({layout}): {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
