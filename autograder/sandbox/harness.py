"""Runs one submission inside the sandbox.  Standalone: it is copied in with ``wire.py`` only.

``python -I harness.py JOB WORKDIR OUTFD``.  Reads the job (:mod:`wire` frames: the notebook's code
cells in order, each test's plan of steps, the input arrays the grader chose, the whitelisted
files); executes the cells with IPython (so magics work as in Jupyter) in WORKDIR -- plain nbgrader
test cells among them, in place, reporting their error, whether they wrote to stderr and their
value -- then performs each traced test's steps against the student's namespace; sends the values asked for as plain data
(``.npy`` frames and one JSON results frame) and progress events down the pipe OUTFD.

Nothing sent here is trusted: the student's code runs in this interpreter and can write to the
same pipe.  The grader reads the stream as data with budgets, decodes only the values its tests
asked for, and judges them against its own references; events only tell it which cell was running.
"""
import io
import json
import os
import signal
import sys
import traceback


def _load_wire():
    """wire.py sits beside this file; loaded by path (``python -I`` leaves this folder off sys.path)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("wire", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                       "wire.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load_wire()

OUT_FD = None            # the pipe to the grader (set in main)
MAX_TEXT = 4000          # characters of captured output / error text kept per cell or test
MAX_ITEMS = 10000        # list/tuple/dict entries encoded
MAX_ARRAY_BYTES = 64 * 2**20


class LimitExceeded(BaseException):
    """Raised by the timer when a cell or a test runs past its time limit."""


def on_alarm(signum, frame):
    raise LimitExceeded("time limit exceeded")


class CappedStream(io.TextIOBase):
    """Keeps the first MAX_TEXT characters written, counts the rest (an output flood costs nothing)."""

    def __init__(self):
        self.parts, self.kept, self.total = [], 0, 0

    def write(self, s):
        s = str(s)
        self.total += len(s)
        if self.kept < MAX_TEXT:
            piece = s[: MAX_TEXT - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(s)

    def flush(self):
        pass

    def isatty(self):
        return False

    def text(self):
        tail = f"\n... [{self.total - self.kept} more characters not kept]" if self.total > self.kept else ""
        return "".join(self.parts) + tail


def value_text(shell, value):
    """The text/plain of a cell's value, as Jupyter shows it (nbgrader reads partial credit from it)."""
    try:
        data, _ = shell.display_formatter.format(value)
        return str(data.get("text/plain", ""))[:200]
    except Exception:  # noqa: BLE001 - a value that cannot be shown is no number
        return None


def send(data):
    view = memoryview(data)
    while view:
        view = view[os.write(OUT_FD, view):]


def log(event, **fields):
    send(wire.json_frame("event", {"event": event, **fields}))


def short_error(exc):
    return {"raised": [type(exc).__name__, str(exc)[:MAX_TEXT]]}


