"""nnkit.functional: every activation, its derivative and backward, and every loss function with its gradient.

Compared with PyTorch in float64 and float32; derivatives against torch autograd (the gradient of
``sum(f(x))`` is the elementwise derivative); large inputs must stay finite without warnings.
"""
import math
import warnings

import numpy as np
import pytest

import nnkit.functional as F
from nnkit.functional.activations import _erf, _erfc

SHAPES = [(1,), (1, 5), (4, 3), (2, 3, 4)]


def away_from_zero(rng, shape, dtype, scale=2.0, gap=0.05):
    """Random values with |x| >= gap, so that no difference quotient straddles a kink at 0."""
    x = rng.standard_normal(shape) * scale
    return (x + gap * np.sign(x)).astype(dtype)


# name -> (nnkit function, nnkit derivative, torch function); kwargs are bound in the lambdas
ELEMENTWISE = {
    "identity": (F.identity, F.identity_derivative, lambda t, x: x * 1),
    "sigmoid": (F.sigmoid, F.sigmoid_derivative, lambda t, x: t.sigmoid(x)),
    "tanh": (F.tanh, F.tanh_derivative, lambda t, x: t.tanh(x)),
    "relu": (F.relu, F.relu_derivative, lambda t, x: t.relu(x)),
    "leaky_relu_0.01": (F.leaky_relu, F.leaky_relu_derivative, lambda t, x: t.nn.functional.leaky_relu(x)),
    "leaky_relu_0.2": (lambda x: F.leaky_relu(x, 0.2), lambda x: F.leaky_relu_derivative(x, 0.2),
                       lambda t, x: t.nn.functional.leaky_relu(x, 0.2)),
    "leaky_relu_1.5": (lambda x: F.leaky_relu(x, 1.5), lambda x: F.leaky_relu_derivative(x, 1.5),
                       lambda t, x: t.nn.functional.leaky_relu(x, 1.5)),
    "elu": (F.elu, F.elu_derivative, lambda t, x: t.nn.functional.elu(x)),
    "elu_0.5": (lambda x: F.elu(x, 0.5), lambda x: F.elu_derivative(x, 0.5),
                lambda t, x: t.nn.functional.elu(x, 0.5)),
    "selu": (F.selu, F.selu_derivative, lambda t, x: t.nn.functional.selu(x)),
    "gelu": (F.gelu, F.gelu_derivative, lambda t, x: t.nn.functional.gelu(x)),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), lambda x: F.gelu_derivative(x, "tanh"),
                  lambda t, x: t.nn.functional.gelu(x, approximate="tanh")),
    "silu": (F.silu, F.silu_derivative, lambda t, x: t.nn.functional.silu(x)),
    "softplus": (F.softplus, F.softplus_derivative, lambda t, x: t.nn.functional.softplus(x)),
    "softplus_beta2": (lambda x: F.softplus(x, 2.0), lambda x: F.softplus_derivative(x, 2.0),
                       lambda t, x: t.nn.functional.softplus(x, beta=2.0)),
    "sigmoid_c_5": (lambda x: F.sigmoid_c(x, 5.0), lambda x: F.sigmoid_c_derivative(x, 5.0),
                    lambda t, x: t.sigmoid(5.0 * x)),
    "heaviside_step": (F.heaviside_step, F.heaviside_step_derivative, lambda t, x: (x > 0).to(x.dtype) + 0 * x),
}


def torch_value_and_derivative(torch, fn, x):
    xt = torch.tensor(x, requires_grad=True)
    y = fn(torch, xt)
    y.sum().backward()
    return y.detach().numpy(), xt.grad.numpy()


