"""Reading untrusted JSON files: regular files only, size and nesting capped, every failure a ValueError.

Messages are written for the person who submitted the file and never name the grader's paths.
"""
from __future__ import annotations

import errno
import json
import os
import stat

import numpy as np

_CHUNK = 1 << 20


class UntrustedJSONError(ValueError):
    """Input refused before or while parsing; the message says why."""


class TooLargeError(UntrustedJSONError):
    """Input over its size limit."""


def _mib(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def nesting_depth_exceeds(data: bytes, max_depth: int) -> bool:
    """Whether brackets outside string literals nest deeper than ``max_depth``: one linear, vectorised pass.

    A quote ends or starts a string unless an odd run of backslashes precedes it; a bracket counts
    when an even number of such quotes comes before it.  (Invalid JSON is refused later by the parser.)
    """
    raw = np.frombuffer(data, np.uint8)
    if raw.size == 0:
        return False
    positions = np.arange(raw.size, dtype=np.int32 if raw.size < 2**31 else np.int64)
    last_plain = np.maximum.accumulate(np.where(raw != ord("\\"), positions, -1))
    quotes = np.flatnonzero(raw == ord('"'))
    before = quotes - 1
    run = np.where(before >= 0, before - last_plain[np.maximum(before, 0)], 0)  # backslashes right before
    real_quotes = quotes[run % 2 == 0]
    opening = (raw == ord("[")) | (raw == ord("{"))
    closing = (raw == ord("]")) | (raw == ord("}"))
    brackets = np.flatnonzero(opening | closing)
    outside = np.searchsorted(real_quotes, brackets) % 2 == 0            # quotes before it: even
    steps = np.where(opening[brackets[outside]], 1, -1)
    return bool(steps.size) and int(np.cumsum(steps).max()) > max_depth


def load_limited(data: bytes, *, max_bytes: int, max_depth: int = 64):
    """Parse UTF-8 JSON of at most ``max_bytes`` bytes nested at most ``max_depth`` deep, or raise UntrustedJSONError."""
    if len(data) > max_bytes:
        raise TooLargeError(f"is {_mib(len(data))}; the limit is {_mib(max_bytes)}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UntrustedJSONError("is not UTF-8 text") from None
    if nesting_depth_exceeds(data, max_depth):
        raise UntrustedJSONError(f"is nested more than {max_depth} levels deep")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UntrustedJSONError(f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise UntrustedJSONError(f"is nested more than {max_depth} levels deep") from None
    except ValueError as exc:  # e.g. an integer literal with more digits than Python converts
        raise UntrustedJSONError(f"is not valid JSON ({exc})") from None


def read_regular_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; a symlink (last component), FIFO, device or folder is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UntrustedJSONError("is a symbolic link; refused (submit the file itself)") from None
        raise UntrustedJSONError(f"cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a device",
                    stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}.get(stat.S_IFMT(info.st_mode), "special")
            raise UntrustedJSONError(f"is not a regular file ({kind}); refused")
        if info.st_size > max_bytes:
            raise TooLargeError(f"is {_mib(info.st_size)}; the limit is {_mib(max_bytes)}")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:  # it grew while being read
            raise TooLargeError(f"is larger than the limit of {_mib(max_bytes)}")
        return b"".join(chunks)
    except OSError as exc:
        raise UntrustedJSONError(f"cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)


__all__ = ["UntrustedJSONError", "TooLargeError", "load_limited", "read_regular_file", "nesting_depth_exceeds"]
