"""Fidelity without ground truth (gsat.explain.fidelity): known values on a hand-made model,
hard masks against deleted edges, the curves' end points, batching."""
import math

import pytest
import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import MessagePassing, global_add_pool

from gsat.core.config import Config
from gsat.core.model import ERM
from gsat.errors import ConfigError
from gsat.explain.fidelity import (class_probabilities, edge_ranks, graph_fidelity,
                                   top_counts)


class _Count(MessagePassing):
    def __init__(self):
        super().__init__(aggr="add")

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)

    def message(self, x_j):
        return x_j


class CountBackbone(nn.Module):
    """Logit = 4 x (edges whose source has feature 1) - 2: only those edges matter."""

    def __init__(self):
        super().__init__()
        self.conv = _Count()
        self.dummy = nn.Parameter(torch.zeros(1))  # a parameter for dtype and device

    def get_emb(self, x, edge_index, batch=None, edge_attr=None):
        return self.conv(x, edge_index)

    def get_pred_from_emb(self, emb, batch):
        return 4 * global_add_pool(emb, batch) - 2 + 0 * self.dummy

    def forward(self, x, edge_index, batch=None, edge_attr=None):
        return self.get_pred_from_emb(self.get_emb(x, edge_index), batch)


def _graph(n_edges, important):
    """A directed graph on n_edges + 1 nodes: node 0 has feature 1; edge i goes from node
    0 (the first `important` edges) or node i + 1 to node i + 1."""
    src = torch.tensor([0 if i < important else i + 1 for i in range(n_edges)])
    dst = torch.arange(1, n_edges + 1)
    x = torch.zeros(n_edges + 1, 1)
    x[0] = 1
    return Data(x=x, edge_index=torch.stack([src, dst]))


def sig(v):
    return 1 / (1 + math.exp(-v))


@pytest.fixture
def count_model():
    return ERM(CountBackbone(), task="binary").eval()


def test_known_values_of_a_faithful_and_an_unfaithful_ranking(count_model):
    graphs = [_graph(10, 2), _graph(5, 1)]
    good = [torch.tensor([2.0, 1.5] + [0.0] * 8), torch.tensor([1.0] + [0.0] * 4)]
    res = graph_fidelity(count_model, graphs, good, "binary", keep=0.2, steps=10)
    assert res.predicted.tolist() == [1, 1]
    assert res.kept.tolist() == [2, 1] and res.edges.tolist() == [10, 5]
    assert res.prob_full.tolist() == pytest.approx([sig(6), sig(2)])
    assert res.prob_explanation.tolist() == pytest.approx([sig(6), sig(2)])
    assert res.prob_complement.tolist() == pytest.approx([sig(-2), sig(-2)])
    s = res.summary()
    assert (s["fid_plus"], s["fid_minus"]) == (1.0, 0.0)
    assert s["characterization_score"] == pytest.approx(1.0)
    assert s["unfaithfulness"] == pytest.approx(0.0, abs=1e-12)
    # deletion: the first 10 % removes one important edge of graph 0 (logit 2) ...
    assert res.deletion[0].tolist() == pytest.approx([sig(6), sig(2)] + [sig(-2)] * 9)
    # ... and of graph 1 (5 edges: 10 % rounds to 1 edge from 0.5, half up)
    assert res.deletion[1].tolist() == pytest.approx([sig(2)] + [sig(-2)] * 10)
    assert res.insertion[0].tolist() == pytest.approx([sig(-2), sig(2)] + [sig(6)] * 9)
    trap0 = 0.1 * ((sig(6) + sig(2)) / 2 + (sig(2) + sig(-2)) / 2 + 8 * sig(-2))
    assert float(res.deletion_auc[0]) == pytest.approx(trap0)
    assert s["deletion_auc"] == pytest.approx(float(res.deletion_auc.mean()))
    assert s["higher_is_better"]["deletion_auc"] is False

    bad = [-g for g in good]  # the important edges last
    res = graph_fidelity(count_model, graphs, bad, "binary", keep=0.2, steps=10)
    s = res.summary()
    assert (s["fid_plus"], s["fid_minus"]) == (0.0, 1.0)
    assert s["characterization_score"] == 0.0
    full = torch.tensor([[1 - sig(6), sig(6)], [1 - sig(2), sig(2)]], dtype=torch.float64)
    expl = torch.tensor([[1 - sig(-2), sig(-2)]] * 2, dtype=torch.float64)
    kl = (expl * (expl / full).log()).sum(1).mean()  # PyG: F.kl_div(y.log(), y_hat)
    assert s["unfaithfulness"] == pytest.approx(1 - math.exp(-float(kl)))
    assert s["deletion_auc"] > 0.5 > graph_fidelity(
        count_model, graphs, good, "binary").summary()["deletion_auc"]


