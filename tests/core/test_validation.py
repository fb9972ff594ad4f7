"""Graph input checks, unusual-but-legal graphs (property-based), saturated attention, and
corrupt dataset caches."""
import logging

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

from gsat import GIN, GSAT, PNA
from gsat.data import load_dataset
from gsat.data.base import load_graphs, save_graphs
from gsat.errors import GraphInputError
from gsat.core.model import open_unit
from gsat.core.validation import check_graph, check_graphs

FEAT = 4
DEG = torch.tensor([4, 10, 8, 4, 2, 1])


def _model(backbone: str, learn_edge_att: bool, symmetrize=True, edge_dim=None) -> GSAT:
    torch.manual_seed(0)
    if backbone == "GIN":
        bb = GIN(FEAT, 1, hidden_channels=8, edge_dim=edge_dim)
    else:
        bb = PNA(FEAT, 1, DEG, hidden_channels=8, num_layers=2, edge_dim=edge_dim)
    return GSAT(bb, learn_edge_att=learn_edge_att, symmetrize=symmetrize)


MODELS = {(b, e): _model(b, e) for b in ("GIN", "PNA") for e in (True, False)}


def _graph(n, src, dst, undirected, seed):
    ei = torch.tensor([src, dst], dtype=torch.long).view(2, -1)
    if undirected:
        ei = torch.cat([ei, ei.flip(0)], 1)
    x = torch.randn(n, FEAT, generator=torch.Generator().manual_seed(seed))
    return Data(x=x, edge_index=ei)


@st.composite
def graphs(draw, max_nodes=30):
    """One graph: 1..max_nodes nodes, any edges among them (self-loops, duplicates, isolated
    nodes and no edges at all included), undirected or directed."""
    n = draw(st.integers(1, max_nodes))
    m = draw(st.integers(0, 3 * n))
    src = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    dst = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    return _graph(n, src, dst, draw(st.booleans()), draw(st.integers(0, 2**16)))


@st.composite
def batches(draw):
    parts = draw(st.lists(graphs(), min_size=2, max_size=4))
    if draw(st.integers(0, 9)) == 0:  # now and then a big sparse graph in the batch
        parts.append(draw(graphs(max_nodes=500)))
    return Batch.from_data_list(parts)


def _check_invariants(model: GSAT, batch: Batch) -> None:
    ei = batch.edge_index
    outs = [("explain", model.explain(batch), None)]
    was = model.training
    try:
        model.eval()
        o = model(batch)
        outs.append(("eval", o.edge_att, o.logits))
        if batch.num_nodes > 1:  # training-mode batch norm needs two nodes
            model.train()
            o = model(batch)
            outs.append(("train", o.edge_att, o.logits))
    finally:
        model.train(was)
    key = ei[0] * batch.num_nodes + ei[1]
    rev = ei[1] * batch.num_nodes + ei[0]
    pos = {int(k): i for i, k in enumerate(key)}
    pairs = [(i, pos[int(r)]) for i, r in enumerate(rev) if int(r) in pos]
    for name, att, logits in outs:
        assert att.shape == (ei.size(1),), name
        assert bool(((att > 0) & (att < 1)).all()), (name, att.min(), att.max())
        if logits is not None:
            assert logits.shape == (batch.num_graphs, 1) and bool(torch.isfinite(logits).all())
        for i, j in pairs:  # (u, v) and (v, u) get the same attention
            assert att[i] == att[j], (name, i, j)


