"""MaxPool2d and AvgPool2d: gradients, agreement with PyTorch (ties included), dtypes, errors."""
import numpy as np
import pytest

from nnkit.gradcheck import assert_gradients_close, check_module_gradients
from nnkit.nn import AvgPool2d, MaxPool2d

# (N, C, H, W), kernel_size, stride, padding: the default non-overlapping case, sizes that do not
# divide, overlapping windows, non-square kernels and strides, padding, batch size 1.
CONFIGS = [
    ((2, 3, 8, 8), 2, None, 0),
    ((2, 2, 7, 9), 2, None, 0),
    ((1, 3, 9, 8), 3, 2, 1),
    ((2, 2, 8, 10), (2, 3), (1, 2), (1, 1)),
    ((2, 1, 6, 6), 3, 1, 0),
    ((3, 2, 5, 7), (3, 1), (3, 1), (1, 0)),
]


def torch_pool(torch, cls, kernel_size, stride, padding):
    return getattr(torch.nn, cls.__name__)(kernel_size, stride, padding)


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", CONFIGS)
def test_gradients_match_central_differences(cls, x_shape, kernel_size, stride, padding, rng):
    x = rng.standard_normal(x_shape)   # distinct values: max is differentiable there
    errors = check_module_gradients(cls(kernel_size, stride, padding), x)
    assert_gradients_close(errors, tol=1e-7)


@pytest.mark.torch
@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", CONFIGS)
def test_matches_torch(cls, x_shape, kernel_size, stride, padding, torch, dtype, tol, rng):
    pool = cls(kernel_size, stride, padding)
    x = rng.standard_normal(x_shape).astype(dtype)
    y = pool(x)
    g = rng.standard_normal(y.shape).astype(dtype)
    dx = pool.backward(g)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch_pool(torch, cls, kernel_size, stride, padding)(xt)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    assert y.dtype == dx.dtype == dtype


@pytest.mark.torch
@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", CONFIGS)
def test_max_pool_ties_go_where_pytorch_sends_them(x_shape, kernel_size, stride, padding, torch, rng):
    x = rng.integers(0, 3, size=x_shape).astype(np.float64)     # many equal values in each window
    pool = MaxPool2d(kernel_size, stride, padding)
    y = pool(x)
    g = rng.standard_normal(y.shape)
    dx = pool.backward(g)
    xt = torch.from_numpy(x).requires_grad_()
    torch.nn.MaxPool2d(kernel_size, stride, padding)(xt).backward(torch.from_numpy(g))
    # same winners; overlapping windows may add their shares in another order (last bit may differ)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_max_pool_tie_goes_to_the_first_maximum_in_row_major_order():
    x = np.array([[[[1., 5., 5., 0.],
                    [5., 2., 0., 5.]]]])
    pool = MaxPool2d(2)
    np.testing.assert_array_equal(pool(x), [[[[5., 5.]]]])
    dx = pool.backward(np.array([[[[10., 20.]]]]))
    np.testing.assert_array_equal(dx, [[[[0., 10., 20., 0.],
                                         [0., 0., 0., 0.]]]])


def test_max_pool_pads_with_minus_infinity(torch):
    x = -1.0 - np.arange(16.0).reshape(1, 1, 4, 4)               # all negative: a zero pad would win
    pool = MaxPool2d(3, stride=2, padding=1)
    y = pool(x)
    assert (y < 0).all()
    np.testing.assert_array_equal(y, torch.nn.MaxPool2d(3, 2, 1)(torch.from_numpy(x)).numpy())


def test_max_pool_propagates_nan_like_pytorch(torch):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    pool = MaxPool2d(2)
    y = pool(x)
    np.testing.assert_array_equal(y, torch.nn.MaxPool2d(2)(torch.from_numpy(x)).numpy())  # NaN == NaN here
    dx = pool.backward(np.ones_like(y))
    assert dx[0, 0, 0, 1] == 1 and dx.sum() == 4                  # the NaN window's gradient goes to the NaN


def test_avg_pool_counts_the_padding_like_pytorch(torch):
    x = np.ones((1, 1, 4, 4))
    y = AvgPool2d(3, stride=1, padding=1)(x)
    assert y[0, 0, 0, 0] == pytest.approx(4 / 9)                 # corner window: 4 real pixels of 9
    np.testing.assert_allclose(y, torch.nn.AvgPool2d(3, 1, 1)(torch.from_numpy(x)).numpy())


def test_stride_defaults_to_the_kernel_size():
    assert MaxPool2d(3).stride == (3, 3) and AvgPool2d((2, 3)).stride == (2, 3)
    assert MaxPool2d(2)(np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 1, 14, 14)


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
def test_float32_in_float32_out_and_caller_array_untouched(cls, rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    x_copy = x.copy()
    pool = cls(2)
    y = pool(x)
    g = np.ones_like(y)
    dx = pool.backward(g)
    assert y.dtype == dx.dtype == np.float32
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(g, np.ones_like(y))
    y[...] = 0                       # changing the output must not change the next backward
    np.testing.assert_array_equal(pool.backward(np.ones_like(y)), dx)


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
def test_errors_say_what_was_expected(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name} expects input of shape \(N, C, H, W\), got shape \(3, 8, 8\)"):
        cls(2)(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=rf"{name} padding should be at most half of kernel_size"):
        cls(3, padding=2)
    with pytest.raises(ValueError, match=r"kernel_size \(5, 5\) is larger than the padded input 4x4"):
        cls(5)(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        cls("2")
    pool = cls(2)
    with pytest.raises(RuntimeError, match="before forward"):
        pool.backward(np.zeros((1, 1, 2, 2)))
    pool(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"grad_output of shape \(1, 1, 2, 2\)"):
        pool.backward(np.zeros((1, 1, 4, 4)))
