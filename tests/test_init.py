"""nnkit.init against torch.nn.init: fan rules and gains exactly, random initialisers by statistics
of large draws (the two libraries use different generators, so values cannot agree; distributions must)."""
import math

import numpy as np
import pytest

from nnkit import init
from nnkit.nn import Parameter

LINEAR_SHAPE = (512, 256)
CONV_SHAPE = (64, 32, 3, 3)
SHAPES = [LINEAR_SHAPE, CONV_SHAPE]


# --- fans and gains: exact -------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("shape", [(5, 3), LINEAR_SHAPE, CONV_SHAPE, (7, 4, 5), (2, 3, 4, 5, 6), (1, 1)])
def test_fans_match_torch(torch, shape):
    assert init.fans(np.zeros(shape)) == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    assert init.fans(Parameter(np.zeros(shape))) == init.fans(np.zeros(shape))


@pytest.mark.torch
def test_fans_need_two_dimensions(torch):
    with pytest.raises(ValueError):
        init.fans(np.zeros(5))
    with pytest.raises(ValueError):
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(5))


GAINS = [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
         ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
         ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", 1),
         ("leaky_relu", math.sqrt(5)), ("selu", None)]


@pytest.mark.torch
@pytest.mark.parametrize("nonlinearity, param", GAINS, ids=[f"{n}-{p}" for n, p in GAINS])
def test_gains_match_torch(torch, nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param),
                                                                     rel=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("nonlinearity, param", [("softmax", None), ("ReLU", None), ("leaky_relu", True),
                                                 ("leaky_relu", "0.1")])
def test_bad_gain_arguments_raise_like_torch(torch, nonlinearity, param):
    with pytest.raises(ValueError):
        init.calculate_gain(nonlinearity, param)
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(nonlinearity, param)


# --- random initialisers: statistics against torch --------------------------------------------------
# (name, kwargs, kind, expected std or bound as a function of (fan_in, fan_out)) -- the expected
# value is written here from the papers' formulas, independently of nnkit.
def _xavier_bound(fi, fo, gain=1.0):
    return gain * math.sqrt(6 / (fi + fo))


CASES = [
    ("uniform_", dict(a=-0.3, b=0.7), "uniform", None),
    ("normal_", dict(mean=0.5, std=2.0), "normal", None),
    ("xavier_uniform_", dict(), "uniform", lambda fi, fo: _xavier_bound(fi, fo)),
    ("xavier_uniform_", dict(gain=5 / 3), "uniform", lambda fi, fo: _xavier_bound(fi, fo, 5 / 3)),
    ("xavier_normal_", dict(), "normal", lambda fi, fo: math.sqrt(2 / (fi + fo))),
    ("xavier_normal_", dict(gain=2.0), "normal", lambda fi, fo: 2 * math.sqrt(2 / (fi + fo))),
    ("kaiming_uniform_", dict(), "uniform", lambda fi, fo: math.sqrt(2) * math.sqrt(3 / fi)),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu"), "uniform", lambda fi, fo: math.sqrt(6 / fo)),
    ("kaiming_uniform_", dict(a=math.sqrt(5)), "uniform", lambda fi, fo: 1 / math.sqrt(fi)),   # torch's Linear default
    ("kaiming_normal_", dict(), "normal", lambda fi, fo: math.sqrt(2 / fi)),
    ("kaiming_normal_", dict(a=0.2, mode="fan_out"), "normal", lambda fi, fo: math.sqrt(2 / (1.04 * fo))),
    ("kaiming_normal_", dict(nonlinearity="tanh"), "normal", lambda fi, fo: 5 / 3 / math.sqrt(fi)),
]


def _draw_both(torch, name, kwargs, shape, dtype=np.float32):
    ours = init.__dict__[name](np.empty(shape, dtype), seed=0, **kwargs)
    torch.manual_seed(0)
    theirs = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float32), **kwargs).numpy()
    return ours, theirs


@pytest.mark.torch
@pytest.mark.parametrize("shape", SHAPES, ids=["linear", "conv"])
@pytest.mark.parametrize("name, kwargs, kind, expected", CASES, ids=[f"{n}-{k}" for n, k, _, _ in CASES])
def test_statistics_match_torch(torch, name, kwargs, kind, expected, shape):
    ours, theirs = _draw_both(torch, name, kwargs, shape)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    n = ours.size
    if kind == "uniform":
        if name == "uniform_":
            lo, hi = kwargs["a"], kwargs["b"]
        else:
            hi = expected(fan_in, fan_out)
            lo = -hi
        for x in (ours, theirs):
            assert lo <= x.min() and x.max() <= hi                          # inside the bound ...
            assert x.min() < lo + 0.01 * (hi - lo) and x.max() > hi - 0.01 * (hi - lo)   # ... and filling it
        mean, std = (lo + hi) / 2, (hi - lo) / math.sqrt(12)
    else:
        mean = kwargs.get("mean", 0.0)
        std = kwargs["std"] if name == "normal_" else expected(fan_in, fan_out)
    # 5 standard errors: mean SE = std/√n, std SE ≈ std/√(2n) (generous for the uniform's smaller one)
    for x in (ours, theirs):
        assert abs(x.mean() - mean) < 5 * std / math.sqrt(n)
        assert abs(x.std() - std) < 5 * std / math.sqrt(2 * n)
    assert abs(ours.std() - theirs.std()) < 0.03 * theirs.std()
    assert abs(ours.mean() - theirs.mean()) < 0.03 * theirs.std()
    if kind == "normal":   # a normal's tails: ~0.27 % of the draws beyond 3σ
        for x in (ours, theirs):
            assert 0.001 < np.mean(np.abs(x - mean) > 3 * std) < 0.005