@pytest.mark.parametrize("backbone,learn_edge_att", list(MODELS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches())
def test_unusual_graphs_give_finite_predictions_and_valid_attention(backbone, learn_edge_att,
                                                                     batch):
    """60 random batches of 2-5 graphs per backbone and attention level: about 360 graphs
    per backbone."""
    _check_invariants(MODELS[backbone, learn_edge_att], batch)


@pytest.mark.parametrize("backbone", ["GIN", "PNA"])
def test_batch_mixing_sizes_from_1_to_500_nodes(backbone):
    g = torch.Generator().manual_seed(1)
    parts = []
    for n in (1, 2, 500, 3, 60):
        m = 2 * n
        parts.append(_graph(n, torch.randint(0, n, (m,), generator=g).tolist(),
                            torch.randint(0, n, (m,), generator=g).tolist(), n % 2 == 0, n))
    parts.append(Data(x=torch.randn(5, FEAT), edge_index=torch.zeros(2, 0, dtype=torch.long)))
    batch = Batch.from_data_list(parts)
    for lea in (True, False):
        _check_invariants(MODELS[backbone, lea], batch)
    # a graph alone, without any edge, and a single node
    for data in (parts[-1], parts[0]):
        for lea in (True, False):
            att = MODELS[backbone, lea].explain(data)
            assert att.shape == (data.edge_index.size(1),)


@pytest.mark.parametrize("learn_edge_att", [True, False])
@pytest.mark.parametrize("bias", [200.0, -200.0])
def test_saturated_attention_stays_inside_the_open_unit_interval(learn_edge_att, bias):
    # float32 sigmoid saturates: these are exactly 1 and 0 without the guard
    assert torch.sigmoid(torch.tensor(bias)) in (0.0, 1.0)
    if not learn_edge_att:  # the product of two tiny node attentions underflows to 0
        assert float(torch.sigmoid(torch.tensor(-60.0)) ** 2) == 0.0
    model = _model("GIN", learn_edge_att)
    with torch.no_grad():
        model.extractor.mlp.lins[-1].bias.fill_(bias)
    batch = Batch.from_data_list([_graph(6, [0, 1, 2, 3], [1, 2, 3, 4], True, 0)] * 2)
    for training in (False, True):
        model.train(training)
        out = model(batch)
        for att in (out.edge_att, out.att):
            assert bool(((att > 0) & (att < 1)).all()), (training, att)
        assert bool(torch.isfinite(model.loss(out, torch.zeros(2), 50)[0]))


def test_open_unit_changes_only_the_end_points():
    x = torch.tensor([0.0, 1e-30, 0.25, 1.0 - 2**-24, 1.0])
    y = open_unit(x)
    assert y[0] > 0 and y[-1] < 1
    assert torch.equal(y[1:4], x[1:4])
    assert y[-1] == 1.0 - 2**-24


def _ok(**kw):
    d = dict(x=torch.randn(3, FEAT), edge_index=torch.tensor([[0, 1], [1, 2]]))
    d.update(kw)
    return Data(**d)


@pytest.mark.parametrize("data,match", [
    (Data(edge_index=torch.zeros(2, 0, dtype=torch.long)), "no node features 'x'"),
    (_ok(x=torch.randn(3)), r"shape \[num_nodes, num_features\], got \[3\]"),
    (_ok(x=torch.randn(0, FEAT), edge_index=torch.zeros(2, 0, dtype=torch.long)), "no nodes"),
    (_ok(x=torch.ones(3, FEAT, dtype=torch.long)), "floating point for this model, got torch.int64"),
    (_ok(x=torch.tensor([[0.0] * FEAT, [float("inf")] * FEAT, [0.0] * FEAT])),
     "node 1 has NaN or infinite"),
    (_ok(x=torch.randn(3, FEAT + 1)), rf"\[num_nodes, {FEAT}\] for this model, got \[3, 5\]"),
    (_ok(edge_index=None), r"no 'edge_index'; use an empty tensor of shape \[2, 0\]"),
    (_ok(edge_index=torch.tensor([[0.0, 1.0], [1.0, 2.0]])), "integer tensor .* got torch.float32"),
    (_ok(edge_index=torch.tensor([0, 1, 2])), r"shape \[2, num_edges\], got \[3\]"),
    (_ok(edge_index=torch.tensor([[0, 1], [1, 2], [2, 0]])), r"\(3 rows, 2 expected\)"),
    (_ok(edge_index=torch.tensor([[0, 3], [1, 2]])), r"refers to node 3 but the graph has 3 nodes"),
    (_ok(edge_index=torch.tensor([[0, -1], [1, 2]])), r"refers to node -1"),
    (_ok(batch=torch.zeros(2, dtype=torch.long)), r"one entry per node \(\[3\]\), got \[2\]"),
    (_ok(batch=torch.zeros(3)), "non-negative graph indices .* torch.float32"),
    (_ok(edge_attr=torch.randn(3, 2)), r"one row per edge \(2\), got \[3, 2\]"),
    (_ok(edge_attr=torch.tensor([[float("nan")], [0.0]])), "edge_attr' must be finite"),
])
def test_invalid_graphs_say_what_was_expected_and_what_arrived(data, match):
    model = MODELS["GIN", True]
    was = model.training
    try:
        model.eval()  # a training step does not check its batch again (see below)
        for call in (model, model.explain, model.check_input):
            with pytest.raises(GraphInputError, match=match):
                call(data)
    finally:
        model.train(was)


def test_graphs_are_checked_at_the_boundary_not_in_every_training_step(monkeypatch):
    import gsat.core.model as gmodel

    checked = []
    real = gmodel.check_graph
    monkeypatch.setattr(gmodel, "check_graph", lambda *a, **k: checked.append(1) or real(*a, **k))
    model = _model("GIN", True)
    batch = Batch.from_data_list([_ok(), _ok()])
    model.train()
    model(batch)
    assert checked == []  # training mode: converted, not checked
    model.eval()
    model(batch)
    model.explain(batch)
    assert len(checked) == 2


def test_edge_features_required_and_width_checked():
    model = _model("GIN", True, edge_dim=3).eval()
    with pytest.raises(GraphInputError, match=r"uses edge features, but the graph has no "
                                              r"'edge_attr' \(expected shape \[num_edges, 3\]\)"):
        model(_ok())
    with pytest.raises(GraphInputError, match=r"\[num_edges, 3\] for this model, got \[2, 2\]"):
        model(_ok(edge_attr=torch.randn(2, 2)))
    assert model.explain(_ok(edge_attr=torch.randn(2, 3))).shape == (2,)


def test_single_node_training_batch_is_explained():
    model = MODELS["PNA", True]
    model.train()
    with pytest.raises(GraphInputError, match="more than one node .* call model.eval"):
        model(_ok(x=torch.randn(1, FEAT), edge_index=torch.zeros(2, 0, dtype=torch.long)))
    model.eval()


def test_integer_features_pass_when_the_model_encodes_them():
    # with an own node encoder (e.g. OGB's AtomEncoder) the model takes categorical features
    check_graph(_ok(x=torch.zeros(3, 9, dtype=torch.long)), in_channels=None)


def test_dataset_graph_checks_name_the_graph():
    good = _ok(y=torch.tensor([0]), edge_label=torch.tensor([1, 0]))
    check_graphs([good, good], "mine", num_features=FEAT)
    for bad, match in [(_ok(y=torch.tensor([0]), edge_label=torch.tensor([1])),
                        r"mine: graph 1: edge_label must have one entry per edge \(2\), got 1"),
                       (_ok(), "mine: graph 1: the graph has no label 'y'"),
                       (_ok(y=torch.tensor([0]), edge_index=torch.tensor([[0], [7]])),
                        "mine: graph 1: edge_index refers to node 7")]:
        with pytest.raises(GraphInputError, match=match):
            check_graphs([good, bad], "mine", num_features=FEAT)
    with pytest.raises(GraphInputError, match="x has 4 features, the dataset declares 5"):
        check_graphs([good], "mine", num_features=5)


def _same(a, b):
    return len(a) == len(b) and all(
        torch.equal(g.x, h.x) and torch.equal(g.edge_index, h.edge_index)
        and torch.equal(g.edge_label, h.edge_label) and torch.equal(g.y, h.y)
        for g, h in zip(a, b))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "bad_index"])
