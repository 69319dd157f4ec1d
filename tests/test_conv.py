"""Conv2d: gradients by central differences, agreement with torch.nn.Conv2d, dtypes, errors."""
import contextlib

import numpy as np
import pytest

from nnkit.gradcheck import assert_gradients_close, check_module_gradients
from nnkit.nn import Conv2d

# (N, C, H, W), out_channels, kernel_size, stride, padding -- non-square kernels and strides,
# paddings, batch size 1, a 1x1 kernel, a kernel as large as the padded input.
CONFIGS = [
    ((2, 3, 9, 11), 4, (3, 2), (2, 1), (1, 0)),
    ((1, 1, 7, 7), 2, 5, 1, 2),
    ((3, 8, 6, 10), 5, 3, 1, 1),
    ((2, 16, 9, 9), 3, (1, 3), 2, (0, 1)),
    ((2, 4, 6, 6), 6, 8, 1, 1),
    ((2, 5, 5, 7), 3, 1, 1, 0),
    ((2, 2, 10, 8), 3, (4, 3), (3, 2), 2),
]
LAYOUTS = ["auto", "channels_last", "channels_first"]


def make_conv(x_shape, out_channels, kernel_size, stride, padding, layout="auto", **kwargs):
    conv = Conv2d(x_shape[1], out_channels, kernel_size, stride, padding, **kwargs)
    if layout != "auto":   # force one of the two im2col memory orders (the results must not change)
        conv._channels_last = lambda out_w, last=(layout == "channels_last"): last
    return conv


def torch_twin(torch, conv, dtype):
    """A torch.nn.Conv2d holding exactly nnkit's weights."""
    t = torch.nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                        bias=conv.bias is not None, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(conv.weight.data))
        if conv.bias is not None:
            t.bias.copy_(torch.from_numpy(conv.bias.data))
    return t


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x_shape, out_channels, kernel_size, stride, padding", CONFIGS[:4] + CONFIGS[6:])
def test_gradients_match_central_differences(x_shape, out_channels, kernel_size, stride, padding, layout, rng):
    small = (min(x_shape[0], 2), min(x_shape[1], 4)) + x_shape[2:]
    conv = make_conv((small[0], small[1]) + small[2:], out_channels, kernel_size, stride, padding, layout,
                     dtype=np.float64, seed=0)
    x = rng.standard_normal(small)
    errors = check_module_gradients(conv, x)
    assert set(errors) == {"input", "weight", "bias"}
    assert_gradients_close(errors, tol=1e-7)


@pytest.mark.torch
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x_shape, out_channels, kernel_size, stride, padding", CONFIGS)
def test_matches_torch(x_shape, out_channels, kernel_size, stride, padding, layout, torch, dtype, tol, rng):
    conv = make_conv(x_shape, out_channels, kernel_size, stride, padding, layout, dtype=dtype, seed=1)
    x = rng.standard_normal(x_shape).astype(dtype)
    y = conv(x)
    g = rng.standard_normal(y.shape).astype(dtype)
    dx = conv.backward(g)

    t = torch_twin(torch, conv, dtype)
    xt = torch.from_numpy(x).requires_grad_()
    yt = t(xt)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(conv.weight.grad, t.weight.grad.numpy(), **tol)
    np.testing.assert_allclose(conv.bias.grad, t.bias.grad.numpy(), **tol)


@pytest.mark.torch
def test_without_bias_matches_torch(torch, dtype, tol, rng):
    conv = Conv2d(3, 4, 3, padding=1, bias=False, dtype=dtype, seed=2)
    assert conv.bias is None and [n for n, _ in conv.named_parameters()] == ["weight"]
    x = rng.standard_normal((2, 3, 5, 5)).astype(dtype)
    y = conv(x)
    g = rng.standard_normal(y.shape).astype(dtype)
    dx = conv.backward(g)
    t = torch_twin(torch, conv, dtype)
    xt = torch.from_numpy(x).requires_grad_()
    t(xt).backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, t(xt).detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(conv.weight.grad, t.weight.grad.numpy(), **tol)


