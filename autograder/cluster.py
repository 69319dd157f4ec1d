"""Grading on a Dask cluster: ``python -m autograder grade ... --scheduler tcp://HOST:PORT``.

The cluster runs only the sandboxes (:func:`autograder.grading.execute_submission`); preparing, judging, the
journal and the gradebook stay in the ``grade`` process (:mod:`autograder.batch`).

A worker gets grading work only after the grading process has checked it: the check runs *on the worker*
(:func:`verify`: bubblewrap starts, student code would not run as root, seccomp, cgroup limits -- the same
probe as ``python -m autograder doctor``) and compares its grader version with ours.  A worker that passes is
given the resource ``nnkit-sandbox`` (one unit per thread), and every task asks for one unit, so Dask's own
scheduler never sends a submission to an unchecked worker -- workers that join later are checked as they
appear.  Each task checks again before it runs anything (:func:`execute_on_worker`).  A cluster with no safe
worker is an error that names each worker's reason; there is no unsandboxed path.

When a worker dies mid-task, Dask's scheduler gives its tasks to another worker (after
``distributed.scheduler.allowed-failures`` deaths of the same task, that student gets a "grader error" row and
is graded again by ``--resume``).

Start a cluster (README "Grading on a cluster")::

    dask scheduler --port 8786
    dask worker tcp://HOST:8786 --nthreads 1 --nworkers 2 --preload autograder.cluster   # on each machine

``--preload autograder.cluster`` makes an unsafe worker refuse to start, with the reason (optional: the
grading process checks every worker anyway).  :func:`slurm_cluster` starts workers as SLURM jobs with
dask-jobqueue.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
import uuid
from pathlib import Path

from . import sandbox
from .batch import BatchError, IN_FLIGHT_PER_WORKER
from .grading import execute_submission

RESOURCE = "nnkit-sandbox"
PACKAGE = Path(__file__).resolve().parent
# What decides how student code is run and what comes back: a worker must run the same files.
VERSIONED = ("grading.py", "checks.py", "safejson.py", "sandbox/__init__.py", "sandbox/bwrap.py",
             "sandbox/cgroups.py", "sandbox/harness.py", "sandbox/syscall_filter.py", "sandbox/wire.py")


class UnsafeWorker(RuntimeError):
    """Raised on a worker that cannot sandbox: no student code ran there."""


def grader_version() -> str:
    digest = hashlib.sha256()
    for name in VERSIONED:
        digest.update(name.encode() + b"\0" + (PACKAGE / name).read_bytes())
    return digest.hexdigest()[:16]


_verdict: dict = {}


def local_verdict(refresh: bool = False) -> dict:
    """This process's sandbox check (cached): {"safe", "summary" or "reason", "warnings", "version"}."""
    if refresh or not _verdict:
        try:
            posture = sandbox.check_available()
            verdict = {"safe": True, "summary": posture.summary(), "warnings": list(posture.warnings)}
        except sandbox.SandboxUnavailable as exc:
            verdict = {"safe": False, "reason": str(exc)}
        except Exception as exc:  # noqa: BLE001 - any failure of the check is a refusal, with its reason
            verdict = {"safe": False, "reason": f"the sandbox check failed: {type(exc).__name__}: {exc}"}
        _verdict.clear()
        _verdict.update(verdict, version=grader_version())
    return dict(_verdict)


async def verify(dask_worker, version: str) -> dict:
    """Run on each worker by the grading process: check the sandbox there; a safe worker of the same grader
    version offers one ``nnkit-sandbox`` unit per thread, any other none."""
    verdict = await asyncio.get_running_loop().run_in_executor(None, local_verdict, True)
    if verdict["safe"] and verdict["version"] != version:
        verdict = {**verdict, "safe": False,
                   "reason": f"it runs another version of the grader ({verdict['version']}, the grading process "
                             f"{version}): install the same course package on every worker"}
    await dask_worker.set_resources(**{RESOURCE: dask_worker.state.nthreads if verdict["safe"] else 0})
    return verdict


def execute_on_worker(job):
    """A Dask task: one submission's sandboxes, on a worker whose own check passed (checked again here)."""
    from distributed import get_worker
    verdict = local_verdict()
    address = get_worker().address
    if not verdict["safe"]:
        raise UnsafeWorker(f"{address}: {verdict['reason']}")
    outcomes = execute_submission(job)
    for outcome in outcomes:
        outcome.worker = address
    return outcomes


