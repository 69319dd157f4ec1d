r"""A scalar reverse-mode automatic differentiation engine, in the spirit of karpathy/micrograd.

Lecture 2, deck 000, «Производные на компьютере»: a program is a directed graph of elementary
operations.  The *forward* pass computes every node's value from its inputs; the *backward* pass
walks the graph from the output back to the inputs and applies the chain rule at each node,

.. math:: \frac{\partial f}{\partial u} = \sum_{v \,:\, u \to v} \frac{\partial f}{\partial v}\,
          \frac{\partial v}{\partial u},

so that one backward pass gives the derivative of ``f`` with respect to *every* input.

Each operation below creates a ``Value`` and attaches a closure ``_backward`` that knows the local
derivatives :math:`\partial v/\partial u` and *adds* ``local * out.grad`` into each input's
``grad`` (adds, because a value used twice receives a gradient along both paths).  The deck's
example, :math:`f = (x + y)(y - z)` at :math:`(1, 2, 3)`::

    >>> x, y, z = Value(1.0, label="x"), Value(2.0, label="y"), Value(3.0, label="z")
    >>> q = x + y; r = y - z; f = q * r      # forward: q = 3, r = -1, f = -3
    >>> f.backward()                          # backward
    >>> x.grad, y.grad, z.grad                # df/dx = r, df/dy = r + q, df/dz = -q
    (-1.0, 2.0, -3.0)

``draw_graph(f)`` draws that graph with every node's value and gradient.

Besides arithmetic, ``Value`` has ``exp``, ``log``, ``tanh``, ``sigmoid``, ``relu``, ``abs`` (also
``abs(v)``) and ``sqrt``.  Where a function has a kink, the derivative there is PyTorch's choice:
``relu'(0) = 0`` and ``abs'(0) = 0`` (a valid subgradient; the sign function gives it).

Comparisons ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=`` look at ``data`` only and return a Python
``bool`` -- as a PyTorch scalar tensor does once you ask ``if t > 0:`` -- with a ``Value`` or a real
number on either side.  They build no graph (a step has derivative 0 wherever it has one), so use
them for control flow, e.g. ``x if x > 0 else 0.1 * x``.  ``Value`` is still hashed by identity,
as ``torch.Tensor`` is: two nodes with equal data compare equal, but stay two nodes of the graph,
and sets and dict keys of Values work.  ``float(v)`` is ``v.data``, also a plain number outside the
graph: ``math.sqrt(v)`` would return a float, ``v.sqrt()`` a node that gradients flow through.
"""
from __future__ import annotations

import math
import numbers

__all__ = ["Value", "draw_graph"]


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _as_value(other) -> "Value":
    if isinstance(other, Value):
        return other
    if _is_real(other):
        return Value(other)
    raise TypeError(f"Value supports arithmetic with Values and real numbers, got {type(other).__name__}")


