"""The seccomp filter the sandbox runs under: system calls a notebook never needs fail with EPERM.

Built with libseccomp's Python binding (Debian's ``python3-seccomp``), which compiles the rules to
the BPF program that bwrap loads with ``--seccomp FD``.  The binding belongs to the system Python;
when the grader runs in another interpreter (a venv, pyenv), this file is run as a script by the
system ``python3`` and prints the program on stdout.

What is blocked follows Flatpak's and Docker's default profiles, narrowed to a numerical notebook:
new namespaces (``unshare``, ``setns``, ``clone`` with any namespace flag; ``clone3`` answers ENOSYS
so the C library falls back to ``clone``, whose flags can be checked), every kind of mount,
``ptrace`` and cross-process memory access, ``bpf``, ``perf_event_open``, the kernel keyring,
``userfaultfd``, ``io_uring``, kernel modules, ``kexec``, ``reboot``, swap, clocks, ``acct``,
``syslog``, ``quotactl``, file handles, ``chroot`` and raw I/O ports.
"""
import errno
import shutil
import subprocess
import sys

BLOCKED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr", "ptrace", "process_vm_readv", "process_vm_writev",
    "kcmp", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "init_module", "finit_module", "delete_module",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "syslog", "quotactl",
    "quotactl_fd", "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "lookup_dcookie", "vhangup", "nfsservctl", "uselib",
    "personality", "fanotify_init", "pidfd_getfd",
)
# clone(2) flags that create namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080


def build(seccomp) -> bytes:
    """The BPF program, built with the ``seccomp`` module given."""
    import tempfile
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in BLOCKED:
        try:
            f.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError, OSError):  # not a system call on this architecture
            pass
    try:
        f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    except (RuntimeError, ValueError, OSError):
        pass
    for bit in range(32):  # one rule per namespace flag: clone fails if any of them is set
        flag = 1 << bit
        if NAMESPACE_FLAGS & flag:
            f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    with tempfile.TemporaryFile() as tmp:
        f.export_bpf(tmp)
        tmp.seek(0)
        return tmp.read()


_cache: list = []


def program() -> tuple[bytes | None, str]:
    """``(bpf, how)``: the compiled filter, or ``(None, why not)`` when libseccomp's binding is missing."""
    if _cache:
        return _cache[0]
    try:
        import seccomp  # noqa: F401 - the grader's own interpreter has the binding
        result = (build(seccomp), "seccomp filter (libseccomp, in-process)")
    except ImportError:
        result = _from_system_python()
    _cache.append(result)
    return result


def _from_system_python() -> tuple[bytes | None, str]:
    for python in ("/usr/bin/python3", shutil.which("python3")):
        if not python or python == sys.executable:
            continue
        try:
            proc = subprocess.run([python, "-I", __file__], capture_output=True, timeout=30, env={})
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0 and proc.stdout:
            return proc.stdout, f"seccomp filter (libseccomp via {python})"
    return None, ("no seccomp filter: libseccomp's Python binding is missing "
                  "(install it: apt-get install python3-seccomp)")


if __name__ == "__main__":
    import seccomp as _seccomp
    sys.stdout.buffer.write(build(_seccomp))
