"""nnkit.optim: PyTorch's optimizers step for step against torch.optim; the lecture's forms against
the slide's formulas (re-implemented here, independently) and against their stated relations."""
import inspect
import warnings

import numpy as np
import pytest

import nnkit.optim as optim
from nnkit.nn import Linear, Parameter

SHAPES = [(5,), (3, 4), (2, 3, 2, 2)]
STEPS = 20


# --- helpers ------------------------------------------------------------------------------------
def make_params(shapes, dtype, rng):
    return [Parameter(rng.standard_normal(s).astype(dtype)) for s in shapes]


def gradient_sequence(shapes, dtype, rng, steps=STEPS):
    """Pseudo-random gradients with a different scale per coordinate (so adaptive methods adapt)."""
    scales = [np.exp(rng.standard_normal(s)) for s in shapes]
    return [[(sc * rng.standard_normal(s)).astype(dtype) for s, sc in zip(shapes, scales)]
            for _ in range(steps)]


def set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad[...] = g


def run_against_torch(torch, name, kwargs, dtype, tol, rng, groups=None):
    """Feed both libraries the same gradients for STEPS steps; compare the parameters after each."""
    params = make_params(SHAPES, dtype, rng)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    if groups is None:
        ours = getattr(optim, name)(params, **kwargs)
        theirs = getattr(torch.optim, name)(tparams, **kwargs)
    else:
        ours = getattr(optim, name)([{"params": [params[i] for i in idx], **extra} for idx, extra in groups], **kwargs)
        theirs = getattr(torch.optim, name)([{"params": [tparams[i] for i in idx], **extra} for idx, extra in groups],
                                            **kwargs)
    start = [p.data.copy() for p in params]
    for t, grads in enumerate(gradient_sequence(SHAPES, dtype, rng)):
        set_grads(params, grads)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.from_numpy(g.copy())
        ours.step()
        theirs.step()
        for p, tp in zip(params, tparams):
            assert p.data.dtype == dtype
            np.testing.assert_allclose(p.data, tp.detach().numpy(), **tol, err_msg=f"{name}{kwargs} step {t + 1}")
    moved = max(np.abs(p.data - s).max() for p, s in zip(params, start))
    assert moved > 1e-3, "the trajectory did not move: the comparison would be vacuous"


# --- PyTorch's optimizers against torch.optim ---------------------------------------------------
TORCH_CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.05, eps=1e-6, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, weight_decay=0.1)),
    ("Adadelta", dict(eps=1e-3, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.05, eps=1e-6)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.5, 0.9), maximize=True)),
]


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs", TORCH_CASES, ids=[f"{n}-{k}" for n, k in TORCH_CASES])
def test_trajectory_matches_torch(torch, name, kwargs, dtype, tol, rng):
    run_against_torch(torch, name, kwargs, dtype, tol, rng)


@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01))])
def test_param_groups_match_torch(torch, name, kwargs, rng):
    groups = [([0, 2], dict(lr=0.02)), ([1], dict(weight_decay=0.5))]
    run_against_torch(torch, name, kwargs, np.float64, dict(rtol=1e-9, atol=1e-11), rng, groups=groups)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"])
def test_defaults_match_torch(torch, name):
    ours = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    for arg, p in ours.items():
        if arg != "params":
            assert p.default == theirs[arg].default, f"{name}({arg}=...)"


# --- the lecture's forms --------------------------------------------------------------------------
def trajectory(opt_cls, kwargs, grads_seq, start):
    """Parameters after each step of ``opt_cls`` fed the gradient sequence (gradients not position-dependent)."""
    params = [Parameter(w.copy()) for w in start]
    opt = opt_cls(params, **kwargs)
    out = []
    for grads in grads_seq:
        set_grads(params, grads)
        opt.step()
        out.append([p.data.copy() for p in params])
    return out


def assert_same_trajectory(a, b, **tol):
    for t, (xs, ys) in enumerate(zip(a, b)):
        for x, y in zip(xs, ys):
            np.testing.assert_allclose(x, y, err_msg=f"step {t + 1}", **tol)


