import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.explain import Explainer
from torch_geometric.explain.algorithm.utils import set_masks
from torch_geometric.nn import MessagePassing, global_add_pool

from conftest import ring
from gsat.errors import ConfigError, UnknownNameError
from gsat.explain.baselines import (BackboneAdapter, GSATAlgorithm, explainer_names,
                                    make_explainer)
from gsat.core.model import ERM, GSAT
from gsat.nn import GIN, PNA, degree_histogram

NAMES = explainer_names()


def _graphs():
    chord = ring(6, seed=3)
    chord.edge_index = torch.cat([chord.edge_index, torch.tensor([[0, 3], [3, 0]])], 1)
    return [ring(5, seed=0), ring(7, seed=1), chord]


def _model(backbone, name, graphs):
    if backbone == "GIN":
        bb = GIN(3, 1, hidden_channels=16)
    else:
        bb = PNA(3, 1, deg=degree_histogram(graphs), hidden_channels=10, num_layers=2)
    return GSAT(bb) if name == "gsat" else ERM(bb)


def _explainer(name):
    fast = {"ig": {"n_steps": 4}, "gsat": {}, "saliency": {}}  # few steps keep tests fast
    return make_explainer(name, **fast.get(name, {"epochs": 2}))


def _run(explainer, model, graphs):
    if explainer.needs_fit:
        explainer.fit(model, graphs, "binary")
    return explainer.explain(model, graphs, "binary")


@pytest.mark.parametrize("backbone", ["GIN", "PNA"])
@pytest.mark.parametrize("name", NAMES)
def test_one_finite_score_per_edge(backbone, name):
    graphs = _graphs()
    model = _model(backbone, name, graphs)
    scores = _run(_explainer(name), model, graphs)
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
    graphs = _graphs()
    model = _model("GIN", name, graphs)
    model.train(training)
    model.backbone.convs[0].train(not training)  # a mixed state must come back as well
    modes = [m.training for m in model.modules()]
    g = graphs[0]
    if premasked:
        set_masks(model.backbone, torch.full((g.edge_index.size(1),), 0.5), g.edge_index,
                  apply_sigmoid=False)
    state = _mp_state(model)
    weights = {k: v.clone() for k, v in model.state_dict().items()}

    _run(_explainer(name), model, graphs)

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
        fresh = _model("GIN", name, graphs)
        fresh.load_state_dict(weights)
        fresh.eval()
        set_masks(fresh.backbone, torch.full((g.edge_index.size(1),), 0.5), g.edge_index,
                  apply_sigmoid=False)
        assert torch.allclose(out, fresh.backbone(g.x, g.edge_index))


@pytest.mark.parametrize("batch_size", [1, 2])
def test_gsat_explainer_matches_per_graph_attention(batch_size):
    graphs = _graphs()
    model = _model("GIN", "gsat", graphs)
    scores = make_explainer("gsat", batch_size=batch_size).explain(model, graphs, "binary")
    for s, g in zip(scores, graphs):
        assert s.dtype == torch.float64  # every explainer's scores, batched or not
        assert torch.allclose(s, model.explain(g).double())


def test_gsat_as_pyg_explainer_algorithm():
    graphs = _graphs()
    model = _model("GIN", "gsat", graphs).eval()
    g = graphs[2]
    explainer = Explainer(BackboneAdapter(model), GSATAlgorithm(model), explanation_type="model",
                          model_config=dict(mode="binary_classification", task_level="graph",
                                            return_type="raw"),
                          edge_mask_type="object", node_mask_type=None)
    exp = explainer(g.x, g.edge_index, batch=torch.zeros(g.num_nodes, dtype=torch.long))
    assert torch.allclose(exp.edge_mask, model.explain(g))


def test_adapter_returns_the_erm_logits():
    graphs = _graphs()
    model = _model("GIN", "erm", graphs).eval()
    b = Batch.from_data_list(graphs)
    logits = model(b).logits
    assert torch.allclose(BackboneAdapter(model)(b.x, b.edge_index, batch=b.batch), logits)
    assert torch.allclose(BackboneAdapter(model, "probs")(b.x, b.edge_index, b.batch),
                          logits.sigmoid())


def test_registry_errors_and_pgexplainer_needs_fit():
    with pytest.raises(UnknownNameError, match="gnnexplainer"):
        make_explainer("gnnexplaner")
    with pytest.raises(ConfigError, match="ig"):
        make_explainer("ig", epochs=3)
    graphs = _graphs()
    with pytest.raises(RuntimeError, match="fit"):
        make_explainer("pgexplainer").explain(_model("GIN", "erm", graphs), graphs, "binary")
    with pytest.raises(ConfigError, match="multilabel"):
        make_explainer("gnnexplainer", epochs=1).explain(_model("GIN", "erm", graphs), graphs,
                                                         "multilabel")


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


def test_directed_graph_scores_are_left_as_they_are():
    from gsat.explain.baselines import symmetric_scores
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])  # a directed triangle: no edge has its reverse
    s = torch.tensor([0.1, 0.5, 0.9])
    assert torch.equal(symmetric_scores(s, ei), s)
    und = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    assert torch.allclose(symmetric_scores(torch.tensor([0.0, 1.0, 0.2, 0.6]), und),
                          torch.tensor([0.5, 0.5, 0.4, 0.4]))