def test_the_two_memory_orders_agree(rng):
    x = rng.standard_normal((3, 6, 8, 9))
    g = None
    results = []
    for layout in ("channels_last", "channels_first"):
        conv = make_conv(x.shape, 4, (3, 2), (1, 2), 1, layout, dtype=np.float64, seed=3)
        y = conv(x)
        g = rng.standard_normal(y.shape) if g is None else g
        results.append((y, conv.backward(g), conv.weight.grad.copy(), conv.bias.grad.copy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout, order", [("channels_last", (0, 2, 3, 1)), ("channels_first", (1, 0, 2, 3))])
def test_outputs_come_in_the_memory_order_of_the_im2col_layout(layout, order, rng):
    # channels_last: NHWC memory; channels_first: channel-major (O, N, H, W) memory -- one matrix
    # product over the whole batch gives them, and copying into NCHW would be a pass that changes nothing
    conv = make_conv((3, 4, 6, 7), 5, 3, 1, 1, layout, dtype=np.float64, seed=0)
    x = rng.standard_normal((3, 4, 6, 7))
    y = conv(x)
    assert y.shape == (3, 5, 6, 7) and y.transpose(order).flags.c_contiguous
    dx = conv.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.transpose(order).flags.c_contiguous


@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_a_gradient_in_the_outputs_memory_order_is_used_without_a_copy(layout, rng):
    conv = make_conv((3, 4, 6, 7), 5, 3, 2, 1, layout, dtype=np.float64, seed=0)
    x = rng.standard_normal((3, 4, 6, 7))
    y = conv(x)
    g = rng.standard_normal(y.shape)                      # NCHW: backward copies it into a matrix
    g_like_y = np.empty_like(y)                           # y's memory order, as a ReLU's backward returns it
    g_like_y[...] = g
    dx_copied = conv.backward(g)
    grads_copied = [p.grad.copy() for p in conv.parameters()]
    assert "g_matrix" in conv._work._arrays
    conv._work.clear()
    conv.zero_grad()
    conv(x)
    dx_view = conv.backward(g_like_y)
    assert "g_matrix" not in conv._work._arrays           # used as it is
    np.testing.assert_allclose(dx_view, dx_copied, rtol=1e-12, atol=1e-14)
    for p, expected in zip(conv.parameters(), grads_copied):
        np.testing.assert_allclose(p.grad, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(g_like_y, g)            # and not modified


def test_output_shape_follows_the_formula():
    # floor((H + 2p - k) / s) + 1 per axis
    conv = Conv2d(1, 2, kernel_size=(3, 5), stride=(2, 3), padding=(1, 2))
    assert conv(np.zeros((4, 1, 28, 28), np.float32)).shape == (4, 2, 14, 10)


def test_float32_stays_float32_in_output_and_gradients(rng):
    conv = Conv2d(3, 4, 3, padding=1)
    assert conv.weight.dtype == np.float32 and conv.bias.dtype == np.float32
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    y = conv(x)
    dx = conv.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == conv.weight.grad.dtype == conv.bias.grad.dtype == np.float32


def test_computation_follows_the_input_dtype_and_parameters_keep_theirs(rng):
    conv = Conv2d(2, 3, 3, dtype=np.float64, seed=0)
    x32 = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    y = conv(x32)
    assert y.dtype == np.float32
    dx = conv.backward(np.ones_like(y))
    assert dx.dtype == np.float32 and conv.weight.grad.dtype == np.float64
    # integer images become floats
    assert conv(np.ones((1, 2, 4, 4), dtype=np.uint8)).dtype.kind == "f"


def test_caller_arrays_are_not_modified_and_outputs_are_fresh(rng):
    conv = Conv2d(3, 4, 3, padding=1, dtype=np.float64, seed=0)
    x1 = rng.standard_normal((2, 3, 6, 6))
    x2 = rng.standard_normal((2, 3, 6, 6))
    x1_copy = x1.copy()
    y1 = conv(x1)
    y1_copy = y1.copy()
    g = rng.standard_normal(y1.shape)
    g_copy = g.copy()
    dx1 = conv.backward(g)
    dx1_copy = dx1.copy()
    y2 = conv(x2)             # the layer reuses scratch memory: earlier results must not change
    conv.backward(g)
    np.testing.assert_array_equal(x1, x1_copy)
    np.testing.assert_array_equal(g, g_copy)
    np.testing.assert_array_equal(y1, y1_copy)
    np.testing.assert_array_equal(dx1, dx1_copy)
    assert not np.array_equal(y1, y2)


def test_parameter_gradients_accumulate_until_zero_grad(rng):
    conv = Conv2d(2, 3, 3, dtype=np.float64, seed=0)
    x = rng.standard_normal((2, 2, 5, 5))
    g = rng.standard_normal(conv(x).shape)
    conv.backward(g)
    once = conv.weight.grad.copy()
    conv(x)
    conv.backward(g)
    np.testing.assert_allclose(conv.weight.grad, 2 * once)
    conv.zero_grad()
    assert not conv.weight.grad.any()


def test_default_initialisation_is_pytorchs_fan_in_uniform():
    conv = Conv2d(4, 8, (3, 5), seed=0)
    bound = 1 / np.sqrt(4 * 3 * 5)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound          # spread over the whole interval
    np.testing.assert_array_equal(conv.weight.data, Conv2d(4, 8, (3, 5), seed=0).weight.data)
    assert not np.array_equal(conv.weight.data, Conv2d(4, 8, (3, 5), seed=1).weight.data)


def test_wrong_number_of_channels_says_what_was_expected():
    conv = Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2d expects input of shape \(N, C, H, W\) with C=3, got \(8, 1, 28, 28\)"):
        conv(np.zeros((8, 1, 28, 28), np.float32))


@pytest.mark.parametrize("shape", [(3, 28, 28), (1, 1, 3, 28, 28), (28,)])
def test_wrong_number_of_dimensions(shape):
    with pytest.raises(ValueError, match=r"Conv2d expects input of shape \(N, C, H, W\)"):
        Conv2d(3, 8, 3)(np.zeros(shape, np.float32))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"kernel_size \(5, 5\) is larger than the padded input 4x6"):
        Conv2d(1, 1, 5, padding=(1, 0))(np.zeros((1, 1, 2, 6), np.float32))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(kernel_size=0), ValueError, "kernel_size must be a positive integer"),
    (dict(kernel_size=2.5), TypeError, "kernel_size must be an int"),
    (dict(kernel_size=(3, 3, 3)), ValueError, "kernel_size must be an int or a pair"),
    (dict(kernel_size=3, stride=0), ValueError, "stride must be a positive integer"),
    (dict(kernel_size=3, padding=-1), ValueError, "padding must be a non-negative integer"),
])
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Conv2d(3, 4, **kwargs)


