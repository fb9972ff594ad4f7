r"""The GSAT extractor: node embeddings in, one attention logit per edge (or node) out."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from gsat.nn.utils import dropout_keep


def _segment_sum(x: Tensor, index: Optional[Tensor], size: int) -> Tensor:
    """Row sums of :obj:`x` per segment, shape ``[size, C]`` (one segment: ``[1, C]``)."""
    acc = x.new_zeros(1 if index is None else size, x.size(1))
    _add_rows(acc, x, index)
    return acc


class _NormReLUDropout(torch.autograd.Function):
    r"""Per-segment instance norm, ReLU and dropout in one autograd node.

    Forward, for the rows :math:`z_e` of segment :math:`g` (:math:`n_g` rows):

    .. math::
        \hat z_e = \frac{z_e - \mu_g}{\sqrt{\sigma_g^2 + \epsilon}}, \qquad
        y_e = \frac{m_e}{1 - p} \max(\hat z_e, 0)

    with the biased per-segment mean :math:`\mu_g` and variance :math:`\sigma_g^2` (as PyG's
    :class:`~torch_geometric.nn.norm.InstanceNorm`) and the dropout keep mask :math:`m_e`.
    Backward, with :math:`\gamma_e = \partial L / \partial \hat z_e
    = \frac{m_e}{1-p} [\hat z_e > 0] \, \partial L / \partial y_e`:

    .. math::
        \frac{\partial L}{\partial z_e} = \frac{1}{\sqrt{\sigma_g^2 + \epsilon}} \Big(
        \gamma_e - \frac{1}{n_g}\sum_{e' \in g} \gamma_{e'}
        - \hat z_e \, \frac{1}{n_g} \sum_{e' \in g} \gamma_{e'} \hat z_{e'} \Big)

    Only :math:`\hat z` and the dropout keep mask (one bit per element for :math:`p = 0.5`
    on the CPU) are kept for the backward pass (composing the three PyG/torch modules keeps
    five tensors of the input's size), and the temporaries are updated in place, which
    matters on wide edge tensors. Given the :obj:`weight` (and :obj:`bias`) of a linear layer
    that follows, the node returns :math:`\mathbf{W} y_e + \mathbf{b}` and recomputes
    :math:`y` in the backward pass instead of keeping it.
    """

    @staticmethod
    def forward(ctx, z: Tensor, index: Optional[Tensor], size: int, p: float,
                training: bool, eps: float, weight: Optional[Tensor] = None,
                bias: Optional[Tensor] = None) -> Tensor:
        if index is None:
            # two column sums instead of torch.var_mean over dim 0, which is several times
            # slower on tall tensors on the CPU (54 ms against 17 ms on 1e5 x 64)
            n = max(z.size(0), 1)
            mean = z.sum(0, keepdim=True).div_(n)
            x_hat = z - mean
            var = (x_hat * x_hat).sum(0, keepdim=True).div_(n)
            cnt = None
        else:
            cnt = torch.bincount(index, minlength=size).clamp_(min=1).to(z.dtype).unsqueeze(1)
            mean = _segment_sum(z, index, size).div_(cnt)
            x_hat = z - _rows(mean, index, None)
            var = _segment_sum(x_hat * x_hat, index, size).div_(cnt)
        rstd = (var + eps).rsqrt_()
        x_hat.mul_(_rows(rstd, index, None))
        width = x_hat.size(1)
        keep = _draw_keep(x_hat.size(0), width, p, x_hat.device) \
            if training and p > 0.0 else None
        out = _relu_dropout(x_hat, _keep_rows(keep, slice(None), width, p, x_hat.dtype))
        if weight is not None:
            out = torch.addmm(bias, out, weight.t()) if bias is not None else out @ weight.t()
        ctx.save_for_backward(x_hat, keep, rstd, cnt, index, weight)
        ctx.size, ctx.p, ctx.has_bias = size, p, bias is not None
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x_hat, keep, rstd, cnt, index, weight = ctx.saved_tensors
        width, p = x_hat.size(1), ctx.p
        scale = 1.0 / (1.0 - p) if keep is not None else 1.0
        y = _relu_dropout(x_hat, _keep_rows(keep, slice(None), width, p, x_hat.dtype))
        grad_w = grad_b = None
        if weight is not None:
            grad_w = grad_out.t() @ y
            grad_b = grad_out.sum(0) if ctx.has_bias else None
            g = grad_out @ _scaled(weight, scale)      # dL/dy times 1 / (1 - p)
        else:
            g = grad_out * scale
        g.mul_(y.sign_())                               # dL/dx_hat
        del y
        n = x_hat.size(0) if index is None else cnt
        mean_g = _segment_sum(g, index, ctx.size).div_(n)
        mean_gx = _segment_sum(g * x_hat, index, ctx.size).div_(n)
        g.sub_(_rows(mean_g, index, None))
        g.addcmul_(x_hat, _rows(mean_gx, index, None), value=-1.0)
        g.mul_(_rows(rstd, index, None))
        return g, None, None, None, None, None, grad_w, grad_b


def norm_relu_dropout(z: Tensor, index: Optional[Tensor], size: int, p: float,
                      training: bool, eps: float = 1e-5,
                      lin: Optional[nn.Linear] = None) -> Tensor:
    r"""Instance norm of the rows of :obj:`z` per segment (:obj:`index[e]` is the segment of
    row :math:`e`; :obj:`None`: one segment), then ReLU, then dropout with probability
    :obj:`p` when :obj:`training`; see :class:`_NormReLUDropout` for the math. Equal, up to
    floating point, to ``dropout(relu(InstanceNorm(C)(z, index, None)), p, training)``,
    followed by :obj:`lin` when it is given."""
    if lin is None:
        return _NormReLUDropout.apply(z, index, size, p, training, eps)
    return _NormReLUDropout.apply(z, index, size, p, training, eps, lin.weight, lin.bias)


def _chunks(num_rows: int, width: int) -> List[slice]:
    """Row slices of about 16 MB of float32 each (one slice for a small input, whose
    activations are then kept for the backward pass instead of recomputed)."""
    step = max(1024, (1 << 22) // max(width, 1))
    return [slice(i, min(i + step, num_rows)) for i in range(0, max(num_rows, 1), step)]


KEEP_ACTIVATIONS_FLOATS = 1 << 25
"""The edge-level extractor keeps its :math:`E \times 4h` activations for the backward pass
(one chunk, no recomputation) while they hold at most this many floats (128 MB of float32:
about 131,000 edges at :math:`h = 64`); larger inputs are worked through in chunks of about
16 MB whose activations are recomputed."""


def _edge_parts(num_edges: int, width: int) -> List[slice]:
    """The chunks of :class:`_EdgeHidden`: one when the activations are kept."""
    if num_edges * width <= KEEP_ACTIVATIONS_FLOATS:
        return [slice(0, num_edges)]
    return _chunks(num_edges, width)


class _EdgeHidden(torch.autograd.Function):
    r"""The first two layers of the edge-level extractor, in chunks of edges.

    .. math::
        \mathbf{x}_e = \mathbf{P}^{s}_{u} + \mathbf{P}^{d}_{v}, \qquad
        \mathbf{y}_e = \frac{m_e}{1-p} \max\big(\mathrm{IN}_g(\mathbf{x})_e, 0\big), \qquad
        \mathbf{z}_e = \mathbf{W} \mathbf{y}_e + \mathbf{b}

    for edge :math:`e = (u, v)` of graph :math:`g`, with the node projections
    :math:`\mathbf{P}^{s} = \mathbf{H}\mathbf{W}_1^{s\top} + \mathbf{b}_1` and
    :math:`\mathbf{P}^{d} = \mathbf{H}\mathbf{W}_1^{d\top}` (the first linear layer on
    :math:`[\mathbf{h}_u \Vert \mathbf{h}_v]`, split), :math:`\mathrm{IN}_g` the instance norm
    over the edges of graph :math:`g` (see :class:`_NormReLUDropout`), :math:`m_e` the dropout
    keep mask and :math:`\mathbf{W}, \mathbf{b}` the second linear layer.

    Every edge lies inside one graph, so what is constant per graph is applied to the nodes
    instead of the :math:`E \times 4h` edge rows:

    - the mean of graph :math:`g` is :math:`\mu_g = \frac{1}{n_g} \sum_{u \in g}
      (d^{out}_u \mathbf{P}^{s}_u + d^{in}_u \mathbf{P}^{d}_u)` (out- and in-degrees), and the
      centred rows are gathered from :math:`\mathbf{P}^{s} - \mu` directly;
    - in the backward pass, with :math:`\gamma_e = \partial L / \partial \hat{\mathbf{x}}_e`
      and the per-graph means :math:`\mathbf{s}^1_g` of :math:`\gamma` and
      :math:`\mathbf{s}^2_g` of :math:`\gamma \odot \hat{\mathbf{x}}`, the gradient of
      :math:`\mathbf{P}^{s}_u` is :math:`\boldsymbol{\rho}_g \odot \big(\sum_{e = (u, \cdot)}
      (\gamma_e - \hat{\mathbf{x}}_e \odot \mathbf{s}^2_g) - d^{out}_u \mathbf{s}^1_g\big)`
      (:math:`\boldsymbol{\rho}_g = (\sigma_g^2 + \epsilon)^{-1/2}`), and that of
      :math:`\mathbf{P}^{d}_v` the same with in-edges and :math:`d^{in}_v`.

    Dropout masks enter the arithmetic in the compute dtype, scaled by :math:`1 / (1 - p)`
    (packed bits are expanded by a table lookup), never as bool tensors.

    On a large input (more than :data:`KEEP_ACTIVATIONS_FLOATS` floats) the wide
    :math:`E \times 4h` activations are never stored whole: the forward pass makes two
    passes over chunks of edges (variance, output) and the backward pass two (the per-graph
    sums of the norm's gradient, then the input gradients), recomputing each chunk's
    activations from the normalised :math:`N \times 4h` projections, which the backward
    pass also computes again from the embeddings :math:`\mathbf{H}`. Only
    :math:`\mathbf{H}`, the per-graph statistics and the dropout mask (one bit per element
    for :math:`p = 0.5` on the CPU) are kept, so memory grows with :math:`E \cdot h / 2` bytes
    instead of :math:`E \cdot 4h` floats times the number of saved intermediates. A single
    chunk keeps its activations instead. The values are those of the unfused layers up to
    floating point.
    """

    @staticmethod
    def forward(ctx, emb: Tensor, w1: Tensor, b1: Tensor, src: Tensor, dst: Tensor,
                seg: Optional[Tensor], node_seg: Optional[Tensor], size: int, weight: Tensor,
                bias: Tensor, p: float, training: bool, eps: float) -> Tensor:
        ps, pd = _project(emb, w1, b1)
        num_edges, width = src.numel(), ps.size(1)
        parts = _edge_parts(num_edges, width)
        one = len(parts) == 1
        keep = None
        if training and p > 0.0:
            keep = _draw_keep(num_edges, width, p, ps.device)
        ctx.p = p
        out_deg, in_deg = _degrees(src, dst, emb.size(0), ps.dtype)
        # the per-graph mean, from the nodes (module docstring)
        cnt = _counts(seg, size, num_edges, ps.dtype)
        mean = _segment_sum(torch.addcmul(ps * out_deg, pd, in_deg), node_seg, size).div_(cnt)
        centred = ps.sub_(_rows(mean, node_seg, None))     # P^s - mean, N x 4h
        # pass 1: per-graph (biased) variance of the centred rows
        sq = torch.zeros_like(mean)
        cache = None
        for sl in parts:
            x = _gather_pair(centred, pd, src[sl], dst[sl])
            _add_rows(sq, x * x, None if seg is None else seg[sl])
            cache = x if one else None
        rstd = sq.div_(cnt).add_(eps).rsqrt_()
        if not one:  # normalised projections: x_hat = P^s_n[u] + P^d_n[v]
            centred.mul_(_rows(rstd, node_seg, None))
            pd.mul_(_rows(rstd, node_seg, None))
        # pass 2: normalise, ReLU, dropout, second linear layer
        out = emb.new_empty(num_edges, weight.size(0))
        for sl in parts:
            if one:
                x_hat = cache.mul_(_rows(rstd, seg, sl))
            else:
                x_hat = _gather_pair(centred, pd, src[sl], dst[sl])
            y = _relu_dropout(x_hat, _keep_rows(keep, sl, width, p, x_hat.dtype))
            torch.addmm(bias, y, weight.t(), out=out[sl])
        # one chunk: keep its activations (small) rather than recompute them; several: keep
        # neither them nor the N x 4h projections, which the backward pass computes again
        ctx.kept = (x_hat, y) if one else None
        ctx.save_for_backward(emb, w1, b1, src, dst, seg, node_seg, weight, mean, rstd, cnt,
                              keep, out_deg, in_deg)
        ctx.size = size
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        (emb, w1, b1, src, dst, seg, node_seg, weight, mean, rstd, cnt, keep, out_deg,
         in_deg) = ctx.saved_tensors
        p = ctx.p
        proj = []
        if ctx.kept is None:  # the normalised projections of the forward pass, again
            ps, pd = _project(emb, w1, b1)
            node_rstd = _rows(rstd, node_seg, None)
            proj = [ps.sub_(_rows(mean, node_seg, None)).mul_(node_rstd), pd.mul_(node_rstd)]
        width = weight.size(1)
        parts = _edge_parts(src.numel(), width)
        one = len(parts) == 1
        # dL/dy scaled by 1 / (1 - p): times the sign of y it is dL/dx_hat
        w_scaled = _scaled(weight, 1.0 / (1.0 - p) if keep is not None else 1.0)
        grad_w = torch.zeros_like(weight)
        grad_b = grad_out.sum(0)
        s1 = torch.zeros_like(mean)   # per graph: sum of dL/dx_hat
        s2 = torch.zeros_like(mean)   # per graph: sum of dL/dx_hat * x_hat
        cache = None

        def recompute(sl: slice):
            if ctx.kept is not None:
                x_hat, y = ctx.kept
            else:
                x_hat = _gather_pair(proj[0], proj[1], src[sl], dst[sl])
                y = _relu_dropout(x_hat, _keep_rows(keep, sl, width, p, x_hat.dtype))
            g = grad_out[sl] @ w_scaled
            return x_hat, y, g

        for sl in parts:
            x_hat, y, g = recompute(sl)
            grad_w.addmm_(grad_out[sl].t(), y)
            g.mul_(y.sign_())                       # dL/dx_hat (y is not needed again)
            seg_sl = None if seg is None else seg[sl]
            _add_rows(s1, g, seg_sl)
            _add_rows(s2, g * x_hat, seg_sl)
            cache = (x_hat, g) if one else None
        ctx.kept = None
        s1.div_(cnt)
        s2.div_(cnt)
        grad_ps = emb.new_zeros(emb.size(0), width)
        grad_pd = torch.zeros_like(grad_ps)
        for sl in parts:
            if one:
                x_hat, g = cache
            else:
                x_hat, y, g = recompute(sl)
                g.mul_(y.sign_())
            g.addcmul_(x_hat, _rows(s2, seg, sl), value=-1.0)
            grad_ps.index_add_(0, src[sl], g)
            grad_pd.index_add_(0, dst[sl], g)
        proj.clear()
        node_s1, node_rstd = _rows(s1, node_seg, None), _rows(rstd, node_seg, None)
        grad_ps.addcmul_(node_s1, out_deg, value=-1.0).mul_(node_rstd)   # dL/dP^s
        grad_pd.addcmul_(node_s1, in_deg, value=-1.0).mul_(node_rstd)    # dL/dP^d
        # the first linear layer's gradients, from those of its two halves
        h = emb.size(1)
        grad_emb = grad_ps @ w1[:, :h]
        grad_emb.addmm_(grad_pd, w1[:, h:])
        grad_w1 = torch.cat([grad_ps.t() @ emb, grad_pd.t() @ emb], 1)
        grad_b1 = grad_ps.sum(0)
        return (grad_emb, grad_w1, grad_b1, None, None, None, None, None, grad_w, grad_b, None,
                None, None)


def _project(emb: Tensor, w1: Tensor, b1: Tensor):
    r"""The first linear layer on :math:`[\mathbf{h}_u \Vert \mathbf{h}_v]` split into its
    two halves and applied to the N nodes: :math:`W [h_u \Vert h_v] + b = (W_1 h + b)_u +
    (W_2 h)_v`, so the :math:`E \times 2h` concatenation is never formed."""
    h = emb.size(1)
    return torch.addmm(b1, emb, w1[:, :h].t()), emb @ w1[:, h:].t()


def _gather_pair(ps: Tensor, pd: Tensor, src: Tensor, dst: Tensor) -> Tensor:
    """``ps[src] + pd[dst]`` into one new tensor."""
    return ps.index_select(0, src).add_(pd.index_select(0, dst))


def _degrees(src: Tensor, dst: Tensor, num_nodes: int, dtype: torch.dtype):
    """Out- and in-degrees of the nodes as ``[N, 1]`` columns of :obj:`dtype`."""
    return (torch.bincount(src, minlength=num_nodes).to(dtype).unsqueeze(1),
            torch.bincount(dst, minlength=num_nodes).to(dtype).unsqueeze(1))


def _counts(seg: Optional[Tensor], size: int, num_rows: int, dtype: torch.dtype) -> Tensor:
    """Rows per segment as a ``[S, 1]`` column (at least 1)."""
    if seg is None:
        return torch.full((1, 1), float(max(num_rows, 1)), dtype=dtype)
    return torch.bincount(seg, minlength=size).clamp_(min=1).to(dtype).unsqueeze(1)


def _add_rows(acc: Tensor, x: Tensor, seg: Optional[Tensor]) -> None:
    """Add the rows of :obj:`x` to their segment's row of :obj:`acc`."""
    if seg is None:
        acc.add_(x.sum(0, keepdim=True))
    else:
        acc.index_add_(0, seg, x)


def _rows(stat: Tensor, seg: Optional[Tensor], sl: Optional[slice]) -> Tensor:
    """The segment statistics of the rows :obj:`sl` (all rows if None), broadcast for one
    segment."""
    if seg is None:
        return stat
    return stat.index_select(0, seg if sl is None else seg[sl])


def _scaled(weight: Tensor, scale: float) -> Tensor:
    """:obj:`weight` times :obj:`scale` (itself when the scale is 1)."""
    return weight if scale == 1.0 else weight * scale


def _draw_keep(rows: int, width: int, p: float, device: torch.device) -> Tensor:
    """A dropout keep mask for a ``[rows, width]`` tensor: packed random bytes (one bit per
    element) for :math:`p = 0.5` on the CPU when :obj:`width` is a multiple of 8, else bool."""
    if p == 0.5 and device.type == "cpu" and width % 8 == 0:
        return torch.randint(0, 256, (rows, width // 8), dtype=torch.uint8)
    return dropout_keep(torch.Size((rows, width)), p, device)


_BIT_TABLES: Dict[Tuple[torch.dtype, torch.device, float], Tensor] = {}


def _bit_table(dtype: torch.dtype, device: torch.device, scale: float) -> Tensor:
    r"""``[256, 8]``: row :math:`b` holds the bits of byte :math:`b` (lowest first) times
    :obj:`scale`."""
    key = (dtype, device, scale)
    table = _BIT_TABLES.get(key)
    if table is None:
        bits = (torch.arange(256).unsqueeze(1) >> torch.arange(8)) & 1
        table = _BIT_TABLES[key] = (bits.to(dtype) * scale).to(device)
    return table


def _keep_rows(keep: Optional[Tensor], sl: slice, width: int, p: float,
               dtype: torch.dtype) -> Optional[Tensor]:
    r"""The keep mask of the rows :obj:`sl` in :obj:`dtype`, scaled: :math:`1 / (1 - p)`
    where kept, 0 where dropped (packed bits are expanded by a lookup in
    :func:`_bit_table`: wide bool tensors are several times slower to unpack and to multiply
    with on the CPU)."""
    if keep is None:
        return None
    scale = 1.0 / (1.0 - p)
    if keep.dtype == torch.bool:
        return keep[sl].to(dtype).mul_(scale)
    bits = keep[sl]
    table = _bit_table(dtype, bits.device, scale)
    return table.index_select(0, bits.reshape(-1).to(torch.int32)).view(bits.size(0), width)


def _relu_dropout(x: Tensor, keep: Optional[Tensor]) -> Tensor:
    """``max(x, 0) * keep`` with the scaled keep mask of :func:`_keep_rows` (no dropout
    when :obj:`keep` is None)."""
    y = x.clamp_min(0.0)
    if keep is not None:
        y.mul_(keep)
    return y


def edge_hidden(emb: Tensor, first: nn.Linear, edge_index: Tensor, seg: Optional[Tensor],
                node_seg: Optional[Tensor], size: int, lin: nn.Linear, p: float,
                training: bool, eps: float = 1e-5) -> Tensor:
    r"""The first two layers of the edge-level extractor (see :class:`_EdgeHidden`) from
    the node embeddings :obj:`emb`: :obj:`first` is the linear layer on
    :math:`[\mathbf{h}_u \Vert \mathbf{h}_v]`, :obj:`lin` the second linear layer, :obj:`seg`
    the graph of each edge and :obj:`node_seg` that of each node (both :obj:`None`: one
    graph); every edge joins two nodes of its graph."""
    return _EdgeHidden.apply(emb, first.weight, first.bias, edge_index[0], edge_index[1], seg,
                             node_seg, size, lin.weight, lin.bias, p, training, eps)


class _NormMLP(nn.Module):
    r"""Linear layers with per-graph instance norm, ReLU and dropout between them (none after
    the last layer)."""

    def __init__(self, channels: Sequence[int], dropout: float):
        super().__init__()
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(channels[:-1], channels[1:]))
        self.dropout = dropout
        self.eps = 1e-5  # that of PyG's InstanceNorm

    def forward(self, x: Tensor, batch: Tensor, skip_first: bool = False,
                num_graphs: Optional[int] = None, start: int = 0) -> Tensor:
        """:obj:`skip_first`: :obj:`x` already holds the output of linear layer
        :obj:`start` (the layers before it are skipped too)."""
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1 if batch.numel() else 1
        index = None if num_graphs == 1 else batch
        last = len(self.lins) - 1
        for i, lin in enumerate(self.lins):
            if i < start:
                continue
            if i > start or not skip_first:
                x = lin(x)
            if i == last - 1:  # the last hidden layer and the output layer: one node
                return norm_relu_dropout(x, index, num_graphs, self.dropout, self.training,
                                         self.eps, lin=self.lins[last])
            if i < last:
                x = norm_relu_dropout(x, index, num_graphs, self.dropout, self.training,
                                      self.eps)
        return x


class Extractor(nn.Module):
    r"""Maps backbone node embeddings to attention logits, as in GSAT
    (`Miao et al., ICML 2022 <https://arxiv.org/abs/2201.12987>`_).

    Edge level (:obj:`learn_edge_att=True`): an MLP of widths :math:`[2h, 4h, h, 1]` on
    :math:`[\mathbf{h}_u \,\|\, \mathbf{h}_v]` for every edge :math:`(u, v)`.
    Node level: an MLP of widths :math:`[h, 2h, h, 1]` on :math:`\mathbf{h}_u`; the caller lifts
    node attention to edges with :func:`gsat.core.functional.lift_node_att`.
    Hidden layers use per-graph instance norm, ReLU and dropout.

    Args:
        hidden_channels (int): embedding width :math:`h` of the backbone.
        learn_edge_att (bool, optional): edge-level (:obj:`True`) or node-level logits.
            (default: :obj:`True`)
        dropout (float, optional): dropout of the hidden layers. (default: :obj:`0.5`)

    Shapes:
        - **input:** embeddings :math:`(N, h)`, edge_index :math:`(2, E)`, batch :math:`(N)`
        - **output:** logits :math:`(E, 1)` (edge level) or :math:`(N, 1)` (node level)
    """

    def __init__(self, hidden_channels: int, learn_edge_att: bool = True, dropout: float = 0.5):
        super().__init__()
        h = hidden_channels
        self.learn_edge_att = learn_edge_att
        widths: List[int] = [2 * h, 4 * h, h, 1] if learn_edge_att else [h, 2 * h, h, 1]
        self.mlp = _NormMLP(widths, dropout)

    def forward(self, emb: Tensor, edge_index: Tensor, batch: Tensor) -> Tensor:
        if self.learn_edge_att:
            # W [h_u || h_v] + b = (W_1 h)[u] + (W_2 h)[v] + b: project the N nodes, then
            # gather, instead of multiplying E concatenated rows (same values, less work).
            # index_select, not advanced indexing: its backward is deterministic on a
            # multi-threaded CPU (that of x[idx] is not for wide rows) and faster.
            first, second = self.mlp.lins[0], self.mlp.lins[1]
            seg = batch.index_select(0, edge_index[0])
            size = int(seg.max()) + 1 if seg.numel() else 1
            index = None if size == 1 else seg
            # graphs after the last one with edges have no edges: their nodes join it
            node_index = None if size == 1 else batch.clamp_max(size - 1)
            z = edge_hidden(emb, first, edge_index, index, node_index, size, second,
                            self.mlp.dropout, self.training, self.mlp.eps)
            return self.mlp(z, seg, skip_first=True, start=1, num_graphs=size)
        return self.mlp(emb, batch)
