"""The shared gradient checker: right on known gradients, able to tell a wrong one, any array layout."""
import numpy as np
import pytest

from nnkit import nn
from nnkit.gradcheck import assert_gradients_close, check_module_gradients, numerical_gradient, relative_error


@pytest.mark.parametrize("layout", ["C", "F", "view"])
def test_numerical_gradient_of_a_quadratic(layout):
    base = np.random.default_rng(0).normal(size=(4, 6))
    W = {"C": base.copy(), "F": np.asfortranarray(base), "view": base[:, ::2]}[layout]
    before = W.copy()
    g = numerical_gradient(lambda: float(np.sum(W ** 2)), W)
    assert relative_error(g, 2 * W) < 1e-8
    assert np.array_equal(W, before), "the probe must restore every entry"


def test_check_module_gradients_passes_a_correct_layer_and_fails_a_wrong_one():
    layer = nn.Linear(3, 2, dtype=np.float64, seed=0)
    x = np.random.default_rng(1).normal(size=(5, 3))
    assert_gradients_close(check_module_gradients(layer, x))

    class WrongLinear(nn.Linear):
        def backward(self, grad_output):
            return super().backward(grad_output) * 2  # a deliberately wrong input gradient

    with pytest.raises(AssertionError, match="input"):
        assert_gradients_close(check_module_gradients(WrongLinear(3, 2, dtype=np.float64, seed=0), x))


def test_relative_error_is_scale_free_and_checks_shapes():
    assert relative_error(np.ones(3), np.ones(3)) == 0
    assert relative_error(1e6 * np.ones(3), 1e6 * np.ones(3) * (1 + 1e-9)) < 1e-8
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(np.ones(3), np.ones(4))
