"""Node classification through computation subgraphs: each node's L-hop subgraph, centre
first, with the centre's label and ground truth; unknown ground truth is left out of the
scores."""
import pytest
import torch
from torch_geometric.utils import k_hop_subgraph

from gsat.training.build import build_model, task_dataset
from gsat.core.config import Config
from gsat.data import load_dataset
from gsat.data.node.subgraphs import UNKNOWN, computation_subgraph, subgraph_dataset
from gsat.errors import ConfigError
from gsat.metrics.interpretation import score_edges


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return load_dataset("ba_shapes", str(tmp_path_factory.mktemp("data")), seed=0)


def test_subgraph_is_the_centres_computation_graph(shapes):
    v = int(shapes.explain_nodes[0])
    g = computation_subgraph(shapes, v, 3)
    subset, _, _, mask = k_hop_subgraph(v, 3, shapes.data.edge_index,
                                        num_nodes=shapes.num_nodes)
    assert int(g.node_ids[0]) == v and int(g.node_id) == v
    assert sorted(g.node_ids.tolist()) == subset.tolist()
    assert g.edge_ids.tolist() == mask.nonzero().view(-1).tolist()
    # edges keep their endpoints through the relabelling
    assert torch.equal(g.node_ids[g.edge_index], shapes.data.edge_index[:, g.edge_ids])
    assert int(g.y) == int(shapes.data.y[v]) and torch.equal(g.x, shapes.data.x[g.node_ids])
    assert torch.equal(g.edge_label, shapes.data.edge_label[g.edge_ids])
    assert int(g.edge_label.sum()) >= 12  # the house of a house node (6 edges, both ways)


def test_nodes_without_ground_truth_get_unknown_labels_left_out_of_scores(shapes):
    base = int((shapes.data.node_label == 0).nonzero()[0])
    g = computation_subgraph(shapes, base, 3)
    assert bool((g.edge_label == UNKNOWN).all())
    # an unknown graph changes neither the AUC nor precision@k of the others
    v = int(shapes.explain_nodes[0])
    h = computation_subgraph(shapes, v, 3)
    s_h, s_g = torch.rand(h.num_edges), torch.rand(g.num_edges)
    alone = score_edges(s_h, h.edge_label, torch.zeros(h.num_edges))
    both = score_edges(torch.cat([s_h, s_g]), torch.cat([h.edge_label, g.edge_label]),
                       torch.cat([torch.zeros(h.num_edges), torch.ones(g.num_edges)]))
    assert both.interp_auc == alone.interp_auc
    assert both.precision_at_k == alone.precision_at_k
    assert both.num_edges == h.num_edges


def test_subgraph_dataset_splits_and_explained_nodes(shapes):
    ds = subgraph_dataset(shapes, 2)
    assert [len(ds.train), len(ds.valid), len(ds.test)] == [
        int(shapes.data.train_mask.sum()), int(shapes.data.val_mask.sum()),
        int(shapes.data.test_mask.sum())]
    assert [int(g.node_id) for g in ds.interp_test] == shapes.explain_nodes.tolist()
    assert ds.extra["level"] == "node" and ds.extra["num_hops"] == 2
    assert ds.task == shapes.task and ds.num_outputs == 4


def test_configs_must_match_the_level_of_the_dataset(shapes, tmp_path):
    node_cfg = Config()
    node_cfg.model.readout, node_cfg.model.n_layers = "center", 2
    ds = task_dataset(shapes, node_cfg)
    model = build_model(node_cfg, ds).eval()
    from torch_geometric.loader import DataLoader

    batch = next(iter(DataLoader(ds.test[:5], batch_size=5)))
    assert model(batch).logits.shape == (5, 4)  # one prediction per centre node
    with pytest.raises(ConfigError, match="node classification dataset.*model.readout: pool"):
        task_dataset(shapes, Config())
    graphs = load_dataset("ba_2motifs", str(tmp_path), seed=0, num_graphs=20)
    with pytest.raises(ConfigError, match="graph classification dataset"):
        task_dataset(graphs, node_cfg)
    assert task_dataset(graphs, Config()) is graphs
