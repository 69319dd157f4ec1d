"""Tests written once, run two ways.

An assignment's test cell (in ``solutions/<assignment>/*.ipynb``) is ordinary Python::

    from autograder.checks import student, expect_close, seeded_rng
    import nnkit.functional as F

    rng = seeded_rng("sigmoid")
    x = rng.normal(0, 5, size=(4, 6))
    expect_close(student.sigmoid(x), F.sigmoid(x), "sigmoid(x) for x of shape (4, 6)")

It runs in one of two modes:

* **eager** (the default) -- in the student's own kernel, for self-checking, and under plain
  ``nbgrader autograde``: ``student.sigmoid`` is the student's function, it is called at once, and
  a failed expectation raises ``AssertionError`` with a message the student can act on.
* **trace** -- in the grader's trusted process.  ``student.sigmoid(x)`` does not call anything: it
  records a *step* ("look up ``sigmoid``, call it with array #0") and returns a :class:`Handle`.
  The steps and the input arrays are plain data: they go into the sandbox, which performs them
  against the student's namespace and hands back plain data.  Expectations stay in the trusted
  process and are judged there, with the same comparison code as in eager mode.

``seeded_rng(label)`` gives a fixed public seed in eager mode and a secret per-grading-run seed in
trace mode, so hidden tests use inputs the student has never seen.

Rules for test authors: a test cell is self-contained (it imports what it uses); trusted code
may not compute with a student's value (a ``Handle``) -- pass it to an ``expect_*`` function.  In
the student's kernel a test cell shares the notebook's namespace, so never bind a name the student
defines (``import nnkit.obd as obd``, not ``from nnkit.obd import saliency``; prefix test helpers
with ``_``).  Statistical checks on random answers need bounds a correct answer can't miss (use a
Chernoff/Hoeffding bound with a failure probability below 1e-9, not a few sigmas).
"""
from __future__ import annotations

import contextlib
import inspect
import math
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = [
    "student", "seeded_rng", "expect_close", "expect_equal", "expect_that", "expect_accuracy",
    "check_elementwise", "Handle", "AuthoringError", "judge_close", "judge_equal",
    "use_reference", "depends_on", "expect_no_warnings",
]

PUBLIC_SEED = 2026
FORBIDDEN_MODULES = ("nnkit",)  # answers must be written in numpy


class AuthoringError(Exception):
    """A test cell does something a test may not do (a bug in the assignment, not the submission)."""


# --------------------------------------------------------------------------------------------
# Trace mode: recording steps
# --------------------------------------------------------------------------------------------
@dataclass
class Expectation:
    kind: str                  # "close", "equal", "that", "accuracy"
    handle: int | None         # the step whose value is judged (None: a concrete value)
    params: dict
    what: str
    concrete: Any = None


