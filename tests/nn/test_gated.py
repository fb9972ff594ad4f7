import pytest
import torch
from torch import nn
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.nn import GINConv

import gsat.nn.gated as gated
from gsat.nn.gin import GatedGINConv


def _pair(channels=6):
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(), nn.Linear(channels, channels))
    fast = GatedGINConv(mlp, train_eps=True)
    with torch.no_grad():
        fast.eps.fill_(0.3)
    ref = GINConv(nn.Sequential(nn.Linear(channels, channels), nn.ReLU(),
                                nn.Linear(channels, channels)), train_eps=True)
    ref.load_state_dict(fast.state_dict())
    return fast, ref


def _graph(num_nodes=40, num_edges=300, channels=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, channels, generator=g)
    ei = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    return x, ei


def _run(conv, x, ei, logits, apply_sigmoid):
    x = x.clone().requires_grad_()
    mask = logits.clone().requires_grad_()
    set_masks(conv, mask, ei, apply_sigmoid=apply_sigmoid)
    try:
        out = conv(x, ei)
    finally:
        clear_masks(conv)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return out, x.grad, mask.grad, [p.grad.clone() for p in conv.parameters()]


@pytest.mark.parametrize("apply_sigmoid", [False, True])
@pytest.mark.parametrize("chunk", [None, 7])
def test_fast_gate_equals_pyg_explain_path(monkeypatch, apply_sigmoid, chunk):
    if chunk is not None:  # many small chunks, as on a large graph
        monkeypatch.setattr(gated, "_chunks", lambda n, w: [slice(i, min(i + chunk, n))
                                                            for i in range(0, n, chunk)])
    fast, ref = _pair()
    x, ei = _graph()
    logits = torch.randn(ei.size(1)) if apply_sigmoid else torch.rand(ei.size(1))
    assert fast._fast_gate(x, ei, None) is False  # no mask set yet
    got = _run(fast, x, ei, logits, apply_sigmoid)
    want = _run(ref, x, ei, logits, apply_sigmoid)
    for a, b in zip(got[:3], want[:3]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(got[3], want[3]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_fast_gate_keeps_no_edge_sized_message_tensor():
    fast, _ = _pair(channels=8)
    x, ei = _graph(num_nodes=50, num_edges=400, channels=8)
    mask = torch.rand(ei.size(1), requires_grad=True)
    shapes = []

    def pack(t):
        shapes.append(tuple(t.shape))
        return t

    set_masks(fast, mask, ei, apply_sigmoid=False)
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fast(x.requires_grad_(), ei)
    finally:
        clear_masks(fast)
    assert shapes, "nothing was saved for backward"
    assert (400, 8) not in shapes
    # PyG's path keeps the gated messages, which is what the fast path avoids
    ref = GINConv(nn.Sequential(nn.Linear(8, 8)))
    shapes.clear()
    set_masks(ref, mask, ei, apply_sigmoid=False)
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            ref(x, ei)
    finally:
        clear_masks(ref)
    assert (400, 8) in shapes


def test_custom_explain_message_and_hooks_take_pyg_path():
    fast, _ = _pair()
    x, ei = _graph()
    set_masks(fast, torch.rand(ei.size(1)), ei, apply_sigmoid=False)
    try:
        assert fast._fast_gate(x, ei, None)
        calls = []

        def explain_message(conv, inputs, dim_size):
            calls.append(inputs.shape)
            return inputs * 0.0

        fast.explain_message = explain_message.__get__(fast, GINConv)
        assert not fast._fast_gate(x, ei, None)
        out = fast(x, ei)
        assert calls == [torch.Size([ei.size(1), 6])]
        torch.testing.assert_close(out, fast.nn((1 + fast.eps) * x))
        del fast.explain_message
        handle = fast.register_message_forward_hook(lambda m, inp, out: out)
        assert not fast._fast_gate(x, ei, None)
        handle.remove()
        assert fast._fast_gate(x, ei, None)
    finally:
        clear_masks(fast)
    assert not fast._fast_gate(x, ei, None)