@pytest.mark.torch
def test_fan_in_uniform_is_torch_linear_default(torch):
    w = init.fan_in_uniform_(np.empty(LINEAR_SHAPE), seed=1)
    torch.manual_seed(1)
    tw = torch.nn.Linear(LINEAR_SHAPE[1], LINEAR_SHAPE[0]).weight.detach().numpy()
    bound = 1 / math.sqrt(LINEAR_SHAPE[1])
    for x in (w, tw):
        assert np.abs(x).max() <= bound and np.abs(x).max() > 0.99 * bound
    assert abs(w.std() - tw.std()) < 0.02 * tw.std()


# --- orthogonal -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(64, 128), (128, 64), (50, 50), CONV_SHAPE, (300, 4, 2)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain, dtype):
    w = init.orthogonal_(np.empty(shape, dtype), gain=gain, seed=3)
    assert w.dtype == dtype
    flat = w.reshape(shape[0], -1).astype(np.float64) / gain
    rows, cols = flat.shape
    gram = flat @ flat.T if rows <= cols else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(64, 128), (128, 64), CONV_SHAPE])
def test_orthogonal_statistics_match_torch(torch, shape):
    ours, theirs = _draw_both(torch, "orthogonal_", dict(gain=2.0), shape)
    # Haar-random semi-orthogonal: every entry has variance gain² / max(rows, cols).
    expected = 2.0 / math.sqrt(max(shape[0], ours.size // shape[0]))
    for x in (ours, theirs):
        assert abs(x.std() - expected) < 0.03 * expected


# --- the calling contract ---------------------------------------------------------------------------
ALL = [("uniform_", {}), ("normal_", {}), ("xavier_uniform_", {}), ("xavier_normal_", {}), ("kaiming_uniform_", {}),
       ("kaiming_normal_", {}), ("orthogonal_", {}), ("fan_in_uniform_", {})]


@pytest.mark.parametrize("name, kwargs", ALL, ids=[n for n, _ in ALL])
def test_reproducible_with_a_seed_and_with_a_generator(name, kwargs):
    fill = getattr(init, name)
    a = fill(np.empty((20, 10)), seed=7, **kwargs)
    b = fill(np.empty((20, 10)), seed=7, **kwargs)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, fill(np.empty((20, 10)), seed=8, **kwargs))
    c = fill(np.empty((20, 10)), seed=np.random.default_rng(7), **kwargs)
    np.testing.assert_array_equal(a, c)                  # a Generator in the same state draws the same
    gen = np.random.default_rng(7)
    first, second = fill(np.empty((20, 10)), seed=gen, **kwargs), fill(np.empty((20, 10)), seed=gen, **kwargs)
    assert not np.array_equal(first, second)             # ... and advances
    with pytest.raises(TypeError):
        fill(np.empty((20, 10)), seed="7", **kwargs)


@pytest.mark.parametrize("name, kwargs", ALL + [("constant_", dict(val=0.25)), ("zeros_", {}), ("ones_", {})],
                         ids=[n for n, _ in ALL] + ["constant_", "zeros_", "ones_"])
def test_fills_parameters_and_arrays_in_place(name, kwargs, dtype):
    fill = getattr(init, name)
    arr = np.full((8, 6), np.nan, dtype)
    assert fill(arr, **kwargs) is arr and arr.dtype == dtype and np.isfinite(arr).all()
    p = Parameter(np.full((8, 6), np.nan, dtype))
    data = p.data
    assert fill(p, **kwargs) is p and p.data is data and p.dtype == dtype and np.isfinite(p.data).all()


def test_constant_zeros_ones():
    np.testing.assert_array_equal(init.constant_(np.empty((3, 2)), 0.25), np.full((3, 2), 0.25))
    np.testing.assert_array_equal(init.zeros_(np.empty(4)), np.zeros(4))
    np.testing.assert_array_equal(init.ones_(Parameter(np.empty(4))).data, np.ones(4))


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs", ALL + [("constant_", dict(val=1.0))], ids=[n for n, _ in ALL] + ["constant_"])
@pytest.mark.parametrize("bad", ["list", "int-array", "tensor", "none"])
def test_wrong_types_raise_type_error(torch, name, kwargs, bad):
    value = {"list": [[0.0, 1.0], [2.0, 3.0]], "int-array": np.zeros((3, 2), dtype=np.int64),
             "tensor": torch.zeros(3, 2), "none": None}[bad]
    with pytest.raises(TypeError):
        getattr(init, name)(value, **kwargs)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_bad_mode_raises_value_error(torch, name):
    with pytest.raises(ValueError, match="mode"):
        getattr(init, name)(np.empty((4, 3)), mode="fan_avg")
    with pytest.raises(ValueError):
        getattr(torch.nn.init, name)(torch.empty(4, 3), mode="fan_avg")
    with pytest.raises(ValueError):
        getattr(init, name)(np.empty((4, 3)), nonlinearity="swish")


def test_other_bad_arguments_raise_value_error():
    for fill in (init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_, init.orthogonal_):
        with pytest.raises(ValueError):
            fill(np.empty(5))                            # fans need >= 2 dimensions
    with pytest.raises(ValueError):
        init.uniform_(np.empty(3), a=1.0, b=0.0)
    with pytest.raises(ValueError):
        init.normal_(np.empty(3), std=-1.0)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_", "orthogonal_"])
def test_zero_element_tensors_are_a_no_op_like_torch(torch, name):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # torch warns "Initializing zero-element tensors is a no-op"
        getattr(torch.nn.init, name)(torch.empty(0, 3))
    assert getattr(init, name)(np.empty((0, 3))).shape == (0, 3)