# --- elementwise activations --------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_activation_and_derivative_match_torch(torch, name, shape, dtype, tol, rng):
    fn, dfn, tfn = ELEMENTWISE[name]
    x = away_from_zero(rng, shape, dtype, scale=3.0)
    y_ref, dy_ref = torch_value_and_derivative(torch, tfn, x)
    y, dy = fn(x), dfn(x)
    assert y.dtype == dtype and dy.dtype == dtype
    assert y.shape == shape and dy.shape == shape
    np.testing.assert_allclose(y, y_ref, **tol)
    np.testing.assert_allclose(dy, dy_ref, **tol)


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_derivative_is_the_numerical_derivative(name, rng):
    fn, dfn, _ = ELEMENTWISE[name]
    x = away_from_zero(rng, (7,), np.float64)
    h = 1e-6
    numeric = (fn(x + h) - fn(x - h)) / (2 * h)
    np.testing.assert_allclose(dfn(x), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name,expected", [
    ("relu", 0.0), ("leaky_relu_0.2", 0.2), ("elu_0.5", 0.5), ("selu", F.SELU_SCALE * F.SELU_ALPHA),
    ("heaviside_step", 0.0),
])
def test_derivative_at_exactly_zero_follows_torch(torch, name, expected):
    fn, dfn, tfn = ELEMENTWISE[name]
    x = np.zeros(3)
    _, d_ref = torch_value_and_derivative(torch, tfn, x)
    np.testing.assert_allclose(dfn(x), d_ref)
    np.testing.assert_allclose(dfn(x), expected)


def test_relu_derivative_at_zero_is_zero_and_relu_backward_agrees():
    x = np.array([-1.0, 0.0, 1e-300, 2.0])
    np.testing.assert_array_equal(F.relu_derivative(x), [0, 0, 1, 1])
    g = np.array([5.0, 6.0, 7.0, 8.0])
    np.testing.assert_array_equal(F.relu_backward(g, F.relu(x)), [0, 0, 7, 8])


@pytest.mark.parametrize("name,backward", [("sigmoid", F.sigmoid_backward), ("tanh", F.tanh_backward),
                                           ("relu", F.relu_backward)])
def test_backward_from_output_equals_derivative_from_input(name, backward, dtype, tol, rng):
    fn, dfn, _ = ELEMENTWISE[name]
    x = away_from_zero(rng, (3, 5), dtype)
    g = rng.standard_normal((3, 5)).astype(dtype)
    out = backward(g, fn(x))
    assert out.dtype == dtype
    np.testing.assert_allclose(out, g * dfn(x), **tol)


def test_sigmoid_derivative_keeps_relative_accuracy_in_the_tails():
    # 1 - sigmoid(40) rounds to 0 in float64; sigma(z) sigma(-z) = e^{-|z|}/(1 + e^{-|z|})^2 does not.
    x = np.array([-40.0, 40.0, -700.0])
    expected = np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2
    np.testing.assert_allclose(F.sigmoid_derivative(x), expected, rtol=1e-14)
    assert F.sigmoid(np.array(-700.0)) > 0


def test_tanh_is_two_sigmoids_minus_one():  # deck 003
    x = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(F.tanh(x), 2 * F.sigmoid(2 * x) - 1, atol=1e-15)


def test_silu_derivative_matches_the_decks_form():  # deck 003: f' = f + sigma (1 - f)
    x = np.linspace(-6, 6, 25)
    f, s = F.silu(x), F.sigmoid(x)
    np.testing.assert_allclose(F.silu_derivative(x), f + s * (1 - f), atol=1e-15)


def test_gelu_small_x_expansion_erratum():
    # GELU(x) ~ x/2 + x^2/sqrt(2 pi) for small x (deck 003 prints x^2/(2 pi), an erratum).
    x = np.array([1e-3, -2e-3, 5e-4])
    correct = 0.5 * x + x ** 2 / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(F.gelu(x), correct, rtol=1e-6)
    printed = 0.5 * x + x ** 2 / (2 * math.pi)
    assert np.all(np.abs(F.gelu(x) - printed) > 100 * np.abs(F.gelu(x) - correct))


