import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import MessagePassing, global_mean_pool
from torch_geometric.nn.models import GCN
from torch_geometric.nn.models import GIN as PyGGIN

from gsat import ERM, GSAT, GIN, PNA, Extractor, GraphClassifier, edge_mask
from gsat.errors import GraphInputError
from gsat.nn import degree_histogram

from conftest import ring


def make_backbone(kind: str, edge_dim=None, graphs=None):
    if kind == "GIN":
        return GIN(3, 1, hidden_channels=16, num_layers=2, edge_dim=edge_dim)
    deg = degree_histogram(graphs)
    return PNA(3, 1, deg=deg, hidden_channels=20, num_layers=2, edge_dim=edge_dim)


def masks_clear(module):
    return all(m._edge_mask is None and not m.explain for m in module.modules()
               if isinstance(m, MessagePassing))


@pytest.fixture
def graphs():
    return [ring(5, seed=0), ring(7, seed=1), ring(4, seed=2)]


@pytest.mark.parametrize("kind", ["GIN", "PNA"])
@pytest.mark.parametrize("use_edge_attr", [False, True])
def test_forward_shapes_and_masks_cleared(kind, use_edge_attr, graphs):
    if use_edge_attr:
        for g in graphs:
            g.edge_attr = torch.rand(g.edge_index.size(1), 2)
    batch = Batch.from_data_list(graphs)
    model = GSAT(make_backbone(kind, 2 if use_edge_attr else None, graphs))
    out = model(batch)
    assert out.logits.shape == (3, 1)
    assert out.edge_att.shape == (batch.num_edges,)
    assert out.att_logits.shape == (batch.num_edges, 1)
    assert bool(((out.edge_att > 0) & (out.edge_att < 1)).all())
    assert masks_clear(model)
    loss, parts = model.loss(out, batch.y, epoch=0)
    loss.backward()
    assert parts["r"] == 0.9 and parts["info"] >= 0
    assert model.extractor.mlp.lins[0].weight.grad is not None


@pytest.mark.parametrize("kind", ["GIN", "PNA"])
def test_all_ones_mask_equals_ungated_backbone(kind, graphs):
    batch = Batch.from_data_list(graphs)
    bb = make_backbone(kind, graphs=graphs).eval()
    ref = bb(batch.x, batch.edge_index, batch.batch)
    with edge_mask(bb, torch.ones(batch.num_edges), batch.edge_index):
        gated = bb(batch.x, batch.edge_index, batch.batch)
    assert torch.allclose(ref, gated, atol=1e-5)
    assert masks_clear(bb)


def test_all_zeros_mask_removes_neighbour_messages(graphs):
    batch = Batch.from_data_list(graphs)
    bb = make_backbone("GIN").eval()
    no_edges = torch.zeros(2, 0, dtype=torch.long)
    ref = bb(batch.x, no_edges, batch.batch)
    with edge_mask(bb, torch.zeros(batch.num_edges), batch.edge_index):
        gated = bb(batch.x, batch.edge_index, batch.batch)
    assert torch.allclose(ref, gated, atol=1e-5)
    # and a real mask changes the output
    with edge_mask(bb, torch.full((batch.num_edges,), 0.5), batch.edge_index):
        half = bb(batch.x, batch.edge_index, batch.batch)
    assert not torch.allclose(ref, half, atol=1e-4)


def test_gating_reaches_every_layer(graphs):
    batch = Batch.from_data_list(graphs)
    bb = make_backbone("GIN")
    seen = []
    for conv in bb.convs:
        conv.register_message_forward_hook(lambda mod, inp, out: seen.append(mod._edge_mask))
    model = GSAT(bb)
    out = model(batch)
    # the second (gated) pass used the attention in both layers
    gated = [m for m in seen if m is not None]
    assert len(gated) == len(bb.convs)
    assert all(m is out.edge_att for m in gated)


