r"""Small helpers shared by the models and the explainers."""
from __future__ import annotations

from typing import Optional

from torch import Tensor


def batch_vector(batch: Optional[Tensor], num_nodes: int, edge_index: Tensor) -> Tensor:
    r"""The graph index of every node: :obj:`batch` itself, or all zeros (one graph) of
    shape :obj:`[num_nodes]` with the dtype and device of :obj:`edge_index` when
    :obj:`batch` is :obj:`None`."""
    return edge_index.new_zeros(num_nodes) if batch is None else batch
