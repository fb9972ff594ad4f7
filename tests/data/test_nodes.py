"""Node classification datasets: the synthetic sets of GNNExplainer and Infection, and the
checks of NodeDataset."""
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import is_undirected

from gsat.data import DATASETS, load_dataset
from gsat.data.base import GraphDataset
from gsat.data.node.base import NodeDataset, split_masks
from gsat.data.node.infection import load_infection, unique_path_edges
from gsat.data.node.motifs import generate_ba_shapes
from gsat.errors import ConfigError, GraphInputError

# undirected edges: base + motif edges + one attaching edge per motif, then int(p * E) noise
BA_SHAPES_E = 5 * (300 - 5) + 80 * 6 + 80
TREE_E = 2 ** 9 - 2
TREE_CYCLES_E = TREE_E + 60 * 6 + 60
TREE_GRID_E = TREE_E + 80 * 12 + 80

#: name -> nodes, directed edges, class counts, directed motif edges, motif edges, degrees
SIZES = {
    "ba_shapes": (700, 2 * (BA_SHAPES_E + int(0.01 * BA_SHAPES_E)), [300, 160, 160, 80],
                  2 * 80 * 6, [2, 2, 2, 3, 3]),
    "ba_community": (1400, 2 * (2 * (BA_SHAPES_E + int(0.01 * BA_SHAPES_E)) + 350),
                     [300, 160, 160, 80] * 2, 2 * 160 * 6, [2, 2, 2, 3, 3]),
    "tree_cycles": (511 + 60 * 6, 2 * (TREE_CYCLES_E + int(0.01 * TREE_CYCLES_E)),
                    [511, 360], 2 * 60 * 6, [2] * 6),
    "tree_grid": (511 + 80 * 9, 2 * (TREE_GRID_E + int(0.1 * TREE_GRID_E)), [511, 720],
                  2 * 80 * 12, [2, 2, 2, 2, 3, 3, 3, 3, 4]),
}


@pytest.fixture(scope="module")
def motif_sets():
    return {name: load_dataset(name, seed=0) for name in SIZES}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_sizes_and_classes_match_the_papers(motif_sets, name):
    ds = motif_sets[name]
    nodes, edges, counts, motif_edges, _ = SIZES[name]
    assert isinstance(ds, NodeDataset) and ds.level == "node"
    assert (ds.num_nodes, ds.num_edges) == (nodes, edges)
    assert torch.bincount(ds.data.y).tolist() == counts
    assert int(ds.data.edge_label.sum()) == motif_edges
    assert (ds.task, ds.num_outputs) == (("binary", 1) if len(counts) == 2
                                         else ("multiclass", len(counts)))
    assert ds.metric == "acc" and ds.has_ground_truth and ds.undirected
    assert is_undirected(ds.data.edge_index, num_nodes=nodes)
    assert not bool((ds.data.edge_index[0] == ds.data.edge_index[1]).any())  # no self-loop
    assert ds.data.x.shape == (nodes, 10) and ds.num_features == 10


@pytest.mark.parametrize("name", sorted(SIZES))
def test_ground_truth_is_exactly_the_motif_edges(motif_sets, name):
    ds = motif_sets[name]
    *_, motif_edges, degrees = SIZES[name]
    ei, label, motif = ds.data.edge_index, ds.data.edge_label, ds.data.motif_id
    same = (motif[ei[0]] >= 0) & (motif[ei[0]] == motif[ei[1]])
    assert torch.equal(label.bool(), same)
    # symmetric: (u, v) and (v, u) carry the same label
    key = {(u, v): int(lab) for (u, v), lab in zip(ei.t().tolist(), label)}
    assert all(key[(v, u)] == lab for (u, v), lab in key.items())
    # every instance is the motif itself: its edges and degrees, no noise edge inside
    gt = ei[:, label == 1]
    for m in range(int(motif.max()) + 1):
        members = (motif == m).nonzero().view(-1)
        inside = gt[:, motif[gt[0]] == m]
        deg = torch.bincount(inside[0], minlength=ds.num_nodes)[members]
        assert sorted(deg.tolist()) == degrees, m
    assert torch.equal(ds.data.node_label, (motif >= 0).long())
    assert int(label.sum()) == motif_edges


