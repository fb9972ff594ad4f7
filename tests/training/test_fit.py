import math

import pytest
import torch
from torch_geometric.loader import DataLoader

import gsat
from gsat.data.ba_2motifs import generate_ba_2motifs
from gsat.errors import ConfigError


@pytest.fixture(scope="module")
def loaders():
    graphs = generate_ba_2motifs(num_graphs=40)
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(0)).tolist()
    train = [graphs[i] for i in perm[:30]]
    valid = [graphs[i] for i in perm[30:]]
    return (DataLoader(train, batch_size=16, shuffle=True,
                       generator=torch.Generator().manual_seed(0)),
            DataLoader(valid, batch_size=16))


def test_fit_history_follows_the_r_schedule(loaders):
    train, valid = loaders
    model = gsat.GSAT(gsat.GIN(10, 1, hidden_channels=16))
    hist = gsat.fit(model, train, valid, epochs=4, progress=False,
                    r_schedule=dict(init_r=0.9, final_r=0.7, decay_r=0.1, decay_interval=1))
    assert [h["epoch"] for h in hist] == [0, 1, 2, 3]
    assert [h["r"] for h in hist] == pytest.approx([0.9, 0.8, 0.7, 0.7])
    assert model.get_r(10) == pytest.approx(0.7)  # the schedule is stored on the model
    for h in hist:
        for key in ("train_loss", "train_pred", "train_info", "train_metric", "valid_loss",
                    "valid_metric", "valid_interp_auc", "valid_precision_at_k", "seconds"):
            assert math.isfinite(h[key]), (key, h)
        # the loss is the sum of its parts (both coefficients are 1)
        assert h["train_loss"] == pytest.approx(h["train_pred"] + h["train_info"], rel=1e-5)
    assert not model.training  # returned in eval mode, with the selected epoch's weights
    assert sum(bool(h.get("selected")) for h in hist) == 1


@pytest.mark.parametrize("split", ["train", "valid"])
def test_fit_checks_the_graphs_of_its_loaders(split):
    graphs = generate_ba_2motifs(num_graphs=8)
    bad = graphs[5].clone()
    bad.edge_index = bad.edge_index.clone()
    bad.edge_index[0, 0] = 10_000
    graphs[5] = bad
    model = gsat.GSAT(gsat.GIN(graphs[0].x.size(1), 1, hidden_channels=8))
    good = DataLoader(graphs[:4], batch_size=4)
    with_bad = DataLoader(graphs, batch_size=4)
    train, valid = (with_bad, good) if split == "train" else (good, with_bad)
    match = "training batch 1: edge_index refers to node" if split == "train" else \
        "^edge_index refers to node"
    with pytest.raises(gsat.GraphInputError, match=match):
        gsat.fit(model, train, valid, epochs=1, progress=False)


def test_fit_trains_and_fixed_r(loaders):
    train, _ = loaders
    torch.manual_seed(0)
    model = gsat.GSAT(gsat.GIN(10, 1, hidden_channels=16))
    before = [p.detach().clone() for p in model.parameters()]
    hist = gsat.fit(model, train, epochs=2, r_schedule=0.6, lr=1e-2, progress=False)
    assert all(h["r"] == 0.6 for h in hist) and "valid_loss" not in hist[0]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_fit_uses_the_given_optimizer_and_erm(loaders):
    train, valid = loaders
    model = gsat.ERM(gsat.GIN(10, 1, hidden_channels=16))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: nothing may change
    before = [p.detach().clone() for p in model.parameters()]
    hist = gsat.fit(model, train, valid, epochs=1, optimizer=opt, progress=False)
    assert "r" not in hist[0] and math.isnan(hist[0]["valid_interp_auc"])
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=0), "epochs must be >= 1"),
    (dict(r_schedule=dict(init=0.9)), "unknown r_schedule key"),
    (dict(r_schedule=dict(final_r=1.5)), r"must lie in \(0, 1\)"),
    (dict(r_schedule="fast"), "r_schedule must be None"),
])
def test_fit_rejects_bad_arguments(loaders, kwargs, match):
    model = gsat.GSAT(gsat.GIN(10, 1, hidden_channels=16))
    with pytest.raises(ConfigError, match=match):
        gsat.fit(model, loaders[0], progress=False, **kwargs)


def test_fit_keeps_the_selected_epoch_and_evaluate_reproduces_it(loaders):
    train, valid = loaders
    torch.manual_seed(0)
    model = gsat.GSAT(gsat.GIN(10, 1, hidden_channels=16))
    hist = gsat.fit(model, train, valid, epochs=6, lr=1e-2, progress=False,
                    min_select_epoch=0, r_schedule=dict(init_r=0.9, final_r=0.7,
                                                        decay_interval=1))
    (chosen,) = [h for h in hist if h.get("selected")]
    qualifying = [h for h in hist if h["epoch"] > 0 and h["r"] == pytest.approx(0.7)]
    best = max(h["valid_metric"] for h in qualifying)
    assert chosen in qualifying and chosen["valid_metric"] == best
    assert not model.training
    scores = gsat.evaluate(model, valid)  # the kept weights score exactly as that epoch did
    assert scores["metric"] == pytest.approx(chosen["valid_metric"])
    assert scores["loss"] == pytest.approx(chosen["valid_loss"], rel=1e-5)
    assert scores["interp_auc"] == pytest.approx(chosen["valid_interp_auc"])


def test_fit_on_cuda_without_cuda_is_a_clean_error(loaders, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = gsat.GSAT(gsat.GIN(10, 1, hidden_channels=16))
    with pytest.raises(gsat.ConfigError, match="device='cuda' was asked for but CUDA is not "
                                               "available"):
        gsat.fit(model, loaders[0], epochs=1, device="cuda", progress=False)


def test_fit_refuses_loaders_without_batches_of_graphs():
    from torch_geometric.data import Data

    from gsat.errors import GraphInputError

    model = gsat.GSAT(gsat.GIN(10, 1), task="binary")
    graphs = generate_ba_2motifs(num_graphs=4)
    with pytest.raises(GraphInputError, match="train_loader holds no graphs"):
        gsat.fit(model, DataLoader([]), epochs=1, progress=False)
    with pytest.raises(GraphInputError, match="val_loader holds no graphs"):
        gsat.fit(model, DataLoader(graphs), DataLoader([]), epochs=1, progress=False)
    with pytest.raises(GraphInputError, match=r"got a list of 4 graphs; wrap them in "
                                              r"torch_geometric\.loader\.DataLoader"):
        gsat.fit(model, graphs, epochs=1, progress=False)
    with pytest.raises(GraphInputError, match="the training loader gave no batch"):
        gsat.fit(model, iter([]), epochs=1, progress=False)  # no length to ask first
    with pytest.raises(ConfigError, match="epochs must be >= 1 and <= 100000"):
        gsat.fit(model, DataLoader(graphs), epochs=10 ** 6, progress=False)
    assert isinstance(graphs[0], Data)
