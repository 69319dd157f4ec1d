"""Dropout in both modes: mask statistics, equal expectations, evaluation, backward, seeds, p = 1
against PyTorch, the functional form, errors."""
import numpy as np
import pytest

import nnkit.functional as F
from nnkit.gradcheck import assert_gradients_close, check_module_gradients
from nnkit.nn import Dropout

MODES = ["inverted", "scale_at_test"]


class FixedMaskDropout(Dropout):
    """Draws the same mask on every forward, so central differences see one fixed function."""

    def forward(self, x):
        self._rng = np.random.default_rng(7)
        return super().forward(x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("training", [True, False])
def test_gradients_match_central_differences(mode, training, rng):
    layer = FixedMaskDropout(0.3, mode=mode)
    layer.train(training)
    assert_gradients_close(check_module_gradients(layer, rng.standard_normal((4, 7))), tol=1e-7)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_fraction_dropped_is_p(mode, p):
    x = np.ones((400, 500), np.float32)
    y = Dropout(p, mode=mode, seed=0)(x)
    dropped = np.mean(y == 0)
    sigma = np.sqrt(p * (1 - p) / x.size)
    assert abs(dropped - p) < 5 * sigma
    kept_value = 1 / (1 - p) if mode == "inverted" else 1.0
    np.testing.assert_allclose(np.unique(y[y != 0]), [kept_value], rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_training_and_evaluation_outputs_have_equal_expectations(mode, rng):
    x = rng.uniform(0.5, 1.5, size=(500, 1000))
    layer = Dropout(0.4, mode=mode, seed=1)
    train_mean = layer(x).mean()
    eval_mean = layer.eval()(x).mean()
    # E[xi] = 1 - p makes E[y_train] = y_eval in both modes; the sample mean has a relative std of ~1.3e-3 here
    assert train_mean == pytest.approx(eval_mean, rel=5e-3)


def test_inverted_dropout_is_the_identity_in_evaluation(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    layer = Dropout(0.5).eval()
    np.testing.assert_array_equal(layer(x), x)
    g = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(g), g)


def test_scale_at_test_multiplies_by_keep_probability_in_evaluation(rng):
    x = rng.standard_normal((3, 4))
    layer = Dropout(0.25, mode="scale_at_test").eval()
    np.testing.assert_allclose(layer(x), 0.75 * x)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), np.full_like(x, 0.75))


@pytest.mark.parametrize("mode", MODES)
def test_backward_uses_the_forward_mask(mode, rng):
    x = rng.uniform(1, 2, size=(50, 60))
    layer = Dropout(0.5, mode=mode, seed=3)
    y = layer(x)
    g = rng.standard_normal(x.shape)
    dx = layer.backward(g)
    scale = 2.0 if mode == "inverted" else 1.0
    np.testing.assert_allclose(dx, g * (y != 0) * scale)
    np.testing.assert_allclose(y, x * (y != 0) * scale)


def test_every_training_forward_draws_a_new_mask_and_seeds_reproduce_them():
    x = np.ones((20, 30))
    a, b = Dropout(0.5, seed=11), Dropout(0.5, seed=11)
    first, second = a(x), a(x)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, b(x))
    np.testing.assert_array_equal(second, b(x))
    gen = np.random.default_rng(5)
    np.testing.assert_array_equal(Dropout(0.5, seed=gen)(x), Dropout(0.5, seed=np.random.default_rng(5))(x))


@pytest.mark.torch
def test_kept_values_and_evaluation_match_torch(torch, dtype):
    x = np.ones((100, 100), dtype)
    ours = Dropout(0.3, seed=0)(x)
    theirs = torch.nn.Dropout(0.3)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.unique(ours[ours != 0]), np.unique(theirs[theirs != 0]), rtol=1e-6)
    t = torch.nn.Dropout(0.3).eval()
    np.testing.assert_array_equal(Dropout(0.3).eval()(x), t(torch.from_numpy(x)).numpy())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("np_dtype", [np.float32, np.float64])
def test_dtype_is_preserved_and_input_untouched(mode, np_dtype, rng):
    x = rng.standard_normal((8, 9)).astype(np_dtype)
    x_copy = x.copy()
    layer = Dropout(0.5, mode=mode, seed=0)
    for training in (True, False):
        layer.train(training)
        y = layer(x)
        dx = layer.backward(np.ones_like(x))
        assert y.dtype == dx.dtype == np_dtype
    np.testing.assert_array_equal(x, x_copy)


def test_p_zero_keeps_everything(rng):
    x = rng.standard_normal((5, 5))
    np.testing.assert_array_equal(Dropout(0.0, mode="inverted")(x), x)
    np.testing.assert_array_equal(Dropout(0.0, mode="scale_at_test").eval()(x), x)


@pytest.mark.parametrize("p, error, match", [
    (1.5, ValueError, r"p must be in \[0, 1\], got 1.5"),
    (-0.1, ValueError, r"p must be in \[0, 1\]"),
    ("0.5", TypeError, "p must be a float"),
    (True, TypeError, "p must be a float"),
    (None, TypeError, "p must be a float"),
])
def test_bad_probability(p, error, match):
    with pytest.raises(error, match=match):
        Dropout(p)
    with pytest.raises(error, match=match):
        F.dropout(np.ones(3), p)
    with pytest.raises(error, match=match):
        F.dropout_mask((3,), p)