class Value:
    """One scalar node of a computational graph: its ``data``, its ``grad`` = ∂(output)/∂(this node).

    ``_children`` are the nodes it was computed from, ``_op`` the operation (for ``draw_graph``),
    ``label`` an optional name ("x", "q", ...).
    """

    def __init__(self, data, _children=(), _op: str = "", label: str = ""):
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(f"Value holds a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None        # a leaf passes nothing further back
        self._prev = tuple(_children)
        self._op = _op
        self.label = label

    # --- binary operations: out = a ∘ b, and how ∂f/∂out reaches a and b -----------------------
    def __add__(self, other):
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():                     # ∂(a+b)/∂a = 1, ∂(a+b)/∂b = 1
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __sub__(self, other):
        other = _as_value(other)
        out = Value(self.data - other.data, (self, other), "-")

        def _backward():                     # ∂(a-b)/∂a = 1, ∂(a-b)/∂b = -1
            self.grad += out.grad
            other.grad -= out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():                     # ∂(ab)/∂a = b, ∂(ab)/∂b = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = _as_value(other)
        if other.data == 0:
            raise ZeroDivisionError("Value division by zero")
        out = Value(self.data / other.data, (self, other), "/")

        def _backward():                     # ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = -a/b²
            self.grad += out.grad / other.data
            other.grad -= self.data / other.data ** 2 * out.grad
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if isinstance(exponent, Value):      # a^b = exp(b ln a): needs a > 0, as in real analysis
            return (exponent * self.log()).exp()
        if isinstance(exponent, bool) or not isinstance(exponent, numbers.Real):
            raise TypeError(f"exponent must be a real number or a Value, got {type(exponent).__name__}")
        out = Value(self.data ** exponent, (self,), f"**{exponent:g}")

        def _backward():                     # ∂(a^n)/∂a = n a^(n-1)
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out._backward = _backward
        return out

    # --- unary operations: out = g(a), ∂out/∂a = g'(a) -----------------------------------------
    def _unary(self, value: float, op: str, local_derivative: float) -> "Value":
        out = Value(value, (self,), op)

        def _backward():
            self.grad += local_derivative * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        return self._unary(-self.data, "neg", -1.0)

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, "exp", e)                               # (e^a)' = e^a

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log needs a positive argument, got {self.data}")
        return self._unary(math.log(self.data), "log", 1.0 / self.data)   # (ln a)' = 1/a

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, "tanh", 1.0 - t * t)                    # tanh' = 1 - tanh²

    def sigmoid(self):
        # Written so that exp never overflows: for a < 0 use e^a / (1 + e^a).
        a = self.data
        s = 1.0 / (1.0 + math.exp(-a)) if a >= 0 else math.exp(a) / (1.0 + math.exp(a))
        return self._unary(s, "sigmoid", s * (1.0 - s))               # σ' = σ(1 - σ)

    def relu(self):
        # ReLU'(0) = 0, as PyTorch chooses (deck 000 writes ReLU' = I[z > 0]).
        return self._unary(max(self.data, 0.0), "ReLU", float(self.data > 0))

    def abs(self):
        # |a|' = sign(a); at a = 0, where |a| has a kink, 0 -- PyTorch's choice, a valid subgradient.
        a = self.data
        return self._unary(abs(a), "abs", float((a > 0) - (a < 0)))

    __abs__ = abs

    def sqrt(self):
        a = self.data
        if a < 0:
            raise ValueError(f"sqrt needs a non-negative argument, got {a}")
        s = math.sqrt(a)
        # (sqrt a)' = 1/(2 sqrt a); infinite at a = 0, as in PyTorch (where 0 * inf gives nan)
        return self._unary(s, "sqrt", 0.5 / s if s > 0 else math.inf)

    # --- comparisons and conversion: on data, outside the graph (see the module docstring) ------
    def _other_data(self, other):
        if isinstance(other, Value):
            return other.data
        if _is_real(other):
            return float(other)
        return None

    def __lt__(self, other):
        o = self._other_data(other)
        return NotImplemented if o is None else self.data < o

    def __le__(self, other):
        o = self._other_data(other)
        return NotImplemented if o is None else self.data <= o

    def __gt__(self, other):
        o = self._other_data(other)
        return NotImplemented if o is None else self.data > o

    def __ge__(self, other):
        o = self._other_data(other)
        return NotImplemented if o is None else self.data >= o

    def __eq__(self, other):
        o = self._other_data(other)
        return NotImplemented if o is None else self.data == o

    def __ne__(self, other):
        o = self._other_data(other)
        return NotImplemented if o is None else self.data != o

    __hash__ = object.__hash__               # nodes are hashed by identity, as torch.Tensor

    def __float__(self) -> float:
        return self.data

    # --- the reflected forms: 2 + x, 2 - x, 2 * x, 2 / x, 2 ** x --------------------------------
    def __radd__(self, other):
        return _as_value(other) + self

    def __rsub__(self, other):
        return _as_value(other) - self

    def __rmul__(self, other):
        return _as_value(other) * self

    def __rtruediv__(self, other):
        return _as_value(other) / self

    def __rpow__(self, other):
        return _as_value(other) ** self

    # --- the backward pass ----------------------------------------------------------------------
    def topological_order(self) -> list["Value"]:
        """Every node this one depends on, each after all of its inputs (iterative DFS: no recursion limit)."""
        order, visited, stack = [], set(), [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                # reversed, so the first input is visited first and inputs keep their written order
                stack.extend((child, False) for child in reversed(node._prev) if id(child) not in visited)
        return order

    def backward(self) -> None:
        """Fill ``.grad`` of every node with ∂self/∂node.

        Intermediate nodes are reset first, so calling ``backward`` again gives the same result;
        leaves (the inputs) *accumulate*, as PyTorch's leaf tensors do -- zero them between steps.
        """
        order = self.topological_order()
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad = 1.0                      # ∂f/∂f
        for node in reversed(order):         # outputs before inputs: each grad is complete when used
            node._backward()

    def __repr__(self) -> str:
        name = f"label={self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"


def draw_graph(root: Value, ax=None, title: str | None = None):
    """A matplotlib Figure of the graph that computed ``root``: each node's op, data and grad.

    Leaves are on the left, ``root`` on the right; call ``root.backward()`` first to see gradients.
    (The drawing lives in ``nnkit.plot``, the only module allowed to import matplotlib.)
    """
    from .plot import plot_computational_graph
    return plot_computational_graph(root, ax=ax, title=title)
