"""Loss modules: gradient checks, agreement with torch.nn, large logits, validation, conventions."""
import math
import warnings

import numpy as np
import pytest

import nnkit.functional as F
from nnkit import nn
from nnkit.gradcheck import numerical_gradient, relative_error

REDUCTIONS = ["mean", "sum", "none"]


def tdtype(torch, dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def loss_cases(rng, dtype=np.float64, n=5, c=3):
    """name -> (nnkit loss, torch loss factory, input, target): non-square (N, C), inputs away from kinks."""
    x = rng.standard_normal((n, c)).astype(dtype)
    y = (x + 0.1 + rng.uniform(0.1, 1.0, (n, c)) * rng.choice([-1, 1], (n, c))).astype(dtype)
    p = rng.uniform(0.05, 0.95, (n, c)).astype(dtype)
    soft = rng.uniform(0.0, 1.0, (n, c)).astype(dtype)
    cls = rng.integers(0, c, n)
    w = rng.uniform(0.5, 2.0, c).astype(dtype)
    cls_ignored = cls.copy()
    cls_ignored[0] = -100
    counts = rng.poisson(2.0, (n, c)).astype(dtype)
    spatial = rng.standard_normal((2, c, 4)).astype(dtype)
    spatial_cls = rng.integers(0, c, (2, 4))
    spatial_ignored = spatial_cls.copy()
    spatial_ignored[1, 2] = -100
    return {
        "MSELoss": (lambda r: nn.MSELoss(reduction=r), lambda t, r: t.nn.MSELoss(reduction=r), x, y),
        "L1Loss": (lambda r: nn.L1Loss(reduction=r), lambda t, r: t.nn.L1Loss(reduction=r), x, y),
        "BCELoss": (lambda r: nn.BCELoss(reduction=r), lambda t, r: t.nn.BCELoss(reduction=r), p, soft),
        "BCELoss(weight)": (lambda r: nn.BCELoss(weight=w, reduction=r),
                            lambda t, r: t.nn.BCELoss(weight=t.tensor(w), reduction=r), p, soft),
        "BCEWithLogitsLoss": (lambda r: nn.BCEWithLogitsLoss(reduction=r),
                              lambda t, r: t.nn.BCEWithLogitsLoss(reduction=r), 3 * x, soft),
        "BCEWithLogitsLoss(pos_weight)": (
            lambda r: nn.BCEWithLogitsLoss(weight=w, pos_weight=w[::-1], reduction=r),
            lambda t, r: t.nn.BCEWithLogitsLoss(weight=t.tensor(w), pos_weight=t.tensor(w[::-1].copy()),
                                                reduction=r), 3 * x, soft),
        "NLLLoss": (lambda r: nn.NLLLoss(reduction=r), lambda t, r: t.nn.NLLLoss(reduction=r),
                    F.log_softmax(x, 1), cls),
        "NLLLoss(weight, ignore)": (lambda r: nn.NLLLoss(weight=w, reduction=r),
                                    lambda t, r: t.nn.NLLLoss(weight=t.tensor(w), reduction=r),
                                    F.log_softmax(x, 1), cls_ignored),
        "CrossEntropyLoss": (lambda r: nn.CrossEntropyLoss(reduction=r),
                             lambda t, r: t.nn.CrossEntropyLoss(reduction=r), 2 * x, cls),
        "CrossEntropyLoss(weight, ignore, smoothing)": (
            lambda r: nn.CrossEntropyLoss(weight=w, ignore_index=-100, label_smoothing=0.2, reduction=r),
            lambda t, r: t.nn.CrossEntropyLoss(weight=t.tensor(w), label_smoothing=0.2, reduction=r),
            2 * x, cls_ignored),
        "CrossEntropyLoss(smoothing)": (lambda r: nn.CrossEntropyLoss(label_smoothing=0.1, reduction=r),
                                        lambda t, r: t.nn.CrossEntropyLoss(label_smoothing=0.1, reduction=r),
                                        2 * x, cls_ignored),
        "CrossEntropyLoss(ignore_index=1)": (lambda r: nn.CrossEntropyLoss(ignore_index=1, reduction=r),
                                             lambda t, r: t.nn.CrossEntropyLoss(ignore_index=1, reduction=r),
                                             2 * x, cls),
        "CrossEntropyLoss(spatial)": (lambda r: nn.CrossEntropyLoss(weight=w, reduction=r),
                                      lambda t, r: t.nn.CrossEntropyLoss(weight=t.tensor(w), reduction=r),
                                      spatial, spatial_cls),
        "CrossEntropyLoss(spatial, smoothing, ignore)": (
            lambda r: nn.CrossEntropyLoss(label_smoothing=0.3, reduction=r),
            lambda t, r: t.nn.CrossEntropyLoss(label_smoothing=0.3, reduction=r), spatial, spatial_ignored),
        "NLLLoss(spatial)": (lambda r: nn.NLLLoss(weight=w, reduction=r),
                             lambda t, r: t.nn.NLLLoss(weight=t.tensor(w), reduction=r),
                             F.log_softmax(spatial, 1), spatial_ignored),
        "CrossEntropyLoss(probabilities)": (
            lambda r: nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, reduction=r),
            lambda t, r: t.nn.CrossEntropyLoss(weight=t.tensor(w), label_smoothing=0.1, reduction=r),
            2 * x, F.softmax(y, 1)),
        "CrossEntropyLoss(unbatched)": (lambda r: nn.CrossEntropyLoss(weight=w, reduction=r),
                                        lambda t, r: t.nn.CrossEntropyLoss(weight=t.tensor(w), reduction=r),
                                        2 * x[0], np.int64(cls[0])),
        "PoissonNLLLoss": (lambda r: nn.PoissonNLLLoss(reduction=r),
                           lambda t, r: t.nn.PoissonNLLLoss(reduction=r), x, counts),
        "PoissonNLLLoss(rate, full)": (lambda r: nn.PoissonNLLLoss(log_input=False, full=True, reduction=r),
                                       lambda t, r: t.nn.PoissonNLLLoss(log_input=False, full=True, reduction=r),
                                       4 * p, counts),
        "MultiMarginLoss": (lambda r: nn.MultiMarginLoss(reduction=r),
                            lambda t, r: t.nn.MultiMarginLoss(reduction=r), x, cls),
        "MultiMarginLoss(p=2, weight)": (lambda r: nn.MultiMarginLoss(p=2, margin=0.7, weight=w, reduction=r),
                                         lambda t, r: t.nn.MultiMarginLoss(p=2, margin=0.7, weight=t.tensor(w),
                                                                           reduction=r), x, cls),
        "MultiMarginLoss(unbatched)": (lambda r: nn.MultiMarginLoss(reduction=r),
                                       lambda t, r: t.nn.MultiMarginLoss(reduction=r), x[1], np.int64(cls[1])),
    }


