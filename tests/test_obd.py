"""Optimal Brain Damage (nnkit/obd.py): second derivatives against PyTorch, the recursion against an
independent per-sample computation, what the recursion drops, pruning, masks, feature saliency."""
import math

import numpy as np
import pytest

import nnkit.functional as F
import nnkit.nn as nn
from nnkit import obd
from nnkit.gradcheck import relative_error
from nnkit.obd import (MaskedOptimizer, PruningMask, feature_saliency, hessian_diagonal, magnitude_prune_,
                       obd_prune_and_retrain, prune_, saliency)
from nnkit.obd import _loss_derivatives
from nnkit.optim import SGD, Adam

F64 = np.float64


# --- building small networks and their PyTorch twins -------------------------------------------
def mlp(sizes, act=nn.Tanh, out_act=None, seed=0):
    """Sequential(Linear, act, ..., Linear[, out_act]) in float64 with weights of a useful size."""
    rng = np.random.default_rng(seed)   # our own draws: the tests must not depend on nnkit.init
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = nn.Linear(a, b, dtype=F64)
        bound = 2 / np.sqrt(a)          # twice PyTorch's bound: hidden units well into the nonlinearity
        lin.weight.data[...] = rng.uniform(-bound, bound, (b, a))
        lin.bias.data[...] = rng.uniform(-bound, bound, b)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(act())
    if out_act is not None:
        layers.append(out_act())
    return nn.Sequential(*layers)


def problem(model, n, loss, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, model[0].in_features))
    k = [m for m in model if isinstance(m, nn.Linear)][-1].out_features
    y = rng.integers(0, k, n) if loss == "cross_entropy" else rng.standard_normal((n, k))
    return X, y


def flat_params(model):
    return np.concatenate([p.data.reshape(-1) for p in model.parameters()])


def split(model, vec):
    out, i = {}, 0
    for name, p in model.named_parameters():
        out[name] = np.asarray(vec[i:i + p.size]).reshape(p.shape)
        i += p.size
    return out


def torch_output(torch, model, theta, X):
    """The model's output as a torch function of the flat parameter vector ``theta``."""
    a = torch.as_tensor(X)
    i = 0
    for m in model:
        if isinstance(m, nn.Linear):
            w = theta[i:i + m.weight.size].reshape(m.weight.shape)
            i += m.weight.size
            b = theta[i:i + m.bias.size]
            i += m.bias.size
            a = a @ w.T + b
        elif isinstance(m, nn.Tanh):
            a = torch.tanh(a)
        elif isinstance(m, nn.Sigmoid):
            a = torch.sigmoid(a)
        elif isinstance(m, nn.ReLU):
            a = torch.relu(a)
        elif isinstance(m, nn.LeakyReLU):
            a = torch.nn.functional.leaky_relu(a, m.negative_slope)
        elif isinstance(m, nn.Identity):
            pass
        else:
            raise AssertionError(type(m))
    return a


def torch_loss(torch, out, y, loss):
    if loss == "mse":
        return torch.nn.functional.mse_loss(out, torch.as_tensor(y))
    return torch.nn.functional.cross_entropy(out, torch.as_tensor(y, dtype=torch.long))


def exact_hessian_diagonal(torch, model, X, y, loss):
    """diag of PyTorch's full Hessian of the mean loss w.r.t. all parameters."""
    theta = torch.tensor(flat_params(model))
    H = torch.autograd.functional.hessian(lambda t: torch_loss(torch, torch_output(torch, model, t, X), y, loss), theta)
    return split(model, torch.diagonal(H).numpy())


def exact_gauss_newton_diagonal(torch, model, X, y, loss):
    """diag of the Gauss–Newton matrix sum_n J_n^T H_n J_n, with PyTorch's Jacobian of the output
    and PyTorch's Hessian of the loss w.r.t. the output (which for cross-entropy is not diagonal)."""
    theta = torch.tensor(flat_params(model))
    J = torch.autograd.functional.jacobian(lambda t: torch_output(torch, model, t, X), theta)     # (N, K, P)
    out = torch_output(torch, model, theta, X).detach()
    H = torch.autograd.functional.hessian(lambda o: torch_loss(torch, o, y, loss), out)          # (N, K, N, K)
    return split(model, torch.einsum("nkp,nkml,mlp->p", J, H, J).numpy())


