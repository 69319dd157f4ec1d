"""Sequential.backward(..., input_grad=False): the parameters' gradients of a full backward pass, without the
work of dL/d(input) -- what nnkit.train uses, and what PyTorch does for data that does not require grad."""
import numpy as np
import pytest

from nnkit import nn


class CountingIdentity(nn.Module):
    """A parameter-free layer that counts its backward calls and knows nothing of the flag."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        return x

    def backward(self, grad_output):
        self.calls += 1
        return grad_output


def models():
    yield "mlp", (4, 6), lambda: nn.Sequential(nn.Linear(6, 8, seed=1), nn.Tanh(), nn.Linear(8, 3, seed=2))
    yield "flatten first", (4, 2, 3), lambda: nn.Sequential(nn.Flatten(), nn.Linear(6, 5, seed=1), nn.ReLU(),
                                                            nn.Linear(5, 3, seed=2))
    yield "cnn", (2, 1, 8, 8), lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, seed=1), nn.ReLU(),
                                                     nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3, seed=2))
    yield "batchnorm first", (5, 6), lambda: nn.Sequential(nn.BatchNorm1d(6), nn.Linear(6, 3, seed=2))
    yield "nested", (4, 6), lambda: nn.Sequential(nn.Sequential(CountingIdentity(), nn.Linear(6, 8, seed=1)),
                                                  nn.Sigmoid(), nn.Linear(8, 3, seed=2))


@pytest.mark.parametrize("name,shape,build", list(models()), ids=[m[0] for m in models()])
def test_skipping_the_input_gradient_leaves_every_parameter_gradient_unchanged(name, shape, build):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    full, skip = build(), build()
    g = rng.normal(size=full(x).shape)
    skip(x)
    dx = full.backward(g)
    assert dx.shape == x.shape
    assert skip.backward(g, input_grad=False) is None
    for (pname, p), q in zip(full.named_parameters(), skip.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=pname)


def test_layers_below_the_first_parameter_are_not_visited():
    first = CountingIdentity()
    model = nn.Sequential(first, nn.Linear(3, 2, seed=0))
    model(np.ones((2, 3)))
    model.backward(np.ones((2, 2)), input_grad=False)
    assert first.calls == 0
    model.backward(np.ones((2, 2)))
    assert first.calls == 1


@pytest.mark.parametrize("layer,shape", [(nn.Linear(5, 4, seed=0), (3, 5)),
                                         (nn.Conv2d(2, 3, 3, stride=2, padding=1, seed=0), (2, 2, 7, 7))])
def test_linear_and_conv_fill_their_gradients_without_the_input_gradient(layer, shape):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape)
    g = rng.normal(size=layer(x).shape)
    layer.backward(g)
    expected = [p.grad.copy() for p in layer.parameters()]
    layer.zero_grad()
    assert layer.backward(g, input_grad=False) is None
    for p, e in zip(layer.parameters(), expected):
        np.testing.assert_array_equal(p.grad, e)


def test_a_model_without_parameters_computes_nothing():
    model = nn.Sequential(nn.ReLU(), nn.Flatten())
    model(np.ones((2, 3)))
    assert model.backward(np.ones((2, 3)), input_grad=False) is None