CASE_NAMES = list(loss_cases(np.random.default_rng(0)))


# --- gradient checks: backward against central differences of the loss value ---------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_backward_matches_numerical_gradient(name, reduction, rng):
    make, _, x, target = loss_cases(rng)[name]
    loss = make(reduction)
    x = np.array(x, dtype=np.float64)
    r = rng.standard_normal(np.shape(loss(x, target)))   # 'none': check d sum(loss * r) / dx

    def value():
        return float(np.sum(loss(x, target) * r)) if reduction == "none" else float(loss(x, target))

    loss(x, target)
    analytic = loss.backward(r if reduction == "none" else None)
    numeric = numerical_gradient(value, x)
    assert relative_error(analytic, numeric) < 1e-7


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), ()], ids=str)
def test_gaussian_nll_gradients_for_input_and_var(var_shape, reduction, rng):
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    var = rng.uniform(0.3, 2.0, var_shape)
    loss = nn.GaussianNLLLoss(full=True, reduction=reduction)
    r = rng.standard_normal((4, 3))

    def value():
        out = loss(x, y, var)
        return float(np.sum(out * r)) if reduction == "none" else float(out)

    loss(x, y, var)
    grad_x = loss.backward(r if reduction == "none" else None)
    assert loss.grad_var.shape == var_shape
    assert relative_error(grad_x, numerical_gradient(value, x)) < 1e-7
    assert relative_error(loss.grad_var, numerical_gradient(value, var)) < 1e-7