def assert_close(a, b, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


CASES = {
    # name: (sizes, hidden activation, output activation, loss)
    "mse-tanh-2hidden": ([3, 5, 4, 2], nn.Tanh, None, "mse"),
    "mse-sigmoid-output": ([3, 4, 3], nn.Tanh, nn.Sigmoid, "mse"),
    "mse-leaky-tanh-output": ([4, 5, 3, 2], nn.LeakyReLU, nn.Tanh, "mse"),
    "ce-sigmoid-2hidden": ([3, 5, 4, 3], nn.Sigmoid, None, "cross_entropy"),
    "ce-relu": ([4, 6, 3], nn.ReLU, None, "cross_entropy"),
}


def last_linear_names(model):
    name = [str(i) for i, m in enumerate(model) if isinstance(m, nn.Linear)][-1]
    return [f"{name}.weight", f"{name}.bias"]


# --- (1) the top layer against PyTorch's exact second derivatives ------------------------------
@pytest.mark.parametrize("case", CASES)
def test_last_layer_full_method_is_the_exact_hessian_diagonal(torch, case):
    sizes, act, out_act, loss = CASES[case]
    model = mlp(sizes, act, out_act)
    X, y = problem(model, 7, loss)
    ours = hessian_diagonal(model, X, y, loss=loss, method="full")
    exact = exact_hessian_diagonal(torch, model, X, y, loss)
    for name in last_linear_names(model):
        assert_close(ours[name], exact[name])


@pytest.mark.parametrize("case", CASES)
def test_last_layer_gauss_newton_is_the_exact_gauss_newton_diagonal(torch, case):
    sizes, act, out_act, loss = CASES[case]
    model = mlp(sizes, act, out_act)
    X, y = problem(model, 7, loss)
    ours = hessian_diagonal(model, X, y, loss=loss, method="gauss_newton")
    exact = exact_gauss_newton_diagonal(torch, model, X, y, loss)
    for name in last_linear_names(model):
        assert_close(ours[name], exact[name])


def test_output_nonlinearity_term_is_there_and_has_the_right_sign(torch):
    # With a sigmoid output the f''(z) dQ/dy term is what separates "full" from Gauss–Newton at the
    # top layer; the exact Hessian agrees with "full" (previous test), so it is not the GN value.
    # Flipping the sign of that term (as the paper's eq. 7 is often quoted) would not match either.
    model = mlp([3, 4, 3], nn.Tanh, nn.Sigmoid)
    X, y = problem(model, 7, "mse")
    full = hessian_diagonal(model, X, y, method="full")["2.weight"]
    gn = hessian_diagonal(model, X, y, method="gauss_newton")["2.weight"]
    exact = exact_hessian_diagonal(torch, model, X, y, "mse")["2.weight"]
    assert np.max(np.abs(full - gn)) > 1e-2 * np.max(np.abs(exact))
    assert not np.allclose(2 * gn - full, exact, rtol=1e-3)     # the minus-sign version


# --- (2) every layer against the same recursion written independently --------------------------
def reference_recursion(model, X, y, loss, method):
    """OBD's recursion one sample and one unit at a time, in plain Python floats, with the
    derivatives written in other forms (1/cosh², e(e-1)/(1+e)³) than the library's."""
    def derivs(m, z):
        if isinstance(m, nn.Tanh):
            return 1 / math.cosh(z) ** 2, -2 * math.tanh(z) / math.cosh(z) ** 2
        if isinstance(m, nn.Sigmoid):
            e = math.exp(-z)
            return e / (1 + e) ** 2, e * (e - 1) / (1 + e) ** 3
        if isinstance(m, nn.ReLU):
            return (1.0 if z > 0 else 0.0), 0.0
        if isinstance(m, nn.LeakyReLU):
            return (1.0 if z > 0 else m.negative_slope), 0.0
        raise AssertionError(type(m))

    N = len(X)
    h = {name: np.zeros(p.shape) for name, p in model.named_parameters()}
    for n in range(N):
        values = [list(map(float, X[n]))]            # values[i] = input of module i
        for m in model:
            v = values[-1]
            if isinstance(m, nn.Linear):
                W, b = m.weight.data, m.bias.data
                values.append([b[i] + sum(W[i, j] * v[j] for j in range(len(v))) for i in range(len(b))])
            else:
                values.append([m(np.array([[z]]))[0, 0] for z in v])
        out = values[-1]
        K = len(out)
        if loss == "mse":
            G = [2 * (out[k] - y[n][k]) / (N * K) for k in range(K)]
            D = [2 / (N * K)] * K
        else:
            s = sum(math.exp(o) for o in out)
            p = [math.exp(o) / s for o in out]
            G = [(p[k] - (k == y[n])) / N for k in range(K)]
            D = [p[k] * (1 - p[k]) / N for k in range(K)]
        for idx in reversed(range(len(model))):
            m, v = model[idx], values[idx]
            if isinstance(m, nn.Linear):
                W = m.weight.data
                for i in range(W.shape[0]):
                    h[f"{idx}.bias"][i] += D[i]
                    for j in range(W.shape[1]):
                        h[f"{idx}.weight"][i, j] += D[i] * v[j] ** 2
                D = [sum(W[i, j] ** 2 * D[i] for i in range(W.shape[0])) for j in range(W.shape[1])]
                G = [sum(W[i, j] * G[i] for i in range(W.shape[0])) for j in range(W.shape[1])]
            else:
                d = [derivs(m, z) for z in v]
                D = [d1 * d1 * D[i] + (d2 * G[i] if method == "full" else 0.0) for i, (d1, d2) in enumerate(d)]
                G = [d1 * G[i] for i, (d1, _) in enumerate(d)]
    return h


@pytest.mark.parametrize("method", ["full", "gauss_newton"])
@pytest.mark.parametrize("case", CASES)
def test_every_layer_matches_an_independent_per_sample_recursion(case, method):
    sizes, act, out_act, loss = CASES[case]
    model = mlp(sizes, act, out_act)
    X, y = problem(model, 6, loss)
    ours = hessian_diagonal(model, X, y, loss=loss, method=method)
    ref = reference_recursion(model, X, y, loss, method)
    assert list(ours) == [name for name, _ in model.named_parameters()]
    for name in ours:
        assert_close(ours[name], ref[name], rtol=1e-10, atol=1e-14)


# --- (3) what holds below the top layer ----------------------------------------------------------
@pytest.mark.parametrize("out_act", [None, nn.Sigmoid])
def test_one_hidden_layer_mse_first_layer_is_exact(torch, out_act):
    # MSE's Hessian w.r.t. the output is diagonal (2/(NK) I), so no cross term exists to be dropped:
    # on one hidden layer the recursion is the exact diagonal for BOTH layers, in both methods.
    model = mlp([3, 5, 3], nn.Tanh, out_act)
    X, y = problem(model, 8, "mse")
    exact = exact_hessian_diagonal(torch, model, X, y, "mse")
    gn = exact_gauss_newton_diagonal(torch, model, X, y, "mse")
    ours_full = hessian_diagonal(model, X, y, method="full")
    ours_gn = hessian_diagonal(model, X, y, method="gauss_newton")
    for name in ours_full:
        assert_close(ours_full[name], exact[name])
        assert_close(ours_gn[name], gn[name])


@pytest.mark.parametrize("method", ["full", "gauss_newton"])
def test_one_hidden_layer_cross_entropy_first_layer_misses_exactly_the_dropped_cross_terms(torch, method):
    # For softmax + cross-entropy d²Q/dy_l dy_l' = -p_l p_l' / N (l != l'); the recursion drops
    #   C(W1_ij) = sum_n f'(z_ni)² x_nj² sum_{l != l'} W2_li W2_l'i (-p_nl p_nl' / N)
    # and nothing else: exact = OBD + C, with C visibly nonzero.
    model = mlp([3, 5, 4], nn.Tanh)
    X, y = problem(model, 9, "cross_entropy")
    exact = (exact_hessian_diagonal if method == "full" else exact_gauss_newton_diagonal)(
        torch, model, X, y, "cross_entropy")
    ours = hessian_diagonal(model, X, y, loss="cross_entropy", method=method)

    W1, b1, W2, b2 = (p.data for p in model.parameters())
    z = X @ W1.T + b1
    logits = np.tanh(z) @ W2.T + b2
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    N = len(X)
    off_diag = -np.einsum("nl,nm->nlm", p, p) / N
    off_diag[:, np.arange(4), np.arange(4)] = 0
    dropped_z = (1 - np.tanh(z) ** 2) ** 2 * np.einsum("li,nlm,mi->ni", W2, off_diag, W2)   # (N, hidden)
    assert_close(exact["0.weight"], ours["0.weight"] + dropped_z.T @ X ** 2)
    assert_close(exact["0.bias"], ours["0.bias"] + dropped_z.sum(0))
    assert np.max(np.abs(dropped_z.T @ X ** 2)) > 1e-2 * np.max(np.abs(exact["0.weight"]))
    for name in ("2.weight", "2.bias"):                 # the top layer stays exact
        assert_close(exact[name], ours[name])


def test_two_hidden_layers_mse_first_layer_is_not_exact_by_design(torch):
    # Units of the first hidden layer share the second layer's units, so d²Q/dz_l dz_l' != 0 there:
    # the top two layers are exact (diagonal MSE Hessian at the output), the first one is not.
    model = mlp([3, 5, 4, 2], nn.Tanh)
    X, y = problem(model, 8, "mse")
    exact = exact_hessian_diagonal(torch, model, X, y, "mse")
    ours = hessian_diagonal(model, X, y, method="full")
    for name in ("2.weight", "2.bias", "4.weight", "4.bias"):
        assert_close(ours[name], exact[name])
    diff = np.max(np.abs(ours["0.weight"] - exact["0.weight"]))
    assert diff > 1e-2 * np.max(np.abs(exact["0.weight"]))


# --- the loss boundary: PyTorch's reduction, nnkit's loss modules -------------------------------
def test_loss_derivatives_agree_with_nnkit_loss_modules_and_reductions(rng):
    out = rng.standard_normal((6, 3))
    t = rng.standard_normal((6, 3))
    labels = rng.integers(0, 3, 6)
    for module, target, name in ((nn.MSELoss(), t, "mse"), (nn.CrossEntropyLoss(), labels, "cross_entropy")):
        value, grad, _ = _loss_derivatives(out, target, name)
        assert value == pytest.approx(float(module(out, target)), rel=1e-12)
        assert_close(grad, module.backward())
    model = mlp([3, 4, 3], nn.Tanh)
    X, y = problem(model, 5, "mse")
    mean = hessian_diagonal(model, X, y, loss=nn.MSELoss())
    summed = hessian_diagonal(model, X, y, reduction="sum")
    for name in mean:                                   # MSE mean divides by N*K = 15 entries
        assert_close(summed[name], 15 * mean[name])
        assert_close(mean[name], hessian_diagonal(model, X, y, loss="mse")[name])


def test_hessian_diagonal_leaves_gradients_alone_and_runs_in_float32():
    model = mlp([3, 4, 2], nn.Sigmoid)
    X, y = problem(model, 5, "mse")
    model.parameters()[0].grad[...] = 7.0
    hessian_diagonal(model, X, y)
    assert np.all(model.parameters()[0].grad == 7.0)
    m32 = nn.Sequential(nn.Linear(3, 4, seed=0), nn.Tanh(), nn.Linear(4, 2, seed=1))
    h = hessian_diagonal(m32, X.astype(np.float32), y.astype(np.float32))
    assert all(v.dtype == np.float32 for v in h.values())


# --- saliency and pruning ------------------------------------------------------------------------
def test_saliency_is_half_h_w_squared_and_the_deck_form_is_twice_that():
    model = mlp([3, 4, 2], nn.Tanh)
    X, y = problem(model, 5, "mse")
    h = hessian_diagonal(model, X, y)
    s, deck = saliency(model, h), saliency(model, h, half=False)
    for name, p in model.named_parameters():
        assert_close(s[name], 0.5 * h[name] * p.data ** 2)
        assert_close(deck[name], 2 * s[name])


def linear_least_squares_case():
    """y = 0.3 x0 + 2 x1 + noise, with x0 of scale 10 and x1 of scale 0.1: the small weight matters."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 2)) * np.array([10.0, 0.1])
    y = (0.3 * X[:, 0] + 2.0 * X[:, 1] + 0.05 * rng.standard_normal(200))[:, None]
    model = nn.Sequential(nn.Linear(2, 1, dtype=F64))
    A = np.hstack([X, np.ones((200, 1))])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]          # the exact minimum: the gradient is 0
    model[0].weight.data[...] = coef[:2].T
    model[0].bias.data[...] = coef[2]
    return model, X, y


def mse(model, X, y):
    return float(np.mean((model(X) - y) ** 2))


def test_saliency_is_the_exact_loss_increase_for_a_linear_model_at_its_minimum():
    # A quadratic loss at its minimum: deleting ONE weight raises Q by exactly ½ h w², for either
    # weight, whatever the correlations (they matter only when several are deleted together).
    model, X, y = linear_least_squares_case()
    s = saliency(model, hessian_diagonal(model, X, y))["0.weight"]
    base = mse(model, X, y)
    for j in range(2):
        old = model[0].weight.data[0, j]
        model[0].weight.data[0, j] = 0
        assert mse(model, X, y) - base == pytest.approx(s[0, j], rel=1e-8)
        model[0].weight.data[0, j] = old


def test_magnitude_pruning_and_obd_delete_different_weights():
    model, X, y = linear_least_squares_case()
    w = model[0].weight.data.copy()
    assert abs(w[0, 0]) < abs(w[0, 1])                   # magnitude would drop the first weight ...
    obd_model, mag_model = model, linear_least_squares_case()[0]
    prune_(obd_model, 1, saliency(obd_model, hessian_diagonal(obd_model, X, y)))
    magnitude_prune_(mag_model, 1)
    assert obd_model[0].weight.data[0, 1] == 0 and obd_model[0].weight.data[0, 0] == w[0, 0]
    assert mag_model[0].weight.data[0, 0] == 0 and mag_model[0].weight.data[0, 1] == w[0, 1]
    assert mse(obd_model, X, y) < 0.01 * mse(mag_model, X, y)     # ... which is far more costly


def test_prune_removes_exactly_the_n_least_salient_remaining_weights(rng):
    model = mlp([4, 5, 3], nn.Tanh)
    scores = {name: rng.permutation(p.size).reshape(p.shape) + 100.0 * i
              for i, (name, p) in enumerate(model.named_parameters())}
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    mask = prune_(model, 7, scores)
    # the weights are 0.weight (20 entries, scores 0..19) and 2.weight (15 entries, 200..214):
    # the 7 smallest are the 0.weight entries scored 0..6; biases are never candidates by default
    assert_close(model[0].weight.data == 0, scores["0.weight"] < 7)
    assert np.all(model[2].weight.data == before["2.weight"])
    assert mask.n_pruned() == 7 and np.all(mask["0.bias"])
    # a second round: deleted weights keep their (lowest) scores but no longer compete
    prune_(model, 16, scores, mask=mask)
    assert_close(model[0].weight.data == 0, np.ones((5, 4), bool))
    assert_close(model[2].weight.data == 0, scores["2.weight"] < 203)
    assert mask.n_pruned() == 23
    for name, p in model.named_parameters():             # mask and zeros agree
        assert_close(~mask[name], p.data == 0)
    with_bias = mlp([4, 5, 3], nn.Tanh)
    bias_scores = {name: s if "bias" not in name else s - 1000 for name, s in scores.items()}
    m = prune_(with_bias, 3, bias_scores, include_bias=True)
    assert m.n_pruned(["0.bias"]) == 3 and m.n_pruned(["0.weight", "2.weight"]) == 0


@pytest.mark.parametrize("make_opt", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
    lambda ps: Adam(ps, lr=0.05),
], ids=["sgd-momentum", "adam"])
def test_masks_persist_through_retraining_steps(make_opt):
    def train(model, opt, X, y, steps):
        for _ in range(steps):
            opt.zero_grad()
            out = model(X)
            model.backward(2 * (out - y) / out.size)
            opt.step()

    results = {}
    for wrapped in (True, False):
        model = mlp([3, 6, 2], nn.Tanh)
        X, y = problem(model, 20, "mse")
        opt = make_opt(model.parameters())
        train(model, opt, X, y, 5)                      # the optimizer's buffers are now nonzero
        mask = magnitude_prune_(model, 10)
        before = {name: p.data.copy() for name, p in model.named_parameters()}
        train(model, MaskedOptimizer(opt, mask) if wrapped else opt, X, y, 10)
        results[wrapped] = all(np.all(p.data[~mask[name]] == 0) for name, p in model.named_parameters())
        if wrapped:
            alive = model[0].weight.data[mask["0.weight"]]
            assert np.all(alive != before["0.weight"][mask["0.weight"]])   # the rest did train
    assert results[True]
    assert not results[False]                            # without the wrapper they come back to life


def test_masked_optimizer_with_a_closure_and_delegation():
    model = mlp([3, 4, 1], nn.Tanh)
    X, y = problem(model, 10, "mse")
    mask = magnitude_prune_(model, 5)
    opt = MaskedOptimizer(SGD(model.parameters(), lr=0.1, momentum=0.5), mask)

    def closure():
        opt.zero_grad()
        out = model(X)
        model.backward(2 * (out - y) / out.size)
        return mse(model, X, y)

    for _ in range(3):
        assert isinstance(opt.step(closure), float)
        assert all(np.all(p.data[~mask[name]] == 0) for name, p in model.named_parameters())
    opt.lr = 0.01
    assert opt.param_groups[0]["lr"] == 0.01 and opt.lr == 0.01
    assert "momentum_buffer" in opt.state[model.parameters()[0]]


def test_obd_prune_and_retrain_follows_the_deck_and_restores_the_last_removal():
    rng = np.random.default_rng(0)
    f = lambda X: np.tanh(X[:, :1] - 0.5 * X[:, 1:2])      # inputs 2 and 3 are irrelevant
    X = rng.standard_normal((150, 4))
    y = f(X) + 0.1 * rng.standard_normal((150, 1))
    Xv = rng.standard_normal((100, 4))
    yv = f(Xv) + 0.1 * rng.standard_normal((100, 1))
    model = mlp([4, 6, 1], nn.Tanh, seed=0)
    opt = Adam(model.parameters(), lr=0.02)
    mask, history = obd_prune_and_retrain(model, opt, X, y, Xv, yv, n_per_round=4, tol=0.1,
                                          pretrain_epochs=300, retrain_epochs=50, seed=0)
    assert history[0]["round"] == 0 and history[0]["n_pruned"] == 0
    accepted = [h for h in history if h["accepted"]]
    assert [h["n_pruned"] for h in accepted] == [4 * i for i in range(len(accepted))]
    assert [h["fraction_pruned"] for h in accepted] == [4 * i / 30 for i in range(len(accepted))]
    assert all(h["val_accuracy"] is None for h in history)
    limit = 1.1 * history[0]["val_loss"]
    assert all(h["val_loss"] <= limit for h in accepted)
    # the last round cost too much validation loss, so it was undone: weights and mask as before it
    assert not history[-1]["accepted"] and history[-1]["val_loss"] > limit
    assert mse(model, Xv, yv) == pytest.approx(accepted[-1]["val_loss"], rel=1e-12)
    assert mask.n_pruned(["0.weight", "2.weight"]) == accepted[-1]["n_pruned"] >= 20
    for name, p in model.named_parameters():
        assert np.all(p.data[~mask[name]] == 0)
    # what survives reads only the two inputs the target depends on
    assert not mask["0.weight"][:, 2:].any() and mask["0.weight"][:, :2].any()


def test_obd_prune_and_retrain_classification_reports_accuracy():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((90, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1).astype(int)
    model = mlp([3, 5, 3], nn.ReLU)
    mask, history = obd_prune_and_retrain(model, SGD(model.parameters(), lr=0.2, momentum=0.9), X, y, X, y,
                                          loss=nn.CrossEntropyLoss(), method="gauss_newton", n_per_round=4,
                                          tol=10.0, max_rounds=3, pretrain_epochs=50, retrain_epochs=5)
    assert len(history) == 4 and all(h["accepted"] for h in history)
    assert all(0 <= h["val_accuracy"] <= 1 for h in history)
    assert history[-1]["n_pruned"] == 12


# --- (5) feature selection ----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["full", "gauss_newton"])
def test_feature_saliency_ranks_the_noise_feature_last(method):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 4))                    # feature 3 is pure noise
    y = (1.5 * X[:, :1] - X[:, 1:2] + np.sin(2 * X[:, 2:3])) + 0.05 * rng.standard_normal((300, 1))
    model = mlp([4, 8, 1], nn.Tanh, seed=2)
    for lin in (model[0], model[2]):
        lin.weight.data /= 2
        lin.bias.data /= 2
    opt = Adam(model.parameters(), lr=0.03)
    for _ in range(600):
        opt.zero_grad()
        out = model(X)
        model.backward(2 * (out - y) / out.size)
        opt.step()
    S = feature_saliency(model, hessian_diagonal(model, X, y, method=method))
    assert S.shape == (4,)
    assert np.argmin(S) == 3 and S[3] < 0.3 * np.sort(S)[1]
    h = hessian_diagonal(model, X, y, method=method)
    assert_close(S, saliency(model, h)["0.weight"].sum(axis=0))


# --- (5b) saliencies against an independent computation --------------------------------------------
def central_second_differences(model, X, y, loss, h=1e-4):
    """d²Q/dw_k² for every parameter entry by (Q(w + h) - 2Q(w) + Q(w - h)) / h², Q by nnkit.nn's losses."""
    loss_fn = nn.MSELoss() if loss == "mse" else nn.CrossEntropyLoss()
    out = {}
    for name, p in model.named_parameters():
        d2 = np.empty(p.shape)
        flat = p.data.reshape(-1)
        for k in range(flat.size):
            w = flat[k]
            values = []
            for step in (h, 0.0, -h):
                flat[k] = w + step
                values.append(float(loss_fn(model(X), y)))
            flat[k] = w
            d2.reshape(-1)[k] = (values[0] - 2 * values[1] + values[2]) / h ** 2
        out[name] = d2
    return out


@pytest.mark.parametrize("out_act", [None, nn.Sigmoid])
def test_saliencies_equal_half_h_w2_with_h_from_torch_and_from_finite_differences(torch, out_act):
    # One hidden layer and MSE: OBD's diagonal is exact here for every weight (see above), so the
    # saliencies must equal 1/2 (d²Q/dw²) w² computed without OBD's recursion -- by PyTorch's exact
    # Hessian, and by central second differences of nnkit's own MSELoss, without torch.
    model = mlp([3, 5, 2], nn.Tanh, out_act)
    X, y = problem(model, 9, "mse")
    ours = saliency(model, hessian_diagonal(model, X, y))
    deck = saliency(model, hessian_diagonal(model, X, y), half=False)
    exact = exact_hessian_diagonal(torch, model, X, y, "mse")
    numeric = central_second_differences(model, X, y, "mse")
    for name, p in model.named_parameters():
        w2 = p.data ** 2
        assert_close(ours[name], 0.5 * exact[name] * w2, rtol=1e-9, atol=1e-14)
        assert_close(deck[name], exact[name] * w2, rtol=1e-9, atol=1e-14)
        # second differences carry an O(h²) error: compare on the scale of the largest saliency
        assert relative_error(ours[name], 0.5 * numeric[name] * w2) < 1e-5, name


def test_last_layer_saliencies_of_a_deep_classifier_equal_torch(torch):
    # Deeper and with cross-entropy only the last layer is exact (the rest drops cross terms by design).
    model = mlp([4, 6, 5, 3], nn.Sigmoid)
    X, y = problem(model, 8, "cross_entropy")
    ours = saliency(model, hessian_diagonal(model, X, y, loss="cross_entropy"))
    exact = exact_hessian_diagonal(torch, model, X, y, "cross_entropy")
    numeric = central_second_differences(model, X, y, "cross_entropy")
    for name in ("4.weight", "4.bias"):
        w2 = dict(model.named_parameters())[name].data ** 2
        assert_close(ours[name], 0.5 * exact[name] * w2, rtol=1e-9, atol=1e-14)
        assert relative_error(ours[name], 0.5 * numeric[name] * w2) < 1e-5, name


# --- (5c) one source of truth: OBD's derivatives are nnkit.functional's ------------------------------
@pytest.mark.parametrize("name, second", [("sigmoid", F.sigmoid_second_derivative),
                                          ("tanh", F.tanh_second_derivative)])
def test_second_derivatives_match_torch_double_backward(torch, name, second):
    z = np.concatenate([np.linspace(-40, 40, 161), [0.0, 1e-8, -1e-8]])
    zt = torch.tensor(z, requires_grad=True)
    (d1,) = torch.autograd.grad(getattr(torch, name)(zt).sum(), zt, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), zt)
    # torch differentiates sigma(1 - sigma), which loses digits once 1 - sigma rounds (|z| > ~20), so
    # the absolute tolerance is about float64's resolution of the largest values (|sigma''| <= 0.1)
    np.testing.assert_allclose(second(z), d2.numpy(), rtol=1e-9, atol=1e-15)
    assert second(z.astype(np.float32)).dtype == np.float32
    assert np.all(np.isfinite(second(np.array([-1e4, 1e4]))))