@pytest.mark.parametrize("name", sorted(SIZES))
def test_splits_cover_and_explained_nodes_are_test_motif_nodes(motif_sets, name):
    data = motif_sets[name].data
    masks = [data.train_mask, data.val_mask, data.test_mask]
    assert all(m.dtype == torch.bool for m in masks)
    assert torch.equal(sum(m.long() for m in masks), torch.ones(data.num_nodes, dtype=torch.long))
    n = data.num_nodes
    assert [int(m.sum()) for m in masks] == [round(0.8 * n), round(0.1 * n),
                                             n - round(0.8 * n) - round(0.1 * n)]
    expected = ((data.node_label == 1) & data.test_mask).nonzero().view(-1)
    nodes = motif_sets[name].explain_nodes
    assert torch.equal(nodes, expected) and nodes.numel() > 10
    assert bool((data.y[nodes] > 0).all() if name != "ba_community"
                else ((data.y[nodes] % 4) > 0).all())


def test_generation_is_deterministic_by_seed():
    a, b = load_dataset("ba_shapes", seed=3), load_dataset("ba_shapes", seed=3)
    for key in ("x", "edge_index", "y", "edge_label", "train_mask", "test_mask"):
        assert torch.equal(a.data[key], b.data[key])
    assert torch.equal(a.explain_nodes, b.explain_nodes)
    other_split = load_dataset("ba_shapes", seed=4)
    assert torch.equal(other_split.data.edge_index, a.data.edge_index)  # same graph
    assert not torch.equal(other_split.data.test_mask, a.data.test_mask)
    other_graph = load_dataset("ba_shapes", seed=3, graph_seed=1)
    assert not torch.equal(other_graph.data.edge_index, a.data.edge_index)
    c1, c2 = load_dataset("ba_community"), load_dataset("ba_community")
    assert torch.equal(c1.data.x, c2.data.x) and torch.equal(c1.data.edge_index,
                                                             c2.data.edge_index)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    generate_ba_shapes(seed=0)
    assert torch.equal(torch.rand(1), before)  # the caller's random stream is untouched


def test_ba_community_features_and_halves(motif_sets):
    ds = motif_sets["ba_community"]
    x, y = ds.data.x, ds.data.y
    assert x[:700, :2].mean() == pytest.approx(-1.0, abs=0.15)
    assert x[700:, :2].mean() == pytest.approx(1.0, abs=0.15)
    assert x[:, :2].var(0).mean() > 1.0  # the two communities apart: mean of var ~ 1.5
    assert x[:, 2:].mean() == pytest.approx(0.0, abs=0.1)
    assert x[700:, 2:].std() == pytest.approx(1.0, abs=0.1)
    assert set(y[:700].tolist()) == {0, 1, 2, 3} and set(y[700:].tolist()) == {4, 5, 6, 7}
    ei = ds.data.edge_index
    between = (ei[0] < 700) & (ei[1] >= 700)
    assert int(between.sum()) == 350 and int(ds.data.edge_label[between].sum()) == 0


def test_options_change_the_generator_and_are_checked():
    ds = load_dataset("ba_shapes", num_motifs=8, base_nodes=30, base_edges=2, perturb=0.0,
                      explain_split="all")
    assert ds.num_nodes == 30 + 8 * 5
    assert ds.num_edges == 2 * (2 * 28 + 8 * 6 + 8)
    assert torch.equal(ds.explain_nodes, (ds.data.node_label == 1).nonzero().view(-1))
    assert load_dataset("tree_cycles", num_motifs=80).num_nodes == 511 + 480
    with pytest.raises(ConfigError, match="unknown option 'motifs'"):
        load_dataset("tree_grid", motifs=3)
    with pytest.raises(ConfigError, match="explain_split"):
        load_dataset("tree_grid", explain_split="valid")
    with pytest.raises(ConfigError, match="num_motifs"):
        load_dataset("ba_shapes", num_motifs=400)


def test_registry_names():
    for name in ("ba_shapes", "ba_community", "tree_cycles", "tree_grid", "infection",
                 "planetoid:Cora", "planetoid:CiteSeer", "planetoid:PubMed", "twitch:EN"):
        assert name in DATASETS
    assert GraphDataset.level == "graph" and NodeDataset.level == "node"


def test_unique_shortest_paths_on_a_small_graph():
    # 0 and 1 infected; 2 joins both (two shortest paths), 3 hangs off 2; 4-5 off 0 only
    pairs = [(0, 2), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (6, 7)]
    ei = torch.tensor(pairs + [(v, u) for u, v in pairs]).t()
    paths = unique_path_edges(ei, 8, torch.tensor([0, 1]), max_path_length=3)
    assert sorted(paths) == [4, 5, 6]  # 2, 3: several paths; 7: beyond 3 hops
    as_pairs = {v: sorted(tuple(ei[:, i].tolist()) for i in ids) for v, ids in paths.items()}
    assert as_pairs[4] == [(0, 4), (4, 0)]
    assert as_pairs[6] == sorted([(0, 4), (4, 0), (4, 5), (5, 4), (5, 6), (6, 5)])


