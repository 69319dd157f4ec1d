"""nnkit.autograd: the deck's worked example, every op against central differences, random
expressions against torch.autograd, and the graph drawing."""
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnkit.autograd import Value, draw_graph  # noqa: E402
from nnkit.gradcheck import numerical_gradient, relative_error  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def deck_graph():
    """Deck 000, «Производные на компьютере»: f = (x + y)(y - z) at (x, y, z) = (1, 2, 3)."""
    x, y, z = Value(1.0, label="x"), Value(2.0, label="y"), Value(3.0, label="z")
    q = x + y
    q.label = "q"
    r = y - z
    r.label = "r"
    f = q * r
    f.label = "f"
    return x, y, z, q, r, f


# --- the deck's numbers ------------------------------------------------------------------------------
def test_deck_example_forward():
    x, y, z, q, r, f = deck_graph()
    assert (q.data, r.data, f.data) == (3.0, -1.0, -3.0)


def test_deck_example_backward():
    x, y, z, q, r, f = deck_graph()
    f.backward()
    assert f.grad == 1.0
    assert q.grad == r.data == -1.0          # ∂f/∂q = r
    assert r.grad == q.data == 3.0           # ∂f/∂r = q
    assert x.grad == -1.0                    # ∂f/∂x = r
    assert y.grad == 2.0                     # ∂f/∂y = r + q: y feeds both factors
    assert z.grad == -3.0                    # ∂f/∂z = -q


def test_deck_example_against_torch(torch):
    t = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    f = (t[0] + t[1]) * (t[1] - t[2])
    f.backward()
    x, y, z, *_, ours = deck_graph()
    ours.backward()
    np.testing.assert_array_equal([x.grad, y.grad, z.grad], t.grad.numpy())


# --- every operation against central differences ------------------------------------------------------
UNARY = {
    "neg": (lambda a: -a, [0.7, -1.3]),
    "exp": (lambda a: a.exp(), [0.7, -1.3]),
    "log": (lambda a: a.log(), [0.7, 2.5]),
    "tanh": (lambda a: a.tanh(), [0.7, -1.3]),
    "sigmoid": (lambda a: a.sigmoid(), [0.7, -1.3]),
    "relu": (lambda a: a.relu(), [0.7, -1.3]),
    "abs": (lambda a: a.abs(), [0.7, -1.3]),
    "abs()": (lambda a: abs(a), [0.7, -1.3]),
    "sqrt": (lambda a: a.sqrt(), [0.7, 2.5]),
    "pow2": (lambda a: a ** 2, [0.7, -1.3]),
    "pow-1.5": (lambda a: a ** -1.5, [0.7, 2.5]),
    "radd": (lambda a: 2.0 + a, [0.7]),
    "rsub": (lambda a: 2.0 - a, [0.7]),
    "rmul": (lambda a: 2.0 * a, [0.7]),
    "rtruediv": (lambda a: 2.0 / a, [0.7, -1.3]),
    "rpow": (lambda a: 2.0 ** a, [0.7, -1.3]),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops_match_central_differences(name):
    op, points = UNARY[name]
    for point in points:
        x = np.array([point])
        a = Value(point)
        out = op(a)
        out.backward()
        numeric = numerical_gradient(lambda: op(Value(float(x[0]))).data, x)
        assert relative_error([a.grad], numeric) < 1e-7, (name, point, a.grad, numeric)


@pytest.mark.parametrize("name", BINARY)
def test_binary_ops_match_central_differences(name):
    op = BINARY[name]
    x = np.array([1.3, 0.6])
    a, b = Value(x[0]), Value(x[1])
    op(a, b).backward()
    numeric = numerical_gradient(lambda: op(Value(float(x[0])), Value(float(x[1]))).data, x)
    assert relative_error([a.grad, b.grad], numeric) < 1e-7


def test_relu_derivative_at_zero_is_zero_as_in_torch(torch):
    a = Value(0.0)
    a.relu().backward()
    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    torch.relu(t).backward()
    assert a.grad == t.grad.item() == 0.0


def test_sigmoid_does_not_overflow():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0


# --- abs, sqrt, comparisons, float() -----------------------------------------------------------------
@pytest.mark.parametrize("point", [-2.5, -0.3, 0.0, 0.3, 2.5])
def test_abs_matches_torch_including_the_subgradient_zero_at_zero(torch, point):
    a = Value(point)
    out = abs(a) * 3.0
    out.backward()
    t = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    (torch.abs(t) * 3.0).backward()
    assert out.data == 3.0 * abs(point)
    assert a.grad == t.grad.item()                     # sign(a); 0 at a = 0, as PyTorch
    b = Value(point)
    b.abs().backward()
    assert b.grad == float(np.sign(point))


@pytest.mark.parametrize("point", [0.0, 1e-8, 0.49, 4.0, 1e6])
def test_sqrt_matches_torch(torch, point):
    a = Value(point)
    out = a.sqrt()
    out.backward()
    t = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    torch.sqrt(t).backward()
    assert out.data == math.sqrt(point)
    assert a.grad == t.grad.item()                      # inf at 0, as PyTorch


def test_sqrt_at_zero_with_a_zero_upstream_gradient_is_nan_as_torch(torch):
    a = Value(0.0)
    (a.sqrt() * 0.0).backward()
    t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (torch.sqrt(t) * 0.0).backward()
    assert math.isnan(a.grad) and math.isnan(t.grad.item())


def test_sqrt_of_a_negative_number_is_a_domain_error():
    with pytest.raises(ValueError, match="non-negative"):
        Value(-1.0).sqrt()


@pytest.mark.parametrize("seed", range(8))
def test_expressions_with_abs_and_sqrt_match_torch(torch, seed):
    rng = np.random.default_rng(200 + seed)
    point = rng.normal(size=3)
    x, y, z = (Value(v) for v in point)
    tx, ty, tz = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in point)
    f = (x * y - z).abs() + (x * x + y.abs() + 1.0).sqrt() * z - abs(y - 2.0 * z).sqrt()
    g = torch.abs(tx * ty - tz) + torch.sqrt(tx * tx + torch.abs(ty) + 1.0) * tz - torch.sqrt(torch.abs(ty - 2.0 * tz))
    f.backward()
    g.backward()
    assert math.isclose(f.data, g.item(), rel_tol=1e-12)
    np.testing.assert_allclose([x.grad, y.grad, z.grad], [tx.grad.item(), ty.grad.item(), tz.grad.item()],
                               rtol=1e-12)