def test_unknown_mode_lists_the_options():
    with pytest.raises(ValueError, match=r"mode must be one of 'inverted', 'scale_at_test'; got 'lecture'"):
        Dropout(0.5, mode="lecture")


def test_bad_seed_and_backward_before_forward():
    with pytest.raises(TypeError, match="seed must be None, an int or a numpy.random.Generator"):
        Dropout(0.5, seed="42")
    with pytest.raises(RuntimeError, match="before forward"):
        Dropout(0.5).backward(np.ones(3))
    layer = Dropout(0.5)
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"grad_output of shape \(2, 3\)"):
        layer.backward(np.ones((3, 2)))


# --- p = 1: every neuron off, as PyTorch ----------------------------------------------------------------
def special_input(dtype):
    """Ordinary numbers, a negative (PyTorch's x * 0 gives -0.0), zero, inf and nan (x * 0 gives nan)."""
    return np.array([[1.5, -2.0, 0.0, 3.0], [np.inf, -np.inf, np.nan, 0.25]], dtype=dtype)


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")
def test_p_one_matches_torch_in_training_forward_and_backward(torch, dtype):
    x = special_input(dtype)
    g = np.arange(1.0, 9.0, dtype=dtype).reshape(x.shape)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.Dropout(1.0)(xt)
    yt.backward(torch.from_numpy(g))
    layer = Dropout(1.0, seed=0)
    y = layer(x)
    dx = layer.backward(g)
    # assert_array_equal treats nan == nan; the sign of each zero (-2 * 0 = -0.0) is compared separately
    np.testing.assert_array_equal(y, yt.detach().numpy())
    finite = np.isfinite(x)
    np.testing.assert_array_equal(np.signbit(y[finite]), np.signbit(yt.detach().numpy()[finite]))
    np.testing.assert_array_equal(dx, xt.grad.numpy())
    assert y.dtype == dx.dtype == dtype
    np.testing.assert_array_equal(F.dropout(x, 1.0), torch.nn.functional.dropout(torch.from_numpy(x), 1.0).numpy())
    np.testing.assert_array_equal(F.dropout_mask(x.shape, 1.0, dtype=dtype), np.zeros(x.shape, dtype))


@pytest.mark.torch
def test_p_one_is_the_identity_in_evaluation_as_torch(torch, dtype, rng):
    x = rng.standard_normal((3, 4)).astype(dtype)
    layer = Dropout(1.0).eval()
    t = torch.nn.Dropout(1.0).eval()
    np.testing.assert_array_equal(layer(x), t(torch.from_numpy(x)).numpy())
    np.testing.assert_array_equal(layer.backward(x), x)
    np.testing.assert_array_equal(F.dropout(x, 1.0, training=False),
                                  torch.nn.functional.dropout(torch.from_numpy(x), 1.0, training=False).numpy())


def test_p_one_scale_at_test_drops_everything_in_both_modes(rng):
    # the lecture's form keeps E[y_train] = y_eval: 0 = (1 - 1) x
    x = rng.standard_normal((4, 5))
    layer = Dropout(1.0, mode="scale_at_test", seed=0)
    np.testing.assert_array_equal(layer(x), 0 * x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.zeros_like(x))
    layer.eval()
    np.testing.assert_array_equal(layer(x), 0 * x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.zeros_like(x))


def test_p_one_draws_no_random_numbers():
    gen = np.random.default_rng(3)
    state = gen.bit_generator.state
    Dropout(1.0, seed=gen)(np.ones((5, 5)))
    assert gen.bit_generator.state == state


# --- the functional form --------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_functional_dropout_is_what_the_module_computes(mode, p, rng):
    x = rng.standard_normal((6, 7)).astype(np.float32)
    layer = Dropout(p, mode=mode, seed=4)
    np.testing.assert_array_equal(F.dropout(x, p, mode=mode, seed=4), layer(x))
    mask = F.dropout_mask(x.shape, p, mode=mode, seed=4)
    np.testing.assert_array_equal(x * mask, F.dropout(x, p, mode=mode, seed=4))
    g = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(g), g * mask)          # dy/dx is the mask
    layer.eval()
    np.testing.assert_array_equal(F.dropout(x, p, training=False, mode=mode), layer(x))


def test_functional_dropout_seeds_and_input():
    x = np.ones((30, 40), np.float32)
    x_copy = x.copy()
    gen = np.random.default_rng(8)
    first, second = F.dropout(x, 0.5, seed=gen), F.dropout(x, 0.5, seed=gen)   # a Generator advances
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(F.dropout(x, 0.5, seed=8), F.dropout(x, 0.5, seed=8))
    np.testing.assert_array_equal(first, F.dropout(x, 0.5, seed=8))
    assert F.dropout(x, 0.5, training=False) is x                   # inverted evaluation: the input itself
    np.testing.assert_array_equal(x, x_copy)
    with pytest.raises(TypeError, match="training must be True or False"):
        F.dropout(x, 0.5, training="yes")


@pytest.mark.torch
def test_functional_kept_values_match_torch(torch):
    x = np.ones((100, 100), np.float32)
    ours = F.dropout(x, 0.3, seed=0)
    theirs = torch.nn.functional.dropout(torch.from_numpy(x), 0.3).numpy()
    np.testing.assert_allclose(np.unique(ours[ours != 0]), np.unique(theirs[theirs != 0]), rtol=1e-6)
    assert abs(np.mean(ours == 0) - 0.3) < 0.03
