"""Suite-wide settings.

One intra-op thread for every test: the tiny models of the tests spend more time in thread hand-offs
than in arithmetic on a shared 2-core machine (measured: ~0.45 s per forward with 2 threads vs ~2 ms
with 1), and a test that changes the count (e.g. `trm-audit run --threads auto` through CliRunner)
must not slow down the ones after it.
"""
import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_for_shared_fixtures():
    """Module- and session-scoped fixtures are set up before any function-scoped one, so without this
    a shared fixture trains at torch's default thread count and a test comparing its runs with runs of
    its own (at one thread) sees the float reductions of two thread counts, which differ in the last bits."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