def test_infection_labels_and_per_node_ground_truth():
    ds = load_infection(seed=0)
    data = ds.data
    assert (ds.num_nodes, ds.num_outputs, ds.task) == (500, 5, "multiclass")
    infected = data.x[:, 1] == 1
    assert int(infected.sum()) == 50 and torch.equal(infected, data.y == 0)
    assert ds.explanations is not None and ds.explain_nodes.numel() > 5
    union = torch.zeros_like(data.edge_label)
    for v, ids in ds.explanations.items():
        union[ids] = 1
        path = data.edge_index[:, ids]
        assert ids.numel() == 2 * int(data.y[v])  # one edge per hop, both directions
        assert int(infected[path.reshape(-1)].sum()) == 2  # starts at one infected node
        assert v in path and torch.equal(ds.ground_truth(v)[ids], torch.ones_like(ids))
    assert torch.equal(union, data.edge_label)
    for v in ds.explain_nodes.tolist():
        assert bool(data.test_mask[v]) and 1 <= int(data.y[v]) <= 3
    no_path = next(v for v in range(500) if v not in ds.explanations)
    with pytest.raises(ValueError, match="no ground truth for node"):
        ds.ground_truth(no_path)
    again = load_dataset("infection", seed=0)
    assert torch.equal(again.data.edge_index, data.edge_index)
    assert torch.equal(again.explain_nodes, ds.explain_nodes)


def _graph(n=10):
    ring = [[i, (i + 1) % n] for i in range(n)]
    ei = torch.tensor(ring + [[v, u] for u, v in ring]).t()
    data = Data(x=torch.ones(n, 3), edge_index=ei, y=torch.arange(n) % 2,
                edge_label=torch.zeros(2 * n, dtype=torch.long), num_nodes=n)
    data.update(split_masks(n, 0))
    return data


def _dataset(data, **kw):
    args = dict(name="toy", data=data, num_features=3, num_outputs=1, task="binary")
    return NodeDataset(**{**args, **kw})


@pytest.mark.parametrize("change, match", [
    (lambda d: setattr(d, "y", d.y[:-1]), r"one class index per node, shape \[10\]"),
    (lambda d: setattr(d, "y", d.y.float()), "integer tensor"),
    (lambda d: setattr(d, "train_mask", d.train_mask.long()), "train_mask must be a boolean"),
    (lambda d: setattr(d, "val_mask", d.val_mask[:5]), r"val_mask must be a boolean .*\[10\]"),
    (lambda d: setattr(d, "test_mask", torch.zeros(10, dtype=torch.bool)),
     "test_mask selects no node"),
    (lambda d: setattr(d, "val_mask", d.val_mask | d.test_mask), "val_mask and test_mask overlap"),
    (lambda d: delattr(d, "train_mask"), "has no train_mask"),
    (lambda d: setattr(d, "edge_label", torch.zeros(3, dtype=torch.long)),
     r"edge_label must have one entry per edge, shape \[20\]"),
    (lambda d: setattr(d, "y", d.y * 2), "needs labels 0..1"),
])
def test_node_dataset_refuses_malformed_graphs(change, match):
    _dataset(_graph())  # the unchanged graph is valid
    data = _graph()
    change(data)
    with pytest.raises(GraphInputError, match=match) as exc:
        _dataset(data)
    assert "\n" not in str(exc.value) and "'toy'" in str(exc.value)


def test_node_dataset_refuses_inconsistent_facts():
    with pytest.raises(ConfigError, match="binary task cannot have 2"):
        _dataset(_graph(), num_outputs=2)
    with pytest.raises(ConfigError, match="task must be"):
        _dataset(_graph(), task="multilabel")
    data = _graph()
    del data.edge_label
    with pytest.raises(GraphInputError, match="no edge_label"):
        _dataset(data)
    with pytest.raises(GraphInputError, match="explain_nodes"):
        _dataset(_graph(), explain_nodes=torch.tensor([11]))
    with pytest.raises(GraphInputError, match="x has 3 features"):
        _dataset(_graph(), num_features=4)
    ok = _dataset(_graph(), has_ground_truth=True)
    assert ok.split_nodes("valid").numel() == 1 and ok.ground_truth(0).sum() == 0
