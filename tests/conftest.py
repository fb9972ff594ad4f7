from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch, Data

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# The suite's graphs are tiny: a second torch thread gains nothing, and on a busy machine
# oversubscribed threads slow small ops down by orders of magnitude.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_timed_pass(request, monkeypatch):
    """A benchmark record times its explainer's pass once. A real benchmark repeats a pass
    until gsat.benchmark.scoring.MIN_TIMED_SECONDS (2 s) are measured, for a steady figure:
    2 s per method and seed that the suite's tiny benchmarks would spend on timing alone.
    Tests marked ``repeated_timing`` keep the repeats."""
    if "repeated_timing" not in request.keywords:
        monkeypatch.setattr("gsat.benchmark.scoring.MIN_TIMED_SECONDS", 1e-9)


def ring(n: int, feat: int = 3, seed: int = 0) -> Data:
    """An undirected ring of n nodes with random features."""
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(n)
    dst = (src + 1) % n
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1)
    return Data(x=torch.randn(n, feat, generator=g), edge_index=ei, y=torch.tensor([seed % 2]))


@pytest.fixture
def small_batch() -> Batch:
    return Batch.from_data_list([ring(5, seed=0), ring(7, seed=1), ring(4, seed=2)])


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} not present")
    return SHARED_DATA


@pytest.fixture
def single_thread():
    """Run torch single-threaded: bitwise-reproducible floating point (multi-threaded BLAS on a
    busy machine may sum in a different order from run to run)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def undrawn_pictures(monkeypatch):
    """The benchmark's page with a PNG signature in place of every picture: the modules that
    use this check records, reuse and tuning; tests/app/test_inference.py checks a drawn page."""
    from gsat.benchmark import pictures

    monkeypatch.setattr(pictures, "_png", lambda g, scores, title: b"\x89PNG\r\n\x1a\n")