def dask_setup(worker) -> None:
    """``dask worker ... --preload autograder.cluster``: an unsafe worker refuses to start, saying why.

    (Dask logs a preload's exception and starts the worker anyway, so the process exits here: status 78,
    EX_CONFIG.)"""
    verdict = local_verdict(refresh=True)
    if not verdict["safe"]:
        print(f"autograder: this worker cannot grade safely, so it does not start: {verdict['reason']}",
              file=sys.stderr, flush=True)
        os._exit(78)
    print(f"autograder: {verdict['summary']}", file=sys.stderr, flush=True)


class DaskRunner:
    """Runs submission jobs on a Dask cluster's checked workers; the same interface as batch.LocalRunner."""

    def __init__(self, address: str, check_seconds: float = 5.0, no_worker_seconds: float = 120.0,
                 log=lambda text: print(text, file=sys.stderr)):
        self.address = address
        self.check_seconds = check_seconds            # how often to look for new or lost workers
        self.no_worker_seconds = no_worker_seconds    # how long to wait with no safe worker before giving up
        self.log = log
        self.safe: dict[str, int] = {}                # address -> threads
        self.unsafe: dict[str, str] = {}              # address -> reason
        self.description = f"Dask scheduler {address}"

    def __enter__(self):
        from distributed import Client
        try:
            self.client = Client(self.address, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise BatchError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from exc
        self.version = grader_version()
        self._check_workers()
        if not self.safe:
            reasons = "\n  ".join(f"{a}: {r}" for a, r in sorted(self.unsafe.items())) or "no worker is connected"
            self.client.close()
            raise BatchError(f"no worker of the Dask cluster at {self.address} can grade safely, so nothing was "
                             f"graded:\n  {reasons}")
        self.description = (f"Dask scheduler {self.address}: {len(self.safe)} checked worker(s), "
                            f"{sum(self.safe.values())} thread(s)")
        return self

    def __exit__(self, *exc):
        self.client.close()

    def _check_workers(self) -> set:
        """Check the workers that joined since the last look; forget those that left.  Returns the live ones."""
        live = self.client.scheduler_info(n_workers=-1)["workers"]
        for gone in set(self.safe) - set(live):
            del self.safe[gone]
        new = [a for a in live if a not in self.safe and a not in self.unsafe]
        if new:
            verdicts = self.client.run(verify, version=self.version, workers=new, on_error="return")
            for address, verdict in verdicts.items():
                if not isinstance(verdict, dict):
                    self.unsafe[address] = f"its check failed: {verdict!r}"
                elif verdict["safe"]:
                    self.safe[address] = live[address].get("nthreads", 1)
                else:
                    self.unsafe[address] = verdict["reason"]
                if address in self.unsafe:
                    self.log(f"worker {address} will get no submissions: {self.unsafe[address]}")
        return set(live)

    def _refuse(self, address: str, reason: str) -> None:
        self.safe.pop(address, None)
        self.unsafe[address] = reason
        self.log(f"worker {address} refused a submission and will get no more: {reason}")
        try:
            self.client.run(_withdraw, workers=[address], on_error="ignore")
        except Exception:  # noqa: BLE001 - a worker that is gone cannot be asked
            pass

    def run(self, jobs):
        from distributed import wait
        futures: dict = {}                     # future -> (student, job)
        pending = iter(jobs)
        exhausted = False
        last_check = time.monotonic()
        no_worker_since = None

        def submit(sid, job):
            fut = self.client.submit(execute_on_worker, job, key=f"autograde-{sid}-{uuid.uuid4().hex[:8]}",
                                     resources={RESOURCE: 1}, pure=False)
            futures[fut] = (sid, job)

        def fill():
            nonlocal exhausted
            window = max(2, IN_FLIGHT_PER_WORKER * max(1, sum(self.safe.values())))
            while not exhausted and len(futures) < window:
                try:
                    submit(*next(pending))
                except StopIteration:
                    exhausted = True

        fill()
        while futures:
            try:
                with self.client.as_current():
                    done, _ = wait(list(futures), timeout=self.check_seconds, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            if time.monotonic() - last_check >= self.check_seconds or not done:
                self._check_workers()
                last_check = time.monotonic()
                if self.safe:
                    no_worker_since = None
                elif no_worker_since is None:
                    no_worker_since = time.monotonic()
                    self.log(f"no checked worker is connected to {self.address}: waiting up to "
                             f"{self.no_worker_seconds:g} s for one")
                elif time.monotonic() - no_worker_since > self.no_worker_seconds:
                    for fut in futures:
                        fut.cancel()
                    raise BatchError(f"no worker of the Dask cluster at {self.address} could grade for "
                                     f"{self.no_worker_seconds:g} s; the submissions graded so far are in the "
                                     "journal (grade again with --resume)")
            for fut in done:
                sid, job = futures.pop(fut)
                if fut.status == "finished":
                    yield sid, fut.result()
                else:
                    exc = fut.exception()
                    if isinstance(exc, UnsafeWorker):
                        self._refuse(*str(exc).split(": ", 1))
                        submit(sid, job)                 # nothing ran: it goes to another worker
                    else:
                        yield sid, exc
                fut.release()
            fill()


async def _withdraw(dask_worker) -> None:
    await dask_worker.set_resources(**{RESOURCE: 0})


def slurm_cluster(cores_per_job: int = 8, memory_per_job: str = "32GB", queue: str | None = None,
                  walltime: str = "02:00:00", python: str | None = None, **kwargs):
    """A dask-jobqueue SLURMCluster whose workers grade: one single-threaded worker process per core (each
    sandbox uses one core), ``--preload autograder.cluster`` so an unsafe node refuses to start.  Scale it with
    ``cluster.scale(jobs=N)`` and pass ``cluster.scheduler_address`` to ``grade --scheduler``."""
    from dask_jobqueue import SLURMCluster
    return SLURMCluster(
        cores=cores_per_job, processes=cores_per_job, memory=memory_per_job, queue=queue, walltime=walltime,
        python=python or sys.executable,
        worker_extra_args=["--preload", "autograder.cluster"],
        job_script_prologue=["export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1"], **kwargs)


class LocalProcesses:
    """A real Dask cluster on this machine -- ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 at free
    ports -- for the tests, the benchmark and trying ``--scheduler`` out::

        with LocalProcesses(workers=2) as cluster:
            run_batch(BatchSpec(..., scheduler=cluster.address))
    """

    def __init__(self, workers: int = 2, preload: bool = False, worker_env: dict | None = None):
        self.n_workers, self.preload, self.worker_env = workers, preload, worker_env
        self.scheduler = None
        self.workers: list = []

    @staticmethod
    def _free_port() -> int:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    @staticmethod
    def _dask() -> tuple[list[str], list[str]]:
        """``dask scheduler`` and ``dask worker`` as this interpreter runs them (the venv's, wherever PATH points)."""
        return ([sys.executable, "-m", "distributed.cli.dask_scheduler"],
                [sys.executable, "-m", "distributed.cli.dask_worker"])

    def __enter__(self):
        import subprocess
        port = self._free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        scheduler, _ = self._dask()
        self.scheduler = subprocess.Popen(scheduler + ["--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
        for _ in range(self.n_workers):
            self.add_worker(env=self.worker_env)
        self.wait_for(self.n_workers)
        return self

    def add_worker(self, env: dict | None = None, name: str | None = None):
        """Start one more single-threaded worker (no nanny: killing it kills it)."""
        import subprocess
        _, worker = self._dask()
        cmd = worker + [self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                        "--name", name or f"w{len(self.workers)}"]
        if self.preload:
            cmd += ["--preload", "autograder.cluster"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                     "PYTHONWARNINGS": "ignore", **(env or {})})
        self.workers.append(proc)
        return proc

    def wait_for(self, n: int, timeout: float = 60.0) -> dict:
        """Wait until ``n`` workers are connected; returns {address: name}."""
        from distributed import Client
        with Client(self.address, timeout="30s", set_as_default=False) as client:
            deadline = time.monotonic() + timeout
            while True:
                live = client.scheduler_info(n_workers=-1)["workers"]
                if len(live) >= n:
                    return {a: w.get("name") for a, w in live.items()}
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(live)} of {n} Dask workers connected to {self.address}")
                time.sleep(0.2)

    def __exit__(self, *exc):
        for proc in self.workers + [self.scheduler]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in self.workers + [self.scheduler]:
            if proc is None:
                continue
            try:
                proc.wait(timeout=20)
            except Exception:  # noqa: BLE001
                proc.kill()
                proc.wait()
