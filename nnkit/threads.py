"""How many threads nnkit uses: ``nnkit.set_num_threads(n)`` / ``nnkit.get_num_threads()``, as in PyTorch.

A convolution's step is three matrix products and the copies around them: the im2col copy, col2im's
sums, the padding.  numpy gives the products to its BLAS (OpenBLAS or MKL), which has threads of its
own; the copies are numpy's element-wise code and run on the calling thread only.  Left like that, a
laptop with 8 cores does the copies on one of them while PyTorch uses all eight; worse, BLAS's idle
threads keep spinning for a while after each product (OpenBLAS's for ~0.1 s) and take the cores the
copies could have used.

So nnkit cuts the batch into one piece per thread and runs *all* the work of a piece -- copies and
products -- on one thread, with BLAS on one thread meanwhile (numpy releases the GIL in both).  Each
piece writes only its own images; pieces that add into one result (a weight gradient) write a
partial sum each, added up at the end, so results can differ from one thread count to another in
the last bits, as PyTorch's do.  Work smaller than :data:`MIN_ELEMENTS_PER_THREAD` numbers per
thread stays in one piece, where BLAS uses its own threads: for the 8x8 digits of the lectures a
thread would cost more than it saves.  Without ``threadpoolctl`` (it comes with scikit-learn) nnkit
cannot hold BLAS to one thread, and keeps one piece.

``set_num_threads(n)`` sets both nnkit's pieces and, through ``threadpoolctl``, numpy's BLAS threads,
as ``torch.set_num_threads`` sets PyTorch's.  The default is every core this process may run on, or
``NNKIT_NUM_THREADS`` if set.
"""
from __future__ import annotations

import numbers
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

__all__ = ["set_num_threads", "get_num_threads", "batch_chunks", "run_chunks", "MIN_ELEMENTS_PER_THREAD"]

MIN_ELEMENTS_PER_THREAD = 1 << 18   # 1 MiB of float32 per thread; a thread's hand-over costs ~20-50 us


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _from_environment() -> int:
    value = os.environ.get("NNKIT_NUM_THREADS", "").strip()
    if not value:
        return _usable_cores()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"NNKIT_NUM_THREADS must be a positive integer, got {value!r}")
    return int(value)


_lock = threading.Lock()
_num_threads = _from_environment()
_pool: ThreadPoolExecutor | None = None


def _forget_pool() -> None:
    """After ``fork`` the child has the pool object but none of its threads: start a new one when needed."""
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def get_num_threads() -> int:
    """The number of threads nnkit splits its element-wise work over (``torch.get_num_threads``)."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for nnkit's own work and, if ``threadpoolctl`` is installed, for numpy's BLAS."""
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"set_num_threads expects a positive integer, got {n!r}")
    with _lock:
        old, _pool = _pool, None
        _num_threads = int(n)
    if old is not None:
        old.shutdown(wait=True)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:   # numpy's BLAS then follows OPENBLAS_NUM_THREADS / MKL_NUM_THREADS
        return
    threadpool_limits(limits=int(n), user_api="blas")


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, _num_threads - 1), thread_name_prefix="nnkit")
        return _pool


def _blas_controller():
    """threadpoolctl's controller of the loaded BLAS libraries, made once (None without threadpoolctl)."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
            _controller = ThreadpoolController()
        except ImportError:
            _controller = False
    return _controller or None


_controller = None


def batch_chunks(batch: int, elements: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: the batch cut into as many pieces as threads are worth for ``elements`` numbers."""
    pieces = min(_num_threads, batch, max(1, elements // MIN_ELEMENTS_PER_THREAD))
    if pieces > 1 and _blas_controller() is None:
        pieces = 1
    bounds = [batch * i // pieces for i in range(pieces + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def run_chunks(work: Callable[[int, int, int], None], chunks: list[tuple[int, int]]) -> None:
    """``work(index, start, stop)`` for every piece of :func:`batch_chunks`, on nnkit's threads.

    ``work`` must write only what belongs to its own images, or to its own slot ``index`` of a
    partial result.  One piece runs here, BLAS keeping its threads; several run in parallel with
    BLAS held to one thread (it would otherwise start threads on top of ours).
    """
    if len(chunks) == 1:
        work(0, *chunks[0])
        return
    pool = _get_pool()
    with _blas_controller().limit(limits=1, user_api="blas"):
        futures = [pool.submit(work, i, start, stop) for i, (start, stop) in enumerate(chunks) if i]
        try:
            work(0, *chunks[0])                # the calling thread takes the first piece
        finally:
            for f in futures:
                f.result()                     # re-raises a piece's error here
