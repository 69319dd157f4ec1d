"""``python -m autograder doctor``: what the sandbox guarantees on this machine, checked from inside it.

Besides what the grader can tell from outside (bwrap's version, the account student code runs as,
seccomp, cgroups), it runs a probe *in* a real sandbox that tries what an attacker would: read its
uid and capabilities, write a kernel setting back with its current value, create a user namespace,
read the environment of the sandbox's first process, and measure its /tmp.
"""
from __future__ import annotations

import json
import subprocess

from . import sandbox
from .safejson import UntrustedJSONError, load_limited
from .sandbox import wire

PROBE = r'''
import ctypes, json, os
report = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
report["capabilities"] = status.get("CapEff", "?").strip()
report["no_new_privs"] = status.get("NoNewPrivs", "?").strip()
report["seccomp"] = status.get("Seccomp", "?").strip()
try:
    value = open("/proc/sys/kernel/core_pattern").read()
    open("/proc/sys/kernel/core_pattern", "w").write(value)
    report["kernel_settings"] = "WRITABLE"
except OSError as exc:
    report["kernel_settings"] = f"read-only ({exc.strerror})"
libc = ctypes.CDLL(None, use_errno=True)
report["new_user_namespace"] = "ALLOWED" if libc.unshare(0x10000000) == 0 else f"refused ({os.strerror(ctypes.get_errno())})"
try:
    size = len(open("/proc/1/environ", "rb").read())
    report["pid1_environment"] = f"VISIBLE: {size} bytes" if size else "readable, empty"
except OSError as exc:
    report["pid1_environment"] = f"hidden ({exc.strerror})"
report["own_environment"] = sorted(os.environ)
st = os.statvfs("/tmp")
report["tmp_bytes"] = st.f_blocks * st.f_frsize
print("DOCTOR" + json.dumps(report))
'''


def probe_inside(limits: sandbox.Limits) -> dict | str:
    """Run PROBE in a sandbox; its report, or why it could not run."""
    job = wire.json_frame("job", {"cells": [{"index": 0, "source": PROBE}], "tests": [],
                                  "limits": {"cell_seconds": 30, "test_seconds": 30}})
    run = sandbox.run(job, limits, sandboxed=True)
    if not run.started or run.results is None:
        return f"the sandbox did not run: {run.log_tail.strip()[-300:] or 'no output'}"
    try:
        results = load_limited(run.results, max_bytes=2**20)
        out = results["cells"][0]["stdout"]
        return json.loads(out[out.index("DOCTOR") + 6:].splitlines()[0])
    except (UntrustedJSONError, KeyError, IndexError, TypeError, ValueError) as exc:
        return f"the probe's report could not be read ({exc})"


def _bwrap_version() -> str:
    path = sandbox.bwrap_path()
    if not path:
        return "not installed"
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "installed, but does not run"


def lines(limits: sandbox.Limits | None = None) -> tuple[list[str], bool]:
    """The report, and whether grading is safe here."""
    limits = limits or sandbox.Limits()
    p = sandbox.posture(refresh=True)
    out = [f"bubblewrap: {_bwrap_version()}"]
    if p.drop_to:
        out.append(f"as root: student code runs as '{p.drop_to.name}' (uid {p.drop_to.uid}, gid {p.drop_to.gid}) "
                   "through setpriv: no capabilities, no_new_privs")
    else:
        out.append("as an ordinary user: student code runs as your own uid inside a user namespace")
    out.append(f"system calls: {p.seccomp_note}")
    cg = p.cgroups
    if cg.version:
        where = ", ".join(str(b) for b in cg.bases.values())
        out.append(f"cgroup v{cg.version}: per-submission memory {limits.memory_bytes / 2**30:g} GiB (processes and "
                   f"/tmp together, no swap), {limits.max_processes} processes, 1 CPU, CPU time "
                   f"{limits.cpu_seconds or limits.total_seconds:g} s -- in {where}")
    else:
        out.append("cgroups: not enforced -- memory is limited per process (RLIMIT_AS) and processes per "
                   "account (RLIMIT_NPROC)")
    out.append(f"disk: /tmp (the working folder included) is a {limits.disk_bytes / 2**20:g} MiB tmpfs; "
               f"files up to {limits.file_bytes / 2**20:g} MiB; raw output up to {limits.output_bytes / 2**20:g} MiB")
    out.append(f"time: {limits.total_seconds:g} s per submission (all retries), {limits.cell_seconds:g} s per cell, "
               f"{limits.test_seconds:g} s per test")
    for w in p.warnings:
        out.append(f"NOT ENFORCED: {w}")
    for problem in p.problems:
        out.append(f"UNSAFE: {problem}")
    if p.problems:
        return out, False
    inside = probe_inside(limits)
    if isinstance(inside, str):
        out.append(f"UNSAFE: {inside}")
        return out, False
    out.append(f"inside the sandbox: uid {inside['uid']}, gid {inside['gid']}, capabilities {inside['capabilities']}, "
               f"no_new_privs {inside['no_new_privs']}, seccomp mode {inside['seccomp']}")
    out.append(f"inside: kernel settings {inside['kernel_settings']}; new user namespace {inside['new_user_namespace']}; "
               f"pid 1's environment {inside['pid1_environment']}; /tmp {inside['tmp_bytes'] / 2**20:.0f} MiB")
    out.append(f"inside: environment variables {', '.join(inside['own_environment'])}")
    safe = (inside["kernel_settings"] != "WRITABLE" and inside["new_user_namespace"] != "ALLOWED"
            and not inside["pid1_environment"].startswith("VISIBLE") and int(inside["capabilities"] or "0", 16) == 0)
    if not safe:
        out.append("UNSAFE: the probe inside the sandbox got further than it should (see above)")
    return out, safe