def test_masks_cleared_after_exception(graphs):
    batch = Batch.from_data_list(graphs)
    bb = make_backbone("GIN")
    with pytest.raises(RuntimeError, match="boom"):
        with edge_mask(bb, torch.ones(batch.num_edges), batch.edge_index):
            raise RuntimeError("boom")
    assert masks_clear(bb)

    class Failing(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = make_backbone("GIN")
            self.hidden_channels = 16
            self.calls = 0

        def get_emb(self, *args):
            self.calls += 1
            if self.calls == 2:
                assert not masks_clear(self.inner)  # second pass runs gated
                raise RuntimeError("fails in gated pass")
            return self.inner.get_emb(*args)

        def get_pred_from_emb(self, emb, batch):
            return self.inner.get_pred_from_emb(emb, batch)

    model = GSAT(Failing())
    with pytest.raises(RuntimeError, match="gated pass"):
        model(batch)
    assert masks_clear(model)


def test_explain_is_deterministic_and_keeps_mode(graphs):
    batch = Batch.from_data_list(graphs)
    model = GSAT(make_backbone("GIN")).train()
    a1, a2 = model.explain(batch), model.explain(batch)
    assert model.training
    assert torch.equal(a1, a2)
    model.eval()
    assert not model.training and torch.equal(model.explain(batch), a1)
    # the explanation is the symmetrised sigmoid of the extractor logits
    out = model(batch)
    assert torch.allclose(out.edge_att, a1)


def test_explain_runs_the_ungated_pass_only(graphs):
    batch = Batch.from_data_list(graphs)
    model = GSAT(make_backbone("GIN")).eval()
    calls = []
    inner = model.backbone.get_emb

    def counting(*args, **kwargs):
        calls.append(masks_clear(model.backbone))
        return inner(*args, **kwargs)

    model.backbone.get_emb = counting
    att = model.explain(batch)
    assert calls == [True]             # one pass, without a mask
    calls.clear()
    assert torch.equal(model(batch).edge_att, att)
    assert calls == [True, False]      # forward: the ungated pass, then the gated one


def test_undirected_pairs_get_equal_attention_in_training(graphs):
    batch = Batch.from_data_list(graphs)
    perm = torch.randperm(batch.num_edges)
    batch.edge_index = batch.edge_index[:, perm]
    model = GSAT(make_backbone("GIN")).train()
    att = model(batch).edge_att
    lookup = {tuple(e): a for e, a in zip(batch.edge_index.t().tolist(), att.tolist())}
    assert all(abs(lookup[(v, u)] - a) < 1e-6 for (u, v), a in lookup.items())


def test_directed_graph_left_as_is():
    g = Data(x=torch.randn(4, 3), edge_index=torch.tensor([[0, 1, 2, 1], [1, 2, 3, 0]]))
    model = GSAT(make_backbone("GIN")).eval()
    out = model(g)
    expected = out.att_logits.view(-1).sigmoid()
    # (0,1) and (1,0) both exist but the graph is directed overall: no averaging
    assert torch.allclose(out.edge_att, expected)


def test_node_level_attention_lifted(graphs):
    batch = Batch.from_data_list(graphs)
    model = GSAT(make_backbone("GIN"), learn_edge_att=False).eval()
    out = model(batch)
    assert out.att_logits.shape == (batch.num_nodes, 1)
    node_att = out.att_logits.view(-1).sigmoid()
    src, dst = batch.edge_index
    assert torch.allclose(out.edge_att, node_att[src] * node_att[dst])


def test_extractor_fused_first_layer_equals_concat():
    ext = Extractor(8, learn_edge_att=True).eval()
    emb = torch.randn(6, 8)
    ei = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    batch = torch.zeros(6, dtype=torch.long)
    out = ext(emb, ei, batch)
    x = ext.mlp.lins[0](torch.cat([emb[ei[0]], emb[ei[1]]], -1))
    ref = ext.mlp(x, batch[ei[0]], skip_first=True)
    assert torch.allclose(out, ref, atol=1e-5)
    assert [l.out_features for l in ext.mlp.lins] == [32, 8, 1]
    assert [l.out_features for l in Extractor(8, learn_edge_att=False).mlp.lins] == [16, 8, 1]


@pytest.mark.parametrize("p", [0.5, 0.3, 0.1])
def test_fast_dropout_keeps_one_minus_p_and_scales(p):
    from gsat.nn.utils import dropout
    x = torch.ones(1000, 64, requires_grad=True)
    y = dropout(x, p, training=True)
    kept = (y != 0).float().mean().item()
    # 64,000 draws: the standard error of the kept share is below 0.002
    assert abs(kept - (1 - p)) < 0.01
    assert torch.allclose(y.unique(), torch.tensor([0.0, 1 / (1 - p)]))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # the gradient is the same scaled mask
    assert torch.equal(dropout(x, p, training=False), x)
    # independent masks: two draws agree on about (1-p)^2 + p^2 of the elements
    z = dropout(x.detach(), p, training=True)
    agree = ((y != 0) == (z != 0)).float().mean().item()
    assert abs(agree - ((1 - p) ** 2 + p ** 2)) < 0.01


@pytest.mark.parametrize("kind", ["GCN", "GIN"])
def test_wrap_plain_pyg_model(kind, graphs):
    batch = Batch.from_data_list(graphs)
    cls = GCN if kind == "GCN" else PyGGIN
    gnn = cls(in_channels=3, hidden_channels=16, num_layers=2)
    backbone = GraphClassifier(gnn, nn.Linear(16, 1), pool=global_mean_pool)
    model = GSAT(backbone)
    out = model(batch)
    assert out.logits.shape == (3, 1) and out.edge_att.shape == (batch.num_edges,)
    loss, _ = model.loss(out, batch.y, 0)
    loss.backward()
    assert masks_clear(model)
    # the mask reaches the wrapped layers: under a zero mask no node hears its neighbours
    # (changing node 0's features leaves node 1 unchanged), without a mask it does
    gnn.eval()
    x2 = batch.x.clone()
    x2[0] += 5.0
    with edge_mask(gnn, torch.zeros(batch.num_edges), batch.edge_index):
        a, b = gnn(batch.x, batch.edge_index), gnn(x2, batch.edge_index)
    assert torch.allclose(a[1], b[1], atol=1e-5) and not torch.allclose(a[0], b[0])
    assert not torch.allclose(gnn(batch.x, batch.edge_index)[1], gnn(x2, batch.edge_index)[1])


def test_backbone_without_interface_is_rejected():
    with pytest.raises(TypeError, match="GraphClassifier"):
        GSAT(nn.Linear(3, 1))


@pytest.mark.parametrize("bad,match", [
    (dict(edge_index=torch.tensor([[0, 1, 2], [1, 2, 0], [0, 0, 0]])), "2 expected"),
    (dict(edge_index=torch.tensor([[0.0, 1.0], [1.0, 0.0]])), "integer"),
    (dict(edge_index=torch.tensor([[0, 9], [9, 0]])), "refers to node 9"),
    (dict(x=torch.tensor([[float("nan"), 0, 0]] * 3)), "NaN"),
    (dict(x=torch.randn(3, 5)), r"\[num_nodes, 3\]"),
])
def test_invalid_graph_errors(bad, match):
    data = dict(x=torch.randn(3, 3), edge_index=torch.tensor([[0, 1], [1, 0]]))
    data.update(bad)
    model = GSAT(make_backbone("GIN")).eval()  # training steps do not check their batch
    with pytest.raises(GraphInputError, match=match):
        model(Data(**data))
    with pytest.raises(GraphInputError, match=match):
        model.check_input(Data(**data))
    with pytest.raises(ValueError, match=match):  # GraphInputError is a ValueError
        model.explain(Data(**data))


def test_erm_model(graphs):
    batch = Batch.from_data_list(graphs)
    model = ERM(make_backbone("GIN"))
    out = model(batch)
    assert out.edge_att is None and out.logits.shape == (3, 1)
    loss, parts = model.loss(out, batch.y, 0)
    assert parts["loss"] == pytest.approx(float(loss))


def test_invalid_r_rejected():
    with pytest.raises(ValueError, match="final_r"):
        GSAT(make_backbone("GIN"), final_r=1.5)


def test_info_loss_on_the_sample_or_the_probability(graphs, tmp_path):
    from gsat.core.config import config_from_dict
    from gsat.core.functional import bernoulli_kl
    from gsat.errors import ConfigError

    batch = Batch.from_data_list(graphs)
    torch.manual_seed(0)
    sample = GSAT(make_backbone("GIN"), init_r=0.7, final_r=0.7)
    prob = GSAT(make_backbone("GIN"), init_r=0.7, final_r=0.7, info_loss_on="probability")
    prob.load_state_dict(sample.state_dict())
    sample.train(), prob.train()
    torch.manual_seed(1)
    out_s = sample(batch)
    torch.manual_seed(1)
    out_p = prob(batch)
    assert torch.equal(out_s.att, out_p.att)  # the same draw of the attention ...
    _, s_parts = sample.loss(out_s, batch.y, 0)
    _, p_parts = prob.loss(out_p, batch.y, 0)
    # ... whose KL is taken of the noisy sample or of sigmoid(logits) without noise
    assert s_parts["info"] == pytest.approx(float(bernoulli_kl(out_s.att, 0.7).mean()))
    assert p_parts["info"] == pytest.approx(
        float(bernoulli_kl(torch.sigmoid(out_p.att_logits), 0.7).mean()))
    assert abs(s_parts["info"] - p_parts["info"]) > 1e-3
    # the KL of sigmoid(logits) alone (no prediction loss) reaches the extractor's weights
    prob.zero_grad()
    prob.pred_loss_coef = 0.0
    prob.loss(out_p, batch.y, 0)[0].backward()
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0)
               for p in prob.extractor.parameters() if p.dim() > 1)
    with pytest.raises(ValueError, match="info_loss_on"):
        GSAT(make_backbone("GIN"), info_loss_on="logits")
    assert config_from_dict({"gsat": {"info_loss_on": "probability"}}).gsat.info_loss_on == \
        "probability"
    with pytest.raises(ConfigError, match="info_loss_on"):
        config_from_dict({"gsat": {"info_loss_on": "logits"}})
    from gsat.data import load_dataset
    from gsat.training.build import build_model

    cfg = config_from_dict({"gsat": {"info_loss_on": "probability"}})
    ds = load_dataset("ba_2motifs", tmp_path, seed=0, num_graphs=20)
    assert build_model(cfg, ds, "gsat").info_loss_on == "probability"