# --- agreement with torch.nn -------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_value_and_input_gradient_match_torch(torch, name, reduction, dtype, tol, rng):
    make, make_torch, x, target = loss_cases(rng, dtype)[name]
    ours, theirs = make(reduction), make_torch(torch, reduction).to(tdtype(torch, dtype))
    xt = torch.tensor(x, requires_grad=True)
    ref = theirs(xt, torch.tensor(target))
    g = rng.standard_normal(tuple(ref.shape)).astype(dtype) if reduction == "none" else None
    ref.backward(None if g is None else torch.tensor(g))
    value = ours(x, target)
    grad = ours.backward(g)
    if reduction == "none":
        assert isinstance(value, np.ndarray) and value.shape == tuple(ref.shape)
    else:
        assert isinstance(value, np.generic) and value.shape == ()
    assert value.dtype == dtype and grad.dtype == dtype and grad.shape == np.shape(x)
    np.testing.assert_allclose(value, ref.detach().numpy(), **tol)
    np.testing.assert_allclose(grad, xt.grad.numpy(), **tol)


@pytest.mark.parametrize("n,c", [(1, 10), (7, 2), (256, 10)], ids=str)
def test_cross_entropy_batch_sizes_match_torch(torch, n, c, dtype, tol, rng):
    x = (rng.standard_normal((n, c)) * 4).astype(dtype)
    y = rng.integers(0, c, n)
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(xt, torch.tensor(y))
    ref.backward()
    loss = nn.CrossEntropyLoss()
    np.testing.assert_allclose(loss(x, y), ref.item(), **tol)
    np.testing.assert_allclose(loss.backward(), xt.grad.numpy(), **tol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_matches_torch(torch, reduction, dtype, tol, rng):
    x = rng.standard_normal((5, 3)).astype(dtype)
    y = rng.standard_normal((5, 3)).astype(dtype)
    for var in (rng.uniform(0.2, 2, (5, 3)), rng.uniform(0.2, 2, (5,)), np.array([1e-9, 0.5, 2.0])[None].repeat(5, 0)):
        var = var.astype(dtype)
        xt, vt = torch.tensor(x, requires_grad=True), torch.tensor(var, requires_grad=True)
        ref = torch.nn.GaussianNLLLoss(reduction=reduction)(xt, torch.tensor(y), vt)
        g = rng.standard_normal(tuple(ref.shape)).astype(dtype) if reduction == "none" else None
        ref.backward(None if g is None else torch.tensor(g))
        loss = nn.GaussianNLLLoss(reduction=reduction)
        np.testing.assert_allclose(loss(x, y, var), ref.detach().numpy(), **tol)
        np.testing.assert_allclose(loss.backward(g), xt.grad.numpy(), **tol)
        np.testing.assert_allclose(loss.grad_var, vt.grad.numpy(), rtol=tol["rtol"], atol=tol["atol"] * 100)


# --- large logits --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("big", [1000.0, 1e4])
def test_cross_entropy_and_bce_with_logits_for_huge_logits(torch, big, dtype, tol):
    x = np.array([[big, -big, 0.0], [-big, -big, big], [big, big, big], [0.0, big, -big]], dtype=dtype)
    y = np.array([1, 2, 0, 0])
    b = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]], dtype=dtype)
    for ours, theirs, target in ((nn.CrossEntropyLoss(reduction="none"), torch.nn.CrossEntropyLoss(reduction="none"), y),
                                 (nn.BCEWithLogitsLoss(reduction="none"), torch.nn.BCEWithLogitsLoss(reduction="none"), b)):
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
            warnings.simplefilter("error")
            value = ours(x, target)
            grad = ours.backward(np.ones(value.shape, dtype=dtype))
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
        xt = torch.tensor(x, requires_grad=True)
        ref = theirs(xt, torch.tensor(target))
        ref.sum().backward()
        np.testing.assert_allclose(value, ref.detach().numpy(), **tol)
        np.testing.assert_allclose(grad, xt.grad.numpy(), **tol)
    # the exact values: -z_y + logsumexp(z); the first row costs 2*big, the second ln(1) = 0
    np.testing.assert_allclose(F.cross_entropy(x, y, reduction="none")[:2], [2 * big, 0.0], rtol=1e-6)