def test_obd_takes_activation_and_loss_derivatives_from_nnkit_functional(rng):
    z = rng.standard_normal((5, 4)) * 3
    for module, d1, d2 in [(nn.Sigmoid(), F.sigmoid_derivative(z), F.sigmoid_second_derivative(z)),
                           (nn.Tanh(), F.tanh_derivative(z), F.tanh_second_derivative(z)),
                           (nn.ReLU(), F.relu_derivative(z), None),
                           (nn.LeakyReLU(0.2), F.leaky_relu_derivative(z, 0.2), None),
                           (nn.Identity(), F.identity_derivative(z), None)]:
        f1, f2 = obd._activation_rule(module)(z, module)
        np.testing.assert_array_equal(f1, d1)
        assert (f2 is None) == (d2 is None)
        if d2 is not None:
            np.testing.assert_array_equal(f2, d2)
    out, t, labels = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)), rng.integers(0, 3, 6)
    for reduction in ("mean", "sum"):
        value, grad, _ = _loss_derivatives(out, t, "mse", reduction)
        assert value == float(F.mse_loss(out, t, reduction))
        np.testing.assert_array_equal(grad, F.mse_loss_grad(out, t, reduction))
        value, grad, d2 = _loss_derivatives(out, labels, "cross_entropy", reduction)
        assert value == float(F.cross_entropy(out, labels, reduction=reduction))
        np.testing.assert_array_equal(grad, F.cross_entropy_grad(out, labels, reduction=reduction))
        p = F.softmax(out, dim=1)
        assert_close(d2, p * (1 - p) / (6 if reduction == "mean" else 1))