PAIRS = [(1.0, 2.0), (2.0, 1.0), (1.5, 1.5), (-0.0, 0.0), (-3.0, -3.5)]
OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
       ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


@pytest.mark.parametrize("op", OPS)
def test_comparisons_are_bools_on_data_as_torch_scalars(torch, op):
    compare = OPS[op]
    for a, b in PAIRS:
        expected = bool(compare(torch.tensor(a), torch.tensor(b)))
        for left, right in ((Value(a), Value(b)), (Value(a), b), (a, Value(b))):
            result = compare(left, right)
            assert type(result) is bool and result == expected, (op, left, right)


def test_comparisons_build_no_graph_and_reject_non_numbers():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    assert (c > a) is True and c._prev == (a, b) and not a._prev
    with pytest.raises(TypeError):
        a < "2"
    with pytest.raises(TypeError):
        a >= None
    assert (a == "1.0") is False and (a != "1.0") is True
    assert max(Value(3.0), Value(-1.0), Value(2.0)).data == 3.0      # ordering works with builtins
    assert sorted([Value(2.0), Value(-1.0)])[0].data == -1.0


def test_equal_values_stay_distinct_nodes():
    a, b = Value(2.0), Value(2.0)
    assert a == b and a is not b
    assert len({a, b}) == 2 and len(dict.fromkeys((a, b))) == 2   # hashed by identity, as torch.Tensor
    s = a + b
    s.backward()
    assert (a.grad, b.grad) == (1.0, 1.0)
    edges = [c for c in draw_graph(s).axes[0].get_children()
             if isinstance(c, matplotlib.text.Annotation) and c.arrow_patch]
    assert len(edges) == 2                              # two inputs with equal data: two arrows


def test_float_gives_the_data_outside_the_graph():
    a = Value(2.25)
    assert float(a) == 2.25 and type(float(a)) is float
    assert math.sqrt(a) == 1.5                          # a plain number: no node, no gradient
    assert np.float64(a) == 2.25
    out = a.sqrt()
    out.backward()
    assert a.grad == pytest.approx(1 / 3)


# --- random expressions against torch.autograd --------------------------------------------------------
def random_expression(rng, leaves, unary):
    """A random expression tree over ``leaves``; ``unary`` maps names to the library's functions.

    Arguments are kept in each function's domain (log and fractional powers of 1 + a², division by
    1 + b²), so the same structure is valid in nnkit and in torch.
    """
    def build(depth):
        if depth == 0 or rng.random() < 0.2:
            return leaves[rng.integers(len(leaves))]
        kind = rng.integers(9)
        a = build(depth - 1)
        if kind == 0:
            return a + build(depth - 1)
        if kind == 1:
            return a - build(depth - 1)
        if kind == 2:
            return a * build(depth - 1)
        if kind == 3:
            b = build(depth - 1)
            return a / (b * b + 1.0)
        if kind == 4:
            return (a * a + 1.0) ** 0.5
        if kind == 5:
            return unary["log"](a * a + 1.0)
        if kind == 6:
            return unary["exp"](unary["tanh"](a))
        if kind == 7:
            return 1.5 - unary["sigmoid"](a) * 2.0
        return unary["relu"](a) + (-a)
    return build(6)


