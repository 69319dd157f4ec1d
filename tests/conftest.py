"""Shared fixtures: PyTorch for numerical comparisons, dtype parametrisation, tolerances."""
import numpy as np
import pytest

# Tolerances for comparing nnkit with PyTorch on the same inputs.
TOLERANCES = {
    np.float64: dict(rtol=1e-9, atol=1e-11),
    np.float32: dict(rtol=1e-4, atol=1e-5),
}


@pytest.fixture(scope="session")
def torch():
    import torch  # a declared dependency: a missing torch must fail the comparisons, not skip them
    torch.set_num_threads(1)
    return torch


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    return request.param


@pytest.fixture
def tol(dtype):
    return TOLERANCES[dtype]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