def test_the_output_hessian_diagonal_matches_torch(torch, rng):
    out, t, labels = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    for loss, target in (("mse", t), ("cross_entropy", labels)):
        _, grad, d2 = _loss_derivatives(out, target, loss)
        ot = torch.tensor(out, requires_grad=True)
        H = torch.autograd.functional.hessian(lambda o: torch_loss(torch, o, target, loss), ot)
        assert_close(d2, torch.einsum("nknk->nk", H).numpy())


def test_obd_prune_and_retrain_trains_with_nnkit_train_fit(monkeypatch):
    import nnkit.train
    calls = []
    real_fit = nnkit.train.fit

    def spy(*args, **kwargs):
        calls.append((args[4], kwargs))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(nnkit.train, "fit", spy)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 3))
    y = X[:, :1] - X[:, 1:2]
    model = mlp([3, 4, 1], nn.Tanh)
    model.eval()
    obd_prune_and_retrain(model, SGD(model.parameters(), lr=0.05), X, y, X, y, n_per_round=2, tol=10.0,
                          max_rounds=2, pretrain_epochs=3, retrain_epochs=2, batch_size=8)
    assert [c[0] for c in calls] == [3, 2, 2]
    assert all(c[1]["progress"] is False for c in calls)
    assert not model.training                          # the caller's mode is kept


