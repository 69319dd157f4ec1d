"""Activation modules: gradient checks, agreement with torch.nn, the lectures' units, conventions."""
import warnings

import numpy as np
import pytest

import nnkit.functional as F
from nnkit import nn
from nnkit.gradcheck import assert_gradients_close, check_module_gradients


def away_from_zero(rng, shape, dtype=np.float64, scale=2.0, gap=0.05):
    x = rng.standard_normal(shape) * scale
    return (x + gap * np.sign(x)).astype(dtype)


# nnkit module factory, torch module factory (or None when PyTorch has no such module)
MODULES = {
    "Identity": (lambda dt: nn.Identity(), lambda t: t.nn.Identity()),
    "Sigmoid": (lambda dt: nn.Sigmoid(), lambda t: t.nn.Sigmoid()),
    "Tanh": (lambda dt: nn.Tanh(), lambda t: t.nn.Tanh()),
    "ReLU": (lambda dt: nn.ReLU(), lambda t: t.nn.ReLU()),
    "LeakyReLU": (lambda dt: nn.LeakyReLU(), lambda t: t.nn.LeakyReLU()),
    "LeakyReLU(0.2)": (lambda dt: nn.LeakyReLU(0.2), lambda t: t.nn.LeakyReLU(0.2)),
    "PReLU": (lambda dt: nn.PReLU(dtype=dt), lambda t: t.nn.PReLU()),
    "ELU": (lambda dt: nn.ELU(), lambda t: t.nn.ELU()),
    "ELU(0.5)": (lambda dt: nn.ELU(0.5), lambda t: t.nn.ELU(0.5)),
    "SELU": (lambda dt: nn.SELU(), lambda t: t.nn.SELU()),
    "GELU": (lambda dt: nn.GELU(), lambda t: t.nn.GELU()),
    "GELU(tanh)": (lambda dt: nn.GELU("tanh"), lambda t: t.nn.GELU("tanh")),
    "SiLU": (lambda dt: nn.SiLU(), lambda t: t.nn.SiLU()),
    "Softmax(-1)": (lambda dt: nn.Softmax(-1), lambda t: t.nn.Softmax(-1)),
    "Softmax(0)": (lambda dt: nn.Softmax(0), lambda t: t.nn.Softmax(0)),
    "LogSoftmax(-1)": (lambda dt: nn.LogSoftmax(-1), lambda t: t.nn.LogSoftmax(-1)),
    "LogSoftmax(0)": (lambda dt: nn.LogSoftmax(0), lambda t: t.nn.LogSoftmax(0)),
    "SigmoidC(3)": (lambda dt: nn.SigmoidC(3.0), None),
    "Step": (lambda dt: nn.Step(), None),
}

SHAPES = [(1, 7), (5, 3), (2, 3, 4)]


@pytest.mark.parametrize("name", list(MODULES))
def test_gradients_match_central_differences(name, rng):
    module = MODULES[name][0](np.float64)
    x = away_from_zero(rng, (3, 4))
    assert_gradients_close(check_module_gradients(module, x), tol=1e-7)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", [n for n, (_, t) in MODULES.items() if t is not None])
def test_forward_and_input_gradient_match_torch(torch, name, shape, dtype, tol, rng):
    ours, theirs = MODULES[name][0](dtype), MODULES[name][1](torch).to(torch.float64 if dtype == np.float64
                                                                      else torch.float32)
    x = away_from_zero(rng, shape, dtype)
    g = rng.standard_normal(shape).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.tensor(g))
    y = ours(x)
    grad = ours.backward(g)
    assert y.dtype == dtype and grad.dtype == dtype
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    np.testing.assert_allclose(grad, xt.grad.numpy(), **tol)


# --- PReLU: a learnable slope per channel -----------------------------------------------------------
@pytest.mark.parametrize("shape,channels", [((1, 4), 4), ((6, 3), 3), ((2, 3, 5), 3), ((2, 2, 3, 3), 2),
                                            ((4, 5), 1)], ids=str)
def test_prelu_forward_and_all_gradients_match_torch(torch, shape, channels, dtype, tol, rng):
    ours = nn.PReLU(channels, init=0.1, dtype=dtype)
    ours.weight.data[...] = rng.uniform(0.05, 0.5, channels)
    theirs = torch.nn.PReLU(channels).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
    x = away_from_zero(rng, shape, dtype)
    g = rng.standard_normal(shape).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    theirs(xt).backward(torch.tensor(g))
    np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).detach().numpy(), **tol)
    np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), **tol)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=tol["rtol"] * 10,
                               atol=tol["atol"] * 10)


def test_prelu_gradient_check_per_channel_and_accumulation(rng):
    module = nn.PReLU(3, dtype=np.float64)
    module.weight.data[...] = [0.1, 0.3, -0.2]
    x = away_from_zero(rng, (2, 3, 4))
    assert_gradients_close(check_module_gradients(module, x), tol=1e-7)
    module.zero_grad()
    g = rng.standard_normal(x.shape)
    module(x)
    module.backward(g)
    once = module.weight.grad.copy()
    module.backward(g)
    np.testing.assert_allclose(module.weight.grad, 2 * once)   # gradients accumulate, as in PyTorch


