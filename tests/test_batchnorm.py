"""BatchNorm1d / BatchNorm2d: gradients in training and evaluation, PyTorch agreement, running stats."""
import numpy as np
import pytest

from nnkit.gradcheck import assert_gradients_close, check_module_gradients
from nnkit.nn import BatchNorm1d, BatchNorm2d, Sequential

SHAPES = [(BatchNorm1d, (6, 4)), (BatchNorm1d, (3, 4, 5)), (BatchNorm2d, (3, 4, 3, 5)), (BatchNorm2d, (5, 4, 1, 1))]


def make(cls, shape, rng, **kwargs):
    """A layer with non-trivial weight, bias and running statistics."""
    layer = cls(shape[1], dtype=np.float64, **kwargs)
    if layer.affine:
        layer.weight.data[...] = rng.uniform(0.5, 2.0, shape[1])
        layer.bias.data[...] = rng.standard_normal(shape[1])
    if layer.track_running_stats:
        layer.running_mean[...] = rng.standard_normal(shape[1])
        layer.running_var[...] = rng.uniform(0.5, 2.0, shape[1])
    return layer


def torch_twin(torch, layer, dtype):
    cls = getattr(torch.nn, type(layer).__name__)
    t = cls(layer.num_features, eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
            track_running_stats=layer.track_running_stats,
            dtype=torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        if layer.affine:
            t.weight.copy_(torch.from_numpy(layer.weight.data))
            t.bias.copy_(torch.from_numpy(layer.bias.data))
        if layer.track_running_stats:
            t.running_mean.copy_(torch.from_numpy(layer.running_mean))
            t.running_var.copy_(torch.from_numpy(layer.running_var))
    return t


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("cls, shape", SHAPES)
def test_gradients_match_central_differences(cls, shape, affine, training, rng):
    layer = make(cls, shape, rng, affine=affine)
    layer.train(training)
    errors = check_module_gradients(layer, rng.standard_normal(shape) * 3 + 1)
    assert set(errors) == ({"input", "weight", "bias"} if affine else {"input"})
    # training: running stats move on every probe but do not affect the output
    assert_gradients_close(errors, tol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("cls, shape", SHAPES[:3] + [(BatchNorm1d, (1, 3, 4)), (BatchNorm2d, (1, 3, 4, 4))])
def test_matches_torch(cls, shape, training, torch, dtype, tol, rng):
    layer = make(cls, shape, rng)
    layer.weight.data = layer.weight.data.astype(dtype)    # parameters in the compared dtype
    layer.bias.data = layer.bias.data.astype(dtype)
    layer.weight.grad = np.zeros_like(layer.weight.data)
    layer.bias.grad = np.zeros_like(layer.bias.data)
    layer.running_mean = layer.running_mean.astype(dtype)
    layer.running_var = layer.running_var.astype(dtype)
    t = torch_twin(torch, layer, dtype)
    layer.train(training)
    t.train(training)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    y = layer(x)
    g = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(g)
    xt = torch.from_numpy(x).requires_grad_()
    yt = t(xt)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.weight.grad, t.weight.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.bias.grad, t.bias.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.running_mean, t.running_mean.numpy(), **tol)
    np.testing.assert_allclose(layer.running_var, t.running_var.numpy(), **tol)
    assert y.dtype == dx.dtype == layer.weight.grad.dtype == dtype


@pytest.mark.torch
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("cls, shape", [(BatchNorm1d, (8, 3)), (BatchNorm2d, (4, 3, 5, 5))])
def test_running_statistics_follow_torch_over_several_steps(cls, shape, momentum, torch, dtype, tol, rng):
    layer = cls(3, momentum=momentum, dtype=dtype)
    t = getattr(torch.nn, cls.__name__)(3, momentum=momentum,
                                        dtype=torch.float64 if dtype == np.float64 else torch.float32)
    for step in range(4):   # unbiased variance in the update, biased in the normalisation
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        layer(x)
        t(torch.from_numpy(x))
    np.testing.assert_allclose(layer.running_mean, t.running_mean.numpy(), **tol)
    np.testing.assert_allclose(layer.running_var, t.running_var.numpy(), **tol)
    assert layer.num_batches_tracked == 4
    x = (rng.standard_normal(shape)).astype(dtype)
    np.testing.assert_allclose(layer.eval()(x), t.eval()(torch.from_numpy(x)).detach().numpy(), **tol)


@pytest.mark.torch
def test_without_running_statistics_evaluation_uses_the_batch(torch, rng):
    layer = BatchNorm2d(2, track_running_stats=False, dtype=np.float64).eval()
    assert layer.running_mean is None and layer.state_dict().keys() == {"weight", "bias"}
    t = torch.nn.BatchNorm2d(2, track_running_stats=False, dtype=torch.float64).eval()
    x = rng.standard_normal((3, 2, 4, 4))
    y = layer(x)
    g = rng.standard_normal(y.shape)
    xt = torch.from_numpy(x).requires_grad_()
    yt = t(xt)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_training_output_is_standardised_per_channel(rng):
    x = rng.standard_normal((64, 3, 5, 5)) * np.array([1, 10, 100])[:, None, None] + 7
    y = BatchNorm2d(3, dtype=np.float64)(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-3)    # eps keeps it just below 1


def test_defaults_and_state_dict_round_trip(rng):
    bn = BatchNorm1d(4)
    np.testing.assert_array_equal(bn.weight.data, np.ones(4))
    np.testing.assert_array_equal(bn.bias.data, np.zeros(4))
    np.testing.assert_array_equal(bn.running_mean, np.zeros(4))
    np.testing.assert_array_equal(bn.running_var, np.ones(4))
    assert bn.weight.dtype == bn.running_var.dtype == np.float32
    net = Sequential(bn)
    net(rng.standard_normal((10, 4)).astype(np.float32))
    state = net.state_dict()
    assert list(state) == ["0.weight", "0.bias", "0.running_mean", "0.running_var"]
    fresh = Sequential(BatchNorm1d(4))
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh[0].running_mean, bn.running_mean)
    np.testing.assert_array_equal(fresh[0].running_var, bn.running_var)


