"""Every registered explainer: one finite score per edge, the model left as it was found,
the edges that matter ranked first, every tuning setting runs, fitting is repeatable."""
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.explain.algorithm.utils import set_masks
from torch_geometric.nn import MessagePassing, global_add_pool

from explainer_cases import fast_explainer, fit_and_explain, make_graphs, make_model
from gsat.core.model import ERM
from gsat.explain.registry import explainer_names, make_explainer

NAMES = explainer_names()


@pytest.mark.parametrize("backbone", ["GIN", "PNA"])
@pytest.mark.parametrize("name", NAMES)
def test_one_finite_score_per_edge(backbone, name):
    graphs = make_graphs()
    model = make_model(backbone, name, graphs)
    scores = fit_and_explain(fast_explainer(name), model, graphs)
    assert len(scores) == len(graphs)
    for s, g in zip(scores, graphs):
        assert s.shape == (g.edge_index.size(1),)
        assert torch.isfinite(s).all()


def _mp_state(model):
    return [(m.explain, m._edge_mask, set(m.__dict__), set(m._parameters))
            for m in model.modules() if isinstance(m, MessagePassing)]


@pytest.mark.parametrize("training,premasked", [(True, False), (False, True)])
@pytest.mark.parametrize("name", NAMES)
def test_model_mode_masks_and_weights_left_as_found(name, training, premasked):
    graphs = make_graphs()
    model = make_model("GIN", name, graphs)
    model.train(training)
    model.backbone.convs[0].train(not training)  # a mixed state must come back as well
    modes = [m.training for m in model.modules()]
    g = graphs[0]
    if premasked:
        set_masks(model.backbone, torch.full((g.edge_index.size(1),), 0.5), g.edge_index,
                  apply_sigmoid=False)
    state = _mp_state(model)
    weights = {k: v.clone() for k, v in model.state_dict().items()}

    fit_and_explain(fast_explainer(name), model, graphs)

    assert [m.training for m in model.modules()] == modes
    after = _mp_state(model)
    assert len(after) == len(state) > 0
    for (e0, m0, d0, p0), (e1, m1, d1, p1) in zip(state, after):
        assert e1 == e0 and m1 is m0 and d1 == d0 and p1 == p0
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[k]), k  # parameters and BatchNorm statistics
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    # the (masked) model still runs and matches a fresh copy with the same weights
    if premasked:
        model.eval()
        out = model.backbone(g.x, g.edge_index)
        fresh = make_model("GIN", name, graphs)
        fresh.load_state_dict(weights)
        fresh.eval()
        set_masks(fresh.backbone, torch.full((g.edge_index.size(1),), 0.5), g.edge_index,
                  apply_sigmoid=False)
        assert torch.allclose(out, fresh.backbone(g.x, g.edge_index))


# ------------------------------------------------------------- a graph with an obvious answer


class _HotMessages(MessagePassing):
    """Fixed weights: node i receives sum_j x_j * [1, 2, 3, 4] over its in-edges and keeps
    its own x_i * [1, 2, 3, 4]. Only edges leaving a "hot" node (x = 1) carry a message."""

    def __init__(self):
        super().__init__(aggr="add")
        self.register_buffer("w", torch.tensor([[1.0, 2.0, 3.0, 4.0]]))

    def forward(self, x, edge_index):
        return torch.cat([self.propagate(edge_index, x=x[:, :1]), x[:, :1] * self.w], 1)

    def message(self, x_j):
        return x_j * self.w


class _HotCount(torch.nn.Module):
    """Graph logit = 2 * (edges leaving a hot node) - 7: the prediction depends on exactly
    those edges, and on no other."""

    def __init__(self):
        super().__init__()
        self.conv = _HotMessages()

    def forward(self, x, edge_index, batch, edge_attr=None):
        h = self.conv(x, edge_index)
        return global_add_pool(h[:, :4].sum(1, keepdim=True), batch) / 5 - 7.0


def _hot_graph(seed):
    """A random tree plus up to 3 chords, undirected, with 1-4 hot nodes."""
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(8, 13, (1,), generator=g))
    parent = torch.tensor([int(torch.randint(0, i, (1,), generator=g)) for i in range(1, n)])
    chords = torch.randint(0, n, (2, 3), generator=g)
    ei = torch.cat([torch.stack([torch.arange(1, n), parent]), chords[:, chords[0] != chords[1]]], 1)
    ei = torch.unique(torch.cat([ei, ei.flip(0)], 1), dim=1)
    x = torch.zeros(n, 1)
    x[torch.randperm(n, generator=g)[:int(torch.randint(1, 5, (1,), generator=g))]] = 1.0
    return Data(x=x, edge_index=ei, y=torch.tensor([[1.0]]))


# PGExplainer at its default 30 epochs does not reliably solve this: with 100 training graphs
# it ranked 4 edges without a message level with the hot ones in every test graph. Its
# training is the least stable of the baselines; 100 epochs on 40 graphs solved it for every
# seed tried (0-3). The others are tested at the registry's defaults.
_SETTINGS = {"pgexplainer": {"epochs": 100}}
#: attributions of the predicted class that keep their sign
_SIGNED = {"ig", "saliency-signed"}
_CASES = [n for n in NAMES if n != "gsat"] + ["saliency-signed"]