@pytest.fixture
def problem(dtype, rng):
    return [p.data for p in make_params(SHAPES, dtype, rng)], gradient_sequence(SHAPES, dtype, rng)


def slide_loop(update, start, grads_seq, n_buffers):
    """Run ``update(w, g, buffers, t)`` (written from the slide, mutating w and buffers) on copies."""
    ws = [w.astype(np.float64) for w in start]
    bufs = [[np.zeros_like(w) for _ in range(n_buffers)] for w in ws]
    out = []
    for t, grads in enumerate(grads_seq, start=1):
        for w, g, b in zip(ws, grads, bufs):
            update(w, g.astype(np.float64), b, t)
        out.append([w.copy() for w in ws])
    return out


def test_ema_momentum_is_the_slide(problem, tol):
    eta, gamma = 0.1, 0.9

    def slide(w, g, b, t):       # v := γv + (1−γ)L';  w := w − ηv
        b[0][...] = gamma * b[0] + (1 - gamma) * g
        w -= eta * b[0]
    start, grads = problem
    assert_same_trajectory(trajectory(optim.EMAMomentum, dict(lr=eta, gamma=gamma), grads, start),
                           slide_loop(slide, start, grads, 1), **tol)


@pytest.mark.torch
def test_ema_momentum_is_sgd_with_rescaled_lr(torch, problem, dtype, tol):
    """EMAMomentum(lr=η, γ) ≡ SGD(lr=η(1−γ), momentum=γ), exactly, at every step (nnkit's and torch's)."""
    eta, gamma = 0.1, 0.9
    start, grads = problem
    ema = trajectory(optim.EMAMomentum, dict(lr=eta, gamma=gamma), grads, start)
    assert_same_trajectory(ema, trajectory(optim.SGD, dict(lr=eta * (1 - gamma), momentum=gamma), grads, start), **tol)
    tparams = [torch.tensor(w.copy(), requires_grad=True) for w in start]
    topt = torch.optim.SGD(tparams, lr=eta * (1 - gamma), momentum=gamma)
    for t, gs in enumerate(grads):
        for tp, g in zip(tparams, gs):
            tp.grad = torch.from_numpy(g.copy())
        topt.step()
        for x, tp in zip(ema[t], tparams):
            np.testing.assert_allclose(x, tp.detach().numpy(), **tol)


def test_sgd_with_dampening_differs_from_ema_only_by_the_first_buffer(problem, tol):
    """SGD(η, momentum=γ, dampening=γ): b_t = v_t + γᵗ g₁, so w_sgd − w_ema = −η g₁ Σ_{s≤t} γˢ."""
    eta, gamma = 0.1, 0.9
    start, grads = problem
    ema = trajectory(optim.EMAMomentum, dict(lr=eta, gamma=gamma), grads, start)
    sgd = trajectory(optim.SGD, dict(lr=eta, momentum=gamma, dampening=gamma), grads, start)
    for t in range(1, STEPS + 1):
        offset = eta * sum(gamma ** s for s in range(1, t + 1))
        for x, y, g1 in zip(sgd[t - 1], ema[t - 1], grads[0]):
            # float32: x − y cancels most digits of x, so compare with a looser relative tolerance
            rtol = 1e-6 if x.dtype == np.float64 else 1e-2
            np.testing.assert_allclose(x - y, -offset * g1.astype(np.float64), rtol=rtol, atol=10 * tol["atol"])
    assert not np.allclose(sgd[-1][0], ema[-1][0]), "the two forms should not coincide"


def quadratic(dim=6, cond=25.0, seed=0):
    """Q(w) = ½ wᵀAw − bᵀw with A symmetric positive definite, eigenvalues from 1 to ``cond``, rotated."""
    r = np.random.default_rng(seed)
    q, _ = np.linalg.qr(r.standard_normal((dim, dim)))
    A = q @ np.diag(np.geomspace(1.0, cond, dim)) @ q.T
    b = r.standard_normal(dim)
    return A, b, np.linalg.solve(A, b)