def test_pygs_own_metrics_agree_on_one_graph(count_model):
    """PyG's fidelity and unfaithfulness on a 0/1 edge mask give the same numbers."""
    from torch_geometric.explain import Explainer, Explanation
    from torch_geometric.explain.algorithm import DummyExplainer
    from torch_geometric.explain.metric import fidelity

    from gsat.explain.base import BackboneAdapter

    g = _graph(10, 2)
    scores = torch.tensor([0.0, 2.0, 1.5] + [0.1] * 7)  # the top 2: edges 1 and 2
    res = graph_fidelity(count_model, [g], [scores], "binary", keep=0.2)
    adapter = BackboneAdapter(count_model, "probs")
    explainer = Explainer(adapter, DummyExplainer(), explanation_type="model",
                          edge_mask_type="object",
                          model_config=dict(mode="binary_classification", task_level="graph",
                                            return_type="probs"))
    mask = torch.zeros(10)
    mask[[1, 2]] = 1
    batch = torch.zeros(11, dtype=torch.long)
    pred = (adapter(g.x, g.edge_index, batch=batch) > 0.5).long()
    exp = Explanation(x=g.x, edge_index=g.edge_index, edge_mask=mask, batch=batch,
                      target=pred.view(-1), prediction=adapter(g.x, g.edge_index, batch=batch))
    exp._model_args = ["batch"]
    plus, minus = fidelity(explainer, exp)
    s = res.summary()
    assert (s["fid_plus"], s["fid_minus"]) == (plus, minus)
    two = class_probabilities(count_model(g).logits.double(), "binary")
    assert two.shape == (1, 2)


def test_ranks_per_graph_keep_both_directions_together():
    ei = torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])
    graph = torch.tensor([0, 0, 0, 0, 1, 1])
    scores = torch.tensor([0.5, 0.5, 0.9, 0.9, 0.1, 0.1])
    assert edge_ranks(scores, ei, graph, 2).tolist() == [2, 3, 0, 1, 0, 1]
    nan = torch.tensor([float("nan"), 0.5, 0.9, 0.9, 0.1, 0.1])
    assert edge_ranks(nan, ei, graph, 2)[0] == 3
    edges = torch.tensor([4, 10, 0])
    assert top_counts(edges, 0.2, undirected=True, at_least_one=True).tolist() == [2, 2, 0]
    assert top_counts(edges, 0.3, undirected=True).tolist() == [2, 4, 0]
    assert top_counts(edges, 0.25, undirected=False).tolist() == [1, 3, 0]
    assert top_counts(edges, 1.0, undirected=False).tolist() == [4, 10, 0]


@pytest.fixture(scope="module")
def gin(tmp_path_factory):
    from gsat.data import load_dataset
    from gsat.training.build import build_model

    ds = load_dataset("ba_2motifs", str(tmp_path_factory.mktemp("data")), num_graphs=40)
    cfg = Config()
    cfg.model.hidden_size = 16
    torch.manual_seed(0)
    gsat_model = build_model(cfg, ds, "gsat").eval()
    erm_model = build_model(cfg, ds, "erm").eval()
    return list(ds.test)[:6], gsat_model, erm_model


@pytest.mark.parametrize("kind", ["gsat", "erm"])
def test_a_hard_mask_is_deleting_the_edges(gin, kind):
    graphs, gsat_model, erm_model = gin
    model = gsat_model if kind == "gsat" else erm_model
    scores = [torch.rand(g.edge_index.size(1)) for g in graphs]
    deleted = graph_fidelity(model, graphs, scores, "binary", steps=5, batch_size=4)
    masked = graph_fidelity(model, graphs, scores, "binary", steps=5, batch_size=4,
                            removal="mask")
    for key in ("prob_explanation", "prob_complement", "deletion", "insertion", "kl"):
        assert torch.allclose(getattr(deleted, key), getattr(masked, key), atol=1e-6), key
    # one graph by hand: the top 40 % of its edges deleted from the graph
    g, s = graphs[0], scores[0]
    rank = edge_ranks(s.double(), g.edge_index, torch.zeros_like(s, dtype=torch.long), 1)
    k = int(top_counts(torch.tensor([g.edge_index.size(1)]), 0.4, True)[0])
    kept = rank >= k
    x = g.x.float()
    with torch.no_grad():
        if kind == "gsat":
            logits = model.gated_forward(x, g.edge_index[:, kept])
        else:
            logits = model(Data(x=x, edge_index=g.edge_index[:, kept])).logits
    c = int(deleted.predicted[0])
    p = class_probabilities(logits.double(), "binary")[0, c]
    assert float(deleted.deletion[0, 2]) == pytest.approx(float(p), abs=1e-6)


