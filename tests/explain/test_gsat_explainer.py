"""GSAT's attention behind the explainer interface and as a PyG explainer algorithm."""
import pytest
import torch
from torch_geometric.explain import Explainer
from torch_geometric.explain.algorithm.utils import set_masks

from explainer_cases import make_graphs, make_model
from gsat.explain.base import BackboneAdapter
from gsat.explain.gsat import GSATAlgorithm
from gsat.explain.registry import make_explainer


@pytest.mark.parametrize("batch_size", [1, 2])
def test_gsat_explainer_matches_per_graph_attention(batch_size):
    graphs = make_graphs()
    model = make_model("GIN", "gsat", graphs)
    scores = make_explainer("gsat", batch_size=batch_size).explain(model, graphs, "binary")
    for s, g in zip(scores, graphs):
        assert s.dtype == torch.float64  # every explainer's scores, batched or not
        assert torch.allclose(s, model.explain(g).double())


def test_gsat_as_pyg_explainer_algorithm():
    graphs = make_graphs()
    model = make_model("GIN", "gsat", graphs).eval()
    g = graphs[2]
    explainer = Explainer(BackboneAdapter(model), GSATAlgorithm(model), explanation_type="model",
                          model_config=dict(mode="binary_classification", task_level="graph",
                                            return_type="raw"),
                          edge_mask_type="object", node_mask_type=None)
    exp = explainer(g.x, g.edge_index, batch=torch.zeros(g.num_nodes, dtype=torch.long))
    assert torch.allclose(exp.edge_mask, model.explain(g))


def test_gsat_explainer_uses_the_model_without_the_masks_left_on_it():
    graphs = make_graphs()
    model = make_model("GIN", "gsat", graphs)
    clean = [model.explain(g).double() for g in graphs]
    # labels and ground truth are not collated; the scores are the same with them
    for g in graphs:
        g.edge_label = torch.zeros(g.edge_index.size(1), dtype=torch.long)
        g.y = torch.tensor([1.0])
    g = graphs[0]
    set_masks(model.backbone, torch.full((g.edge_index.size(1),), 0.01), g.edge_index,
              apply_sigmoid=False)
    assert not torch.allclose(model.explain(g).double(), clean[0])  # the mask does act
    scores = make_explainer("gsat", batch_size=2).explain(model, graphs, "binary")
    for s, c in zip(scores, clean):
        assert torch.allclose(s, c)
    assert make_explainer("gsat").explain(model, [], "binary") == []