def test_sigmoid_c_tends_to_the_step_as_c_grows():
    z = np.concatenate([-np.geomspace(3, 0.05, 20), np.geomspace(0.05, 3, 20)])
    errors = [np.max(np.abs(F.sigmoid_c(z, c) - F.heaviside_step(z))) for c in (1, 10, 100, 1000)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-20
    assert F.sigmoid_c(np.array(0.0), 1000) == 0.5  # the one point where the limit is 1/2, not th(0) = 0
    np.testing.assert_allclose(F.sigmoid_c(z, 1.0), F.sigmoid(z))


def test_heaviside_step_is_strict():  # deck 000: th(z) = I[z > 0]
    np.testing.assert_array_equal(F.heaviside_step([-1, 0, 1e-12, 3]), [0, 0, 1, 1])


# --- erf, used by exact GELU ----------------------------------------------------------------------
def test_erf_and_erfc_match_math_to_machine_precision():
    x = np.concatenate([np.linspace(-6, 6, 1201), [-1.0, 1.0, 0.0, 8.0, -8.0, 1e-9]])
    np.testing.assert_allclose(_erf(x), [math.erf(v) for v in x], rtol=2e-15, atol=1e-16)
    t = np.linspace(-3, 26, 600)
    np.testing.assert_allclose(_erfc(t), [math.erfc(v) for v in t], rtol=1e-13, atol=0)
    assert _erfc(np.array([30.0, 1e300]))[0] == 0 and _erfc(np.array(-1e300)) == 2


# --- softmax, log-softmax, log-sum-exp --------------------------------------------------------------
@pytest.mark.parametrize("shape,dim", [((4,), 0), ((1, 5), 1), ((5, 3), 1), ((5, 3), 0), ((2, 3, 4), 1),
                                       ((2, 3, 4), -1)], ids=str)
def test_softmax_and_log_softmax_match_torch(torch, shape, dim, dtype, tol, rng):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    for ours, ours_backward, theirs in ((F.softmax, F.softmax_backward, torch.softmax),
                                        (F.log_softmax, F.log_softmax_backward, torch.log_softmax)):
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt, dim)
        yt.backward(torch.tensor(g))
        y = ours(x, dim)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
        grad = ours_backward(g, y, dim)
        assert grad.dtype == dtype
        np.testing.assert_allclose(grad, xt.grad.numpy(), **tol)


@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_matches_torch(torch, keepdim, dtype, tol, rng):
    x = (rng.standard_normal((3, 4, 2)) * 5).astype(dtype)
    for dim in (0, 1, -1):
        ref = torch.logsumexp(torch.tensor(x), dim, keepdim=keepdim).numpy()
        out = F.logsumexp(x, dim, keepdim=keepdim)
        assert out.dtype == dtype and out.shape == ref.shape
        np.testing.assert_allclose(out, ref, **tol)


def test_logsumexp_of_an_all_minus_infinity_row_is_minus_infinity():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = F.logsumexp(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]), 1)
    assert out[0] == -np.inf and out[1] == 0.0


@pytest.mark.parametrize("z,slide,decimals", [
    ([0.5, 0.5, 0.1, 0.7], [0.257, 0.257, 0.172, 0.314], 3),
    ([-1.0, 0.0, 1.0, 0.0, -1.0], [0.07, 0.18, 0.5, 0.18, 0.07], 2),
    ([1.0, 1.0, 1.0, 2.0, 1.0], [0.15, 0.15, 0.15, 0.4, 0.15], 2),
])
def test_softmax_reproduces_the_decks_examples(z, slide, decimals):
    """Deck 000, «Функции активации в задачах классификации»: each number holds to the slide's rounding."""
    s = F.softmax(np.array(z))
    np.testing.assert_array_equal(np.round(s, decimals), slide)
    assert s.sum() == pytest.approx(1.0)


def test_softmax_is_shift_invariant_and_sums_to_one(rng):  # deck 003's trick
    x = rng.standard_normal((3, 6))
    np.testing.assert_allclose(F.softmax(x, 1), F.softmax(x + 123.0, 1), rtol=1e-12)
    np.testing.assert_allclose(F.softmax(x, 1).sum(axis=1), 1.0)


# --- large |z|: finite values and no warnings ----------------------------------------------------------
HUGE = [-1e4, -1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0, 1e4]


