"""What the explainers share: the PyG adapter, symmetric scores, float64 scores."""
import torch
from torch_geometric.data import Batch

from explainer_cases import make_graphs, make_model
from gsat.explain.base import BackboneAdapter, graphs_one_by_one, symmetric_scores


def test_adapter_returns_the_erm_logits():
    graphs = make_graphs()
    model = make_model("GIN", "erm", graphs).eval()
    b = Batch.from_data_list(graphs)
    logits = model(b).logits
    assert torch.allclose(BackboneAdapter(model)(b.x, b.edge_index, batch=b.batch), logits)
    assert torch.allclose(BackboneAdapter(model, "probs")(b.x, b.edge_index, b.batch),
                          logits.sigmoid())


def test_directed_graph_scores_are_left_as_they_are():
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])  # a directed triangle: no edge has its reverse
    s = torch.tensor([0.1, 0.5, 0.9])
    assert torch.equal(symmetric_scores(s, ei), s)
    und = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    assert torch.allclose(symmetric_scores(torch.tensor([0.0, 1.0, 0.2, 0.6]), und),
                          torch.tensor([0.5, 0.5, 0.4, 0.4]))


def test_scores_closer_than_float32_resolution_keep_their_order_up_to_the_auc():
    # GraphMask's scores on saturated gates differ by about 1e-12 around 0.5: the way from
    # an explainer's scores to the interp AUC must not round them to float32
    from gsat.metrics.interpretation import score_explanations

    graphs = make_graphs()
    for g in graphs:
        g.edge_label = (torch.arange(g.edge_index.size(1)) % 2).float()

    def near_half(g):  # ground-truth edges score 1e-12 higher
        return 0.5 + 1e-12 * g.edge_label.double()

    scores = graphs_one_by_one(graphs, near_half, "t", "cpu", False, symmetrize=False)
    assert score_explanations(scores, graphs).interp_auc == 1.0



def test_every_explainer_checks_each_graph_first():
    import pytest
    from torch_geometric.data import Data

    from gsat.errors import GraphInputError
    from gsat.explain.registry import make_explainer

    graphs = make_graphs()
    model = make_model("GIN", "erm", graphs).eval()
    good = graphs[0]
    bad = Data(x=good.x, edge_index=good.edge_index.unsqueeze(-1), y=good.y)
    for name in ("saliency", "ig", "gnnexplainer"):
        explainer = make_explainer(name, **({"epochs": 1} if name == "gnnexplainer" else {}))
        with pytest.raises(GraphInputError, match=r"graph 1: edge_index must have shape "
                                                  r"\[2, num_edges\], got \[2, \d+, 1\]"):
            explainer.explain(model, [good, bad], "binary")
