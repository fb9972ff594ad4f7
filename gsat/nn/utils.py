r"""Small helpers shared by the models and the explainers."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

_SHIFTS = torch.arange(8, dtype=torch.uint8)


def batch_vector(batch: Optional[Tensor], num_nodes: int, edge_index: Tensor) -> Tensor:
    r"""The graph index of every node: :obj:`batch` itself, or all zeros (one graph) of
    shape :obj:`[num_nodes]` with the dtype and device of :obj:`edge_index` when
    :obj:`batch` is :obj:`None`."""
    return edge_index.new_zeros(num_nodes) if batch is None else batch


def _uniform16(n: int) -> Tensor:
    r""":obj:`n` independent integers uniform on :math:`[-2^{15}, 2^{15})`, four per random
    64-bit word (the CPU generator's cost is per drawn number, not per bit)."""
    words = torch.randint(-(1 << 63), (1 << 63) - 1, ((n + 3) // 4,), dtype=torch.int64)
    return words.view(torch.int16)[:n]


def dropout_keep(shape: torch.Size, p: float, device: torch.device) -> Tensor:
    r"""A dropout keep mask (:obj:`True` with probability :math:`1 - p`) of :obj:`shape`.

    On the CPU the mask is read from packed random bits instead of one Bernoulli draw per
    element (about 19 ns an element): for :math:`p = 0.5` each bit of a random byte is one
    exact draw; otherwise each element compares a 16-bit uniform integer with
    :math:`\mathrm{round}(p \cdot 2^{16})`, so the drop probability is :math:`p` rounded to a
    multiple of :math:`2^{-16}` (0.3 becomes 0.300003). Other devices use
    :meth:`torch.Tensor.bernoulli_`."""
    n = shape.numel()
    if device.type != "cpu":
        return torch.empty(shape, dtype=torch.bool, device=device).bernoulli_(1.0 - p)
    if p == 0.5:
        rnd = torch.randint(0, 256, ((n + 7) // 8,), dtype=torch.uint8)
        return ((rnd.unsqueeze(-1) >> _SHIFTS) & 1).view(-1)[:n].view(shape).bool()
    return (_uniform16(n) >= round(p * 65536) - 32768).view(shape)


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    r"""Dropout (as :func:`torch.nn.functional.dropout`) whose CPU keep mask comes from
    :func:`dropout_keep` and enters the product in :obj:`x`'s dtype, already scaled by
    :math:`1 / (1 - p)` (one multiplication forward, one backward); on other devices
    :func:`torch.nn.functional.dropout` itself."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return torch.nn.functional.dropout(x, p, True)
    return x * dropout_keep(x.shape, p, x.device).to(x.dtype).mul_(1.0 / (1.0 - p))
