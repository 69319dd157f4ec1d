"""Running untrusted code: a bubblewrap sandbox with limits on the whole submission.

:func:`run` takes a job (:mod:`.wire` bytes), starts the harness in a sandbox (:mod:`.bwrap`: who
it runs as and what it sees) inside a per-run control group (:mod:`.cgroups`: memory, processes,
CPU for all its processes together) under a seccomp filter (:mod:`.syscall_filter`), and returns
what came out of the pipe -- as untrusted data -- with the run's own facts, which come from the
grader's side only: whether bwrap started the harness (bwrap's JSON status), the exit status, the
grader's clocks, the CPU time and out-of-memory kills the cgroup counted.

Timers are the grader's: a hard deadline for the whole submission, a CPU-time limit read from the
cgroup, and a per-cell watchdog whose clock starts when the grader *receives* a cell's start event
(events are hints: an event for an unknown cell or test, or one seen before, is ignored).
"""
from __future__ import annotations

import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from . import bwrap, cgroups, syscall_filter, wire
from .bwrap import bwrap_path, sandbox_account  # noqa: F401 - part of the package's interface

HARNESS = Path(__file__).with_name("harness.py")
WIRE = Path(__file__).with_name("wire.py")
WATCHDOG_GRACE = 2.0             # seconds past a cell's limit before the watchdog kills a run whose timer was defeated
MAX_RESULT_FRAME = 64 * 2**20    # one value sent back
MAX_RESULTS = 128 * 2**20        # everything sent back by one run
MAX_EVENT_BYTES = 4096
LOG_TAIL = 4000


@dataclass(frozen=True)
class Limits:
    cell_seconds: float = 60.0       # one notebook cell
    test_seconds: float = 30.0       # one test's calls into the student's code
    total_seconds: float = 300.0     # the whole submission, every retry included (wall clock)
    cpu_seconds: float | None = None  # CPU time of all its processes per run (default: total_seconds)
    memory_bytes: int = 3 * 2**30    # all its processes and its /tmp together (cgroup); per process without one
    max_processes: int = 64          # processes and threads in the sandbox
    file_bytes: int = 64 * 2**20     # largest file it may write
    disk_bytes: int = 512 * 2**20    # its writable /tmp (the working folder included), in memory
    output_bytes: int = 16 * 2**20   # what it may print to the raw stdout/stderr


class SandboxUnavailable(RuntimeError):
    pass


INSTALL_HINT = ("bubblewrap (bwrap) is not installed: install it with 'sudo apt-get install bubblewrap' "
                "(Debian/Ubuntu) or 'sudo dnf install bubblewrap' (Fedora), or run "
                "'bash scripts/install-system-deps.sh'.  To grade without a sandbox anyway (student code "
                "then runs with your permissions), pass --unsafe-no-sandbox.")


@dataclass
class RunResult:
    started: bool                        # bwrap reported that it started the harness (its JSON status)
    returncode: int | None
    reason: str | None                   # why the grader stopped it: "total time limit", "cell time limit", ...
    elapsed: float
    log_tail: str                        # the end of its raw stdout/stderr (for the instructor)
    results: object = None               # the last "results" document (untrusted JSON text, still undecoded)
    arrays: dict = field(default_factory=dict)  # name -> .npy bytes (untrusted)
    culprit: tuple | None = None         # ("cell", index) or ("test", id) running when it died (a hint)
    stream_error: str | None = None      # the pipe broke the format or its budget
    cpu_seconds: float | None = None
    peak_memory: int | None = None
    oom_killed: bool = False
    marks: dict = field(default_factory=dict)   # grader's clock (relative to the spawn) when it first saw:
                                                # "started" (bwrap's status), "first cell", "first test", "end"

    def phases(self) -> tuple[float, float, float, float]:
        """(sandbox start, interpreter and imports, student cells, tests) in seconds.  The cell and test marks
        come from the harness's events, so these are for benchmarks, never for a decision."""
        m = self.marks
        end = m.get("end", self.elapsed)
        started = min(m.get("started", 0.0), end)
        first_cell = min(max(m.get("first cell", end), started), end)
        first_test = min(max(m.get("first test", end), first_cell), end)
        return started, first_cell - started, first_test - first_cell, end - first_test


