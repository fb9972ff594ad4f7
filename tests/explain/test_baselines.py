import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.explain import Explainer
from torch_geometric.explain.algorithm.utils import set_masks
from torch_geometric.nn import MessagePassing

from conftest import ring
from gsat.errors import ConfigError, UnknownNameError
from gsat.explain.baselines import (BackboneAdapter, GSATAlgorithm, explainer_names,
                                    make_explainer)
from gsat.model import ERM, GSAT
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
    fast = {"ig": {"n_steps": 4}, "gsat": {}}  # few steps keep the tests fast
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


def test_gsat_explainer_matches_per_graph_attention():
    graphs = _graphs()
    model = _model("GIN", "gsat", graphs)
    scores = make_explainer("gsat", batch_size=2).explain(model, graphs, "binary")
    for s, g in zip(scores, graphs):
        assert torch.allclose(s, model.explain(g))


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
