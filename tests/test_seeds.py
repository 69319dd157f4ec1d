"""Every nnkit layer that takes ``seed`` accepts None, an int or a numpy Generator, through one helper
(``nnkit._checks.make_rng``): an int reproduces, a Generator is used as it is (and advances), anything
else is the same TypeError."""
import inspect

import numpy as np
import pytest

import nnkit.nn as nn
from nnkit import _checks
from nnkit.neuron import Perceptron

# Each layer that takes ``seed``, built small; what it draws at random (its parameters, or for
# Dropout its training masks) is returned by ``draws``.
LAYERS = {
    "Linear": lambda seed: nn.Linear(3, 4, seed=seed),
    "Conv2d": lambda seed: nn.Conv2d(2, 3, 3, seed=seed),
    "Conv2d without bias": lambda seed: nn.Conv2d(2, 3, (2, 3), bias=False, seed=seed),
    "Maxout": lambda seed: nn.Maxout(3, 2, pieces=3, seed=seed),
    "Dropout": lambda seed: nn.Dropout(0.5, seed=seed),
}


BOUNDS = {"Linear": 1 / np.sqrt(3), "Conv2d": 1 / np.sqrt(2 * 3 * 3), "Conv2d without bias": 1 / np.sqrt(2 * 2 * 3),
          "Maxout": 1 / np.sqrt(3)}


def draws(layer):
    if isinstance(layer, nn.Dropout):
        x = np.ones((6, 7), np.float32)
        return [layer(x), layer(x)]                 # two masks: the second continues the stream
    return [p.data.copy() for p in layer.parameters()]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def test_the_table_lists_every_nnkit_nn_layer_that_takes_seed():
    with_seed = {name for name, cls in vars(nn).items()
                 if inspect.isclass(cls) and issubclass(cls, nn.Module)
                 and "seed" in inspect.signature(cls.__init__).parameters}
    assert with_seed == {name.split()[0] for name in LAYERS}


@pytest.mark.parametrize("name", LAYERS)
def test_an_int_seed_reproduces_and_different_ints_differ(name):
    make = LAYERS[name]
    assert same(draws(make(5)), draws(make(5)))
    assert same(draws(make(np.int64(5))), draws(make(5)))          # numpy integers are ints too
    assert not same(draws(make(5)), draws(make(6)))


@pytest.mark.parametrize("name", LAYERS)
def test_a_generator_is_accepted_used_as_it_is_and_advanced(name):
    make = LAYERS[name]
    assert same(draws(make(np.random.default_rng(9))), draws(make(np.random.default_rng(9))))
    gen = np.random.default_rng(9)
    first, second = draws(make(gen)), draws(make(gen))               # the second layer continues the stream
    assert not same(first, second)
    # what the layer drew is exactly the next numbers of the generator's stream: U(-b, b) per tensor,
    # in order (weight, then bias), b = 1/sqrt(fan_in), and the generator is left just after them
    if name != "Dropout":
        gen, reference = np.random.default_rng(4), np.random.default_rng(4)
        layer = make(gen)
        for p in layer.parameters():
            expected = reference.uniform(-BOUNDS[name], BOUNDS[name], size=p.shape).astype(p.dtype)
            np.testing.assert_array_equal(p.data, expected)
        assert gen.bit_generator.state == reference.bit_generator.state


@pytest.mark.parametrize("name", LAYERS)
def test_no_seed_draws_fresh_numbers(name):
    make = LAYERS[name]
    assert not same(draws(make(None)), draws(make(None)))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("bad", ["3", 2.0, True, np.random.RandomState(0), [1, 2]])
def test_anything_else_is_the_same_type_error(name, bad):
    with pytest.raises(TypeError, match=r"seed must be None, an int or a numpy.random.Generator, got "):
        LAYERS[name](bad)


def test_conv2d_int_seeds_keep_the_numbers_they_always_gave():
    # The weight from default_rng(seed), the bias from default_rng(seed + 1), both U(-1/sqrt(fan_in), ...):
    # lectures and benchmarks quote results of seeded Conv2d layers.
    conv = nn.Conv2d(2, 3, 3, seed=11)
    bound = 1 / np.sqrt(2 * 3 * 3)
    np.testing.assert_array_equal(
        conv.weight.data, np.random.default_rng(11).uniform(-bound, bound, (3, 2, 3, 3)).astype(np.float32))
    np.testing.assert_array_equal(
        conv.bias.data, np.random.default_rng(12).uniform(-bound, bound, 3).astype(np.float32))


def test_reset_parameters_takes_the_same_seeds():
    for make in (lambda: nn.Linear(3, 4), lambda: nn.Conv2d(2, 3, 3)):
        a, b = make(), make()
        a.reset_parameters(np.random.default_rng(1))
        b.reset_parameters(np.random.default_rng(1))
        assert same(draws(a), draws(b))
        with pytest.raises(TypeError, match="seed must be"):
            a.reset_parameters("1")


def test_one_helper_and_the_other_seeded_parts_of_nnkit_use_it():
    gen = np.random.default_rng(0)
    assert _checks.make_rng(gen) is gen
    assert _checks.make_rng(3).random() == np.random.default_rng(3).random()
    p1, p2 = Perceptron(2, seed=np.random.default_rng(2)), Perceptron(2, seed=2)
    assert p1.rng.random() == p2.rng.random()
    with pytest.raises(TypeError, match="seed must be None, an int or a numpy.random.Generator"):
        Perceptron(2, seed="2")