# ---------------------------------------------------------------------------------------------
# posture: what this machine enforces
# ---------------------------------------------------------------------------------------------
@dataclass
class Posture:
    drop_to: bwrap.Account | None
    seccomp: bytes | None
    seccomp_note: str
    cgroups: cgroups.Support
    problems: list                       # reasons the sandbox must not be used at all
    warnings: list                       # limits that are not enforced here, and how to enforce them

    def summary(self) -> str:
        who = (f"student code runs as {self.drop_to.name} (uid {self.drop_to.uid}), no capabilities"
               if self.drop_to else f"student code runs as uid {os.geteuid()} in a user namespace")
        cg = (f"cgroup v{self.cgroups.version} limits memory/processes/CPU per submission"
              if self.cgroups.version else "no cgroup: per-process limits only")
        return f"sandbox: bwrap; {who}; {'seccomp on' if self.seccomp else 'NO seccomp'}; {cg}"


_posture: list = []


def posture(refresh: bool = False) -> Posture:
    if _posture and not refresh:
        return _posture[0]
    problems, warnings = [], []
    drop_to = None
    if bwrap_path() is None:
        problems.append(INSTALL_HINT)
    if os.geteuid() == 0:
        drop_to = sandbox_account()
        if drop_to is None:
            problems.append(f"the grader runs as root but the account '{bwrap.SANDBOX_USER}' does not exist, so "
                            "student code would run as host root: create it with 'bash scripts/install-system-deps.sh' "
                            f"(or: useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "
                            f"{bwrap.SANDBOX_USER})")
        if not os.access(bwrap.SETPRIV, os.X_OK):
            problems.append(f"{bwrap.SETPRIV} (util-linux) is missing: it drops root before student code runs")
    program, note = syscall_filter.program()
    if program is None:
        warnings.append(note)
    support = cgroups.detect()
    if support.version is None or support.missing:
        warnings.append(support.reason + "; falling back to per-process limits (RLIMIT_AS, RLIMIT_NPROC)")
    result = Posture(drop_to, program, note, support, problems, warnings)
    _posture[:] = [result]
    return result


def check_available() -> Posture:
    """Raise SandboxUnavailable, saying what to do, unless a sandbox can start here and run the harness."""
    p = posture(refresh=True)
    if p.problems:
        raise SandboxUnavailable(" ".join(p.problems))
    probe = run(_probe_job(), Limits(total_seconds=60), sandboxed=True)
    if not probe.started or not isinstance(probe.results, (bytes, str)):
        tail = probe.log_tail.strip().splitlines()[-3:] or ["no output"]
        raise SandboxUnavailable("bwrap is installed but cannot run the grading harness here: " + " / ".join(tail) +
                                 " (user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1; "
                                 "run 'python -m autograder doctor')")
    return p


def _probe_job() -> bytes:
    return wire.json_frame("job", {"cells": [{"index": 0, "source": "x = 1"}], "tests": [],
                                   "limits": {"cell_seconds": 30, "test_seconds": 30}})


# ---------------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------------
def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


_fonts: list = []


def _font_cache() -> tuple[str, bytes] | None:
    """matplotlib's font list as the grader's own matplotlib built it: (file name, bytes), or None."""
    if not _fonts:
        try:
            import matplotlib
            from matplotlib import font_manager
            name = f"fontlist-v{font_manager.FontManager.__version__}.json"
            _fonts.append((name, (Path(matplotlib.get_cachedir()) / name).read_bytes()))
        except (ImportError, OSError, AttributeError):
            _fonts.append(None)
    return _fonts[0]


def _limit_child(limits: Limits, group: cgroups.RunGroup | None, drop: bool):
    def apply():
        os.setsid()
        if group is not None:
            group.enter()
        if group is None or "memory" not in group.dirs and "" not in group.dirs:
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if group is None or ("pids" not in group.dirs and "" not in group.dirs):
            # counts every process of the account: leave room for the ones running (other sandboxes too)
            running = sum(1 for p in os.listdir("/proc") if p.isdigit())
            cap = running + limits.max_processes * (8 if drop else 1)
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
    return apply


