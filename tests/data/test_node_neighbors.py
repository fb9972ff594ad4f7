"""Neighbour-sampled mini-batches of the whole-graph design (train.num_neighbors)."""
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import k_hop_subgraph

from gsat.core.config import Config, config_from_dict
from gsat.data import load_dataset
from gsat.data.node.neighbors import NeighborBatches, pyg_sampler_available, sample_neighbors
from gsat.errors import ConfigError
from gsat.training import seed as gseed
from gsat.training.build import build_model, task_dataset
from gsat.training.engine import Engine


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return load_dataset("ba_shapes", str(tmp_path_factory.mktemp("data")), seed=0,
                        base_nodes=80, num_motifs=20)


def _config(**train) -> Config:
    cfg = Config()
    cfg.model.readout, cfg.model.n_layers, cfg.model.hidden_size = "node", 2, 16
    for key, value in {"epochs": 2, "num_viz": 0, "min_select_epoch": 0, **train}.items():
        setattr(cfg.train, key, value)
    return cfg


def _star(n_leaves=10):
    """Node 0 with in-edges from every leaf, each leaf with an in-edge from node 0."""
    leaves = torch.arange(1, n_leaves + 1)
    ei = torch.cat([torch.stack([leaves, torch.zeros_like(leaves)]),
                    torch.stack([torch.zeros_like(leaves), leaves])], 1)
    return Data(x=torch.arange(n_leaves + 1.0).view(-1, 1), edge_index=ei,
                y=torch.arange(n_leaves + 1), edge_attr=torch.arange(2.0 * n_leaves).view(-1, 1),
                num_nodes=n_leaves + 1)


def test_every_neighbour_gives_the_computation_subgraph(shapes):
    g = shapes.data
    seeds = torch.tensor([3, 90, 41])
    out = sample_neighbors(g, seeds, [-1, -1])
    assert torch.equal(out.n_id[:3], seeds) and out.batch_size == 3
    assert out.target_mask.tolist() == [True] * 3 + [False] * (out.num_nodes - 3)
    nodes, _, _, edge_mask = k_hop_subgraph(seeds, 2, g.edge_index, num_nodes=g.num_nodes)
    assert sorted(out.n_id.tolist()) == nodes.tolist()  # each node once
    # the sampled edges: the in-edges of the seeds and of their in-neighbours (2 hops)
    hop1 = torch.isin(g.edge_index[1], seeds)
    first = g.edge_index[0, hop1].unique()
    hop2 = torch.isin(g.edge_index[1], first[~torch.isin(first, seeds)])
    assert sorted(out.e_id.tolist()) == (hop1 | hop2).nonzero().view(-1).tolist()
    assert torch.equal(out.n_id[out.edge_index], g.edge_index[:, out.e_id])  # renumbered
    assert torch.equal(out.y, g.y[out.n_id]) and torch.equal(out.x, g.x[out.n_id])


def test_at_most_k_distinct_neighbours_per_node_and_hop():
    g = _star(10)
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(20):
        out = sample_neighbors(g, torch.tensor([0]), [3], gen)
        assert out.edge_index.size(1) == 3  # 3 of node 0's 10 in-edges
        assert bool((out.edge_index[1] == 0).all())  # into the seed
        src = out.n_id[out.edge_index[0]]
        assert src.unique().numel() == 3 and bool((src >= 1).all())
        assert torch.equal(out.edge_attr, g.edge_attr[out.e_id])
        seen.update(src.tolist())
    assert seen == set(range(1, 11))  # the draw varies


def test_batches_cover_the_targets_once_per_epoch_and_resume_exactly(shapes):
    (train,) = task_dataset(shapes, _config()).train
    loader = NeighborBatches(train, [5, 5], batch_size=16, seed=1, use_pyg=False)
    state = loader.generator.get_state()
    first = [b for b in loader]
    assert len(first) == len(loader) == -(-int(train.target_mask.sum()) // 16)
    seeds = torch.cat([b.n_id[b.target_mask] for b in first])
    assert sorted(seeds.tolist()) == train.target_mask.nonzero().view(-1).tolist()
    for b in first:  # the seeds come first
        k = int(b.target_mask.sum())
        assert 1 <= k <= 16 and bool(b.target_mask[:k].all())
    loader.generator.set_state(state)  # the state last.pt keeps
    again = [b for b in loader]
    assert all(torch.equal(a.n_id, b.n_id) and torch.equal(a.edge_index, b.edge_index)
               for a, b in zip(first, again))


@pytest.mark.skipif(not pyg_sampler_available(), reason="needs pyg-lib or torch-sparse")
def test_pyg_loader_batches_cover_the_targets(shapes):
    (train,) = task_dataset(shapes, _config()).train
    loader = NeighborBatches(train, [5, 5], batch_size=16, seed=1, use_pyg=True)
    seeds = torch.cat([b.n_id[b.target_mask] for b in loader])
    assert sorted(seeds.tolist()) == train.target_mask.nonzero().view(-1).tolist()


def test_a_gsat_model_trains_on_neighbour_batches(shapes, tmp_path):
    cfg = _config(num_neighbors=[4, 4], batch_size=32)
    ds = task_dataset(shapes, cfg)
    torch.manual_seed(0)
    model = build_model(cfg, ds, "gsat")
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    engine = gseed._engine(model, opt, ds, cfg.train, seed=0, dist=None,
                           evaluator=ds.evaluator, device="cpu")
    assert isinstance(engine, Engine) and isinstance(engine.train_loader, NeighborBatches)
    before = [p.detach().clone() for p in model.parameters()]
    rec = engine.train_pass(0)
    assert rec["train_loss"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("train, readout, match", [
    ({"num_neighbors": [5]}, "node", "one count per message-passing layer"),
    ({"num_neighbors": [5, 0]}, "node", ">= 1 or -1"),
    ({"num_neighbors": [5, 5], "node_batches": 3}, "node", "set one of them"),
])
def test_bad_num_neighbors_are_refused(train, readout, match):
    raw = {"model": {"readout": readout, "n_layers": 2}, "train": train}
    with pytest.raises(ConfigError, match=match):
        config_from_dict(raw)


def test_num_neighbors_needs_the_whole_graph_design(shapes):
    cfg = _config(num_neighbors=[5, 5])
    cfg.model.readout = "center"
    with pytest.raises(ConfigError, match="train.num_neighbors .* model.readout: center"):
        task_dataset(shapes, cfg)