def test_gated_pass_keeps_its_own_batchnorm_statistics(graphs):
    batch = Batch.from_data_list(graphs)
    model = GSAT(make_backbone("GIN"), separate_bn_stats=True).train()
    reference = make_backbone("GIN")
    reference.load_state_dict(model.backbone.state_dict())
    reference.train()
    out = model(batch)
    # the backbone's own statistics saw only the ungated pass ...
    reference.get_emb(batch.x, batch.edge_index, batch.batch)
    bn, ref_bn = model.backbone.convs[0].nn[1], reference.convs[0].nn[1]
    assert torch.allclose(bn.running_mean, ref_bn.running_mean)
    assert int(bn.num_batches_tracked) == 1
    # ... and the gated pass updated the second set
    gated_mean = model.gated_stats.running_mean_0
    # (no dropout acts before the first convolution, so its statistics are deterministic)
    fresh = make_backbone("GIN")
    fresh.load_state_dict(model.backbone.state_dict())
    fresh.convs[0].nn[1].reset_running_stats()
    fresh.train()
    with edge_mask(fresh, out.edge_att.detach(), batch.edge_index):
        fresh.get_emb(batch.x, batch.edge_index, batch.batch)
    assert torch.allclose(gated_mean, fresh.convs[0].nn[1].running_mean, atol=1e-6)
    assert not torch.allclose(gated_mean, bn.running_mean)
    # the statistics are part of the state dict (saved with checkpoints)
    assert "gated_stats.running_mean_0" in model.state_dict()
    shared = GSAT(make_backbone("GIN"))  # the default: one set, as in the paper's code
    assert shared.gated_stats is None