def test_prelu_defaults_and_errors():
    module = nn.PReLU()
    assert module.weight.shape == (1,) and module.weight.dtype == np.float32 and module.weight.data[0] == 0.25
    assert [n for n, _ in module.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3, \*\), got shape \(2, 4\)"):
        nn.PReLU(3)(np.ones((2, 4)))
    with pytest.raises(ValueError, match="num_parameters must be a positive integer"):
        nn.PReLU(0)


# --- Maxout: a learnable piecewise-linear unit --------------------------------------------------------
def torch_maxout(torch, module, x):
    """The same layer in PyTorch: its Linear, then view (..., out, pieces) and max over pieces."""
    lin = torch.nn.Linear(module.in_features, module.out_features * module.pieces)
    lin = lin.to(torch.float64 if x.dtype == np.float64 else torch.float32)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(module.linear.weight.data))
        lin.bias.copy_(torch.tensor(module.linear.bias.data))
    xt = torch.tensor(x, requires_grad=True)
    y = lin(xt)
    y = y.view(*y.shape[:-1], module.out_features, module.pieces).max(-1).values
    return lin, xt, y


@pytest.mark.parametrize("in_f,out_f,pieces,shape", [(4, 3, 2, (1, 4)), (5, 2, 3, (7, 5)), (3, 4, 4, (2, 6, 3))],
                         ids=str)
def test_maxout_matches_the_equivalent_torch_construction(torch, in_f, out_f, pieces, shape, dtype, tol, rng):
    module = nn.Maxout(in_f, out_f, pieces, dtype=dtype, seed=3)
    x = rng.standard_normal(shape).astype(dtype)
    lin, xt, yt = torch_maxout(torch, module, x)
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    yt.backward(torch.tensor(g))
    y = module(x)
    assert y.shape == shape[:-1] + (out_f,) and y.dtype == dtype
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    np.testing.assert_allclose(module.backward(g), xt.grad.numpy(), **tol)
    np.testing.assert_allclose(module.linear.weight.grad, lin.weight.grad.numpy(), rtol=tol["rtol"] * 10,
                               atol=tol["atol"] * 10)
    np.testing.assert_allclose(module.linear.bias.grad, lin.bias.grad.numpy(), rtol=tol["rtol"] * 10,
                               atol=tol["atol"] * 10)


def test_maxout_gradient_check_and_the_decks_two_piece_form(rng):
    module = nn.Maxout(3, 2, dtype=np.float64, seed=0)
    assert module.pieces == 2   # deck 000: max(w^T z + w0, v^T z + v0)
    assert [n for n, _ in module.named_parameters()] == ["linear.weight", "linear.bias"]
    x = rng.standard_normal((4, 3))
    assert_gradients_close(check_module_gradients(module, x), tol=1e-7)
    W, b = module.linear.weight.data, module.linear.bias.data
    by_hand = np.maximum(x @ W[0] + b[0], x @ W[1] + b[1])          # unit 0: pieces are rows 0 and 1
    np.testing.assert_allclose(module(x)[:, 0], by_hand)


def test_maxout_sends_the_gradient_to_the_winning_piece_only():
    module = nn.Maxout(1, 1, 3, dtype=np.float64)
    module.linear.weight.data[:, 0] = [1.0, 2.0, -1.0]
    module.linear.bias.data[...] = 0
    module(np.array([[3.0]]))            # pieces 3, 6, -3: the second wins
    module.backward(np.array([[1.0]]))
    np.testing.assert_array_equal(module.linear.weight.grad[:, 0], [0.0, 3.0, 0.0])
    np.testing.assert_array_equal(module.linear.bias.grad, [0.0, 1.0, 0.0])