@pytest.mark.parametrize("seed", range(12))
def test_random_expressions_match_torch(torch, seed):
    point = np.random.default_rng(100 + seed).normal(size=4)
    ours = [Value(v) for v in point]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in point]
    ours_fns = {"log": Value.log, "exp": Value.exp, "tanh": Value.tanh, "sigmoid": Value.sigmoid, "relu": Value.relu}
    torch_fns = {"log": torch.log, "exp": torch.exp, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
                 "relu": torch.relu}
    f = random_expression(np.random.default_rng(seed), ours, ours_fns)
    g = random_expression(np.random.default_rng(seed), theirs, torch_fns)
    assert isinstance(f, Value) and isinstance(g, torch.Tensor), "the expression must use the leaves"
    f.backward()
    g.backward()
    assert math.isclose(f.data, g.item(), rel_tol=1e-12, abs_tol=1e-12)
    expected = [0.0 if t.grad is None else t.grad.item() for t in theirs]
    np.testing.assert_allclose([v.grad for v in ours], expected, rtol=1e-10, atol=1e-12)


# --- the chain rule's bookkeeping --------------------------------------------------------------------
def test_a_value_used_twice_accumulates_both_paths():
    a = Value(3.0)
    (a * a + a).backward()               # d/da (a² + a) = 2a + 1
    assert a.grad == 7.0


def test_second_backward_accumulates_leaves_but_recomputes_intermediates():
    x, y, z, q, r, f = deck_graph()
    f.backward()
    f.backward()
    assert (x.grad, y.grad, z.grad) == (-2.0, 4.0, -6.0)   # leaves accumulate, as in PyTorch
    assert (q.grad, r.grad) == (-1.0, 3.0)                 # intermediates are not doubled


def test_a_deep_graph_needs_no_recursion():
    x = Value(0.5)
    total = x
    for _ in range(5000):
        total = total + x
    total.backward()
    assert x.grad == 5001.0


def test_topological_order_puts_inputs_first():
    *_, q, r, f = deck_graph()
    order = f.topological_order()
    position = {id(v): i for i, v in enumerate(order)}
    assert len(order) == 6 and order[-1] is f
    for node in order:
        for child in node._prev:
            assert position[id(child)] < position[id(node)]


# --- errors --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["1.0", None, True, [1.0]])
def test_value_holds_a_real_number(bad):
    with pytest.raises(TypeError, match="real number"):
        Value(bad)


def test_arithmetic_with_a_non_number_is_a_type_error():
    with pytest.raises(TypeError, match="Values and real numbers"):
        Value(1.0) + "2"
    with pytest.raises(TypeError, match="exponent"):
        Value(1.0) ** "2"


def test_domain_errors():
    with pytest.raises(ValueError, match="positive"):
        Value(0.0).log()
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0


def test_repr_shows_label_data_and_grad():
    assert repr(Value(2.0, label="y")) == "Value(label='y', data=2, grad=0)"


# --- the drawing -------------------------------------------------------------------------------------
def node_boxes(ax):
    """The node labels (the arrows are Annotations, also listed in ``ax.texts``)."""
    return [t for t in ax.texts if not isinstance(t, matplotlib.text.Annotation)]


def test_draw_graph_shows_every_node_with_its_data_and_grad():
    x, y, z, q, r, f = deck_graph()
    f.backward()
    fig = draw_graph(f)
    assert isinstance(fig, matplotlib.figure.Figure)
    ax = fig.axes[0]
    texts = [t.get_text() for t in node_boxes(ax)]
    assert len(texts) == 6
    for node in (x, y, z, q, r, f):
        assert any(t.startswith(node.label) and f"data {node.data:.4g}" in t and f"grad {node.grad:.4g}" in t
                   for t in texts), node
    assert any("(*)" in t and t.startswith("f") for t in texts)
    assert ax.get_title()
    edges = [c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation) and c.arrow_patch]
    assert len(edges) == 6                   # x→q, y→q, y→r, z→r, q→f, r→f


def test_draw_graph_puts_inputs_left_and_the_output_right():
    *_, f = deck_graph()
    ax = draw_graph(f).axes[0]
    column = {t.get_text().split()[0]: t.get_position()[0] for t in node_boxes(ax)}
    assert column["x"] == column["y"] == column["z"] < column["q"] == column["r"] < column["f"]


def test_draw_graph_rejects_non_values():
    with pytest.raises(TypeError, match="Value"):
        draw_graph(3.0)
