"""The bubblewrap command line: what the sandbox sees, and who it runs as.

What it sees: read-only ``/usr`` and the Python interpreter with its packages (the course's own
packages masked), a fresh ``/proc`` and ``/dev``, a size-limited private ``/tmp`` (the only
writable place; the notebook's working folder is ``/tmp/work``), and ``/sandbox`` holding the
harness and the job, copied in from anonymous memory files.  No network, no view of the grader's
files, an empty environment, a seccomp filter.

Who it runs as:

* **grader started as root** (containers, CI, course servers): bwrap sets the sandbox up with root's
  rights but no user namespace, then ``setpriv`` drops, before the harness starts, to the dedicated
  unprivileged account ``nnkit-sandbox`` (created by ``scripts/install-system-deps.sh``), with no
  capabilities, an empty bounding set and ``no_new_privs``.  Host root's files, ``/proc/sys`` and
  other processes are out of reach because the student *is* an ordinary user on the host.
* **grader started as an ordinary user**: bwrap runs unprivileged in a new user namespace
  (``--disable-userns`` forbids nesting another); the student runs as the grader's own account,
  confined by the namespaces.

bwrap's own options go through ``--args FD``, so ``/proc/1/cmdline`` inside shows no host paths,
and bwrap itself starts with an empty environment, so ``/proc/1/environ`` holds nothing.
"""
from __future__ import annotations

import os
import pwd
import shutil
import sys
from dataclasses import dataclass

SANDBOX_USER = "nnkit-sandbox"
MASKED_PACKAGES = ("nnkit", "autograder")  # installed non-editable, they'd be importable: hide them
SETPRIV = "/usr/bin/setpriv"
JOB_PATH = "/sandbox/job"
HARNESS_PATH = "/sandbox/harness.py"
WIRE_PATH = "/sandbox/wire.py"
WORK_DIR = "/tmp/work"
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/.mpl",
       "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NNKIT_NUM_THREADS": "1",
       "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
CPU_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # numpy on some CPUs needs them: not secrets


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@dataclass(frozen=True)
class Account:
    uid: int
    gid: int
    name: str


def sandbox_account() -> Account | None:
    """The dedicated account student code runs as when the grader is root (None if not created)."""
    try:
        pw = pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        return None
    if pw.pw_uid == 0 or pw.pw_gid == 0:
        return None
    return Account(pw.pw_uid, pw.pw_gid, SANDBOX_USER)


def _python_trees() -> list[str]:
    trees = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}
    return sorted(t for t in trees if not t.startswith("/usr/"))


def _masked() -> list[str]:
    paths = []
    for site in sorted({p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)}):
        paths += [os.path.join(site, pkg) for pkg in MASKED_PACKAGES if os.path.isdir(os.path.join(site, pkg))]
    return paths


def _with_parents(path: str, made: set) -> list[str]:
    """``--dir`` for each missing ancestor, world-traversable (bwrap would make them 0700)."""
    args = []
    parts = path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/" + "/".join(parts[:i])
        if d not in made and d not in ("/usr", "/tmp", "/proc", "/dev"):
            made.add(d)
            args += ["--perms", "0755", "--dir", d]
    return args


def options(*, fds: dict[str, int], disk_bytes: int, drop_to: Account | None,
            font_cache: tuple[int, str] | None = None) -> list[str]:
    """bwrap's options (without the command).  ``fds``: job, harness, wire, seccomp (optional), status.

    ``font_cache``: (fd, file name) of matplotlib's font list, copied into its config folder so
    that importing pyplot does not rebuild it (a second per submission).
    """
    args = ["--die-with-parent", "--new-session", "--clearenv", "--hostname", "sandbox"]
    if drop_to is None:  # unprivileged bwrap: a user namespace, and no further ones inside it
        args += ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", "65534", "--gid", "65534"]
    else:  # root: no user namespace (it would map the student to host root); setpriv drops to drop_to
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    args += ["--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/lib", "/lib64", "/lib32", "/libx32", "/sbin"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    # /tmp first: the Python trees may live under /tmp (a venv in a temporary clone) and must stay visible
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(disk_bytes), "--tmpfs", "/tmp"]
    args += ["--perms", "1777", "--dir", ENV["MPLCONFIGDIR"]]
    if font_cache is not None:
        args += ["--perms", "0644", "--file", str(font_cache[0]), f"{ENV['MPLCONFIGDIR']}/{font_cache[1]}"]
    made: set = set()
    for tree in _python_trees():
        args += _with_parents(tree, made) + ["--ro-bind", tree, tree]
    for path in _masked():
        args += ["--tmpfs", path]
    args += ["--perms", "0755", "--dir", "/sandbox"]
    for name, dest in (("job", JOB_PATH), ("harness", HARNESS_PATH), ("wire", WIRE_PATH)):
        args += ["--perms", "0444", "--ro-bind-data", str(fds[name]), dest]
    if "seccomp" in fds:
        args += ["--seccomp", str(fds["seccomp"])]
    args += ["--json-status-fd", str(fds["status"]), "--chdir", "/tmp"]
    env = dict(ENV)
    env.update({k: os.environ[k] for k in CPU_ENV if k in os.environ})
    for k, v in env.items():
        args += ["--setenv", k, v]
    return args


def command(python: str, out_fd: int, drop_to: Account | None) -> list[str]:
    """The program bwrap runs: the harness, behind setpriv when the grader is root."""
    harness = [python, "-I", HARNESS_PATH, JOB_PATH, WORK_DIR, str(out_fd)]
    if drop_to is None:
        return harness
    return [SETPRIV, f"--reuid={drop_to.uid}", f"--regid={drop_to.gid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"] + harness