def test_ema_nesterov_matches_the_slide_on_a_quadratic(dtype, tol):
    A, b, _ = quadratic()
    A, b = A.astype(dtype), b.astype(dtype)
    eta, gamma = 0.03, 0.9
    p = Parameter(np.zeros(6, dtype))
    opt = optim.EMANesterov([p], lr=eta, gamma=gamma)

    def closure():               # forward + backward at the parameter's *current* value
        w = p.data
        p.accumulate(A @ w - b)  # accumulate: correct only if the optimizer zeroed .grad first
        return 0.5 * w @ A @ w - b @ w

    w, v = np.zeros(6), np.zeros(6)          # the slide, in float64
    for t in range(50):
        look = w - eta * gamma * v
        loss = opt.step(closure)
        v = gamma * v + (1 - gamma) * (A @ look - b)   # v := γv + (1−γ) ∂Q(w − ηγv)/∂w
        w = w - eta * v
        np.testing.assert_allclose(p.data, w, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10, err_msg=f"step {t + 1}")
        np.testing.assert_allclose(loss, 0.5 * look @ A @ look - b @ look, rtol=1e-3 if dtype == np.float32 else 1e-9)
        np.testing.assert_allclose(p.grad, A @ look - b, rtol=1e-3 if dtype == np.float32 else 1e-9, atol=1e-5)


@pytest.mark.torch
def test_ema_nesterov_lookahead_points_are_torch_nesterov_iterates(torch):
    """SGD(lr=η(1−γ), momentum=γ, nesterov=True) iterates u_t = w_t − ηγv_t of the slide's NAG."""
    A, b, _ = quadratic()
    eta, gamma = 0.03, 0.9
    p = Parameter(np.ones(6))
    ema = optim.EMANesterov([p], lr=eta, gamma=gamma)
    u = torch.ones(6, dtype=torch.float64, requires_grad=True)
    tA, tb = torch.from_numpy(A), torch.from_numpy(b)
    topt = torch.optim.SGD([u], lr=eta * (1 - gamma), momentum=gamma, nesterov=True)

    def closure():
        p.accumulate(A @ p.data - b)

    for t in range(40):
        ema.step(closure)
        topt.zero_grad()
        (0.5 * u @ tA @ u - tb @ u).backward()
        topt.step()
        lookahead = p.data - eta * gamma * ema.state[p]["velocity"]
        np.testing.assert_allclose(lookahead, u.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"step {t + 1}")


def test_ema_nesterov_needs_a_closure_and_restores_on_error():
    p = Parameter(np.ones(3))
    opt = optim.EMANesterov([p], lr=0.1)
    with pytest.raises(RuntimeError, match="closure"):
        opt.step()
    opt.state[p]["velocity"] = np.ones(3)          # a non-zero look-ahead shift

    def broken():
        raise KeyError("boom")
    with pytest.raises(KeyError):
        opt.step(broken)
    np.testing.assert_array_equal(p.data, np.ones(3))   # shifted to the look-ahead, then restored