def test_backward_checks():
    conv = Conv2d(1, 2, 3)
    with pytest.raises(RuntimeError, match="before forward"):
        conv.backward(np.zeros((1, 2, 2, 2), np.float32))
    conv(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"grad_output of shape \(1, 2, 2, 2\)"):
        conv.backward(np.zeros((1, 2, 3, 3), np.float32))
    with pytest.raises(TypeError, match="Conv2d input must be a numpy array"):
        conv("not an image")


@pytest.mark.torch
def test_a_small_cnn_matches_torch_end_to_end(torch, rng):
    """Conv -> ReLU -> MaxPool -> Conv -> ReLU -> Flatten -> Linear, forward and backward, in float64:
    both memory orders of Conv2d flow through the other layers (channels_last outputs included)."""
    from nnkit.nn import Flatten, Linear, MaxPool2d, ReLU, Sequential
    net = Sequential(Conv2d(1, 4, 3, padding=1, dtype=np.float64, seed=0), ReLU(), MaxPool2d(2),
                     Conv2d(4, 6, 3, stride=2, padding=1, dtype=np.float64, seed=1), ReLU(), Flatten(),
                     Linear(6 * 2 * 2, 3, dtype=np.float64, seed=2))
    t = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                            torch.nn.Conv2d(4, 6, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                            torch.nn.Linear(24, 3)).double()
    with torch.no_grad():
        for ours, theirs in zip([net[0], net[3], net[6]], [t[0], t[3], t[6]]):
            theirs.weight.copy_(torch.from_numpy(ours.weight.data))
            theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    x = rng.standard_normal((5, 1, 8, 8))
    y = net(x)
    g = rng.standard_normal(y.shape)
    dx = net.backward(g)
    xt = torch.from_numpy(x).requires_grad_()
    yt = t(xt)
    yt.backward(torch.from_numpy(g))
    tol = dict(rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    for ours, theirs in zip([net[0], net[3], net[6]], [t[0], t[3], t[6]]):
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **tol)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), **tol)