# ------------------------------------------------------------------ the backbone contract


class _NoForward(nn.Module):
    """The README's contract only: hidden_channels, get_emb, get_pred_from_emb; no forward."""

    def __init__(self, width=8, declared=None):
        super().__init__()
        from torch_geometric.nn import GCNConv
        self.conv, self.head = GCNConv(3, width), nn.Linear(width, 1)
        self.hidden_channels = declared or width

    def get_emb(self, x, edge_index, batch=None, edge_attr=None):
        return self.conv(x, edge_index).relu()

    def get_pred_from_emb(self, emb, batch):
        return self.head(global_mean_pool(emb, batch))


def test_erm_needs_only_the_contract(graphs):
    batch = Batch.from_data_list(graphs)
    model = ERM(_NoForward())
    out = model(batch)
    ref = model.backbone.get_pred_from_emb(model.backbone.get_emb(batch.x, batch.edge_index),
                                           batch.batch)
    assert torch.equal(out.logits, ref)


def test_backbone_without_message_passing_is_rejected():
    class Plain(_NoForward):
        def __init__(self):
            super().__init__()
            self.conv = nn.Linear(3, 8)

        def get_emb(self, x, edge_index, batch=None, edge_attr=None):
            return self.conv(x)

    with pytest.raises(TypeError, match="no PyG MessagePassing layer"):
        GSAT(Plain())
    ERM(Plain())  # ERM gates nothing: allowed