def test_every_tuning_setting_runs_and_pgexplainer_defaults_stay_put():
    from torch_geometric.explain.algorithm import PGExplainer
    from gsat.explain.baselines import TUNING_BUDGET, tuning_grid
    before = dict(PGExplainer.coeffs)
    graphs = _graphs()
    model = _model("GIN", "erm", graphs)
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
            scores = _run(exp, model, graphs)
            assert all(torch.isfinite(s).all() for s in scores)
    assert PGExplainer.coeffs == before  # PyG's constructor edits its class-level dict
    exp = make_explainer("pgexplainer", epochs=1, temp0=1.0, temp1=1.0, edge_size=0.5)
    algo = exp._explainer(model, "binary", "phenomenon").algorithm
    assert algo.coeffs["temp"] == [1.0, 1.0] and algo.coeffs["edge_size"] == 0.5
    assert PGExplainer.coeffs == before


def test_graphmask_scores_order_edges_whose_gates_clip_alike():
    # Gates of trained GraphMask models clip to exactly 0 for most edges; the score is
    # the open probability, which keeps the order of the logits instead of tying them.
    from gsat.explain.graphmask import expected_open, hard_concrete

    logits = torch.tensor([-9.0, -6.0, -3.0, 0.0, 3.0, 6.0])
    gates = hard_concrete(logits, training=False)
    assert gates[0] == gates[1] == gates[2] == 0.0
    scores = expected_open(logits)
    assert bool((scores[1:] > scores[:-1]).all())
    assert bool(((scores > 0) & (scores < 1)).all())


def test_pgexplainer_explains_with_logits_that_sigmoid_would_round_to_ties():
    from gsat.explain.baselines import LogitPGExplainer, _pg_algorithm

    logits = torch.tensor([-300.0, -200.0, -120.0, 0.0, 40.0, 80.0])
    assert torch.sigmoid(logits)[:3].eq(0).all() and torch.sigmoid(logits)[-2:].eq(1).all()
    out = LogitPGExplainer._post_process_mask(logits.clone(), None, apply_sigmoid=True)
    assert torch.equal(out, logits)
    hard = torch.tensor([True, True, True, True, True, False])
    assert LogitPGExplainer._post_process_mask(logits.clone(), hard)[-1] == 0.0
    algo = _pg_algorithm(epochs=1, lr=0.01, edge_size=0.05, edge_ent=1.0, temp0=5.0, temp1=2.0)
    assert isinstance(algo, LogitPGExplainer)


def test_every_tuning_grid_holds_the_default_setting():
    # tuning must be able to keep the default: a tuned row can then only fall below the
    # default row through the gap between validation and test graphs
    from gsat.explain.baselines import TUNING_GRIDS
    for name, grid in TUNING_GRIDS.items():
        default = make_explainer(name).settings
        tried = [make_explainer(name, **g).settings for g in grid]
        assert default in tried, name


@pytest.mark.parametrize("name", ["graphmask", "pgexplainer"])
def test_fitting_again_with_the_same_seed_gives_the_same_explainer(name):
    # the benchmark's tuning reuses the default row's fitted explainer for the grid's default
    # setting instead of fitting it again: that is only the same if fitting is repeatable
    graphs = _graphs()
    model = _model("GIN", "erm", graphs)
    runs = []
    for _ in range(2):
        exp = make_explainer(name, epochs=2)
        torch.manual_seed(5)
        runs.append(_run(exp, model, graphs))
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_a_saved_pgexplainer_fit_explains_as_the_fitted_one(tmp_path):
    # the benchmark saves the default row's fit for a tuning that runs after an interruption
    graphs = _graphs()
    model = _model("GIN", "erm", graphs)
    exp = make_explainer("pgexplainer", epochs=3)
    assert exp.fitted_state() is None  # nothing learned yet
    torch.manual_seed(0)
    want = _run(exp, model, graphs)
    torch.save(exp.fitted_state(), tmp_path / "fit.pt")
    again = make_explainer("pgexplainer", epochs=3)
    again.load_fitted(model, "binary", torch.load(tmp_path / "fit.pt", weights_only=True))
    for a, b in zip(want, again.explain(model, graphs, "binary")):
        assert torch.equal(a, b)
    with pytest.raises(NotImplementedError, match="no fitted state"):
        make_explainer("gnnexplainer").load_fitted(model, "binary", {})


def test_graphmask_scores_keep_the_order_of_saturated_gates():
    # trained gates saturate: all open in one layer, all but closed in the other. The mean
    # of 1.0 and ~1e-11 is exactly 0.5 in float32 for every edge; the scores must still
    # order the edges as the closed layer's logits do.
    from gsat.explain import graphmask

    class Fixed:
        def logits(self, rec):
            return [torch.full((4,), 30.0), torch.tensor([-40.0, -30.0, -26.0, -35.0])]

    graphs = _graphs()
    adapter = lambda *a, **k: None  # noqa: E731 (the recorder is not used by Fixed)
    rec = type("Rec", (), {"mode": None})()
    scores = graphmask.graphmask_scores(adapter, rec, Fixed(), graphs[0])
    assert scores.argsort().tolist() == [0, 3, 1, 2]
    assert scores.unique().numel() == 4


def test_scores_closer_than_float32_resolution_keep_their_order_up_to_the_auc():
    # GraphMask's scores on saturated gates differ by about 1e-12 around 0.5: the way from
    # an explainer's scores to the interp AUC must not round them to float32
    from gsat.explain.baselines import _graphs_one_by_one
    from gsat.metrics.interpretation import score_explanations

    graphs = _graphs()
    for g in graphs:
        g.edge_label = (torch.arange(g.edge_index.size(1)) % 2).float()

    def near_half(g):  # ground-truth edges score 1e-12 higher
        return 0.5 + 1e-12 * g.edge_label.double()

    scores = _graphs_one_by_one(graphs, near_half, "t", "cpu", False, symmetrize=False)
    assert score_explanations(scores, graphs).interp_auc == 1.0


def test_gsat_explainer_uses_the_model_without_the_masks_left_on_it():
    graphs = _graphs()
    model = _model("GIN", "gsat", graphs)
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
