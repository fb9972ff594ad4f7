import pickle
import random
import signal

import numpy as np
import pytest
import torch

from gsat import GIN, GSAT, PNA
from gsat.io.checkpoint import (load_checkpoint, load_state_checked,
                                  rng_state, save_checkpoint, set_rng_state)
from gsat.io.signals import deferred_interrupt
from gsat.io.files import remove_stale_temporaries
from gsat.errors import CheckpointError


class _CreatesFile:
    """Unpickling this object opens (and so creates) a file: arbitrary code on load."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_file_needing_arbitrary_unpickling_is_refused(tmp_path, writer):
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    payload = {"model": {"w": torch.zeros(2)}, "extra": _CreatesFile(target)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CheckpointError, match="refused to load .* needs arbitrary unpickling"):
        load_checkpoint(path)
    assert not target.exists()
    if writer == "torch.save":  # the file really is dangerous when unpickled freely
        torch.load(path, weights_only=False)
        assert target.exists()


def test_missing_and_truncated_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    path = tmp_path / "c.pt"
    save_checkpoint({"w": torch.randn(100, 100)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
        load_checkpoint(path)
    torch.save([1, 2], path)
    with pytest.raises(CheckpointError, match="holds a list"):
        load_checkpoint(path)


@pytest.fixture
def python_sigint_handler():
    """Ctrl-C handled by Python's default handler, as in a plain command-line run (an earlier
    test or plugin in the same process may have installed another one); restored after."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_atomic_save_leaves_no_temporary_and_finishes_before_ctrl_c(tmp_path, monkeypatch,
                                                                   python_sigint_handler):
    path = tmp_path / "last.pt"
    save_checkpoint({"a": torch.ones(3)}, path)
    real_save = torch.save

    def save_then_interrupt(obj, f):
        signal.raise_signal(signal.SIGINT)  # Ctrl-C while the file is being written
        real_save(obj, f)

    monkeypatch.setattr(torch, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"a": torch.full((3,), 2.0)}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.equal(load_checkpoint(path)["a"], torch.full((3,), 2.0))  # write completed
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    (tmp_path / "last.pt.tmp123").write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path) == [tmp_path / "last.pt.tmp123"]


def test_deferred_interrupt_raises_after_the_block(python_sigint_handler):
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt():
            signal.raise_signal(signal.SIGINT)
            steps.append("finished")
    assert steps == ["finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_rng_state_round_trip_through_a_weights_only_checkpoint(tmp_path):
    gen = torch.Generator().manual_seed(3)
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.normal()  # leaves a cached gaussian in NumPy's state
    save_checkpoint({"rng": rng_state(gen)}, tmp_path / "r.pt")

    def draw():
        return (random.random(), float(np.random.normal()), float(torch.rand(1)),
                torch.randperm(10, generator=gen).tolist())

    first = draw()
    draw()
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"], gen)
    assert draw() == first


def _gsat(backbone="GIN", hidden=16):
    if backbone == "GIN":
        return GSAT(GIN(3, 1, hidden_channels=hidden))
    return GSAT(PNA(3, 1, torch.tensor([1, 2, 1]), hidden_channels=hidden))


def test_state_of_another_width_names_shape_mismatches():
    state = _gsat(hidden=16).state_dict()
    model = _gsat(hidden=8)
    with pytest.raises(CheckpointError) as exc:
        load_state_checked(model, state, "best.pt")
    msg = str(exc.value)
    assert msg.startswith("best.pt does not fit this GSAT")
    assert "shape mismatch: backbone.node_encoder.weight (checkpoint [16, 3], model [8, 3])" \
        in msg
    assert "missing" not in msg and "unexpected" not in msg


def test_state_of_another_backbone_names_missing_and_unexpected_keys():
    pna, gin_state = _gsat("PNA"), _gsat("GIN").state_dict()
    with pytest.raises(CheckpointError) as exc:
        load_state_checked(pna, gin_state, "best.pt")
    msg = str(exc.value)
    assert "missing keys: backbone.convs.0." in msg
    assert "unexpected keys: backbone.convs.0.eps, backbone.convs.0.nn.0.weight" in msg
    # eight keys are named, the count of the rest is given
    unexpected = [k for k in gin_state if k not in pna.state_dict()]
    assert len(unexpected) > 8
    assert f"... and {len(unexpected) - 8} more" in msg


def test_fitting_state_loads():
    a, b = _gsat(), _gsat()
    load_state_checked(b, a.state_dict())
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())