class _Collector:
    """Reads the run's three pipes (results, raw output, bwrap status) until they close."""

    def __init__(self, known_cells, known_tests, limits: Limits):
        self.reader = wire.StreamReader(max_frame=MAX_RESULT_FRAME, max_total=MAX_RESULTS)
        self.known_cells, self.known_tests = set(known_cells), set(known_tests)
        self.seen: set = set()
        self.limits = limits
        self.results = None
        self.arrays: dict[str, bytes] = {}
        self.current = None                 # (kind, key, grader's monotonic time when it was received)
        self.log = deque()
        self.log_size = 0
        self.output_bytes = 0
        self.status = b""
        self.lock = threading.Lock()
        self.spawned = time.monotonic()
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.monotonic() - self.spawned)

    def on_results(self, chunk: bytes):
        for kind, name, payload in self.reader.feed(chunk):
            if kind == b"A":
                self.arrays[name] = payload
            elif kind == b"J" and name == "results":
                self.results = payload
            elif kind == b"J" and name == "event" and len(payload) <= MAX_EVENT_BYTES:
                self._event(payload)

    def _event(self, payload: bytes):
        try:
            event = json.loads(payload)
        except (ValueError, RecursionError):
            return
        if not isinstance(event, dict):
            return
        kind, now = event.get("event"), time.monotonic()
        with self.lock:
            if kind == "cell_start" and type(event.get("index")) is int and event["index"] in self.known_cells:
                key = ("cell", event["index"])
            elif kind == "test_start" and isinstance(event.get("id"), str) and event["id"] in self.known_tests:
                key = ("test", event["id"])
            elif kind in ("cell_end", "test_end"):
                self.current = None
                return
            else:
                return
            if key not in self.seen:        # each cell or test starts the clock once
                self.seen.add(key)
                self.mark("first cell" if key[0] == "cell" else "first test")
                self.current = (*key, now)

    def on_output(self, chunk: bytes):
        self.output_bytes += len(chunk)
        self.log.append(chunk)
        self.log_size += len(chunk)
        while self.log_size - len(self.log[0]) >= LOG_TAIL:
            self.log_size -= len(self.log.popleft())

    def on_status(self, chunk: bytes):
        if len(self.status) < 65536:
            self.status += chunk
            if b"child-pid" in chunk:
                self.mark("started")

    def started(self) -> bool:
        for line in self.status.decode("utf-8", "replace").splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "child-pid" in doc:
                return True
        return False

    def log_tail(self) -> str:
        return b"".join(self.log)[-LOG_TAIL:].decode("utf-8", "replace")

    def pump(self, fds: dict[int, callable]):
        sel = selectors.DefaultSelector()
        for fd, handler in fds.items():
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ, handler)
        open_fds = set(fds)
        while open_fds:
            for key, _ in sel.select(timeout=1.0):
                try:
                    chunk = os.read(key.fd, 1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fd)
                    open_fds.discard(key.fd)
                else:
                    key.data(chunk)
        sel.close()