@dataclass
class Trace:
    """What one test cell asked of the student's code, as plain data, plus its expectations."""
    seed: int
    steps: list = field(default_factory=list)
    arrays: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    expectations: list = field(default_factory=list)
    names: set = field(default_factory=set)
    references: list = field(default_factory=list)   # names replaced by the instructor's version for this test
    depends: list = field(default_factory=list)      # tests whose answers this one uses (a stated dependency)
    reference_code: str = ""                         # the instructor's definitions of ``references`` (set by the grader)

    def add(self, op: str, **fields) -> int:
        self.steps.append({"id": len(self.steps), "op": op, **{k: self.encode(v) if k in ("args", "kwargs", "key", "value") else v for k, v in fields.items()}})
        return len(self.steps) - 1

    def encode(self, value):
        """Encode an argument as JSON-able data; arrays become references into ``arrays``."""
        if isinstance(value, Handle):
            if value._trace is not self:
                raise AuthoringError("a student value from another test cell was used")
            return {"ref": value._id}
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufc":
                raise AuthoringError(f"only numeric arrays can be passed to student code, got dtype {value.dtype}")
            self.arrays.append(np.array(value, copy=True))
            return {"array": len(self.arrays) - 1}
        if isinstance(value, np.generic):
            return {"scalar": value.item(), "dtype": value.dtype.str}
        if value is None or isinstance(value, (bool, int, str)):
            return {"lit": value}
        if isinstance(value, float):
            return {"lit": value} if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, tuple):
            return {"tuple": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return {"list": [self.encode(v) for v in value]}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise AuthoringError("dict arguments need string keys")
            return {"dict": {k: self.encode(v) for k, v in value.items()}}
        if isinstance(value, slice):
            return {"slice": [self.encode(value.start), self.encode(value.stop), self.encode(value.step)]}
        if value is Ellipsis:
            return {"ellipsis": True}
        if isinstance(value, type) and issubclass(value, np.generic):
            return {"dtype": np.dtype(value).str}
        raise AuthoringError(f"cannot pass a {type(value).__name__} to student code when grading")

    def to_plan(self) -> dict:
        plan = {"steps": self.steps, "outputs": sorted(set(self.outputs)), "n_arrays": len(self.arrays)}
        if self.references:
            plan["references"] = {"names": list(self.references), "code": self.reference_code}
        return plan


_LOCAL = threading.local()  # the grader traces submissions in parallel threads


def _current_trace() -> Trace | None:
    return getattr(_LOCAL, "trace", None)


@contextlib.contextmanager
def tracing(seed: int):
    """Run test-cell code in trace mode (used by the grader; never by students)."""
    previous = _current_trace()
    _LOCAL.trace = Trace(seed=seed)
    try:
        yield _LOCAL.trace
    finally:
        _LOCAL.trace = previous


class Handle:
    """A value the student's code will produce in the sandbox; only recorded, never computed here."""

    __slots__ = ("_trace", "_id", "_label")

    def __init__(self, trace: Trace, step_id: int, label: str):
        object.__setattr__(self, "_trace", trace)
        object.__setattr__(self, "_id", step_id)
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Handle(self._trace, self._trace.add("getattr", target=self._id, name=name), f"{self._label}.{name}")

    def __call__(self, *args, **kwargs):
        step = self._trace.add("call", target=self._id, args=list(args), kwargs=dict(kwargs))
        return Handle(self._trace, step, f"{self._label}(...)")

    def __getitem__(self, key):
        return Handle(self._trace, self._trace.add("getitem", target=self._id, key=key), f"{self._label}[...]")

    def __setitem__(self, key, value):
        self._trace.add("setitem", target=self._id, key=key, value=value)

    def __setattr__(self, name, value):
        self._trace.add("setattr", target=self._id, name=name, value=value)

    def _refuse(self, *_, **__):
        raise AuthoringError(
            f"trusted test code tried to compute with the student's value {self._label}; "
            "pass it to an expect_* function instead")

    __bool__ = __len__ = __iter__ = __array__ = __float__ = __int__ = __index__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __matmul__ = __rmatmul__ = __pow__ = __neg__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __eq__ = __ne__ = _refuse
    __hash__ = None

    def __repr__(self):
        return f"<student value {self._label}>"


# --------------------------------------------------------------------------------------------
# The student's namespace
# --------------------------------------------------------------------------------------------
def _user_namespace() -> dict:
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython ships with the course
        shell = None
    if shell is not None:
        return shell.user_ns
    import __main__
    return vars(__main__)


def _from_forbidden(value) -> str | None:
    for attr in ("__module__", "__name__"):
        name = getattr(value, attr, None)
        if isinstance(name, str) and name.split(".")[0] in FORBIDDEN_MODULES:
            return name
    return None


def _code_names(code) -> set:
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _uses_forbidden_module(obj) -> str | None:
    """The nnkit module a student's answer relies on: it is one, or its code reaches one through globals."""
    found = _from_forbidden(obj)
    if found:
        return found
    functions = [obj] if inspect.isfunction(obj) else []
    if inspect.isclass(obj):
        functions = [f for f in vars(obj).values() if inspect.isfunction(f)]
    for fn in functions:
        reachable = [fn.__globals__.get(name) for name in _code_names(fn.__code__)]
        reachable += [cell.cell_contents for cell in (fn.__closure__ or ()) if _cell_filled(cell)]
        for value in reachable:
            found = _from_forbidden(value)
            if found:
                return found
    return None


def _cell_filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


class _Student:
    """``student.NAME`` is the student's ``NAME`` (eager) or a recorded look-up (trace)."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        trace = _current_trace()
        if trace is not None:
            trace.names.add(name)
            return Handle(trace, trace.add("name", name=name), name)
        ns = _user_namespace()
        if name not in ns:
            raise AssertionError(f"`{name}` is not defined: run the cell where you define it, then this test again")
        obj = ns[name]
        forbidden = _uses_forbidden_module(obj)
        if forbidden:
            raise AssertionError(f"`{name}` uses {forbidden}: answers must be written in numpy "
                                 "(nnkit is the reference you are graded against), so it earns no credit")
        return obj

    def __repr__(self):
        return "<the student's notebook namespace>"


student = _Student()


def seeded_rng(label: str) -> np.random.Generator:
    """A numpy Generator for test inputs: public and fixed for self-checks, secret when grading."""
    key = zlib.crc32(label.encode())
    trace = _current_trace()
    seed = PUBLIC_SEED if trace is None else trace.seed
    return np.random.default_rng([seed, key])


# --------------------------------------------------------------------------------------------
# What a test relies on: the instructor's helpers, and stated dependencies
# --------------------------------------------------------------------------------------------
_EAGER_NOTES: dict = {}   # in the student's kernel: execution count of the test cell -> hint for a failure


def _execution_count():
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:  # pragma: no cover
        shell = None
    return getattr(shell, "execution_count", None)


def _eager_note(text: str) -> None:
    count = _execution_count()
    if count not in _EAGER_NOTES:
        _EAGER_NOTES.clear()          # the notes belong to the test cell running now
        _EAGER_NOTES[count] = []
    if text not in _EAGER_NOTES[count]:
        _EAGER_NOTES[count].append(text)


def _check_names(kind: str, names) -> list[str]:
    if not names or not all(isinstance(n, str) and n.isidentifier() for n in names):
        raise AuthoringError(f"{kind}() takes one or more names as strings, got {names!r}")
    return list(names)


def use_reference(*names: str) -> None:
    """While this test is graded, the student's ``names`` are replaced by the instructor's definitions.

    The grader takes each name's definition from the source notebook's solution cells (with the
    solution names it uses in turn) and binds it in the student's namespace for this test only, so
    a test of ``silu`` that calls ``use_reference("sigmoid")`` grades ``silu`` alone: a mistake in
    the student's ``sigmoid`` costs ``sigmoid``'s own test, not this one.  Never list the function
    the test grades.  In the student's kernel (self-checking) nothing is replaced; a failure message
    then says that the student's own versions were used.
    """
    names = _check_names("use_reference", names)
    trace = _current_trace()
    if trace is not None:
        trace.references.extend(n for n in names if n not in trace.references)
        return
    listed = ", ".join(f"`{n}`" for n in names)
    _eager_note(f"this test ran with your {listed}; when grading, the instructor's {listed} "
                f"{'is' if len(names) == 1 else 'are'} used instead, so only the function under test counts here")


def depends_on(*test_ids: str) -> None:
    """State that this test uses answers graded by ``test_ids`` (say so in the notebook's text, too).

    When this test fails and one of those failed as well, the feedback says to fix that one first.
    """
    test_ids = _check_names("depends_on", test_ids)
    trace = _current_trace()
    if trace is not None:
        trace.depends.extend(t for t in test_ids if t not in trace.depends)
        return
    _eager_note(f"this test uses your answers checked by {', '.join(test_ids)}: if one of those fails, fix it first")


# --------------------------------------------------------------------------------------------
# Judging plain values (shared by eager mode and the trusted grader)
# --------------------------------------------------------------------------------------------
class Raised:
    """Stands for an exception the student's code raised (or a value that couldn't be returned)."""

    def __init__(self, kind: str, message: str):
        self.kind, self.message = kind, message

    def __repr__(self):
        return f"{self.kind}: {self.message}" if self.message else self.kind


def _describe(value) -> str:
    if isinstance(value, Raised):
        return f"an error instead: {value!r}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if value is None:
        return "None (did you forget `return`?)"
    return f"a {type(value).__name__}"


def _as_numeric_array(value):
    if isinstance(value, (np.ndarray, np.generic, int, float, bool)) and not isinstance(value, Raised):
        arr = np.asarray(value)  # asarray drops ndarray subclasses: their comparisons are not trusted
        if arr.dtype.kind in "biuf":
            return arr
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError):
            return None
        return arr if arr.dtype.kind in "biuf" else None
    return None


def _nonfinite(value) -> str | None:
    """The first NaN or infinity in a number, array, or list/tuple/dict nesting of them, described; else None."""
    stack, seen = [(value, "")], set()
    while stack:
        v, where = stack.pop()
        if isinstance(v, (dict, list, tuple)):
            if id(v) in seen:
                continue
            seen.add(id(v))
            items = list(v.items()) if isinstance(v, dict) else list(enumerate(v))
            stack.extend((x, f"{where}[{k!r}]") for k, x in reversed(items))
        elif isinstance(v, (float, complex, np.ndarray, np.generic)):
            arr = np.asarray(v)
            if arr.dtype.kind not in "fc":
                continue
            bad = ~np.isfinite(arr)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                x = arr[idx]
                place = (f" in {where}" if where else "") + (f" at index {idx}" if idx else "")
                if np.isnan(x):
                    return f"got NaN{place} (0/0, inf - inf or log of a negative?)"
                return f"got {'inf' if np.real(x) > 0 or np.imag(x) > 0 else '-inf'}{place} (overflow?)"
    return None


def judge_close(value, expected, *, rtol=1e-5, atol=1e-8, check_dtype=False) -> tuple[bool, str]:
    """Compare a student's value with the reference; return (passed, message)."""
    expected = np.asarray(expected)
    actual = _as_numeric_array(value)
    if actual is None:
        return False, f"expected an array of shape {expected.shape}, got {_describe(value)}"
    # a plain ndarray view: a subclass can't change how it compares
    actual = actual.view(np.ndarray) if isinstance(actual, np.ndarray) else actual
    if actual.shape != expected.shape:
        return False, f"expected shape {expected.shape}, got shape {actual.shape}"
    if check_dtype and actual.dtype != expected.dtype:
        return False, f"expected dtype {expected.dtype} (keep the input's dtype), got {actual.dtype}"
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    nonfinite = ~np.isfinite(a) & np.isfinite(e)
    if nonfinite.any():
        idx = tuple(int(i) for i in np.argwhere(nonfinite)[0])
        cause = "overflow?" if np.isinf(a[idx]) else "0/0, inf - inf or log of a negative?"
        return False, f"got {a[idx]} at index {idx} where {e[idx]:.6g} was expected ({cause})"
    with np.errstate(invalid="ignore"):
        err = np.abs(a - e)
        bad = ~(err <= atol + rtol * np.abs(e)) & ~((a == e) | (np.isnan(a) & np.isnan(e)))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return False, (f"{int(bad.sum())} of {bad.size} entries differ; max abs error {np.nanmax(err):.3g}; "
                       f"first at index {idx}: got {a[idx]:.6g}, expected {e[idx]:.6g}")
    return True, f"max abs error {float(np.max(err)) if err.size else 0.0:.2g}"


def judge_equal(value, expected) -> tuple[bool, str]:
    if isinstance(expected, np.ndarray) or isinstance(value, np.ndarray):
        actual = _as_numeric_array(value)
        expected = np.asarray(expected)
        if actual is None:
            return False, f"expected an array of shape {expected.shape}, got {_describe(value)}"
        if actual.shape != expected.shape:
            return False, f"expected shape {expected.shape}, got shape {actual.shape}"
        bad = np.asarray(actual.view(np.ndarray) != expected)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            return False, f"{int(bad.sum())} of {bad.size} entries differ; first at index {idx}: got {actual[idx]}, expected {expected[idx]}"
        return True, "equal"
    if isinstance(value, Raised):
        return False, f"expected {expected!r}, got {_describe(value)}"
    if isinstance(value, (float, np.floating)) and math.isnan(value):  # NaN equals nothing, not even NaN
        return False, f"expected {expected!r}, {_nonfinite(value)}"
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        value = value.item()  # a numpy scalar counts as the Python number it holds
    if isinstance(expected, np.generic):
        expected = expected.item()
    if type(value) in (bool, int, float, str, type(None)) and value == expected and type(value) is type(expected):
        return True, "equal"
    if type(value) is float and type(expected) is int and value == expected:
        return False, f"expected the integer {expected!r}, got {value!r} (a float)"
    if isinstance(value, (int, float)) and isinstance(expected, (int, float)) and not isinstance(value, bool) \
            and not isinstance(expected, bool) and value == expected:
        return True, "equal"
    return False, f"expected {expected!r}, got {value!r}" if not isinstance(value, np.ndarray) else f"expected {expected!r}, got {_describe(value)}"


def judge_that(value, predicate: Callable, *, allow_nonfinite: bool = False) -> tuple[bool, str]:
    """``predicate(value)``; a value holding NaN or infinity fails first unless ``allow_nonfinite``."""
    if isinstance(value, Raised):
        return False, f"got {_describe(value)}"
    if not allow_nonfinite:
        bad = _nonfinite(value)
        if bad:
            return False, bad
    result = predicate(value)
    if isinstance(result, tuple):
        ok, detail = result
        return bool(ok), str(detail)
    return bool(result), "" if result else "condition not met"


def judge_accuracy(value, labels, at_least: float) -> tuple[bool, str]:
    labels = np.asarray(labels)
    pred = _as_numeric_array(value)
    if pred is None:
        return False, f"expected predicted labels of shape {labels.shape}, got {_describe(value)}"
    if pred.shape != labels.shape:
        return False, f"expected predicted labels of shape {labels.shape}, got shape {pred.shape}"
    bad = _nonfinite(pred)
    if bad:
        return False, f"predicted labels: {bad}"
    acc = float(np.mean(pred.view(np.ndarray) == labels))
    ok = acc >= at_least
    return ok, f"accuracy {acc:.1%} (needs at least {at_least:.0%})"


def judge_quiet(value) -> tuple[bool, str]:
    """The warnings a call emitted (a list of strings from the sandbox): none is a pass."""
    if isinstance(value, Raised):
        return False, f"raised {value!r}"
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        return False, "the call's warnings could not be read"
    if value:
        more = f" (and {len(value) - 1} more)" if len(value) > 1 else ""
        return False, f"emitted a warning: {value[0]}{more}"
    return True, "no warnings"


JUDGES = {
    "close": lambda v, p: judge_close(v, p["expected"], rtol=p["rtol"], atol=p["atol"], check_dtype=p["check_dtype"]),
    "equal": lambda v, p: judge_equal(v, p["expected"]),
    "that": lambda v, p: judge_that(v, p["predicate"], allow_nonfinite=p.get("allow_nonfinite", False)),
    "accuracy": lambda v, p: judge_accuracy(v, p["labels"], p["at_least"]),
    "quiet": lambda v, p: judge_quiet(v),
}


def _expect(kind: str, actual, params: dict, what: str):
    trace = _current_trace()
    if trace is not None:
        if isinstance(actual, Handle):
            trace.outputs.append(actual._id)
            trace.expectations.append(Expectation(kind, actual._id, params, what))
        else:  # a value the trusted code computed itself: judged as it stands
            trace.expectations.append(Expectation(kind, None, params, what, concrete=actual))
        return
    try:
        ok, detail = JUDGES[kind](actual, params)
    except Exception as exc:  # a check choking on a strange value: still a readable failure
        ok, detail = False, f"the value could not be checked ({type(exc).__name__}: {exc}); got {_describe(actual)}"
    if not ok:
        notes = _EAGER_NOTES.get(_execution_count(), [])
        raise AssertionError(f"{what}: {detail}" + "".join(f"\n(note: {n})" for n in notes))


def expect_close(actual, expected, what: str, *, rtol: float = 1e-5, atol: float = 1e-8, check_dtype: bool = False):
    """The student's array equals ``expected`` within ``atol + rtol*|expected|`` entrywise (and same shape)."""
    _expect("close", actual, dict(expected=np.asarray(expected), rtol=rtol, atol=atol, check_dtype=check_dtype), what)


def expect_equal(actual, expected, what: str):
    """Exact equality: for integer labels, booleans, counts, shapes (compare ``tuple``s)."""
    _expect("equal", actual, dict(expected=expected), what)


def expect_that(actual, predicate: Callable, what: str, *, allow_nonfinite: bool = False):
    """``predicate(value)`` returns ``bool`` or ``(bool, detail)``; it runs in the trusted process.

    A value holding NaN or infinity fails before the predicate runs, unless ``allow_nonfinite``.
    """
    _expect("that", actual, dict(predicate=predicate, allow_nonfinite=bool(allow_nonfinite)), what)


def expect_no_warnings(fn, args=(), what: str = "", kwargs: dict | None = None):
    """``fn(*args, **kwargs)`` (a student function) returns without raising and without any warning.

    numpy's floating-point warnings count (overflow in ``exp``, invalid value, division by zero; not
    underflow, which numpy ignores by default too): use this wherever a notebook promises "no warnings
    for any finite input".
    """
    kwargs = dict(kwargs or {})
    if not isinstance(args, (tuple, list)):
        raise AuthoringError("expect_no_warnings(fn, args, what): args is a tuple of positional arguments")
    what = what or "the call"
    trace = _current_trace()
    if trace is not None:
        if not isinstance(fn, Handle):
            raise AuthoringError("expect_no_warnings needs a student function, such as student.sigmoid")
        step = trace.add("call_quiet", target=fn._id, args=list(args), kwargs=kwargs)
        trace.outputs.append(step)
        trace.expectations.append(Expectation("quiet", step, {}, what))
        return
    import warnings
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
                fn(*args, **kwargs)
        value = [f"{w.category.__name__}: {w.message}" for w in caught]
    except Exception as exc:  # noqa: BLE001 - the student's exception is the finding
        value = Raised(type(exc).__name__, str(exc))
    _expect("quiet", value, {}, what)


def expect_accuracy(predicted_labels, labels, at_least: float, what: str):
    """Fraction of ``predicted_labels == labels`` is at least ``at_least`` (labels stay trusted)."""
    _expect("accuracy", predicted_labels, dict(labels=np.asarray(labels), at_least=float(at_least)), what)


# --------------------------------------------------------------------------------------------
# Reusable checks built from the primitives above (they work in both modes)
# --------------------------------------------------------------------------------------------
def check_elementwise(name: str, reference: Callable, rng: np.random.Generator, *,
                      shapes=((4, 6),), scale: float = 3.0, special=(), float32: bool = False,
                      kwargs: dict | None = None, rtol: float = 1e-6, atol: float = 1e-9,
                      no_warnings: bool = False):
    """Compare ``student.<name>(x, **kwargs)`` with ``reference(x, **kwargs)`` on random and special inputs.

    ``shapes``: random normal inputs (times ``scale``) of these shapes, float64.  ``special``:
    values that break naive code (0 at a kink, ±1000 for overflow), checked as one array.
    ``float32``: also a float32 input, whose output must stay float32.  ``no_warnings``: the call
    on the special values must not warn either (numpy overflow included).
    """
    kwargs = kwargs or {}
    for shape in shapes:
        x = rng.normal(0.0, scale, size=shape)
        expect_close(getattr(student, name)(x, **kwargs), reference(x, **kwargs),
                     f"{name}(x) for x of shape {tuple(shape)}", rtol=rtol, atol=atol)
    if len(special):
        x = np.asarray(special, dtype=np.float64)
        expect_close(getattr(student, name)(x, **kwargs), reference(x, **kwargs),
                     f"{name} at the special values {np.array2string(x, precision=3)}", rtol=rtol, atol=atol)
        if no_warnings:
            expect_no_warnings(getattr(student, name), (x,), f"{name} at the special values "
                               f"{np.array2string(x, precision=3)} without warnings", kwargs=kwargs)
    if float32:
        x = rng.normal(0.0, scale, size=(3, 5)).astype(np.float32)
        expect_close(getattr(student, name)(x, **kwargs), reference(x, **kwargs),
                     f"{name}(x) for a float32 x of shape (3, 5)", rtol=1e-4, atol=1e-6, check_dtype=True)
