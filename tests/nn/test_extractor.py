"""The fused extractor layers equal the composition of PyG/torch modules they replace."""
import pytest
import torch
from torch_geometric.nn import InstanceNorm

import gsat.nn.extractor as ext_mod
from gsat.nn.extractor import Extractor, norm_relu_dropout
from gsat.nn.utils import dropout


def _reference(ext: Extractor, emb, edge_index, batch):
    """The extractor written with PyG's InstanceNorm and plain torch ops (the paper's
    composition); random dropout masks are drawn in the same order as the fused layers."""
    lins = ext.mlp.lins
    if ext.learn_edge_att:
        x = lins[0](torch.cat([emb[edge_index[0]], emb[edge_index[1]]], -1))
        seg = batch[edge_index[0]]
    else:
        x, seg = lins[0](emb), batch
    for lin in lins[1:]:
        x = InstanceNorm(x.size(1))(x, seg)
        x = dropout(torch.relu(x), ext.mlp.dropout, ext.training)
        x = lin(x)
    return x


def _graphs(num_graphs, num_nodes, num_edges, seed=0):
    g = torch.Generator().manual_seed(seed)
    batch = torch.sort(torch.randint(0, num_graphs, (num_nodes,), generator=g))[0]
    ei = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    ei = ei[:, batch[ei[0]] == batch[ei[1]]]
    order = torch.argsort(batch[ei[0]], stable=True)  # edges grouped by graph, as in a Batch
    return ei[:, order], batch


@pytest.mark.parametrize("learn_edge_att", [True, False])
@pytest.mark.parametrize("num_graphs", [1, 4])
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("chunk", [None, 7])
def test_fused_extractor_equals_module_composition(monkeypatch, learn_edge_att, num_graphs,
                                                   training, chunk):
    if chunk is not None:  # force many chunks, so the chunked passes are exercised
        monkeypatch.setattr(ext_mod, "_edge_parts", lambda n, w: [slice(i, min(i + chunk, n))
                                                             for i in range(0, max(n, 1), chunk)])
    ei, batch = _graphs(num_graphs, 40, 300)
    emb = torch.randn(40, 8, requires_grad=True)
    ext = Extractor(8, learn_edge_att).train(training)
    torch.manual_seed(1)
    out = ext(emb, ei, batch)
    grads = torch.autograd.grad((out ** 2).sum(), [emb, *ext.parameters()])
    torch.manual_seed(1)
    ref = _reference(ext, emb, ei, batch)
    ref_grads = torch.autograd.grad((ref ** 2).sum(), [emb, *ext.parameters()])
    assert torch.allclose(out, ref, atol=1e-5, rtol=1e-4)
    for a, b in zip(grads, ref_grads):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-3)


def test_fused_layers_pass_gradcheck(monkeypatch):
    monkeypatch.setattr(ext_mod, "_edge_parts", lambda n, w: [slice(i, min(i + 5, n))
                                                         for i in range(0, max(n, 1), 5)])
    ei, batch = _graphs(3, 12, 60, seed=2)
    seg = batch[ei[0]]
    emb = torch.randn(12, 3, dtype=torch.double, requires_grad=True)
    first = torch.nn.Linear(6, 8).double()
    lin = torch.nn.Linear(8, 4).double()
    f = lambda e, w1, b1, w, c: ext_mod._EdgeHidden.apply(e, w1, b1, ei[0], ei[1], seg, batch,
                                                          3, w, c, 0.5, False, 1e-5)
    assert torch.autograd.gradcheck(f, (emb, first.weight, first.bias, lin.weight, lin.bias))
    z = torch.randn(ei.size(1), 4, dtype=torch.double, requires_grad=True)
    g = lambda t: norm_relu_dropout(t * 1.0, seg, 3, 0.5, False)
    assert torch.autograd.gradcheck(g, (z,))
    out = torch.nn.Linear(4, 2).double()
    h = lambda t, w, c: ext_mod._NormReLUDropout.apply(t * 1.0, seg, 3, 0.5, False, 1e-5, w, c)
    assert torch.autograd.gradcheck(h, (z, out.weight, out.bias))


@pytest.mark.parametrize("num_graphs", [1, 4])
@pytest.mark.parametrize("chunk", [None, 7])
def test_fused_extractor_float64_with_dropout_equals_composition(monkeypatch, num_graphs,
                                                                  chunk):
    # the per-graph terms applied to the nodes (mean, the backward's s1 and rstd), the
    # dropout mask expanded to the compute dtype and the ReLU derivative from the sign of the
    # output: equal to the plain composition to float64 round-off, with dropout drawn
    if chunk is not None:
        monkeypatch.setattr(ext_mod, "_edge_parts", lambda n, w: [slice(i, min(i + chunk, n))
                                                             for i in range(0, max(n, 1), chunk)])
    ei, batch = _graphs(num_graphs, 40, 300, seed=3)
    # a last graph without edges: its nodes have no row of the per-graph statistics
    batch = torch.cat([batch, torch.full((3,), num_graphs, dtype=torch.long)])
    emb = torch.randn(43, 8, dtype=torch.double, requires_grad=True)
    ext = Extractor(8, True).double().train()
    torch.manual_seed(5)
    out = ext(emb, ei, batch)
    seed_grad = torch.randn_like(out)
    grads = torch.autograd.grad(out, [emb, *ext.parameters()], seed_grad)
    torch.manual_seed(5)
    ref = _reference(ext, emb, ei, batch)
    ref_grads = torch.autograd.grad(ref, [emb, *ext.parameters()], seed_grad)
    assert (out != 0).any() and torch.allclose(out, ref, atol=1e-12, rtol=1e-10)
    for a, b in zip(grads, ref_grads):
        assert torch.allclose(a, b, atol=1e-11, rtol=1e-9)


def test_keep_mask_lookup_equals_unpacked_bits():
    bits = torch.randint(0, 256, (50, 4), dtype=torch.uint8)
    unpacked = ((bits.unsqueeze(-1) >> torch.arange(8, dtype=torch.uint8)) & 1).view(50, 32)
    for dtype in (torch.float32, torch.float64):
        got = ext_mod._keep_rows(bits, slice(None), 32, 0.5, dtype)
        assert got.dtype == dtype and torch.equal(got, unpacked.to(dtype) * 2.0)
        assert torch.equal(ext_mod._keep_rows(bits, slice(10, 20), 32, 0.5, dtype),
                           got[10:20])
    keep = torch.rand(6, 5) > 0.3
    got = ext_mod._keep_rows(keep, slice(None), 5, 0.3, torch.float32)
    assert torch.equal(got, keep.float() * (1.0 / 0.7))


def test_edge_parts_keep_activations_up_to_the_budget():
    """Up to KEEP_ACTIVATIONS_FLOATS the edge extractor works in one chunk (activations kept
    for the backward pass); above it, in chunks of about 16 MB that cover every edge once."""
    budget = ext_mod.KEEP_ACTIVATIONS_FLOATS
    assert ext_mod._edge_parts(budget // 256, 256) == [slice(0, budget // 256)]
    parts = ext_mod._edge_parts(budget // 256 + 1, 256)
    assert len(parts) > 1 and parts[0].start == 0 and parts[-1].stop == budget // 256 + 1
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    assert ext_mod._edge_parts(0, 256) == [slice(0, 0)]
