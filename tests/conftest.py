"""Suite-wide settings.

One intra-op thread: the tiny models of the tests spend more time in thread hand-offs than in
arithmetic on a shared 2-core machine (measured: ~0.45 s per forward with 2 threads vs ~2 ms with 1).
"""
import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    import torch

    torch.set_num_threads(1)
    yield
