r"""How a backbone turns node embeddings into what it predicts from: one vector per graph
pooled over its nodes (graph classification), the embedding of the centre node of each
computation subgraph (node classification as the classification of each node's
:math:`L`-hop computation subgraph, whose centre is node 0), or every node's own embedding
(node classification on the whole graph)."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Literal

import torch
from torch import Tensor

__all__ = ["READOUTS", "center_pool", "node_readout", "check_readout", "center_readout"]

#: :obj:`"pool"`: the backbone's pooling over all nodes; :obj:`"center"`: node 0 of each
#: graph; :obj:`"node"`: every node
READOUTS = ("pool", "center", "node")
Readout = Literal["pool", "center", "node"]


def center_pool(emb: Tensor, batch: Tensor) -> Tensor:
    r"""The embedding of the first node of every graph of a batch, shape :obj:`[B, h]`: the
    centre of a computation subgraph built by :func:`gsat.data.node.subgraphs.computation_subgraph`.

    Args:
        emb (torch.Tensor): node embeddings, shape :obj:`[N, h]`.
        batch (torch.Tensor): the graph of each node, shape :obj:`[N]`, sorted (as PyG
            batches are); every graph has at least one node.
    """
    if batch.numel() == 0:
        return emb[:0]
    starts = torch.ones_like(batch, dtype=torch.bool)
    starts[1:] = batch[1:] != batch[:-1]
    return emb[starts]


def node_readout(emb: Tensor, batch: Tensor) -> Tensor:
    r"""Every node's embedding itself, shape :obj:`[N, h]` (one prediction per node)."""
    return emb


def check_readout(readout: str) -> Readout:
    """:obj:`readout` if it is one of :data:`READOUTS`; a :class:`ValueError` otherwise."""
    if readout not in READOUTS:
        raise ValueError(f"unknown readout {readout!r}; choose one of: {', '.join(READOUTS)}")
    return readout  # type: ignore[return-value]


@contextlib.contextmanager
def center_readout(model: "torch.nn.Module") -> Iterator[None]:
    r"""Within the block, every backbone of :obj:`model` that predicts one class per node
    (:obj:`readout="node"`) reads out the centre node of each graph instead
    (:func:`center_pool`). A model trained on a whole graph then predicts a node from its
    :math:`L`-hop computation subgraph, exactly as from the whole graph (the node's
    :math:`L`-layer embedding depends on that subgraph only; batch norm in evaluation mode),
    which lets explainers of graph predictions explain its nodes."""
    switched = [m for m in model.modules() if getattr(m, "readout", None) == "node"
                and hasattr(m, "_pool")]
    for m in switched:
        m._pool = center_pool
    try:
        yield
    finally:
        for m in switched:
            m._pool = node_readout


def pooling(readout: str, pool: Callable[[Tensor, Tensor], Tensor]
            ) -> Callable[[Tensor, Tensor], Tensor]:
    """The function of :obj:`readout`: :obj:`pool` itself, :func:`center_pool` or
    :func:`node_readout`."""
    return {"pool": pool, "center": center_pool, "node": node_readout}[check_readout(readout)]
