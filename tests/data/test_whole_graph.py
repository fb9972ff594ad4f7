"""Node classification on the whole graph: each split is the graph once with the split's
nodes as targets; explanations are scored on the explained nodes' computation subgraphs,
exactly the edges and labels of the subgraph design."""
import math

import pytest
import torch

from gsat.training.build import build_model, task_dataset
from gsat.core.config import Config
from gsat.data import load_dataset
from gsat.data.node.subgraphs import computation_subgraph
from gsat.data.node.whole import whole_graph_dataset
from gsat.training.engine import evaluate, make_loader, targets


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return load_dataset("ba_shapes", str(tmp_path_factory.mktemp("data")), seed=0)


def test_splits_are_the_graph_with_their_nodes_as_targets(shapes):
    ds = whole_graph_dataset(shapes, 3)
    for split, mask in (("train", "train_mask"), ("valid", "val_mask"), ("test", "test_mask")):
        (g,) = getattr(ds, split)
        assert torch.equal(g.target_mask, getattr(shapes.data, mask))
        assert g.num_edges == shapes.num_edges
    assert ds.extra["design"] == "whole" and ds.extra["level"] == "node"


def test_scored_edges_are_those_of_the_subgraph_design(shapes):
    (g,) = whole_graph_dataset(shapes, 3).interp_test
    assert int(g.explain_count) == shapes.explain_nodes.numel()
    for i, v in enumerate(shapes.explain_nodes.tolist()[:5]):
        sub = computation_subgraph(shapes, v, 3)
        mine = g.explain_group == i
        assert g.explain_edges[mine].tolist() == sub.edge_ids.tolist()
        assert torch.equal(g.explain_labels[mine], sub.edge_label)


def test_a_model_predicts_and_is_scored_on_the_target_nodes_only(shapes):
    cfg = Config()
    cfg.model.readout, cfg.model.n_layers = "node", 3
    ds = task_dataset(shapes, cfg)
    model = build_model(cfg, ds)
    batch = next(iter(make_loader(ds.test, 1)))
    out = model.eval()(batch)
    assert out.logits.shape == (shapes.num_nodes, 4)
    scored, y = targets(out, batch)
    assert scored.logits.shape[0] == y.numel() == int(shapes.data.test_mask.sum())
    res = evaluate(model, make_loader(ds.interp_test, 1), ds.evaluator, torch.device("cpu"))
    assert 0.0 <= res.interp_auc <= 1.0 and not math.isnan(res.precision_at_k)
