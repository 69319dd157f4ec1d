"""The authoring model: one test, run eagerly in a student's kernel or traced for the sandbox."""
import numpy as np
import pytest

from autograder import checks
from autograder.checks import (AuthoringError, Raised, check_elementwise, expect_close, expect_equal, expect_that,
                               judge_close, seeded_rng, student, tracing)


@pytest.fixture
def user_ns(monkeypatch):
    """Stand in for the notebook namespace a student's kernel would have."""
    ns = {}
    monkeypatch.setattr(checks, "_user_namespace", lambda: ns)
    return ns


def test_eager_mode_calls_the_students_function_and_passes(user_ns):
    user_ns["double"] = lambda x: 2 * x
    x = np.arange(4.0)
    expect_close(student.double(x), 2 * x, "double")


def test_eager_failure_message_is_actionable(user_ns):
    user_ns["double"] = lambda x: 2 * x + np.array([0, 0, 0.5, 0])
    with pytest.raises(AssertionError, match=r"double: 1 of 4 entries differ.*first at index \(2,\): got 4.5, expected 4"):
        expect_close(student.double(np.arange(4.0)), 2 * np.arange(4.0), "double")


def test_eager_mode_reports_an_undefined_name(user_ns):
    with pytest.raises(AssertionError, match="`sigmoid` is not defined"):
        student.sigmoid


def test_eager_mode_refuses_answers_that_use_nnkit(user_ns):
    from nnkit.functional import sigmoid
    user_ns["sigmoid"] = sigmoid
    with pytest.raises(AssertionError, match="answers must be written in numpy"):
        student.sigmoid


@pytest.mark.parametrize("value, message", [
    (None, "got None"),
    (np.zeros(3), "expected shape (4,), got shape (3,)"),
    (np.full(4, np.inf), "overflow"),
    (np.full(4, np.nan), "0/0"),
    (Raised("ValueError", "bad"), "ValueError: bad"),
    ("text", "got a str"),
])
def test_judge_close_explains_what_is_wrong(value, message):
    ok, detail = judge_close(value, np.ones(4))
    assert not ok and message in detail


def test_judge_close_checks_dtype_when_asked():
    ok, detail = judge_close(np.ones(3), np.ones(3, dtype=np.float32), check_dtype=True)
    assert not ok and "float32" in detail


def test_an_ndarray_subclass_cannot_compare_its_way_to_a_pass():
    class AlwaysEqual(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(other), bool)
    fake = np.zeros(4).view(AlwaysEqual)
    assert not judge_close(fake, np.ones(4))[0]
    assert not checks.judge_equal(fake, np.ones(4))[0]


def test_trace_mode_records_steps_without_calling_anything():
    x = np.arange(3.0)
    with tracing(seed=5) as trace:
        out = student.layer(3, 4).forward(x)
        expect_close(out, np.zeros(4), "forward")
    ops = [s["op"] for s in trace.steps]
    assert ops == ["name", "call", "getattr", "call"]
    assert trace.steps[3]["args"] == {"list": [{"array": 0}]}
    assert np.array_equal(trace.arrays[0], x) and trace.arrays[0] is not x
    assert trace.outputs == [3] and trace.names == {"layer"}
    assert len(trace.expectations) == 1 and trace.expectations[0].handle == 3


def test_trusted_code_may_not_compute_with_a_student_value():
    with tracing(seed=0):
        value = student.f(1.0)
        with pytest.raises(AuthoringError, match="pass it to an expect_"):
            value + 1
        with pytest.raises(AuthoringError):
            np.asarray(value)


def test_seeded_rng_is_public_in_the_kernel_and_secret_when_grading():
    public = seeded_rng("t").normal(size=3)
    assert np.array_equal(public, seeded_rng("t").normal(size=3))
    with tracing(seed=1):
        a = seeded_rng("t").normal(size=3)
    with tracing(seed=2):
        b = seeded_rng("t").normal(size=3)
    assert not np.array_equal(a, public) and not np.array_equal(a, b)


def test_check_elementwise_covers_shapes_specials_and_float32(user_ns):
    user_ns["relu"] = lambda z: np.maximum(z, 0)
    check_elementwise("relu", lambda z: np.maximum(z, 0), seeded_rng("r"), shapes=[(2, 3)], special=[0.0, -1.0],
                      float32=True)
    user_ns["relu"] = lambda z: np.maximum(z, 0).astype(np.float64)
    with pytest.raises(AssertionError, match="keep the input's dtype"):
        check_elementwise("relu", lambda z: np.maximum(z, 0), seeded_rng("r"), shapes=[], float32=True)


def test_expect_that_and_expect_equal_in_eager_mode(user_ns):
    user_ns["params"] = (np.array([1.0, 1.0]), -1.5)
    expect_that(student.params, lambda p: (p[1] < 0, "bias must be negative"), "params")
    with pytest.raises(AssertionError, match="bias must be positive"):
        expect_that(student.params, lambda p: (p[1] > 0, "bias must be positive"), "params")
    user_ns["labels"] = lambda: np.array([0, 1])
    with pytest.raises(AssertionError, match=r"first at index \(1,\): got 1, expected 0"):
        expect_equal(student.labels(), np.array([0, 0]), "labels")


def test_mentioning_nnkit_in_a_comment_is_not_using_it():
    from autograder.staticcheck import uses_nnkit
    assert not uses_nnkit("# same formula as nnkit.functional.sigmoid\ndef f(z):\n    return z")
    assert uses_nnkit("import nnkit.functional as F\ndef f(z):\n    return F.sigmoid(z)")
    assert uses_nnkit("from nnkit.obd import saliency")


def test_eager_mode_sees_nnkit_reached_through_a_global(user_ns):
    import nnkit.functional as F

    def sigmoid(z):
        return F.sigmoid(z)
    user_ns["sigmoid"] = sigmoid
    with pytest.raises(AssertionError, match="uses nnkit"):
        student.sigmoid


def test_judge_equal_treats_numpy_scalars_as_numbers_but_keeps_int_and_float_apart():
    assert checks.judge_equal(np.int64(6), 6)[0]
    ok, detail = checks.judge_equal(6.0, 6)
    assert not ok and "a float" in detail
    assert not checks.judge_equal(True, 1)[0]


def test_a_predicate_that_crashes_is_still_a_readable_failure(user_ns):
    user_ns["f"] = lambda: None
    with pytest.raises(AssertionError, match="could not be checked"):
        expect_that(student.f(), lambda v: v[0] > 0, "f()")