# --- the batch cut into pieces, each on one of nnkit's threads (nnkit.threads) ---------------------------
@contextlib.contextmanager
def _threads_restored():
    """nnkit's thread count and numpy's BLAS threads as they were (set_num_threads sets both; `make test` runs
    with one BLAS thread, and the tests after these must too)."""
    import nnkit
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = nnkit.get_num_threads()
    with threadpoolctl.threadpool_limits(user_api="blas"):   # restores the BLAS limits on exit
        try:
            yield
        finally:
            nnkit.set_num_threads(before)


@pytest.fixture
def pieces(monkeypatch):
    """Every batch of 2 or more images is cut into up to 3 pieces, whatever its size and layout (channels-first
    layers too, which Conv2d keeps whole: their code for pieces is tested here); restored after."""
    import nnkit
    from nnkit import threads
    before = nnkit.get_num_threads()
    monkeypatch.setattr(threads, "MIN_ELEMENTS_PER_THREAD", 1)
    monkeypatch.setattr(Conv2d, "_pieces", staticmethod(lambda n, cols, channels_last: threads.batch_chunks(n, cols.size)))
    with _threads_restored():
        nnkit.set_num_threads(3)
        yield threads


def _step(conv, x, g):
    conv.zero_grad()
    y = conv(x)
    dx = conv.backward(g)
    return y, dx, conv.weight.grad.copy(), conv.bias.grad.copy()


@pytest.mark.parametrize("x_shape, out_channels, kernel_size, stride, padding", CONFIGS)
@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_pieces_on_threads_give_the_results_of_one_piece(x_shape, out_channels, kernel_size, stride, padding, layout,
                                                        rng, pieces):
    x_shape = (5,) + x_shape[1:]                       # 5 images: pieces of 1 and 2 images
    x = rng.standard_normal(x_shape)
    conv = make_conv(x_shape, out_channels, kernel_size, stride, padding, layout)
    g = rng.standard_normal(conv(x).shape)
    split = _step(conv, x, g)
    assert len(pieces.batch_chunks(5, 10 ** 6)) == 3
    monkey = pieces.MIN_ELEMENTS_PER_THREAD
    pieces.MIN_ELEMENTS_PER_THREAD = 10 ** 18         # one piece
    whole = _step(conv, x, g)
    pieces.MIN_ELEMENTS_PER_THREAD = monkey
    for a, b in zip(split, whole):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_channels_last_pieces_really_run_on_other_threads(rng, pieces, monkeypatch):
    import threading
    seen = set()
    real = np.copyto

    def spy(*args, **kwargs):
        seen.add(threading.get_ident())
        return real(*args, **kwargs)
    monkeypatch.setattr(np, "copyto", spy)
    conv = make_conv((6, 8, 6, 6), 4, 3, 1, 1, "channels_last")
    conv.backward(conv(rng.standard_normal((6, 8, 6, 6))))
    # the calling thread takes piece 0; the pool's two threads the others (one of them may take both)
    assert threading.get_ident() in seen and len(seen) >= 2, "the pieces' im2col copies ran on one thread"


def test_a_pieces_error_reaches_the_caller(pieces):
    def work(index, a, b):
        if index == 2:
            raise RuntimeError("piece 2 failed")
    with pytest.raises(RuntimeError, match="piece 2 failed"):
        pieces.run_chunks(work, pieces.batch_chunks(6, 10 ** 6))


def test_small_batches_stay_in_one_piece():
    from nnkit import threads
    assert threads.batch_chunks(64, threads.MIN_ELEMENTS_PER_THREAD - 1) == [(0, 64)]
    assert threads.batch_chunks(1, 10 ** 9) == [(0, 1)]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_set_num_threads_wants_a_positive_integer(bad):
    import nnkit
    with pytest.raises(ValueError, match="positive integer"):
        nnkit.set_num_threads(bad)


def test_set_num_threads_also_sets_numpys_blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import nnkit
    with _threads_restored():
        nnkit.set_num_threads(1)
        assert nnkit.get_num_threads() == 1
        blas = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert blas and set(blas) == {1}


def test_nnkit_num_threads_from_the_environment():
    import subprocess
    import sys
    code = "import nnkit; print(nnkit.get_num_threads())"
    env = {"NNKIT_NUM_THREADS": "3", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "3", out.stderr
    bad = subprocess.run([sys.executable, "-c", code], env={"NNKIT_NUM_THREADS": "many"}, capture_output=True, text=True)
    assert bad.returncode != 0 and "NNKIT_NUM_THREADS must be a positive integer, got 'many'" in bad.stderr