def test_float32_in_float32_out_and_input_untouched(rng):
    bn = BatchNorm2d(3)
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    x_copy = x.copy()
    for training in (True, False):
        bn.train(training)
        y = bn(x)
        dx = bn.backward(np.ones_like(y))
        assert y.dtype == dx.dtype == bn.weight.grad.dtype == np.float32
    np.testing.assert_array_equal(x, x_copy)


@pytest.mark.parametrize("cls, shape, match", [
    (BatchNorm1d, (4, 3), r"BatchNorm1d expects input of shape \(N, C\) or \(N, C, L\) with C=5, got \(4, 3\)"),
    (BatchNorm1d, (4, 5, 2, 2), r"BatchNorm1d expects input of shape \(N, C\) or \(N, C, L\), got shape \(4, 5, 2, 2\)"),
    (BatchNorm2d, (4, 5, 3), r"BatchNorm2d expects input of shape \(N, C, H, W\), got shape \(4, 5, 3\)"),
    (BatchNorm2d, (4, 3, 2, 2), r"BatchNorm2d expects input of shape \(N, C, H, W\) with C=5, got \(4, 3, 2, 2\)"),
])
def test_wrong_shapes_say_what_was_expected(cls, shape, match):
    with pytest.raises(ValueError, match=match):
        cls(5)(np.zeros(shape, np.float32))


def test_one_value_per_channel_cannot_be_normalised_in_training():
    with pytest.raises(ValueError, match="more than 1 value per channel when training"):
        BatchNorm1d(3)(np.zeros((1, 3), np.float32))
    BatchNorm1d(3).eval()(np.zeros((1, 3), np.float32))      # fine with running statistics


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(momentum=1.5), ValueError, r"momentum must be in \[0, 1\]"),
    (dict(momentum="0.1"), TypeError, "momentum must be a float"),
    (dict(eps=-1e-5), ValueError, "eps must be a finite number >= 0"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        BatchNorm1d(3, **kwargs)
    with pytest.raises(TypeError, match="num_features must be an int"):
        BatchNorm2d(3.0)
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm2d(3).backward(np.zeros((2, 3, 1, 1)))