# ---------------------------------------------------------------------------------------------
# plain-data encoding of values
# ---------------------------------------------------------------------------------------------
class Encoder:
    def __init__(self, np, prefix, sink=None):
        self.np, self.prefix, self.count = np, prefix, 0
        self.sink = sink or send      # where array frames go (the pipe; a list when run in-process)

    def __call__(self, value, depth=0):
        np = self.np
        if value is None or isinstance(value, bool):
            return {"lit": value}
        if type(value) is int:
            return {"lit": value} if abs(value) < 2**63 else {"lit": float(value)}
        if type(value) is float:
            return {"lit": value}
        if type(value) is str:
            return {"lit": value[:MAX_TEXT]}
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return {"scalar": value.item(), "dtype": value.dtype.str}
        if depth < 5 and type(value) in (list, tuple):
            return {type(value).__name__: [self(v, depth + 1) for v in value[:MAX_ITEMS]]}
        if depth < 5 and type(value) is dict and all(type(k) is str for k in value):
            return {"dict": {k: self(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}}
        if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
            try:
                arr = np.array(value, subok=False)
            except Exception as exc:  # noqa: BLE001 - any failure is the student's
                return {"unreadable": f"{type(value).__name__} that could not be converted to an array ({exc})"}
            if arr.dtype.kind not in "biuf":
                return {"unreadable": f"array of dtype {arr.dtype}"}
            if arr.nbytes > MAX_ARRAY_BYTES:
                return {"unreadable": f"array of {arr.nbytes} bytes (limit {MAX_ARRAY_BYTES})"}
            self.count += 1
            name = f"{self.prefix}_{self.count}"
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
            self.sink(wire.frame(b"A", name, buf.getvalue()))
            return {"array": name}
        return {"unreadable": f"a {type(value).__name__} object"}


# ---------------------------------------------------------------------------------------------
# performing a test's steps
# ---------------------------------------------------------------------------------------------
class StepFailed(Exception):
    def __init__(self, record):
        self.record = record


INPUTS = {}              # input array name -> .npy bytes, from the job


def decode_arg(spec, values, np, prefix):
    if "ref" in spec:
        v = values[spec["ref"]]
        if isinstance(v, StepFailed):
            raise v
        return v
    if "array" in spec:
        # a fresh copy for every use: the student's code may modify its arguments
        return np.load(io.BytesIO(INPUTS[f"{prefix}_{spec['array']}"]), allow_pickle=False)
    if "lit" in spec:
        return spec["lit"]
    if "float" in spec:
        return float(spec["float"])
    if "scalar" in spec:
        return np.dtype(spec["dtype"]).type(spec["scalar"])
    if "tuple" in spec:
        return tuple(decode_arg(s, values, np, prefix) for s in spec["tuple"])
    if "list" in spec:
        return [decode_arg(s, values, np, prefix) for s in spec["list"]]
    if "dict" in spec:
        return {k: decode_arg(s, values, np, prefix) for k, s in spec["dict"].items()}
    if "slice" in spec:
        return slice(*(decode_arg(s, values, np, prefix) for s in spec["slice"]))
    if "ellipsis" in spec:
        return Ellipsis
    if "dtype" in spec:
        return np.dtype(spec["dtype"]).type
    raise ValueError(f"unknown argument encoding {spec!r}")


def perform(step, values, ns, np, prefix):
    op = step["op"]
    if op == "name":
        if step["name"] not in ns:
            raise NameError(f"name '{step['name']}' is not defined")
        return ns[step["name"]]
    target = values[step["target"]]
    if isinstance(target, StepFailed):
        raise target
    if op == "getattr":
        return getattr(target, step["name"])
    if op == "call":
        args = decode_arg(step["args"], values, np, prefix)
        kwargs = decode_arg(step["kwargs"], values, np, prefix)
        return target(*args, **kwargs)
    if op == "call_quiet":   # the warnings the call emitted (numpy's floating-point ones included), as text
        import warnings
        args = decode_arg(step["args"], values, np, prefix)
        kwargs = decode_arg(step["kwargs"], values, np, prefix)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
                target(*args, **kwargs)
        return [f"{w.category.__name__}: {w.message}"[:300] for w in caught[:20]]
    if op == "getitem":
        return target[decode_arg(step["key"], values, np, prefix)]
    if op == "setitem":
        target[decode_arg(step["key"], values, np, prefix)] = decode_arg(step["value"], values, np, prefix)
        return None
    if op == "setattr":
        setattr(target, step["name"], decode_arg(step["value"], values, np, prefix))
        return None
    raise ValueError(f"unknown step {op!r}")


_MISSING = object()


def swap_in_references(refs, ns, np):
    """Bind the instructor's versions of ``refs["names"]`` in ``ns``; returns what to put back afterwards.

    The code runs in a private namespace of its own, so the reference functions call each other,
    never the student's versions; only the listed names are visible to the student's code.
    """
    import builtins
    import math
    private = {"__builtins__": builtins, "__name__": "__reference__", "np": np, "numpy": np, "math": math}
    exec(compile(refs["code"], "<instructor's reference>", "exec"), private)
    saved = {name: ns.get(name, _MISSING) for name in refs["names"]}
    for name in refs["names"]:
        ns[name] = private[name]
    return saved


def restore(saved, ns):
    for name, value in saved.items():
        if value is _MISSING:
            ns.pop(name, None)
        else:
            ns[name] = value


def run_test(test, ns, np, seconds, sink=None):
    """Perform one test's steps against ``ns``; ``seconds`` None means no timer (in-process self-checks)."""
    values, outputs = {}, {}
    encode = Encoder(np, f"t{test['index']}", sink)
    wanted = set(test["plan"]["outputs"])
    captured = CappedStream()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = captured
    swapped = setup_failure = None
    if seconds is not None:
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        refs = test["plan"].get("references")
        if refs:
            try:
                swapped = swap_in_references(refs, ns, np)
            except LimitExceeded:
                raise
            except BaseException as exc:  # noqa: BLE001 - the student's code broke numpy or builtins
                setup_failure = StepFailed({"raised": [
                    "ReferenceSetupError", "the instructor's helpers could not be set up "
                    f"({type(exc).__name__}: {str(exc)[:200]}); did the notebook change numpy or Python's builtins?"]})
        for step in test["plan"]["steps"]:
            try:
                if setup_failure is not None:
                    raise setup_failure
                values[step["id"]] = perform(step, values, ns, np, test["index"])
            except StepFailed as failed:
                values[step["id"]] = failed
            except LimitExceeded:
                raise
            except BaseException as exc:  # noqa: BLE001 - the student's exception becomes data
                values[step["id"]] = StepFailed(short_error(exc))
            if step["id"] in wanted:
                # snapshot now, as the test author saw it: a later call may modify this array in place
                v = values[step["id"]]
                try:
                    outputs[str(step["id"])] = v.record if isinstance(v, StepFailed) else encode(v)
                except LimitExceeded:
                    raise
                except BaseException as exc:  # noqa: BLE001 - a value whose conversion fails is the student's
                    outputs[str(step["id"])] = short_error(exc)
        status = "ok"
    except LimitExceeded:
        status = "timeout"
    finally:
        if seconds is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = saved
        if swapped is not None:
            restore(swapped, ns)
    return {"status": status, "outputs": outputs, "stdout": captured.text()}


# ---------------------------------------------------------------------------------------------
def read_job(path, workdir):
    with open(path, "rb") as f:
        frames = wire.parse(f.read(), max_frame=2**40, max_total=2**40)  # the grader's own data
    job = None
    os.makedirs(workdir, exist_ok=True)
    for kind, name, payload in frames:
        if kind == b"J" and name == "job":
            job = json.loads(payload)
        elif kind == b"A":
            INPUTS[name] = payload
        elif kind == b"F":
            with open(os.path.join(workdir, os.path.basename(name)), "wb") as f:
                f.write(payload)
    return job


def main():
    global OUT_FD
    job_path, workdir, OUT_FD = sys.argv[1], sys.argv[2], int(sys.argv[3])
    job = read_job(job_path, workdir)
    limits = job["limits"]
    log("start")

    import numpy as np  # imported before any student code runs, so a numpy.py they write can't replace it
    # matplotlib is not imported here: MPLBACKEND=Agg is set, and a notebook that never plots saves the time
    from IPython.core.interactiveshell import InteractiveShell

    signal.signal(signal.SIGALRM, on_alarm)
    os.chdir(workdir)
    sys.path.insert(0, os.getcwd())  # as in Jupyter, the notebook's folder is importable
    shell = InteractiveShell.instance(colors="nocolor")
    ns = shell.user_ns
    results = {"cells": [], "tests": {}}

    for cell in job["cells"]:
        if cell.get("skip"):
            continue
        log("cell_start", index=cell["index"])
        captured = CappedStream()
        errors_out = CappedStream() if cell.get("test") else captured   # nbgrader: a test writing to stderr fails
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = captured, errors_out
        signal.setitimer(signal.ITIMER_REAL, limits["cell_seconds"])
        status, error, value = "ok", None, None
        try:
            result = shell.run_cell(cell["source"], store_history=True)
            if cell.get("test") and result.result is not None:
                value = value_text(shell, result.result)
            if result.error_before_exec is not None:
                status, error = "error", short_error(result.error_before_exec)["raised"]
            elif result.error_in_exec is not None:
                exc = result.error_in_exec
                status = "timeout" if isinstance(exc, LimitExceeded) else "error"
                error = short_error(exc)["raised"]
        except LimitExceeded as exc:
            status, error = "timeout", short_error(exc)["raised"]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = saved
        plt = sys.modules.get("matplotlib.pyplot")  # importing pyplot costs a second: only if the notebook did
        if plt is not None:
            try:
                plt.close("all")
            except Exception:  # noqa: BLE001 - the student may have broken matplotlib; not our concern
                pass
        record = {"index": cell["index"], "status": status, "error": error, "stdout": captured.text()}
        if cell.get("test"):   # a test cell judged in the kernel, as nbgrader does: its error, stderr and value
            record.update(stderr=errors_out.total > 0, value=value)
        results["cells"].append(record)
        log("cell_end", index=cell["index"], status=status)

    for test in job["tests"]:
        if test.get("skip"):
            continue
        log("test_start", id=test["id"])
        results["tests"][test["id"]] = run_test(test, ns, np, limits["test_seconds"])
        log("test_end", id=test["id"])

    send(wire.json_frame("results", results))
    sys.stdout.flush()
    os._exit(0)  # don't run the student's atexit handlers or wait for their threads


if __name__ == "__main__":
    try:
        main()
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        os._exit(3)