def test_obd_prune_and_retrain_checks_targets_before_training():
    model = mlp([3, 4, 2], nn.Tanh)
    X = np.zeros((5, 3))
    with pytest.raises(ValueError, match="target of the output's shape"):
        obd_prune_and_retrain(model, SGD(model.parameters(), lr=0.1), X, np.zeros((5, 1)), X, np.zeros((5, 2)),
                              n_per_round=1)
    with pytest.raises(ValueError, match="integer class labels"):
        obd_prune_and_retrain(model, SGD(model.parameters(), lr=0.1), X, np.zeros(5, int), X, np.zeros(5),
                              n_per_round=1, loss="cross_entropy")


# --- (6) bad inputs --------------------------------------------------------------------------------
class Square(nn.Module):
    def forward(self, x):
        return x * x


def test_bad_inputs_raise_clear_errors():
    model = mlp([3, 4, 2], nn.Tanh)
    X, y = problem(model, 5, "mse")
    with pytest.raises(TypeError, match="Square"):
        hessian_diagonal(nn.Sequential(nn.Linear(3, 4), Square(), nn.Linear(4, 2)), X, y)
    with pytest.raises(TypeError, match="Softmax"):
        hessian_diagonal(nn.Sequential(nn.Linear(3, 2), nn.Softmax(dim=1)), X, y)
    with pytest.raises(TypeError, match="Sequential"):
        hessian_diagonal(model[0], X, y)
    with pytest.raises(ValueError, match="loss must be one of"):
        hessian_diagonal(model, X, y, loss="hinge")
    with pytest.raises(TypeError, match="loss must be"):
        hessian_diagonal(model, X, y, loss=nn.L1Loss())
    with pytest.raises(ValueError, match="method must be one of"):
        hessian_diagonal(model, X, y, method="exact")
    with pytest.raises(ValueError, match="target of the output's shape"):
        hessian_diagonal(model, X, y[:, :1])
    with pytest.raises(ValueError, match="integer class labels"):
        hessian_diagonal(model, X, y, loss="cross_entropy")
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        hessian_diagonal(model, X, np.array([0, 1, 2, 0, 1]), loss="cross_entropy")
    with pytest.raises(ValueError, match="class weights"):
        hessian_diagonal(model, X, np.zeros(5, int), loss=nn.CrossEntropyLoss(weight=np.ones(2)))
    s = saliency(model, hessian_diagonal(model, X, y))
    with pytest.raises(ValueError, match="only 20 remain"):
        prune_(model, 21, s)
    mask = prune_(model, 15, s)
    with pytest.raises(ValueError, match="only 5 remain"):
        prune_(model, 6, s, mask=mask)
    with pytest.raises(ValueError, match="no entry"):
        prune_(model, 1, {"0.weight": s["0.weight"]})
    with pytest.raises(TypeError, match="int"):
        prune_(model, 1.5, s)
    with pytest.raises(TypeError, match="PruningMask"):
        MaskedOptimizer(SGD(model.parameters(), lr=0.1), {"0.weight": None})
    with pytest.raises(TypeError, match="Module"):
        PruningMask(np.zeros(3))