@pytest.mark.parametrize("alpha, gamma", [(0.95, 0.8), (0.9, 0.9), (0.5, 0.99)])
def test_lecture_adadelta_is_the_slide(problem, tol, alpha, gamma):
    eta, eps = 1.0, 1e-6

    def slide(w, g, b, t):       # δ with the OLD Δ, v; then Δ := αΔ + (1−α)δ²; v := γv + (1−γ)g²; w := w − ηδ
        D, v = b
        delta = g * (np.sqrt(D) + eps) / (np.sqrt(v) + eps)
        D[...] = alpha * D + (1 - alpha) * delta * delta
        v[...] = gamma * v + (1 - gamma) * g * g
        w -= eta * delta
    start, grads = problem
    ours = trajectory(optim.LectureAdadelta, dict(lr=eta, alpha=alpha, gamma=gamma, eps=eps), grads, start)
    assert_same_trajectory(ours, slide_loop(slide, start, grads, 2), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


def test_lecture_adadelta_with_equal_constants_is_plain_sgd(problem, tol):
    """The deck's order (δ from the previous v): with α = γ, Δ and v stay equal, so δ = L' always."""
    start, grads = problem
    lecture = trajectory(optim.LectureAdadelta, dict(lr=0.3, alpha=0.9, gamma=0.9), grads, start)
    assert_same_trajectory(lecture, trajectory(optim.SGD, dict(lr=0.3), grads, start), **tol)
    # ... whereas PyTorch's AdaDelta starts with tiny steps, of size ~ sqrt(eps)/sqrt(1 - rho).
    zeiler = trajectory(optim.Adadelta, dict(lr=0.3, rho=0.9), grads, start)
    first_step = np.abs(zeiler[0][0] - start[0]).max()
    assert first_step < 0.3 * 1e-2 < np.abs(lecture[0][0] - start[0]).max()


def test_rmsprop_is_the_slide(problem, tol):
    eta, gamma, eps = 0.01, 0.9, 1e-8

    def slide(w, g, b, t):       # v := γv + (1−γ)L'⊙L';  w := w − ηL' ÷ (√v + ε)
        b[0][...] = gamma * b[0] + (1 - gamma) * g * g
        w -= eta * g / (np.sqrt(b[0]) + eps)
    start, grads = problem
    assert_same_trajectory(trajectory(optim.RMSprop, dict(lr=eta, alpha=gamma, eps=eps), grads, start),
                           slide_loop(slide, start, grads, 1), **tol)


def test_lecture_adam_is_the_slide(problem, tol):
    eta, alpha, gamma, eps = 0.01, 0.999, 0.9, 1e-8

    def slide(w, g, b, t):       # averages divided by 1 − αᵗ, 1 − γᵗ and *stored*; μ uses γμ (the slide's γv is a typo)
        v, mu = b
        v[...] = (alpha * v + (1 - alpha) * g * g) / (1 - alpha ** t)
        mu[...] = (gamma * mu + (1 - gamma) * g) / (1 - gamma ** t)
        w -= eta * mu / (np.sqrt(v) + eps)
    start, grads = problem
    grads = grads[:8]   # in float32 the slide's v overflows near step 20; the comparison stops before
    ours = trajectory(optim.LectureAdam, dict(lr=eta, alpha=alpha, gamma=gamma, eps=eps), grads, start)
    assert_same_trajectory(ours, slide_loop(slide, start, grads, 2), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


def test_lecture_adam_agrees_with_adam_at_step_one_and_not_at_step_two(problem, tol):
    start, grads = problem
    lecture = trajectory(optim.LectureAdam, dict(lr=0.01, alpha=0.999, gamma=0.9), grads[:2], start)
    adam = trajectory(optim.Adam, dict(lr=0.01, betas=(0.9, 0.999)), grads[:2], start)
    assert_same_trajectory(lecture[:1], adam[:1], **tol)
    step_lecture = lecture[1][1] - lecture[0][1]
    step_adam = adam[1][1] - adam[0][1]
    assert np.abs(step_lecture - step_adam).max() > 0.1 * np.abs(step_adam).max()


def test_lecture_adam_stalls_because_the_correction_compounds():
    """Constant gradient: Adam keeps stepping ~lr; the slide's form shrinks to nothing and v overflows."""
    p, q = Parameter(np.zeros(2, np.float32)), Parameter(np.zeros(2, np.float32))
    lecture, adam = optim.LectureAdam([p], lr=0.01), optim.Adam([q], lr=0.01)
    with pytest.warns(RuntimeWarning, match="overflowed"):
        for _ in range(30):
            p.grad[...] = q.grad[...] = 1.0
            lecture.step()
            adam.step()
    assert np.isinf(lecture.state[p]["square_avg"]).all()
    assert np.allclose(q.data, -0.3, rtol=1e-3)            # Adam: 30 steps of size lr
    assert -0.0130 < p.data[0] < -0.0128     # the slide's: 1 + 0.235 + 0.044 + ... ≈ 1.29 steps, then frozen
    before = p.data.copy()
    lecture.step()
    np.testing.assert_array_equal(p.data, before)


def test_l2_regularisation_of_the_slide_is_weight_decay_two_lambda(problem, tol):
    """Q̃ = Q + λΣw²  ⇒  ∇Q̃ = ∇Q + 2λw: SGD(weight_decay=2λ) is gradient descent on Q̃."""
    eta, lam = 0.1, 0.05

    def slide(w, g, b, t):
        w -= eta * (g + 2 * lam * w)
    start, grads = problem
    assert_same_trajectory(trajectory(optim.SGD, dict(lr=eta, weight_decay=2 * lam), grads, start),
                           slide_loop(slide, start, grads, 0), **tol)


# --- convergence on an ill-conditioned quadratic -------------------------------------------------
# (class, hyper-parameters, steps, tolerance on |w - w*| / |w*|).  Methods whose step is
# normalised by a gradient RMS (RMSprop, Adam, Adadelta) do not settle exactly with a constant
# learning rate: they hover within about lr of the minimum, hence their looser tolerance.
CONVERGENCE = [
    (optim.SGD, dict(lr=0.05), 600, 1e-3),
    (optim.SGD, dict(lr=0.02, momentum=0.9), 400, 1e-3),
    (optim.SGD, dict(lr=0.02, momentum=0.9, nesterov=True), 400, 1e-3),
    (optim.Adagrad, dict(lr=0.5), 300, 1e-3),
    (optim.RMSprop, dict(lr=0.01, alpha=0.9), 1000, 3e-2),
    (optim.RMSprop, dict(lr=0.001, centered=True, momentum=0.5), 1500, 3e-2),
    (optim.Adadelta, dict(lr=0.5), 1000, 3e-2),
    (optim.Adam, dict(lr=0.05), 1000, 3e-2),
    (optim.Adam, dict(lr=0.05, amsgrad=True), 1000, 3e-2),
    (optim.AdamW, dict(lr=0.05, weight_decay=0.0), 1000, 3e-2),
    (optim.EMAMomentum, dict(lr=0.1, gamma=0.9), 400, 1e-3),
    (optim.EMANesterov, dict(lr=0.1, gamma=0.9), 400, 1e-3),
    (optim.LectureAdadelta, dict(lr=0.05), 600, 1e-3),                  # α = γ: plain SGD (see its docstring)
    (optim.LectureAdadelta, dict(lr=0.05, alpha=0.8, gamma=0.9), 3000, 1e-3),
]


@pytest.mark.parametrize("cls, kwargs, steps, rel_tol", CONVERGENCE,
                         ids=[f"{c.__name__}-{k}" for c, k, _, _ in CONVERGENCE])
def test_converges_on_an_ill_conditioned_quadratic(cls, kwargs, steps, rel_tol):
    A, b, w_star = quadratic()
    p = Parameter(np.zeros(6))
    opt = cls([p], **kwargs)

    def closure():
        p.zero_grad()
        p.accumulate(A @ p.data - b)
        return 0.5 * p.data @ A @ p.data - b @ p.data

    for _ in range(steps):
        opt.step(closure)            # every optimizer accepts a closure; only EMANesterov needs one
    error = np.linalg.norm(p.data - w_star) / np.linalg.norm(w_star)
    assert error < rel_tol, f"{cls.__name__}{kwargs}: relative error {error:.2e} after {steps} steps"


def test_lecture_adam_does_not_converge_where_adam_does():
    A, b, w_star = quadratic()
    ends = {}
    for cls in (optim.Adam, optim.LectureAdam):
        p = Parameter(np.zeros(6))
        opt = cls([p], lr=0.05)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # LectureAdam may warn that v overflowed
            for _ in range(1500):
                p.grad[...] = A @ p.data - b
                opt.step()
        ends[cls] = np.linalg.norm(p.data - w_star) / np.linalg.norm(w_star)
    assert ends[optim.Adam] < 1e-3 and ends[optim.LectureAdam] > 0.5


# --- the Optimizer contract -----------------------------------------------------------------------
ALL = [(optim.SGD, dict(lr=0.1, momentum=0.9)), (optim.Adagrad, {}), (optim.RMSprop, dict(centered=True, momentum=0.9)),
       (optim.Adadelta, {}), (optim.Adam, dict(amsgrad=True)), (optim.AdamW, {}),
       (optim.EMAMomentum, dict(lr=0.1)), (optim.LectureAdadelta, dict(alpha=0.8)), (optim.LectureAdam, {})]


@pytest.mark.parametrize("cls, kwargs", ALL, ids=[c.__name__ for c, _ in ALL])
def test_float32_stays_float32_and_updates_in_place(cls, kwargs, rng):
    params = make_params(SHAPES, np.float32, rng)
    arrays = [p.data for p in params]
    opt = cls(params, **kwargs)
    for grads in gradient_sequence(SHAPES, np.float32, rng, steps=3):
        set_grads(params, grads)
        opt.step()
    for p, arr in zip(params, arrays):
        assert p.data is arr and p.data.dtype == np.float32   # same array object: references stay valid
        for buf in opt.state[p].values():
            if isinstance(buf, np.ndarray):
                assert buf.dtype == np.float32 and buf.shape == p.shape


def test_ema_nesterov_keeps_dtype_and_array():
    p = Parameter(np.ones(4, np.float32))
    arr = p.data
    opt = optim.EMANesterov([p], lr=0.1)
    for _ in range(3):
        opt.step(lambda: p.accumulate(2 * p.data))
    assert p.data is arr and p.data.dtype == np.float32 and opt.state[p]["velocity"].dtype == np.float32


@pytest.mark.parametrize("cls, kwargs", ALL, ids=[c.__name__ for c, _ in ALL])
def test_step_does_not_modify_grad_and_skips_frozen_parameters(cls, kwargs, rng):
    p, frozen = make_params([(3, 2), (4,)], np.float64, rng)
    frozen.requires_grad = False
    if "weight_decay" in inspect.signature(cls).parameters:
        kwargs = {**kwargs, "weight_decay": 0.1}      # decay must not write into .grad either
    opt = cls([p, frozen], **kwargs)
    p.grad[...] = g = rng.standard_normal((3, 2))
    frozen.grad[...] = 1.0
    before = frozen.data.copy()
    opt.step()
    np.testing.assert_array_equal(p.grad, g)
    np.testing.assert_array_equal(frozen.data, before)


BAD = [
    (optim.SGD, dict(lr=-0.1), ValueError),
    (optim.SGD, dict(lr=float("inf")), ValueError),
    (optim.SGD, dict(lr=0.1, momentum=-0.9), ValueError),
    (optim.SGD, dict(lr=0.1, nesterov=True), ValueError),                            # without momentum
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError),
    (optim.SGD, dict(lr=0.1, weight_decay=-1), ValueError),
    (optim.SGD, dict(lr="0.1"), TypeError),
    (optim.SGD, dict(lr=0.1, nesterov="yes"), TypeError),
    (optim.Adagrad, dict(lr_decay=-1), ValueError),
    (optim.Adagrad, dict(eps=-1e-10), ValueError),
    (optim.RMSprop, dict(alpha=1.5), ValueError),
    (optim.RMSprop, dict(momentum=-0.5), ValueError),
    (optim.Adadelta, dict(rho=1.1), ValueError),
    (optim.Adadelta, dict(lr=-1), ValueError),
    (optim.Adam, dict(betas=(1.0, 0.999)), ValueError),
    (optim.Adam, dict(betas=(0.9, -0.1)), ValueError),
    (optim.Adam, dict(betas=(0.9, 1.0)), ValueError),
    (optim.Adam, dict(betas=0.9), TypeError),
    (optim.Adam, dict(eps=-1e-8), ValueError),
    (optim.AdamW, dict(betas=(0.9, 1.5)), ValueError),
    (optim.AdamW, dict(weight_decay=-0.01), ValueError),
    (optim.EMAMomentum, dict(lr=0.1, gamma=1.5), ValueError),
    (optim.EMAMomentum, dict(lr=-0.1), ValueError),
    (optim.EMANesterov, dict(lr=0.1, gamma=-0.1), ValueError),
    (optim.LectureAdadelta, dict(eps=0.0), ValueError),
    (optim.LectureAdadelta, dict(alpha=2.0), ValueError),
    (optim.LectureAdam, dict(alpha=1.0), ValueError),
    (optim.LectureAdam, dict(gamma=1.0), ValueError),
]


@pytest.mark.parametrize("cls, kwargs, error", BAD, ids=[f"{c.__name__}-{k}" for c, k, _ in BAD])
def test_bad_hyperparameters_raise(cls, kwargs, error):
    with pytest.raises(error):
        cls([Parameter(np.zeros(2))], **kwargs)


def test_bad_params_raise():
    p = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam(iter([]))
    with pytest.raises(TypeError, match="Parameter"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError):
        optim.SGD([p, 3.0], lr=0.1)
    with pytest.raises(TypeError, match="list"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="parameters"):
        optim.SGD(Linear(2, 3), lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="unknown"):
        optim.SGD([{"params": [p], "learning_rate": 0.1}])
    with pytest.raises(ValueError):
        optim.SGD([{"params": [p], "lr": -1.0}])


@pytest.mark.torch
def test_bad_params_raise_in_torch_too(torch):
    """The same classes of mistake are errors in PyTorch (so students meet the same behaviour)."""
    with pytest.raises(ValueError):
        torch.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError):
        torch.optim.Adam([torch.zeros(2, requires_grad=True)], betas=(1.0, 0.999))
    with pytest.raises(ValueError):
        torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1, nesterov=True)


