"""Fidelity of node explanations without ground truth (gsat.explain.nodes.node_fidelity)."""
import pytest
import torch

from gsat.core.config import Config
from gsat.core.model import edge_mask
from gsat.data import load_dataset
from gsat.explain.nodes import explained_nodes, node_fidelity, node_graph
from gsat.training.build import build_model, task_dataset


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    nodes = load_dataset("ba_shapes", str(tmp_path_factory.mktemp("data")), seed=0,
                         base_nodes=80, num_motifs=20)
    cfg = Config()
    cfg.model.readout, cfg.model.n_layers, cfg.model.hidden_size = "node", 2, 16
    torch.manual_seed(0)
    model = build_model(cfg, task_dataset(nodes, cfg), "gsat").eval()
    return nodes, model


def _probs_without(model, g, node, removed):
    """The node's class probabilities with the edges of `removed` deleted from the graph and
    every other edge's message kept whole."""
    keep = torch.ones(g.edge_index.size(1), dtype=torch.bool)
    keep[removed] = False
    ei = g.edge_index[:, keep]
    with torch.no_grad(), edge_mask(model.backbone, torch.ones(ei.size(1)), ei):
        logits = model.gated_forward(g.x.float(), ei)[node]
    return logits.softmax(-1)


@pytest.mark.parametrize("node", [82, 10])
def test_a_hard_mask_is_the_prediction_without_the_masked_edges(setup, node):
    nodes, model = setup
    g = node_graph(nodes, node, "node", 2)
    exp = next(explained_nodes(model, [g]))
    fid = node_fidelity(model, g, exp, node, keep=0.25)
    n = exp.edge_ids.numel()
    assert fid["subgraph_edges"] == n and fid["kept_edges"] == max(1, round(0.25 * n))
    top = exp.edge_ids[exp.edge_att.argsort(descending=True)[:fid["kept_edges"]]]
    rest = exp.edge_ids[~torch.isin(exp.edge_ids, top)]
    # GIN sums its messages: a message multiplied by 0 is an edge removed
    only = _probs_without(model, g, node, rest)
    without = _probs_without(model, g, node, top)
    cls = fid["predicted"]
    with torch.no_grad():
        assert cls == int(model(g).logits[node].argmax())
    assert fid["prob_explanation"] == pytest.approx(float(only[cls]), abs=1e-5)
    assert fid["prob_complement"] == pytest.approx(float(without[cls]), abs=1e-5)
    assert fid["fid_minus"] == float(int(only.argmax()) != cls)
    assert fid["fid_plus"] == float(int(without.argmax()) != cls)


def test_keep_must_be_a_share(setup):
    nodes, model = setup
    g = node_graph(nodes, 82, "node", 2)
    exp = next(explained_nodes(model, [g]))
    with pytest.raises(ValueError, match="keep"):
        node_fidelity(model, g, exp, 82, keep=1.0)