def run(job: bytes, limits: Limits, sandboxed: bool = True, *, deadline: float | None = None,
        known_cells=(), known_tests=(), python: str | None = None) -> RunResult:
    """Run the harness on ``job``; stop it at ``deadline`` (time.monotonic()) at the latest."""
    python = python or sys.executable
    start = time.monotonic()
    deadline = min(deadline or float("inf"), start + limits.total_seconds)
    cpu_limit = limits.cpu_seconds or limits.total_seconds
    collector = _Collector(known_cells, known_tests, limits)
    out_r, out_w = os.pipe()
    log_r, log_w = os.pipe()
    status_r, status_w = os.pipe()
    to_close = [out_w, log_w, status_w]
    group = None
    tmp = None
    try:
        if sandboxed:
            p = posture()
            fds = {"job": _memfd("job", job), "harness": _memfd("harness", HARNESS.read_bytes()),
                   "wire": _memfd("wire", WIRE.read_bytes()), "status": status_w}
            if p.seccomp:
                fds["seccomp"] = _memfd("seccomp", p.seccomp)
            to_close += [fd for k, fd in fds.items() if k != "status"]
            fonts = _font_cache()
            font_fd = _memfd("fonts", fonts[1]) if fonts else None
            if font_fd is not None:
                to_close.append(font_fd)
                fds["fonts"] = font_fd
            opts = bwrap.options(fds=fds, disk_bytes=limits.disk_bytes, drop_to=p.drop_to,
                                 font_cache=(font_fd, fonts[0]) if fonts else None)
            args_fd = _memfd("args", b"".join(a.encode() + b"\0" for a in opts))
            to_close.append(args_fd)
            cmd = [bwrap_path(), "--args", str(args_fd), "--"] + bwrap.command(python, out_w, p.drop_to)
            pass_fds = (args_fd, out_w, *fds.values())
            group = cgroups.RunGroup.create(p.cgroups, limits.memory_bytes, limits.max_processes) \
                if p.cgroups.version else None
            env, cwd, drop = {}, "/", p.drop_to is not None
        else:
            tmp = tempfile.TemporaryDirectory(prefix="autograde-")
            (Path(tmp.name) / "job").write_bytes(job)
            (Path(tmp.name) / "harness.py").write_bytes(HARNESS.read_bytes())
            (Path(tmp.name) / "wire.py").write_bytes(WIRE.read_bytes())
            cmd = [python, "-I", str(Path(tmp.name) / "harness.py"), str(Path(tmp.name) / "job"),
                   str(Path(tmp.name) / "work"), str(out_w)]
            pass_fds = (out_w,)
            env = {"PATH": os.environ.get("PATH", ""), "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
                   "NNKIT_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "HOME": tmp.name}
            cwd, drop = tmp.name, False
            os.write(status_w, b'{"child-pid": 0}\n')
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_w, stderr=log_w, pass_fds=pass_fds,
                                preexec_fn=_limit_child(limits, group, drop), env=env, cwd=cwd)
    except BaseException:
        for fd in to_close + [out_r, log_r, status_r]:
            os.close(fd)
        if group:
            group.close()
        if tmp:
            tmp.cleanup()
        raise
    for fd in to_close:
        os.close(fd)
    collector.spawned = start
    pump = threading.Thread(target=collector.pump, daemon=True,
                            args=({out_r: collector.on_results, log_r: collector.on_output,
                                   status_r: collector.on_status},))
    pump.start()
    reason = None
    try:
        while True:
            try:
                proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            reason = _over_limit(collector, group, limits, deadline, cpu_limit)
            if reason:
                break
    finally:
        if proc.poll() is None:
            _kill(proc, group)  # after proc is reaped its pid may be another run's process group: never killpg it
        elif group is not None:
            group.kill_all()    # anything it left behind
    collector.mark("end")
    pump.join(timeout=10)  # the pipes close when every process in the sandbox is gone
    for fd in (out_r, log_r, status_r):
        try:
            os.close(fd)
        except OSError:
            pass
    collector.reader.close()
    result = RunResult(
        started=collector.started(), returncode=proc.returncode, reason=reason,
        elapsed=time.monotonic() - start, log_tail=collector.log_tail(), results=collector.results,
        arrays=collector.arrays, culprit=collector.current[:2] if collector.current else None,
        stream_error=collector.reader.error, marks=dict(collector.marks))
    if group is not None:
        result.cpu_seconds = group.cpu_seconds()
        result.peak_memory = group.peak_memory()
        result.oom_killed = group.oom_killed()
        group.close()
    if tmp:
        tmp.cleanup()
    return result


def _over_limit(collector: _Collector, group, limits: Limits, deadline: float, cpu_limit: float) -> str | None:
    now = time.monotonic()
    if now > deadline:
        return "total time limit"
    with collector.lock:
        current = collector.current
    if current:
        kind, _, since = current
        limit = limits.cell_seconds if kind == "cell" else limits.test_seconds
        if now - since > limit + WATCHDOG_GRACE:
            return f"{kind} time limit"
    if collector.output_bytes > limits.output_bytes:
        return "output limit"
    if collector.reader.error:
        return "results limit"
    if group is not None:
        used = group.cpu_seconds()
        if used is not None and used > cpu_limit:
            return "CPU time limit"
    return None


def _kill(proc: subprocess.Popen, group) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if group is not None:
        group.kill_all()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
        pass