def test_model_parameters_zero_grad_and_lr():
    model = Linear(3, 2, dtype=np.float64)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad[...] = 1.0
    opt.zero_grad()
    assert all((p.grad == 0).all() for p in model.parameters())
    assert opt.lr == 0.1
    opt.lr = 0.01
    assert all(g["lr"] == 0.01 for g in opt.param_groups) and opt.lr == 0.01
    with pytest.raises(ValueError):
        opt.lr = -1
    two = optim.SGD([{"params": [model.weight], "lr": 0.1}, {"params": [model.bias]}], lr=0.5)
    assert [g["lr"] for g in two.param_groups] == [0.1, 0.5]
    with pytest.raises(ValueError, match="different learning rates"):
        two.lr
    assert "Parameter Group 1" in repr(two)


def test_state_dict_round_trip(rng):
    params = make_params(SHAPES, np.float64, rng)
    twins = [Parameter(p.data.copy()) for p in params]
    opt = optim.Adam(params, lr=0.01, amsgrad=True)
    seq = gradient_sequence(SHAPES, np.float64, rng, steps=10)
    for grads in seq[:5]:
        set_grads(params, grads)
        opt.step()
    for p, q in zip(params, twins):
        q.data[...] = p.data
    twin_opt = optim.Adam(twins, lr=0.5)
    twin_opt.load_state_dict(opt.state_dict())
    assert twin_opt.lr == 0.01
    for grads in seq[5:]:
        set_grads(params, grads)
        set_grads(twins, grads)
        opt.step()
        twin_opt.step()
    for p, q in zip(params, twins):
        np.testing.assert_array_equal(p.data, q.data)


# --- schedulers ------------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("name, kwargs", [("StepLR", dict(step_size=3, gamma=0.5)), ("ExponentialLR", dict(gamma=0.9))])
def test_schedulers_match_torch(torch, name, kwargs):
    ours = optim.SGD([{"params": [Parameter(np.zeros(2))], "lr": 0.1}, {"params": [Parameter(np.zeros(3))]}], lr=1.0)
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": 0.1},
                              {"params": [torch.zeros(3, requires_grad=True)]}], lr=1.0)
    s_ours = getattr(optim, name)(ours, **kwargs)
    s_theirs = getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs)
    for epoch in range(12):
        np.testing.assert_allclose(s_ours.get_last_lr(), s_theirs.get_last_lr(), rtol=1e-12, err_msg=f"epoch {epoch}")
        ours.step()
        theirs.step()
        s_ours.step()
        s_theirs.step()


def test_scheduler_bad_arguments():
    opt = optim.SGD([Parameter(np.zeros(2))], lr=0.1)
    with pytest.raises(ValueError):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError):
        optim.ExponentialLR(opt, gamma=-0.5)
    with pytest.raises(TypeError):
        optim.StepLR("not an optimizer", step_size=2)