def test_bce_clamps_its_logs_at_minus_100_as_torch(torch):
    p = np.array([0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = nn.BCELoss(reduction="none")(p, y)
    np.testing.assert_allclose(value, [100.0, 100.0, math.log(2)])
    np.testing.assert_allclose(value, torch.nn.BCELoss(reduction="none")(torch.tensor(p), torch.tensor(y)).numpy())


# --- the deck's derivations, as checks ---------------------------------------------------------------------------
def test_losses_are_negative_log_likelihoods(rng):
    """Deck 003: MSE <- Gaussian, L1 <- Laplace, BCE <- Bernoulli, CE <- categorical, Poisson <- Poisson."""
    f, y = rng.standard_normal(6), rng.standard_normal(6)
    gauss = -np.log(np.exp(-(y - f) ** 2 / 2) / np.sqrt(2 * np.pi))
    assert nn.GaussianNLLLoss(full=True, reduction="sum")(f, y, 1.0) == pytest.approx(gauss.sum())
    assert nn.MSELoss(reduction="sum")(f, y) == pytest.approx(2 * (gauss.sum() - 3 * np.log(2 * np.pi)))
    laplace = -np.log(np.exp(-np.abs(y - f)) / 2)           # Laplace(b = 1): |y - f| + log 2
    assert nn.L1Loss(reduction="sum")(f, y) == pytest.approx(laplace.sum() - 6 * np.log(2))
    z = rng.standard_normal((4, 3))
    cls = np.array([2, 0, 1, 1])
    probs = F.softmax(z, 1)
    assert nn.CrossEntropyLoss(reduction="sum")(z, cls) == pytest.approx(-np.log(probs[np.arange(4), cls]).sum())
    counts, log_rate = np.array([0.0, 1.0, 3.0, 7.0]), rng.standard_normal(4)
    rate = np.exp(log_rate)
    poisson = -(counts * log_rate - rate - np.array([math.lgamma(k + 1) for k in counts]))
    ours = nn.PoissonNLLLoss(reduction="none")(log_rate, counts)
    np.testing.assert_allclose(ours + np.array([math.lgamma(k + 1) for k in counts]), poisson, rtol=1e-12)


def test_nll_after_log_softmax_is_cross_entropy(rng):
    z = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    log_softmax, nll, ce = nn.LogSoftmax(1), nn.NLLLoss(), nn.CrossEntropyLoss()
    assert nll(log_softmax(z), y) == pytest.approx(ce(z, y))
    np.testing.assert_allclose(log_softmax.backward(nll.backward()), ce.backward(), atol=1e-15)


def test_module_and_functional_agree(rng):
    x = rng.standard_normal((4, 3))
    y = rng.integers(0, 3, 4)
    loss = nn.CrossEntropyLoss(label_smoothing=0.1, reduction="sum")
    assert loss(x, y) == F.cross_entropy(x, y, reduction="sum", label_smoothing=0.1)
    np.testing.assert_array_equal(loss.backward(2.0), F.cross_entropy_grad(x, y, reduction="sum",
                                                                          label_smoothing=0.1, grad_output=2.0))


# --- conventions and errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CASE_NAMES)
def test_caller_arrays_are_not_modified(name, rng):
    make, _, x, target = loss_cases(rng)[name]
    x, target = np.array(x), np.array(target)
    x0, t0 = x.copy(), target.copy()
    loss = make("none")
    value = loss(x, target)
    g = np.ones(np.shape(value))
    loss.backward(g)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(target, t0)
    np.testing.assert_array_equal(g, 1.0)


def test_mean_and_sum_return_numpy_scalars_of_the_input_dtype(rng):
    x32 = rng.standard_normal((4, 3)).astype(np.float32)
    for reduction in ("mean", "sum"):
        value = nn.CrossEntropyLoss(reduction=reduction)(x32, np.array([0, 1, 2, 0]))
        assert type(value) is np.float32
        value = nn.MSELoss(reduction=reduction)(x32, np.zeros((4, 3)))   # float64 target: computed in float32
        assert type(value) is np.float32
    assert nn.MSELoss()(np.arange(6).reshape(2, 3), np.zeros((2, 3))).dtype == np.float32   # ints -> float32


def test_backward_grad_output_scales_the_gradient(rng):
    x, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    loss = nn.MSELoss()
    loss(x, y)
    np.testing.assert_allclose(loss.backward(3.0), 3 * loss.backward())
    np.testing.assert_allclose(loss.backward(np.array(3.0)), 3 * loss.backward())


def test_class_target_validation():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: target value 4 is not a class index for C=4 classes "
                                         r"\(expected 0 <= target < 4 or ignore_index=-100\)"):
        nn.CrossEntropyLoss()(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="target value -1 is not a class index for C=4"):
        nn.NLLLoss()(x, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match="target value 7 is not a class index for C=4"):
        nn.MultiMarginLoss()(x, np.array([7, 0, 1]))
    with pytest.raises(TypeError, match="NLLLoss expects integer class indices as target, got an array of dtype float64"):
        nn.NLLLoss()(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss expects target of shape \(3,\) .* for input of shape "
                                         r"\(3, 4\), got \(4,\)"):
        nn.CrossEntropyLoss()(x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"expects target of shape \(2, 5\) .*got \(2,\)"):
        nn.CrossEntropyLoss()(np.zeros((2, 4, 5)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"expects weight of shape \(C,\) = \(4,\)"):
        nn.CrossEntropyLoss(weight=np.ones(3))(x, np.array([0, 1, 2]))


def test_other_validation():
    x = np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match=r"MSELoss expects target of the input's shape \(2, 3\), got \(3,\)"):
        nn.MSELoss()(x, np.zeros(3))
    with pytest.raises(ValueError, match=r"BCELoss expects probabilities in \[0, 1\] as input .* got values in \[-0.5, 1.5\]"):
        nn.BCELoss()(np.array([-0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none'; got 'avg'"):
        nn.L1Loss(reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(x, x, reduction="elementwise_mean")
    with pytest.raises(ValueError, match="var must be non-negative"):
        nn.GaussianNLLLoss()(x, x, -np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"GaussianNLLLoss expects var of the input's shape \(2, 3\)"):
        nn.GaussianNLLLoss()(x, x, np.ones((3, 2)))
    with pytest.raises(ValueError, match="only p = 1 and p = 2"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="log_input=False.*non-negative rates"):
        nn.PoissonNLLLoss(log_input=False)(-x, x)
    with pytest.raises(ValueError, match=r"pos_weight of shape \(2,\) does not broadcast to the input's shape \(2, 3\)"):
        nn.BCEWithLogitsLoss(pos_weight=np.ones(2))(x, x)


def test_backward_errors():
    loss = nn.MSELoss(reduction="none")
    with pytest.raises(RuntimeError, match="MSELoss.backward called before forward"):
        loss.backward()
    loss(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"reduction='none' needs grad_output of the loss's shape \(2, 3\)"):
        loss.backward()
    with pytest.raises(ValueError, match=r"expects grad_output of the loss's shape \(2, 3\), got \(3,\)"):
        loss.backward(np.ones(3))
    mean = nn.MSELoss()
    mean(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="returns a scalar, so grad_output must be a scalar"):
        mean.backward(np.ones(3))


def test_all_ignored_targets_give_nan_like_torch(torch):
    x = np.zeros((2, 3))
    y = np.array([-100, -100])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = nn.CrossEntropyLoss()(x, y)
    assert np.isnan(value) and np.isnan(torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y)).item())


def test_reprs():
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss(reduction='mean')"
    assert repr(nn.MultiMarginLoss(p=2)) == "MultiMarginLoss(p=2, margin=1.0, reduction='mean')"