def _ranks_hot_edges(name, scores, hot, predicted_positive):
    """Every hot edge outranks every other edge (AUC = 1); for a signed attribution of a
    graph predicted negative the hot edges, which push toward the positive class, score
    below zero and below every other edge instead."""
    if name in _SIGNED and not predicted_positive:
        return bool(scores[hot].max() < 0 and scores[hot].max() < scores[~hot].min())
    return bool(scores[hot].min() > scores[~hot].max())


@pytest.mark.parametrize("name", _CASES)
def test_baseline_ranks_the_only_edges_that_matter_first(name):
    torch.manual_seed(0)
    model = ERM(_HotCount())
    test = [_hot_graph(s) for s in range(4)]
    preds = [bool(model(g).logits.item() > 0) for g in test]
    assert True in preds and False in preds  # both predicted classes are explained
    settings = {"abs": False} if name == "saliency-signed" else _SETTINGS.get(name, {})
    # the messages are directed (only u -> v with u hot carries one): raw per-direction scores
    explainer = make_explainer(name.split("-")[0], symmetrize=False, **settings)
    if explainer.needs_fit:
        explainer.fit(model, [_hot_graph(s) for s in range(10, 50)], "binary")
    torch.manual_seed(1)
    raw = explainer.explain(model, test, "binary")
    for g, pred, scores in zip(test, preds, raw):
        hot = g.x[g.edge_index[0], 0] > 0
        assert 0 < hot.sum() < hot.numel()
        # every edge that carries a message outranks every edge that does not (AUC = 1)
        assert _ranks_hot_edges(name, scores, hot, pred), (name, scores, hot)

    # the default: on an undirected graph both directions of an edge get their mean score
    explainer.symmetrize = True
    torch.manual_seed(1)  # GNNExplainer starts from a random mask: the same one again
    sym = explainer.explain(model, test, "binary")
    for g, pred, r, s in zip(test, preds, raw, sym):
        ei = g.edge_index
        rev = _reverse(ei)
        assert torch.equal(s, s[rev])  # (u, v) and (v, u) score the same ...
        assert torch.allclose(s, (r + r[rev]) / 2, atol=1e-6)  # ... their mean
        assert not torch.equal(r, r[rev])  # where the raw masks differed
        # an undirected edge matters when one of its ends is hot; those still rank first
        hot = (g.x[ei[0], 0] > 0) | (g.x[ei[1], 0] > 0)
        assert _ranks_hot_edges(name, s, hot, pred), (name, s, hot)
    one = explainer.explain_graph(model, test[0], "binary")  # one graph: the same treatment
    assert torch.equal(one, one[_reverse(test[0].edge_index)])


def _reverse(ei):
    """Index of the reverse of every edge of an undirected edge_index."""
    return torch.tensor([int(((ei[0] == v) & (ei[1] == u)).nonzero()) for u, v in ei.t()])


def test_every_tuning_setting_runs_and_pgexplainer_defaults_stay_put():
    from torch_geometric.explain.algorithm import PGExplainer
    from gsat.explain.registry import TUNING_BUDGET, tuning_grid
    before = dict(PGExplainer.coeffs)
    graphs = make_graphs()
    model = make_model("GIN", "erm", graphs)
    for name in [n for n in NAMES if n != "gsat"]:
        grid = tuning_grid(name)
        assert 1 <= len(grid) <= TUNING_BUDGET
        assert len({tuple(sorted(g.items())) for g in grid}) == len(grid)  # no repeats
        for setting in grid:
            fast = {k: (2 if k == "epochs" else 4 if k == "n_steps" else v)
                    for k, v in setting.items()}
            exp = make_explainer(name, **fast)
            for k, v in fast.items():
                assert exp.settings[k] == v
            scores = fit_and_explain(exp, model, graphs)
            assert all(torch.isfinite(s).all() for s in scores)
    assert PGExplainer.coeffs == before  # PyG's constructor edits its class-level dict
    exp = make_explainer("pgexplainer", epochs=1, temp0=1.0, temp1=1.0, edge_size=0.5)
    algo = exp._explainer(model, "binary", "phenomenon").algorithm
    assert algo.coeffs["temp"] == [1.0, 1.0] and algo.coeffs["edge_size"] == 0.5
    assert PGExplainer.coeffs == before


@pytest.mark.parametrize("name", ["graphmask", "pgexplainer"])
def test_fitting_again_with_the_same_seed_gives_the_same_explainer(name):
    # the benchmark's tuning reuses the default row's fitted explainer for the grid's default
    # setting instead of fitting it again: that is only the same if fitting is repeatable
    graphs = make_graphs()
    model = make_model("GIN", "erm", graphs)
    runs = []
    for _ in range(2):
        exp = make_explainer(name, epochs=2)
        torch.manual_seed(5)
        runs.append(fit_and_explain(exp, model, graphs))
    for a, b in zip(*runs):
        assert torch.equal(a, b)