def test_wrong_hidden_channels_is_named(graphs):
    model = GSAT(_NoForward(width=8, declared=16))
    with pytest.raises(ValueError, match="hidden_channels is 16.*width get_emb returns \\(8\\)"):
        model(Batch.from_data_list(graphs))


def test_binary_task_with_several_logits_suggests_multiclass(graphs):
    batch = Batch.from_data_list(graphs)
    bb = GIN(3, 3, hidden_channels=8)
    model = GSAT(bb)  # task defaults to binary
    out = model(batch)
    with pytest.raises(ValueError, match="task='multiclass'"):
        model.loss(out, batch.y, 0)
    loss, _ = GSAT(bb, task="multiclass").loss(out, batch.y.view(-1).long() % 3, 0)
    assert torch.isfinite(loss)


@pytest.mark.parametrize("kind", ["GIN", "PNA"])
def test_recomputed_ungated_pass_gives_the_same_step(graphs, kind):
    batch = Batch.from_data_list(graphs)
    results = []
    for recompute in (False, True):
        torch.manual_seed(0)
        model = GSAT(make_backbone(kind, graphs=graphs), recompute_embed=recompute).train()
        calls = []
        inner = model.backbone.get_emb
        model.backbone.get_emb = lambda *a, **k: calls.append(1) or inner(*a, **k)
        torch.manual_seed(1)
        out = model(batch)
        loss, _ = model.loss(out, batch.y, 0)
        loss.backward()
        after = torch.rand(3)  # the random stream goes on as without recomputation
        grads = [p.grad.clone() for p in model.parameters()]
        stats = [b.clone() for b in model.buffers()]
        results.append((loss.detach(), grads, stats, after, len(calls)))
    (l0, g0, s0, r0, c0), (l1, g1, s1, r1, c1) = results
    assert (c0, c1) == (2, 3)  # the ungated pass ran again in the backward pass
    assert torch.equal(l0, l1) and torch.equal(r0, r1)
    assert all(torch.equal(a, b) for a, b in zip(g0, g1))
    assert s0 and all(torch.equal(a, b) for a, b in zip(s0, s1))  # batch-norm stats: once


def test_recompute_embed_default_follows_the_input_size(graphs):
    model = GSAT(make_backbone("GIN")).train()
    small = torch.zeros(2, 10, dtype=torch.long)
    big = torch.zeros(2, GSAT.RECOMPUTE_MIN_ELEMENTS // model.backbone.hidden_channels,
                      dtype=torch.long)
    assert not model._recompute(small) and model._recompute(big)
    assert not model.eval()._recompute(big)
    with torch.no_grad():
        assert not model.train()._recompute(big)
    assert not GSAT(make_backbone("GIN"), recompute_embed=False).train()._recompute(big)
    assert GSAT(make_backbone("GIN"), recompute_embed=True).train()._recompute(small)