# --- the lectures' own units ------------------------------------------------------------------------------
def test_relu_derivative_at_exactly_zero_is_zero_as_torch(torch):
    x = np.array([[-1.0, 0.0, 2.0]])
    relu = nn.ReLU()
    relu(x)
    grad = relu.backward(np.ones_like(x))
    xt = torch.tensor(x, requires_grad=True)
    torch.relu(xt).sum().backward()
    np.testing.assert_array_equal(grad, [[0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(grad, xt.grad.numpy())
    leaky = nn.LeakyReLU(0.1)
    leaky(x)
    np.testing.assert_allclose(leaky.backward(np.ones_like(x)), [[0.1, 0.1, 1.0]])


def test_step_is_the_threshold_unit_with_zero_gradient():
    step = nn.Step()
    np.testing.assert_array_equal(step(np.array([-2.0, 0.0, 0.5])), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(step.backward(np.ones(3)), np.zeros(3))


def test_sigmoid_c_tends_to_the_step_as_c_grows():
    z = np.array([-2.0, -0.5, -0.1, 0.1, 0.5, 2.0])
    step = nn.Step()(z)
    gaps = [np.max(np.abs(nn.SigmoidC(c)(z) - step)) for c in (1.0, 10.0, 100.0, 1000.0)]
    assert all(a > b for a, b in zip(gaps, gaps[1:])) and gaps[-1] < 1e-40
    assert nn.SigmoidC(1e6)(np.array([0.0]))[0] == 0.5
    np.testing.assert_allclose(nn.SigmoidC(1.0)(z), nn.Sigmoid()(z))


def test_the_decks_two_layer_threshold_network_and_its_sigmoid_version():
    """Deck 000: th(th(x1 + x2 - 1.5) + th(-x1 - x2 + 0.5) - 0.5) and the same net with sigma_c.

    The slide's own arithmetic gives 1 at (0,0) and (1,1) and 0 elsewhere -- XNOR, the negation of
    XOR (an erratum noted in the seeds README); with large c the sigmoid network computes the same.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)

    def net(act):
        h1 = act(X[:, 0] + X[:, 1] - 1.5)
        h2 = act(-X[:, 0] - X[:, 1] + 0.5)
        return act(h1 + h2 - 0.5)

    th = net(nn.Step())
    np.testing.assert_array_equal(th, [1, 0, 0, 1])
    np.testing.assert_allclose(net(nn.SigmoidC(50.0)), th, atol=1e-5)


def test_softmax_dim_none_means_the_last_dimension(rng):
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(nn.Softmax()(x), F.softmax(x, -1))
    np.testing.assert_allclose(nn.LogSoftmax()(x), F.log_softmax(x, -1))
    assert repr(nn.Softmax(1)) == "Softmax(dim=1)"


# --- large |z| ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [nn.Sigmoid, nn.Tanh, nn.SiLU, nn.ELU, nn.GELU, lambda: nn.Softmax(-1),
                                  lambda: nn.LogSoftmax(-1), lambda: nn.SigmoidC(10.0)])
def test_large_inputs_finite_without_warnings(make, dtype):
    x = np.array([[-1e4, -1000.0, 0.0, 1000.0, 1e4], [1e4, 1e4, -1e4, 1.0, -1.0]], dtype=dtype)
    module = make()
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = module(x)
        g = module.backward(np.ones_like(x))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g))
    assert y.dtype == dtype and g.dtype == dtype


def test_large_inputs_agree_with_torch(torch):
    x = np.array([[-1e4, -1000.0, 0.0, 1000.0, 1e4]])
    for ours, theirs in ((nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Softmax(1), torch.nn.Softmax(1)),
                         (nn.LogSoftmax(1), torch.nn.LogSoftmax(1))):
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt)
        yt.backward(torch.ones_like(yt))
        np.testing.assert_allclose(ours(x), yt.detach().numpy(), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(ours.backward(np.ones_like(x)), xt.grad.numpy(), rtol=1e-12, atol=1e-300)


# --- conventions ------------------------------------------------------------------------------------------
ALL = [n for n in MODULES] + ["Maxout"]


def make(name, dtype=np.float32):
    return nn.Maxout(4, 2, 2, dtype=dtype) if name == "Maxout" else MODULES[name][0](dtype)


@pytest.mark.parametrize("name", ALL)
def test_float32_stays_float32_and_integers_become_float32(name):
    module = make(name)
    x32 = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    y = module(x32)
    assert y.dtype == np.float32
    assert module.backward(np.ones_like(y)).dtype == np.float32
    assert module(np.arange(12).reshape(3, 4) - 6).dtype == np.float32


@pytest.mark.parametrize("name", ALL)
def test_caller_arrays_are_not_modified(name, rng):
    module = make(name, np.float64)
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    y = module(x)
    g = rng.standard_normal(y.shape)
    g0 = g.copy()
    module.backward(g)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("name", ALL)
def test_backward_before_forward_and_wrong_grad_shape_are_errors(name):
    module = make(name)
    if name != "Identity":   # Identity (linear.py) passes the gradient through unchecked
        with pytest.raises(RuntimeError, match="backward called before forward"):
            module.backward(np.ones((3, 4)))
        module(np.ones((3, 4), dtype=np.float32))
        with pytest.raises(ValueError, match=r"backward expects grad_output of shape \(3, \d\), got \(4, 3\)"):
            module.backward(np.ones((4, 3)))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match="ReLU input must be a numpy array"):
        nn.ReLU()("not an array")
    with pytest.raises(ValueError, match="approximate must be one of 'none', 'tanh'"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match=r"Softmax|softmax: dim 3 is out of range"):
        nn.Softmax(3)(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Linear expects input of shape \(\*, 4\), got shape \(2, 5\)"):
        nn.Maxout(4, 2, 2)(np.ones((2, 5)))


def test_reprs():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert repr(nn.SigmoidC(5)) == "SigmoidC(c=5.0)"
    assert "Linear(in_features=4, out_features=6" in repr(nn.Maxout(4, 2, 3))