@pytest.mark.parametrize("fn", [
    F.sigmoid, F.sigmoid_derivative, F.tanh, F.tanh_derivative, F.silu, F.silu_derivative, F.elu,
    F.elu_derivative, F.selu, F.selu_derivative, F.gelu, F.gelu_derivative,
    lambda x: F.gelu(x, "tanh"), lambda x: F.gelu_derivative(x, "tanh"), F.softplus, F.softplus_derivative,
    lambda x: F.sigmoid_c(x, 50.0), lambda x: F.sigmoid_c_derivative(x, 50.0), F.softmax, F.log_softmax,
    F.logsumexp,
], ids=lambda f: getattr(f, "__name__", "lambda"))
def test_large_inputs_stay_finite_without_warnings(torch, fn, dtype):
    x = np.array(HUGE, dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out = fn(x)
    assert np.all(np.isfinite(out)) and out.dtype == dtype


@pytest.mark.parametrize("big", [1000.0, 1e4])
def test_large_inputs_agree_with_torch(torch, big, dtype):
    x = np.array([[-big, 0.0, big], [big, big, -big], [-big, -big, -big]], dtype=dtype)
    tx = torch.tensor(x)
    np.testing.assert_allclose(F.sigmoid(x), torch.sigmoid(tx).numpy(), atol=1e-30)
    np.testing.assert_allclose(F.softmax(x, 1), torch.softmax(tx, 1).numpy(), atol=1e-30)
    np.testing.assert_allclose(F.log_softmax(x, 1), torch.log_softmax(tx, 1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(F.logsumexp(x, 1), torch.logsumexp(tx, 1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(F.softplus(x), torch.nn.functional.softplus(tx).numpy(), rtol=1e-6)


# --- PReLU and maxout as functions ----------------------------------------------------------------------
@pytest.mark.parametrize("shape,channels", [((5,), 1), ((4, 3), 1), ((4, 3), 3), ((2, 3, 4), 3), ((1, 2, 3, 3), 2)],
                         ids=str)
def test_prelu_matches_torch(torch, shape, channels, dtype, tol, rng):
    x = away_from_zero(rng, shape, dtype)
    w = rng.uniform(0.05, 0.5, channels).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = torch.nn.functional.prelu(xt, wt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(F.prelu(x, w), yt.detach().numpy(), **tol)
    np.testing.assert_allclose(g * F.prelu_derivative(x, w), xt.grad.numpy(), **tol)
    gw = F.prelu_weight_grad(g, x, w)
    assert gw.shape == w.shape and gw.dtype == dtype
    np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


@pytest.mark.parametrize("shape,pieces", [((1, 6), 2), ((4, 6), 3), ((2, 3, 8), 4), ((5,), 5)], ids=str)
def test_maxout_matches_torch_view_and_max(torch, shape, pieces, dtype, tol, rng):
    z = rng.standard_normal(shape).astype(dtype)
    out_shape = shape[:-1] + (shape[-1] // pieces,)
    g = rng.standard_normal(out_shape).astype(dtype)
    zt = torch.tensor(z, requires_grad=True)
    yt = zt.view(*shape[:-1], shape[-1] // pieces, pieces).max(-1).values
    yt.backward(torch.tensor(g))
    y = F.maxout(z, pieces)
    assert y.shape == out_shape and y.dtype == dtype
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    np.testing.assert_allclose(F.maxout_backward(g, z, pieces), zt.grad.numpy(), **tol)


# --- conventions: dtypes, inputs left alone, clear errors ------------------------------------------------
ALL_UNARY = [f for f, _, _ in ELEMENTWISE.values()] + [d for _, d, _ in ELEMENTWISE.values()] + [
    F.softmax, F.log_softmax, F.logsumexp, lambda x: F.maxout(x, 2)]


def test_integer_inputs_become_float32_and_inputs_are_not_modified(rng):
    ints = np.array([[-2, -1, 0, 1], [2, 3, -4, 5]])
    floats = rng.standard_normal((2, 4))
    for fn in ALL_UNARY:
        assert fn(ints).dtype == np.float32
        before = floats.copy()
        fn(floats)
        np.testing.assert_array_equal(floats, before)
    g, y = rng.standard_normal((2, 4)), F.softmax(floats)
    g0, y0 = g.copy(), y.copy()
    for backward in (F.softmax_backward, F.log_softmax_backward, F.sigmoid_backward, F.tanh_backward,
                     F.relu_backward):
        backward(g, y)
        np.testing.assert_array_equal(g, g0)
        np.testing.assert_array_equal(y, y0)


def test_bad_arguments_raise_clear_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"softmax: dim 2 is out of range for input of shape \(2, 3\)"):
        F.softmax(x, 2)
    with pytest.raises(TypeError, match="dim must be an int"):
        F.log_softmax(x, 1.0)
    with pytest.raises(ValueError, match="at least one dimension"):
        F.softmax(np.float64(1.0))
    with pytest.raises(TypeError, match="sigmoid input must be a numpy array"):
        F.sigmoid("abc")
    with pytest.raises(TypeError, match="must hold real numbers"):
        F.relu(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="approximate must be one of 'none', 'tanh'"):
        F.gelu(x, "erf")
    with pytest.raises(ValueError, match=r"prelu has 2 parameters, one per channel, so it expects input of shape \(N, 2, \*\)"):
        F.prelu(x, np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"maxout with pieces=2 expects input of shape \(\*, units \* 2\)"):
        F.maxout(x, 2)
    with pytest.raises(ValueError, match=r"softmax_backward expects grad_output of the output's shape \(2, 3\)"):
        F.softmax_backward(np.ones((3, 2)), x)
    with pytest.raises(TypeError, match="negative_slope must be a real number"):
        F.leaky_relu(x, "0.1")


# --- loss functions vs torch.nn.functional ----------------------------------------------------------------
def _loss_cases(rng, dtype):
    """(nnkit loss, nnkit grad, torch loss, input, target, kwargs shared by both)."""
    x = rng.standard_normal((5, 3)).astype(dtype)
    y = rng.standard_normal((5, 3)).astype(dtype)
    p = rng.uniform(0.05, 0.95, (5, 3)).astype(dtype)
    b = (rng.uniform(size=(5, 3)) > 0.5).astype(dtype)
    cls = np.array([0, 2, 1, 2, 0])
    counts = rng.poisson(2.0, (5, 3)).astype(dtype)
    return [
        ("mse", F.mse_loss, F.mse_loss_grad, "mse_loss", x, y, {}),
        ("l1", F.l1_loss, F.l1_loss_grad, "l1_loss", x, y, {}),
        ("bce", F.binary_cross_entropy, F.binary_cross_entropy_grad, "binary_cross_entropy", p, b, {}),
        ("bce_logits", F.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits_grad,
         "binary_cross_entropy_with_logits", x * 3, b, {}),
        ("nll", F.nll_loss, F.nll_loss_grad, "nll_loss", F.log_softmax(x, 1), cls, {}),
        ("cross_entropy", F.cross_entropy, F.cross_entropy_grad, "cross_entropy", x * 2, cls, {}),
        ("cross_entropy_smooth", F.cross_entropy, F.cross_entropy_grad, "cross_entropy", x * 2, cls,
         {"label_smoothing": 0.1}),
        ("cross_entropy_probs", F.cross_entropy, F.cross_entropy_grad, "cross_entropy", x * 2,
         F.softmax(y, 1), {}),
        ("poisson", F.poisson_nll_loss, F.poisson_nll_loss_grad, "poisson_nll_loss", x, counts, {}),
        ("poisson_full_rate", F.poisson_nll_loss, F.poisson_nll_loss_grad, "poisson_nll_loss", p * 4, counts,
         {"log_input": False, "full": True}),
        ("multi_margin", F.multi_margin_loss, F.multi_margin_loss_grad, "multi_margin_loss", x, cls, {}),
        ("multi_margin_p2", F.multi_margin_loss, F.multi_margin_loss_grad, "multi_margin_loss", x, cls,
         {"p": 2, "margin": 0.5}),
    ]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_functions_and_their_gradients_match_torch(torch, reduction, dtype, tol, rng):
    for name, loss_fn, grad_fn, torch_name, x, t, kw in _loss_cases(rng, dtype):
        xt = torch.tensor(x, requires_grad=True)
        tt = torch.tensor(t)
        ref = getattr(torch.nn.functional, torch_name)(xt, tt, reduction=reduction, **kw)
        g = rng.standard_normal(ref.shape).astype(dtype) if reduction == "none" else None
        ref.backward(torch.tensor(g) if g is not None else None)
        value = loss_fn(x, t, reduction=reduction, **kw)
        grad = grad_fn(x, t, reduction=reduction, grad_output=g, **kw)
        assert np.asarray(value).dtype == dtype and grad.dtype == dtype, name
        np.testing.assert_allclose(value, ref.detach().numpy(), **tol, err_msg=name)
        np.testing.assert_allclose(grad, xt.grad.numpy(), **tol, err_msg=name)


def test_gaussian_nll_function_and_both_gradients_match_torch(torch, dtype, tol, rng):
    x = rng.standard_normal((4, 3)).astype(dtype)
    y = rng.standard_normal((4, 3)).astype(dtype)
    for var in (rng.uniform(0.2, 2.0, (4, 3)), rng.uniform(0.2, 2.0, (4,)), rng.uniform(0.2, 2.0, (4, 1))):
        var = var.astype(dtype)
        xt, vt = torch.tensor(x, requires_grad=True), torch.tensor(var, requires_grad=True)
        ref = torch.nn.functional.gaussian_nll_loss(xt, torch.tensor(y), vt, full=True)
        ref.backward()
        np.testing.assert_allclose(F.gaussian_nll_loss(x, y, var, full=True), ref.detach().numpy(), **tol)
        gx, gv = F.gaussian_nll_loss_grad(x, y, var, full=True)
        assert gv.shape == var.shape
        np.testing.assert_allclose(gx, xt.grad.numpy(), **tol)
        np.testing.assert_allclose(gv, vt.grad.numpy(), **tol)


def test_mse_is_the_gaussian_negative_log_likelihood(rng):
    """Deck 003, «Регрессия»: with unit variance, -log N(y | f, 1) = (y - f)^2 / 2 + log sqrt(2 pi)."""
    f, y = rng.standard_normal(10), rng.standard_normal(10)
    nll = F.gaussian_nll_loss(f, y, 1.0, full=True, reduction="sum")
    assert nll == pytest.approx(0.5 * F.mse_loss(f, y, reduction="sum") + 10 * 0.5 * math.log(2 * math.pi))


def test_bce_is_the_bernoulli_negative_log_likelihood_and_agrees_with_logits(rng):
    z = rng.standard_normal(8) * 3
    y = (rng.uniform(size=8) > 0.5).astype(float)
    lam = F.sigmoid(z)
    likelihood = lam ** y * (1 - lam) ** (1 - y)            # deck 003: P(y | lambda)
    assert F.binary_cross_entropy(lam, y, reduction="sum") == pytest.approx(-np.log(likelihood).sum())
    assert F.binary_cross_entropy_with_logits(z, y) == pytest.approx(F.binary_cross_entropy(lam, y))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits_grad(z, y, reduction="sum"), lam - y)


def test_cross_entropy_is_the_decks_stable_formula_and_its_gradient_is_softmax_minus_onehot(rng):
    a = rng.standard_normal((6, 4)) * 5
    y = rng.integers(0, 4, 6)
    m = a.max(axis=1)
    deck = -a[np.arange(6), y] + m + np.log(np.exp(a - m[:, None]).sum(axis=1))   # deck 000, «Функции ошибки»
    np.testing.assert_allclose(F.cross_entropy(a, y, reduction="none"), deck, rtol=1e-13)
    np.testing.assert_allclose(F.cross_entropy(a, y, reduction="none"),
                               F.nll_loss(F.log_softmax(a, 1), y, reduction="none"), rtol=1e-13)
    np.testing.assert_allclose(F.cross_entropy_grad(a, y, reduction="sum"), F.softmax(a, 1) - np.eye(4)[y],
                               atol=1e-15)
