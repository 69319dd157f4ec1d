"""The one format that crosses the sandbox boundary, both ways: a stream of length-prefixed frames.

Into the sandbox goes the *job* (one file, copied in by bwrap from an anonymous memory file): the
cells and test plans as JSON, the input arrays as ``.npy`` bytes, the whitelisted files.  Out of it
comes one pipe: progress events, the values the tests asked for (``.npy`` bytes), and the results
as JSON.  Nothing else leaves the sandbox, so there is no file for a student to forge, link or turn
into a FIFO.

A frame is ``kind`` (one ASCII byte), the name's length (2 bytes), the payload's length (8 bytes,
both little-endian), the name (UTF-8), the payload.  Kinds:

* ``J`` -- a JSON document; the name says which (``job``, ``event``, ``results``);
* ``A`` -- an array as ``.npy`` bytes (read back with ``allow_pickle=False``);
* ``F`` -- a file for the notebook's working folder.

Standalone (the standard library only): the harness imports it inside the sandbox.  The reading
side never trusts a length: every frame is checked against a per-frame and a total budget, and
anything malformed ends the stream with :class:`WireError`.
"""
import json
import struct

HEADER = struct.Struct("<cHQ")
KINDS = (b"J", b"A", b"F")
MAX_NAME = 200


class WireError(ValueError):
    """A stream that breaks the format or its budget (from the sandbox: the student's failure)."""


def frame(kind: bytes, name: str, payload: bytes) -> bytes:
    name_bytes = name.encode("utf-8")
    if kind not in KINDS or len(name_bytes) > MAX_NAME:
        raise ValueError(f"bad frame kind {kind!r} or name {name!r}")
    return HEADER.pack(kind, len(name_bytes), len(payload)) + name_bytes + payload


def json_frame(name: str, document) -> bytes:
    return frame(b"J", name, json.dumps(document, allow_nan=True).encode("utf-8"))


def parse(data: bytes, *, max_frame: int, max_total: int):
    """All frames of a complete buffer, as ``(kind, name, payload)``; raises WireError."""
    if len(data) > max_total:
        raise WireError(f"{len(data)} bytes, more than the {max_total} allowed")
    frames, pos = [], 0
    while pos < len(data):
        kind, name, payload, pos = _next(data, pos, max_frame)
        frames.append((kind, name, payload))
    return frames


def _next(data: bytes, pos: int, max_frame: int):
    if len(data) - pos < HEADER.size:
        raise WireError("a truncated frame header")
    kind, name_len, size = HEADER.unpack_from(data, pos)
    pos += HEADER.size
    if kind not in KINDS or name_len > MAX_NAME or size > max_frame:
        raise WireError(f"a frame of kind {kind!r} with a {name_len}-byte name and {size} bytes")
    if len(data) - pos < name_len + size:
        raise WireError("a truncated frame")
    try:
        name = data[pos:pos + name_len].decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("a frame name that is not UTF-8") from None
    pos += name_len
    return kind, name, data[pos:pos + size], pos + size


class StreamReader:
    """Incremental reader for a pipe: feed it chunks, it yields frames and enforces the budgets.

    Once a budget is exceeded or a frame is malformed, ``error`` is set and everything after is
    discarded (the caller keeps draining the pipe so the writer never blocks).
    """

    def __init__(self, *, max_frame: int, max_total: int):
        self.max_frame, self.max_total = max_frame, max_total
        self.buffer = bytearray()
        self.received = 0
        self.error: str | None = None

    def feed(self, chunk: bytes):
        self.received += len(chunk)
        if self.error:
            return []
        if self.received > self.max_total:
            self.error = f"sent more than {self.max_total // 2**20} MiB of results"
            self.buffer.clear()
            return []
        self.buffer += chunk
        frames, pos = [], 0
        try:
            while len(self.buffer) - pos >= HEADER.size:
                kind, name_len, size = HEADER.unpack_from(self.buffer, pos)
                if kind not in KINDS or name_len > MAX_NAME or size > self.max_frame:
                    raise WireError(f"a frame of kind {kind!r} with a {name_len}-byte name and {size} bytes")
                if len(self.buffer) - pos < HEADER.size + name_len + size:
                    break  # wait for the rest of this frame
                kind, name, payload, pos = _next(self.buffer, pos, self.max_frame)
                frames.append((kind, name, bytes(payload)))
        except WireError as exc:
            self.error = str(exc)
            self.buffer.clear()
            return frames
        del self.buffer[:pos]
        return frames

    def close(self):
        """At end of stream: a partial frame left over is an error (the writer died mid-frame)."""
        if self.buffer and not self.error:
            self.error = "the stream ended in the middle of a frame"
