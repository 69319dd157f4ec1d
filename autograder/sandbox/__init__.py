"""Running untrusted code: a bubblewrap sandbox with limits on time, memory, processes and output.

The sandbox sees a read-only Python (the interpreter and the installed packages, with the course's
own packages masked), a private /tmp, and one scratch directory holding the harness, the job and
the submission's whitelisted files.  It has no network, no view of the grader's files (other
submissions, solutions, hidden tests, gradebook) and an empty environment.  When the run ends,
every process it started is gone: bwrap's PID namespace dies with it.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

HARNESS = Path(__file__).with_name("harness.py")
WATCHDOG_GRACE = 2.0  # seconds past a limit before the watchdog kills a run whose own timer was defeated
MASKED_PACKAGES = ("nnkit", "autograder")  # installed non-editable, they'd be importable: hide them


@dataclass(frozen=True)
class Limits:
    cell_seconds: float = 60.0       # one notebook cell
    test_seconds: float = 30.0       # one test's calls into the student's code
    total_seconds: float = 300.0     # the whole run
    memory_bytes: int = 3 * 2**30    # address space of each process
    max_processes: int = 64          # processes and threads in the sandbox
    file_bytes: int = 64 * 2**20     # largest file it may write (stdout/stderr included)


class SandboxUnavailable(RuntimeError):
    pass


INSTALL_HINT = ("bubblewrap (bwrap) is not installed: install it with 'sudo apt-get install bubblewrap' "
                "(Debian/Ubuntu) or 'sudo dnf install bubblewrap' (Fedora), or run "
                "'bash scripts/install-system-deps.sh'.  To grade without a sandbox anyway (student code "
                "then runs with your permissions), pass --unsafe-no-sandbox.")


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def check_available() -> None:
    """Raise SandboxUnavailable with install instructions unless bwrap can start a sandbox here."""
    path = bwrap_path()
    if path is None:
        raise SandboxUnavailable(INSTALL_HINT)
    probe = subprocess.run([path, "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise SandboxUnavailable(f"bwrap is installed but cannot create a sandbox here: {probe.stderr.strip()} "
                                 "(user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1)")


def _python_mounts() -> list[str]:
    """Read-only binds for the interpreter and its packages, the course packages masked."""
    args = []
    for prefix in sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}):
        if not prefix.startswith("/usr/"):
            args += ["--ro-bind", prefix, prefix]
    for site in {p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)}:
        for pkg in MASKED_PACKAGES:
            if os.path.isdir(os.path.join(site, pkg)):
                args += ["--tmpfs", os.path.join(site, pkg)]
    return args


def bwrap_command(scratch: Path, python: str) -> list[str]:
    cmd = [bwrap_path(), "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
           "--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(d):
            cmd += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            cmd += ["--ro-bind", d, d]
    for f in ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf"):
        if os.path.exists(f):
            cmd += ["--ro-bind", f, f]
    # /tmp first: the Python mounts may live under /tmp (a venv in a temporary clone) and must stay visible
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    cmd += _python_mounts()
    cmd += ["--bind", str(scratch), "/sandbox", "--chdir", "/sandbox",
            "--unshare-user", "--uid", "65534", "--gid", "65534", "--hostname", "sandbox"]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/mpl",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # numpy on this CPU needs them: not secrets
        if key in os.environ:
            env[key] = os.environ[key]
    for k, v in env.items():
        cmd += ["--setenv", k, v]
    return cmd + [python, "-I", "/sandbox/harness.py"]


class _PidsCgroup:
    """A cgroup-v1/v2 'pids' group capping processes when we are root (RLIMIT_NPROC doesn't bind root)."""

    def __init__(self, limit: int):
        self.path = None
        for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
            if os.path.exists(os.path.join(base, "cgroup.procs")) and os.access(base, os.W_OK):
                path = os.path.join(base, f"autograder-{uuid.uuid4().hex[:12]}")
                try:
                    os.mkdir(path)
                    with open(os.path.join(path, "pids.max"), "w") as f:
                        f.write(str(limit))
                    self.path = path
                    break
                except OSError:
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass

    def enter(self):  # runs in the child between fork and exec
        if self.path:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def close(self):
        if not self.path:
            return
        for _ in range(50):
            try:
                with open(os.path.join(self.path, "cgroup.procs")) as f:
                    pids = [int(p) for p in f.read().split()]
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.02)


def _limit_child(limits: Limits, cgroup: _PidsCgroup | None):
    def apply():
        os.setsid()
        if cgroup is not None:
            cgroup.enter()
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if os.geteuid() != 0:
            # counts every process of this user, so leave room for the ones already running
            running = sum(1 for p in os.listdir("/proc") if p.isdigit())
            cap = running + limits.max_processes
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
    return apply


@dataclass
class RunResult:
    returncode: int | None
    reason: str | None          # why it was stopped: "time limit", "cell time limit", ... or None
    elapsed: float
    log_tail: str


def _last_event(progress: Path):
    try:
        lines = progress.read_text().splitlines()
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def run(scratch: Path, limits: Limits, sandboxed: bool = True, python: str | None = None) -> RunResult:
    """Run the harness in ``scratch`` (which holds harness.py, job.json, inputs/, work/)."""
    python = python or sys.executable
    shutil.copy(HARNESS, scratch / "harness.py")
    (scratch / "out").mkdir(exist_ok=True)
    if sandboxed:
        cmd = bwrap_command(scratch, python)
        cgroup = _PidsCgroup(limits.max_processes) if os.geteuid() == 0 else None
    else:
        cmd = [python, "-I", str(scratch / "harness.py")]
        cgroup = None
    log_path = scratch / "sandbox.log"
    start = time.monotonic()
    reason = None
    with open(log_path, "wb") as log:
        env = None if sandboxed else {"PATH": os.environ.get("PATH", ""), "MPLBACKEND": "Agg",
                                      "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "HOME": str(scratch)}
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=_limit_child(limits, cgroup), env=env, cwd=scratch)
        progress = scratch / "out" / "progress.jsonl"
        try:
            while True:
                try:
                    proc.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if now - start > limits.total_seconds:
                    reason = "total time limit"
                else:
                    event = _last_event(progress)
                    if event and event.get("event") in ("cell_start", "test_start"):
                        limit = limits.cell_seconds if event["event"] == "cell_start" else limits.test_seconds
                        if time.time() - event.get("time", time.time()) > limit + WATCHDOG_GRACE:
                            reason = "cell time limit" if event["event"] == "cell_start" else "test time limit"
                if reason:
                    _kill(proc)
                    break
        finally:
            if proc.poll() is None:
                _kill(proc)
            if cgroup is not None:
                cgroup.close()
    elapsed = time.monotonic() - start
    try:
        with open(log_path, "rb") as f:
            f.seek(max(0, log_path.stat().st_size - 4000))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        tail = ""
    return RunResult(proc.returncode, reason, elapsed, tail)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
        pass
