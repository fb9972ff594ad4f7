"""Mini-batches of the whole-graph design (train.node_batches, train.eval_node_batches): random
node parts, each the subgraph it induces with its own target nodes."""
import copy
import math

import pytest
import torch

from gsat.training.build import task_dataset
from gsat.core.config import Config, config_from_dict
from gsat.data import load_dataset
from gsat.data.node.base import NodeDataset
from gsat.data.node.batches import NodeBatches
from gsat.errors import ConfigError
from gsat.training import seed as gseed
from gsat.training.engine import Engine


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return load_dataset("ba_shapes", str(tmp_path_factory.mktemp("data")), seed=0)


def _config(**train) -> Config:
    cfg = Config()
    cfg.model.readout, cfg.model.n_layers, cfg.model.hidden_size = "node", 3, 16
    for key, value in {"epochs": 2, "num_viz": 0, "min_select_epoch": 0, **train}.items():
        setattr(cfg.train, key, value)
    return cfg


def _with_ids(g):
    g = copy.copy(g)
    g.node_id = torch.arange(g.num_nodes)
    g.edge_id = torch.arange(g.num_edges)
    return g


def _parts(loader):
    return [(b.node_id.clone(), b.edge_id.clone(), b) for b in loader]


def test_parts_cover_the_training_nodes_once_per_epoch(shapes):
    (train,) = task_dataset(shapes, _config()).train
    g = _with_ids(train)
    loader = NodeBatches(g, 5, seed=3)
    epochs = [_parts(loader) for _ in range(2)]
    for parts in epochs:
        assert len(parts) == 5
        targets = torch.cat([ids[b.target_mask] for ids, _, b in parts])
        assert sorted(targets.tolist()) == shapes.split_nodes("train").tolist()
        nodes = torch.cat([ids for ids, _, _ in parts])
        assert nodes.unique().numel() == nodes.numel() == shapes.num_nodes
        for ids, eids, b in parts:  # the subgraph each part induces, renumbered
            inside = torch.zeros(g.num_nodes, dtype=torch.bool)
            inside[ids] = True
            assert sorted(eids.tolist()) == (inside[g.edge_index[0]]
                                             & inside[g.edge_index[1]]).nonzero().view(-1).tolist()
            assert torch.equal(ids[b.edge_index], g.edge_index[:, eids])
            assert torch.equal(b.y, g.y[ids])
            assert b.num_graphs == 1
    first, second = ([ids.tolist() for ids, _, _ in parts] for parts in epochs)
    assert first != second  # a new partition every epoch


def test_a_fixed_partition_keeps_the_explained_edges_inside_each_part(shapes):
    (interp,) = task_dataset(shapes, _config()).interp_test
    g = _with_ids(interp)
    loader = NodeBatches(g, 3, shuffle=False, seed=1)
    parts = _parts(loader)
    assert [ids.tolist() for ids, _, _ in parts] == [ids.tolist() for ids, _, _ in
                                                      _parts(loader)]
    assert sorted(torch.cat([b.explained for _, _, b in parts]).tolist()) == \
        interp.explained.tolist()
    kept = 0
    for ids, eids, b in parts:
        assert int(b.explain_count) == b.explained.numel()
        for i, v in enumerate(b.explained.tolist()):
            whole = interp.explain_group == interp.explained.tolist().index(v)
            inside = torch.zeros(g.num_nodes, dtype=torch.bool)
            inside[ids] = True
            ends = interp.edge_index[:, interp.explain_edges[whole]]
            expect = inside[ends[0]] & inside[ends[1]]
            mine = b.explain_group == i
            assert eids[b.explain_edges[mine]].tolist() == \
                interp.explain_edges[whole][expect].tolist()
            assert torch.equal(b.explain_labels[mine], interp.explain_labels[whole][expect])
            kept += int(mine.sum())
    assert 0 < kept < interp.explain_edges.numel()


def test_node_batches_is_checked():
    with pytest.raises(ConfigError, match="train.node_batches must be >= 0"):
        config_from_dict({"train": {"node_batches": -1}})
    with pytest.raises(ConfigError, match="train.eval_node_batches: expected an integer"):
        config_from_dict({"train": {"eval_node_batches": 2.5}})


def test_node_batches_needs_the_whole_graph_design(shapes):
    cfg = _config(node_batches=4)
    cfg.model.readout = "center"
    with pytest.raises(ConfigError, match="model.readout: node"):
        task_dataset(shapes, cfg)


def test_a_mini_batch_run_trains_and_scores(shapes, tmp_path, monkeypatch):
    cfg = _config(node_batches=4, eval_node_batches=2)
    ds = task_dataset(shapes, cfg)
    sizes = []
    collate = NodeBatches.collate_fn

    def counted(self, index):
        batch = collate(self, index)
        sizes.append((self.num_parts, batch.num_nodes))
        return batch

    monkeypatch.setattr(NodeBatches, "collate_fn", counted)
    rec = gseed.train_one_seed(cfg, ds, 0, tmp_path, progress=False)
    train_parts = [n for parts, n in sizes if parts == 4]
    assert len(train_parts) == 4 * cfg.train.epochs
    assert max(n for _, n in sizes) < shapes.num_nodes
    assert 0.0 <= rec["test_metric"] <= 1.0
    assert 0.0 <= rec["test_interp_auc"] <= 1.0 and not math.isnan(rec["valid_metric"])


def test_a_resumed_mini_batch_run_is_the_uninterrupted_one(shapes, tmp_path, monkeypatch,
                                                           single_thread):
    cfg = _config(epochs=3, node_batches=4, eval_node_batches=2)
    ds = task_dataset(shapes, cfg)
    whole = gseed.train_one_seed(cfg, ds, 0, tmp_path / "whole", progress=False)
    run_epoch = Engine.run_epoch

    def stop_at_2(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return run_epoch(self, epoch)

    monkeypatch.setattr(Engine, "run_epoch", stop_at_2)
    with pytest.raises(KeyboardInterrupt):
        gseed.train_one_seed(cfg, ds, 0, tmp_path / "resumed", progress=False)
    monkeypatch.setattr(Engine, "run_epoch", run_epoch)
    resumed = gseed.train_one_seed(cfg, ds, 0, tmp_path / "resumed", progress=False,
                                   resume=True)
    for key in ("best_epoch", "valid_metric", "test_metric", "test_interp_auc"):
        assert resumed[key] == whole[key]
    rows = [(tmp_path / run).glob("**/metrics.csv") for run in ("whole", "resumed")]
    losses = [[line.split(",")[2] for line in next(r).read_text().splitlines()[1:]]
              for r in rows]
    assert losses[0] == losses[1]


def test_a_whole_graph_run_without_ground_truth_ends_without_pictures(shapes, tmp_path):
    data = copy.copy(shapes.data)
    del data.edge_label
    plain = NodeDataset(name="plain", data=data, num_features=shapes.num_features,
                        num_outputs=shapes.num_outputs, task=shapes.task,
                        has_ground_truth=False)
    cfg = _config(epochs=1, num_viz=2)
    rec = gseed.train_one_seed(cfg, task_dataset(plain, cfg), 0, tmp_path, progress=False)
    assert 0.0 <= rec["test_metric"] <= 1.0
    assert not list(tmp_path.glob("**/*.png"))