def test_corrupt_ba_2motifs_cache_is_rebuilt_with_a_log_line(tmp_path, caplog, damage):
    ds = load_dataset("ba_2motifs", tmp_path, num_graphs=20)
    path = tmp_path / "ba_2motifs" / "graphs_n20.pt"
    original = load_graphs(path)
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 3])
    elif damage == "garbage":
        path.write_bytes(b"\x00not a cache" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # loads fine, but a graph points at a node it does not have
        broken = [g.clone() for g in original]
        broken[3].edge_index = broken[3].edge_index.clone()
        broken[3].edge_index[0, 0] = 999
        save_graphs(broken, path)
    with caplog.at_level(logging.WARNING, logger="gsat.data.base"):
        again = load_dataset("ba_2motifs", tmp_path, num_graphs=20)
    assert f"cache {path} is unreadable" in caplog.text and "rebuilding it" in caplog.text
    assert _same(again.train + again.valid + again.test, ds.train + ds.valid + ds.test)
    assert _same(load_graphs(path), original)  # the rebuilt cache is whole again


def _ring_graph(n=4):
    src = torch.arange(n)
    ei = torch.stack([src, (src + 1) % n])
    return Data(x=torch.randn(n, FEAT), edge_index=torch.cat([ei, ei.flip(0)], 1),
                y=torch.tensor([1]))


@pytest.mark.parametrize("data,match", [
    ([], r"got a list of 0 graphs; there is no graph to run: give at least one"),
    ([Data()], r"got a list of 1 graphs; batch them with .*Batch\.from_data_list"),
    (Data(x=torch.ones(4, FEAT, device="meta"), edge_index=torch.zeros(2, 3, dtype=torch.long)),
     r"node features 'x' is on the meta device, which holds shapes but no values"),
    (Data(x=torch.ones(4, FEAT), edge_index=torch.zeros(2, 3, dtype=torch.long, device="meta")),
     r"edge_index is on the meta device"),
    (Batch(x=torch.ones(4, FEAT), edge_index=torch.zeros(2, 3, dtype=torch.long),
           batch=torch.zeros(4, dtype=torch.long, device="meta")), r"batch is on the meta device"),
    (Data(x=torch.ones(4, FEAT), edge_index=torch.zeros(2, 3, dtype=torch.long),
          edge_attr=torch.ones(3, 2, device="meta")), r"'edge_attr' is on the meta device"),
    (Data(x=torch.ones(4, FEAT), edge_index=torch.zeros(2, 4, 1, dtype=torch.long)),
     r"edge_index must have shape \[2, num_edges\], got \[2, 4, 1\]"),
])
def test_inputs_that_are_no_graph_say_what_was_expected(data, match):
    model = _model("GIN", True).eval()
    with pytest.raises(GraphInputError, match=match):
        model.explain(data)
    with pytest.raises(GraphInputError, match=match):
        model(data)


def test_a_training_step_on_meta_tensors_is_a_graph_input_error():
    model = _model("GIN", True).train()
    g = _ring_graph()
    with pytest.raises(GraphInputError, match="x is on the meta device"):
        model(Data(x=g.x.to("meta"), edge_index=g.edge_index.to("meta")))


def test_a_graph_and_a_model_on_different_devices():
    model = _model("GIN", True).to("meta").eval()
    with pytest.raises(GraphInputError, match="the graph is on cpu but the model on meta"):
        model.explain(_ring_graph())


def test_an_unsorted_batch_is_refused_with_a_recipe_that_works():
    model = _model("GIN", True).eval()
    graphs = [_ring_graph(4), _ring_graph(5), _ring_graph(3)]
    b = Batch.from_data_list(graphs)
    perm = torch.randperm(b.num_nodes, generator=torch.Generator().manual_seed(3))
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(perm.numel())
    shuffled = Data(x=b.x[perm], edge_index=inverse[b.edge_index], batch=b.batch[perm])
    with pytest.raises(GraphInputError, match="batch must be sorted") as exc:
        model.explain(shuffled)
    recipe = "data = data.subgraph(data.batch.argsort(stable=True))"
    assert recipe in str(exc.value)
    scope = {"data": shuffled}
    exec(recipe, scope)  # the message's own words, run as written
    fixed = scope["data"]
    assert torch.allclose(model.explain(fixed), model.explain(b))  # the same edges, in order
    assert torch.allclose(model(fixed).logits, model(b).logits)
