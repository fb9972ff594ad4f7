r"""Sum aggregation of edge-gated messages without storing the gated messages.

A message-passing layer gated by an edge mask (GSAT's attention, or a post-hoc explainer's
mask, set with PyG's explain hook) computes

.. math::
    \mathbf{a}_v = \sum_{e = (u, v)} m_e \, \mathbf{x}_u .

PyG gathers :math:`\mathbf{x}_u` for every edge and multiplies it by :math:`m_e`; autograd then
keeps the gathered :math:`E \times C` messages for the gradient of the mask. Both gradients
can instead be read from node-sized tensors,

.. math::
    \frac{\partial L}{\partial \mathbf{x}_u} = \sum_{e = (u, v)} m_e
    \frac{\partial L}{\partial \mathbf{a}_v}, \qquad
    \frac{\partial L}{\partial m_e} = \Big\langle \frac{\partial L}{\partial \mathbf{a}_v},
    \mathbf{x}_u \Big\rangle,

so :func:`gated_add` keeps only :math:`\mathbf{x}` (:math:`N \times C`) and the mask, and
works through the edges in chunks of about 16 MB in both passes. The sums are added in edge
order, as PyG's scatter does on one thread.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gsat.nn.extractor import _chunks


class _GatedAdd(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, src: Tensor, dst: Tensor, mask: Tensor,
                num_nodes: int) -> Tensor:
        out = x.new_zeros(num_nodes, x.size(1))
        m = mask.view(-1, 1).to(x.dtype)
        for sl in _chunks(src.numel(), x.size(1)):
            out.index_add_(0, dst[sl], x.index_select(0, src[sl]).mul_(m[sl]))
        ctx.save_for_backward(x, src, dst, mask)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, src, dst, mask = ctx.saved_tensors
        need_x, need_m = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        grad_x = torch.zeros_like(x) if need_x else None
        grad_m = torch.empty(mask.numel(), dtype=x.dtype, device=x.device) if need_m else None
        m = mask.view(-1, 1).to(x.dtype)
        for sl in _chunks(src.numel(), x.size(1)):
            g = grad_out.index_select(0, dst[sl])
            if need_m:
                torch.sum(g * x.index_select(0, src[sl]), 1, out=grad_m[sl])
            if need_x:
                grad_x.index_add_(0, src[sl], g.mul_(m[sl]))
        if need_m:
            grad_m = grad_m.view(mask.shape).to(mask.dtype)
        return grad_x, None, None, grad_m, None


def gated_add(x: Tensor, edge_index: Tensor, mask: Tensor, num_nodes: int) -> Tensor:
    r""":math:`\mathbf{a}_v = \sum_{e=(u,v)} m_e \mathbf{x}_u` for :obj:`edge_index` rows
    :math:`(u, v)` (source, target) and a mask of shape :obj:`[E]` or :obj:`[E, 1]`; equal
    to PyG's gated sum aggregation up to floating point, with less memory (module docstring).
    """
    return _GatedAdd.apply(x, edge_index[0], edge_index[1], mask, num_nodes)
