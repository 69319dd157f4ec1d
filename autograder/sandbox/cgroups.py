"""A control group per sandbox run: limits on the whole submission, not on each process.

Memory (every process and the in-memory /tmp together, no swap), the number of processes, one CPU's
worth of time, with the CPU time used and out-of-memory kills read back for the report.  Groups are
created only inside a folder of the grader's own, ``nnkit-autograder``, under the cgroup the grader
already runs in, so the host's limits on the grader still hold; nothing outside that folder is
ever written to.

Both cgroup versions are supported:

* **v1** (``/sys/fs/cgroup/<controller>/``): one folder per controller (memory, pids, cpu, cpuacct);
* **v2** (one tree, ``cgroup.controllers`` at its root): the controllers must already be enabled for
  children of the grader's cgroup (its ``cgroup.subtree_control``; systemd does this for a
  ``Delegate=yes`` unit).  The grader does not enable them itself: that would change a group it did
  not create.

:func:`detect` says what this machine offers and why not; :meth:`RunGroup.create` makes one group.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

FOLDER = "nnkit-autograder"
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
V2_CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000


@dataclass
class Support:
    version: int | None                              # 1, 2 or None (no usable cgroups)
    bases: dict = field(default_factory=dict)        # controller -> our folder (v1), or {"": folder} (v2)
    missing: list = field(default_factory=list)      # controllers we cannot use
    reason: str = ""                                 # why not, and what to do


def _own_paths(proc_self_cgroup: str) -> dict[str, str]:
    """controller -> this process's cgroup path; v2's unified entry under the key ''."""
    paths = {}
    for line in proc_self_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for c in (controllers.split(",") if controllers else [""]):
            paths[c] = path
    return paths


def _writable_folder(mount: Path, own: str) -> Path | None:
    """Our folder under the grader's own group (or the mount's root, when that path is not mounted here)."""
    for parent in (mount / own.lstrip("/"), mount):
        if parent.is_dir():
            folder = parent / FOLDER
            try:
                folder.mkdir(exist_ok=True)
            except OSError:
                return None
            return folder if os.access(folder, os.W_OK) else None
    return None


def detect(root: Path = Path("/sys/fs/cgroup"), proc_self_cgroup: str | None = None) -> Support:
    if proc_self_cgroup is None:
        try:
            proc_self_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            return Support(None, reason="no /proc/self/cgroup")
    own = _own_paths(proc_self_cgroup)
    v1 = [c for c in V1_CONTROLLERS if (root / c / "cgroup.procs").exists()]
    if v1:
        bases, missing = {}, []
        for c in V1_CONTROLLERS:
            folder = _writable_folder(root / c, own.get(c, "/")) if c in v1 else None
            if folder is None:
                missing.append(c)
            else:
                bases[c] = folder
        reason = "" if not missing else (f"cgroup v1 controllers {', '.join(missing)} are not writable here "
                                         "(the grader must run as root, or be given a delegated group)")
        return Support(1 if bases else None, bases, missing, reason)
    if (root / "cgroup.controllers").exists():
        folder = _writable_folder(root, own.get("", "/"))
        if folder is None:
            return Support(None, missing=list(V2_CONTROLLERS), reason=(
                "cgroup v2: cannot create a folder in the grader's cgroup; run the grader as root or in a "
                "delegated unit: systemd-run --scope -p Delegate=yes python -m autograder grade ..."))
        available = (folder / "cgroup.controllers").read_text().split() if (folder / "cgroup.controllers").exists() else []
        missing = [c for c in V2_CONTROLLERS if c not in available]
        if not missing:
            try:  # our own folder: enable the controllers for the per-run groups inside it
                (folder / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in V2_CONTROLLERS))
            except OSError as exc:
                return Support(None, missing=list(V2_CONTROLLERS),
                               reason=f"cgroup v2: cannot enable controllers in {folder} ({exc.strerror})")
        reason = "" if not missing else (
            f"cgroup v2: controllers {', '.join(missing)} are not enabled for the grader's cgroup; enable them "
            f"(echo '+memory +pids +cpu' > {folder.parent}/cgroup.subtree_control) or run the grader with "
            "systemd-run --scope -p Delegate=yes")
        return Support(2 if not missing else None, {"": folder} if not missing else {}, missing, reason)
    return Support(None, missing=list(V2_CONTROLLERS), reason="no cgroup file system at /sys/fs/cgroup")


class RunGroup:
    """One run's group(s); ``enter`` runs in the child between fork and exec."""

    def __init__(self, support: Support, dirs: dict[str, Path]):
        self.support, self.dirs = support, dirs

    @classmethod
    def create(cls, support: Support, memory_bytes: int, max_processes: int) -> "RunGroup | None":
        if support.version is None:
            return None
        name = f"run-{uuid.uuid4().hex[:16]}"
        dirs = {}
        try:
            for c, base in support.bases.items():
                (base / name).mkdir()
                dirs[c] = base / name
            group = cls(support, dirs)
            group._configure(memory_bytes, max_processes)
            return group
        except OSError:
            cls(support, dirs).close()
            return None

    def _write(self, controller: str, filename: str, value) -> bool:
        path = self.dirs.get(controller)
        if path is None or not (path / filename).exists():
            return False
        (path / filename).write_text(str(value))
        return True

    def _configure(self, memory_bytes: int, max_processes: int) -> None:
        if self.support.version == 1:
            self._write("memory", "memory.limit_in_bytes", memory_bytes)
            self._write("memory", "memory.memsw.limit_in_bytes", memory_bytes)  # no swap beyond the limit
            self._write("pids", "pids.max", max_processes)
            self._write("cpu", "cpu.cfs_period_us", CPU_PERIOD_US)
            self._write("cpu", "cpu.cfs_quota_us", CPU_PERIOD_US)
        else:
            self._write("", "memory.max", memory_bytes)
            self._write("", "memory.swap.max", 0)
            self._write("", "pids.max", max_processes)
            self._write("", "cpu.max", f"{CPU_PERIOD_US} {CPU_PERIOD_US}")

    def enter(self) -> None:
        pid = str(os.getpid())
        for path in self.dirs.values():
            with open(path / "cgroup.procs", "w") as f:
                f.write(pid)

    def _read(self, controller: str, filename: str) -> str:
        try:
            return (self.dirs[controller] / filename).read_text()
        except (KeyError, OSError):
            return ""

    def cpu_seconds(self) -> float | None:
        if self.support.version == 1:
            text = self._read("cpuacct", "cpuacct.usage").strip()
            return int(text) / 1e9 if text.isdigit() else None
        for line in self._read("", "cpu.stat").splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
        return None

    def oom_killed(self) -> bool:
        text = self._read("memory", "memory.oom_control") if self.support.version == 1 else self._read("", "memory.events")
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value) > 0
        return False

    def peak_memory(self) -> int | None:
        text = self._read("memory", "memory.max_usage_in_bytes") if self.support.version == 1 \
            else self._read("", "memory.peak")
        return int(text) if text.strip().isdigit() else None

    def pids(self) -> list[int]:
        out = set()
        for c in self.dirs:
            out.update(int(p) for p in self._read(c, "cgroup.procs").split() if p.isdigit())
        return sorted(out)

    def kill_all(self) -> None:
        if self.support.version == 2 and self._write("", "cgroup.kill", 1):
            return
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        """Kill what is left and remove the group (only ours: the folders this object created)."""
        for _ in range(100):
            self.kill_all()
            for c, path in list(self.dirs.items()):
                try:
                    path.rmdir()
                    del self.dirs[c]
                except FileNotFoundError:
                    del self.dirs[c]
                except OSError:
                    pass
            if not self.dirs:
                return
            time.sleep(0.02)