@pytest.mark.parametrize("kind", ["gsat", "erm"])
def test_curve_end_points(gin, kind):
    graphs, gsat_model, erm_model = gin
    model = gsat_model if kind == "gsat" else erm_model
    scores = [torch.rand(g.edge_index.size(1)) for g in graphs]
    res = graph_fidelity(model, graphs, scores, "binary", steps=4)
    assert res.shares.tolist() == [0, 0.25, 0.5, 0.75, 1]
    for i, g in enumerate(graphs):
        c = int(res.predicted[i])
        x = g.x.float()
        empty = torch.zeros(2, 0, dtype=torch.long)
        with torch.no_grad():
            if kind == "gsat":
                whole = model.gated_forward(x, g.edge_index)
                none = model.gated_forward(x, empty)
                own = model(g).logits
            else:
                whole = own = model(g).logits
                none = model(Data(x=x, edge_index=empty)).logits
        p_whole, p_none, p_own = (float(class_probabilities(v.double(), "binary")[0, c])
                                  for v in (whole, none, own))
        assert float(res.deletion[i, 0]) == pytest.approx(p_whole, abs=1e-6)
        assert float(res.insertion[i, -1]) == pytest.approx(p_whole, abs=1e-6)
        assert float(res.deletion[i, -1]) == pytest.approx(p_none, abs=1e-6)
        assert float(res.insertion[i, 0]) == pytest.approx(p_none, abs=1e-6)
        assert float(res.prob_full[i]) == pytest.approx(p_own, abs=1e-6)
        assert p_own >= 0.5  # the predicted class is the model's own


def test_batches_do_not_change_the_result_and_bad_input_is_refused(gin, count_model):
    graphs, gsat_model, _ = gin
    scores = [torch.rand(g.edge_index.size(1)) for g in graphs]
    one = graph_fidelity(gsat_model, graphs, scores, "binary", batch_size=1)
    many = graph_fidelity(gsat_model, graphs, scores, "binary", batch_size=128)
    assert torch.allclose(one.deletion, many.deletion, atol=1e-6)
    assert torch.equal(one.predicted, many.predicted)
    assert gsat_model.training is False
    with pytest.raises(ConfigError, match="not for a regression task"):
        graph_fidelity(gsat_model, graphs, scores, "regression")
    with pytest.raises(ConfigError, match="must lie in"):
        graph_fidelity(gsat_model, graphs, scores, "binary", keep=1.0)
    with pytest.raises(ValueError, match="graph 0: 3 scores"):
        graph_fidelity(gsat_model, graphs[:1], [torch.zeros(3)], "binary")
    empty = graph_fidelity(gsat_model, [], [], "binary").summary()
    assert empty["graphs"] == 0 and empty["fid_plus"] is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_the_numbers_are_the_cpus(gin):
    import copy

    graphs, gsat_model, _ = gin
    scores = [torch.rand(g.edge_index.size(1)) for g in graphs]
    cpu = graph_fidelity(gsat_model, graphs, scores, "binary")
    gpu_model = copy.deepcopy(gsat_model).to("cuda")
    gpu = graph_fidelity(gpu_model, graphs, scores, "binary", device="cuda")
    assert torch.allclose(cpu.deletion, gpu.deletion, atol=1e-4)
    assert torch.equal(cpu.kept, gpu.kept)


def test_a_graph_without_edges_has_flat_curves(count_model):
    empty = Data(x=torch.ones(3, 1), edge_index=torch.zeros(2, 0, dtype=torch.long))
    res = graph_fidelity(count_model, [empty, _graph(4, 1)], [torch.zeros(0), torch.arange(4.)],
                         "binary", steps=4)
    assert res.kept.tolist() == [0, 1]
    assert res.deletion[0].tolist() == pytest.approx([1 - sig(-2)] * 5)
    assert res.fid_plus_per_graph[0] == 0 and res.fid_minus_per_graph[0] == 0
    # the important edge ranked last: only removing every edge changes the prediction
    assert res.deletion[1].tolist() == pytest.approx([sig(2)] * 4 + [sig(-2)])
