"""The engine's hooks: the order they are called in, closing after an error, and what each
writes into a seed's folder."""
import csv

import pytest
import torch
from torch_geometric.data import Data

from gsat import ERM, GIN
from gsat.core.selection import Selection, Selector
from gsat.metrics.prediction import Evaluator
from gsat.io.checkpoint import load_checkpoint
from gsat.runs.layout import SeedFolder
from gsat.training.engine import Engine, Hook, make_loader
from gsat.training.hooks import (CHECKPOINT_FORMAT, KeepCheckpointsHook, RunFilesHook,
                                 SelectionHook)


def _graphs(n=24):
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        k = 5 + i % 3
        e = torch.stack([torch.arange(k), (torch.arange(k) + 1) % k])
        out.append(Data(x=torch.randn(k, 3, generator=g), edge_index=torch.cat([e, e.flip(0)], 1),
                        y=torch.tensor([[float(i % 2)]])))
    return out


def _engine(hooks, is_main=True):
    torch.manual_seed(0)
    model = ERM(GIN(3, 1, hidden_channels=8, num_layers=2))
    graphs = _graphs()
    return Engine(model, torch.optim.Adam(model.parameters(), lr=0.01),
                  make_loader(graphs[:16], 8, shuffle=True, seed=0), make_loader(graphs[16:], 8),
                  evaluator=Evaluator("binary", "acc"), hooks=hooks, progress=False,
                  is_main=is_main)


class _Recorder(Hook):
    def __init__(self, name, calls, fail_at=None):
        self.name, self.calls, self.fail_at = name, calls, fail_at

    def on_epoch_start(self, engine, epoch):
        self.calls.append((self.name, "start", epoch))

    def on_epoch_end(self, engine, epoch, rec, val):
        self.calls.append((self.name, "end", epoch))
        assert rec["epoch"] == epoch and "valid_metric" in rec and val is not None
        if epoch == self.fail_at:
            raise RuntimeError("hook failed")

    def close(self, engine):
        self.calls.append((self.name, "close", None))


def test_hooks_are_called_in_order_and_closed_after_an_error():
    calls = []
    _engine([_Recorder("a", calls), _Recorder("b", calls)]).run(2)
    assert calls == [("a", "start", 0), ("b", "start", 0), ("a", "end", 0), ("b", "end", 0),
                     ("a", "start", 1), ("b", "start", 1), ("a", "end", 1), ("b", "end", 1),
                     ("a", "close", None), ("b", "close", None)]
    calls.clear()
    engine = _engine([_Recorder("a", calls, fail_at=1), _Recorder("b", calls)])
    with pytest.raises(RuntimeError, match="hook failed"):
        engine.run(3)
    assert calls[-2:] == [("a", "close", None), ("b", "close", None)]
    assert len(engine.history) == 1  # the failed epoch is not recorded


def test_run_files_and_selection_write_a_seed_folder(tmp_path):
    folder = SeedFolder(tmp_path / "seed0", 0)
    selection = Selection(Selector(min_epoch=0))
    engine = _engine([])
    engine.hooks = [SelectionHook(selection, best_path=folder.best, best_meta={"tag": 1}),
                    RunFilesHook(folder, selection, {"seed": 0, "config": {}, "method": "erm",
                                                     "dataset": "rings"},
                                 engine.train_loader.generator),
                    KeepCheckpointsHook(folder, 2)]
    history = engine.run(3)
    rows = list(csv.DictReader(open(folder.metrics)))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    last = load_checkpoint(folder.last, kind=None)
    assert last["format"] == CHECKPOINT_FORMAT and last["epoch"] == 2 and last["seed"] == 0
    assert len(last["history"]) == 3 and last["best_any"] is not None
    best = load_checkpoint(folder.best)
    chosen, _ = selection.chosen()
    assert best["epoch"] == chosen["epoch"] and best["tag"] == 1
    for k, v in chosen["state"].items():
        assert torch.equal(best["model"][k], v)
    assert [p.name for p in folder.kept_checkpoints()] == ["epoch0001.pt"]
    assert history[-1]["epoch"] == 2


def test_a_process_that_does_not_write_leaves_no_files(tmp_path):
    folder = SeedFolder(tmp_path / "seed0", 0)
    selection = Selection(Selector(min_epoch=0))
    engine = _engine([], is_main=False)
    engine.hooks = [SelectionHook(selection, best_path=folder.best),
                    RunFilesHook(folder, selection, {"seed": 0}, None),
                    KeepCheckpointsHook(folder, 1)]
    engine.run(2)
    assert not tmp_path.joinpath("seed0").exists()
    assert selection.best_any is not None  # ... yet selection still ran


def test_keep_checkpoints_every_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="every must be >= 1"):
        KeepCheckpointsHook(SeedFolder(tmp_path, 0), 0)
