"""Small graphs, models and fast settings shared by the explainer tests."""
import torch

from conftest import ring
from gsat.core.model import ERM, GSAT
from gsat.explain.registry import make_explainer
from gsat.nn import GIN, PNA, degree_histogram


def make_graphs():
    chord = ring(6, seed=3)
    chord.edge_index = torch.cat([chord.edge_index, torch.tensor([[0, 3], [3, 0]])], 1)
    return [ring(5, seed=0), ring(7, seed=1), chord]


def make_model(backbone, name, graphs):
    if backbone == "GIN":
        bb = GIN(3, 1, hidden_channels=16)
    else:
        bb = PNA(3, 1, deg=degree_histogram(graphs), hidden_channels=10, num_layers=2)
    return GSAT(bb) if name == "gsat" else ERM(bb)


def fast_explainer(name):
    fast = {"ig": {"n_steps": 4}, "gsat": {}, "saliency": {}}  # few steps keep tests fast
    return make_explainer(name, **fast.get(name, {"epochs": 2}))


def fit_and_explain(explainer, model, graphs):
    if explainer.needs_fit:
        explainer.fit(model, graphs, "binary")
    return explainer.explain(model, graphs, "binary")
