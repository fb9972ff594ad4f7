r"""Neighbour-sampled mini-batches of the whole-graph design (:mod:`gsat.data.node.whole`):
each batch starts from :math:`B` target nodes (the seeds) and adds, hop by hop, up to
:math:`k_1, k_2, \ldots, k_L` of the in-neighbours of the nodes added at the previous hop,
as GraphSAGE (Hamilton, Ying & Leskovec, NeurIPS 2017) and PyG's
:class:`~torch_geometric.loader.NeighborLoader` sample. The batch is the graph of the sampled
edges, its nodes numbered seeds first, with :obj:`target_mask` marking the seeds, so that
:func:`gsat.training.engine.targets` and the loss apply unchanged. With
:math:`L` hops for :math:`L` message-passing layers, a seed's prediction sees up to
:math:`k_1 \cdots k_l` of its :math:`l`-hop neighbours, and with :math:`k_l = -1` (every
neighbour) exactly its computation subgraph: unlike the random node parts of
:class:`~gsat.data.node.batches.NodeBatches`, nothing near a seed is cut away at random.

The sampling needs no compiled extension: :class:`NeighborBatches` uses PyG's
:class:`~torch_geometric.loader.NeighborLoader` where its sampler is available (``pyg-lib``
or ``torch-sparse`` installed) and the same sampling in plain PyTorch otherwise
(:func:`sample_neighbors`). The two draw different random samples; only the second draws
from the loader's own :attr:`NeighborBatches.generator`, which ``last.pt`` saves, so only it
resumes to exactly the batches of an uninterrupted run.
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from gsat.data.node.batches import EXPLAIN_KEYS

__all__ = ["NeighborBatches", "sample_neighbors", "pyg_sampler_available"]


def pyg_sampler_available() -> bool:
    """Can PyG's :class:`~torch_geometric.loader.NeighborLoader` sample here (``pyg-lib`` or
    ``torch-sparse`` installed)?"""
    import torch_geometric.typing as pyg_typing

    return bool(getattr(pyg_typing, "WITH_SAMPLED_OP", False)
                or getattr(pyg_typing, "WITH_TORCH_SPARSE", False))


class _InEdges:
    """The edges of a graph grouped by target node (a CSC layout), for sampling."""

    def __init__(self, edge_index: Tensor, num_nodes: int):
        dst = edge_index[1]
        self.perm = torch.argsort(dst, stable=True)  # edge ids, grouped by target
        self.src = edge_index[0].index_select(0, self.perm)
        counts = torch.bincount(dst, minlength=num_nodes)
        self.ptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        torch.cumsum(counts, 0, out=self.ptr[1:])
        #: each node's number in the batch being built (-1: not in it), reset after each batch
        self.local = torch.full((num_nodes,), -1, dtype=torch.long)

    def sample(self, nodes: Tensor, k: int, generator: Optional[torch.Generator]
               ) -> Tensor:
        r"""Positions (in :attr:`perm`) of up to :obj:`k` in-edges of every node of
        :obj:`nodes`, drawn without replacement (all of them for :obj:`k` :math:`< 0` or a
        node with at most :obj:`k`)."""
        start, deg = self.ptr[nodes], self.ptr[nodes + 1] - self.ptr[nodes]
        total = int(deg.sum())
        if total == 0:
            return torch.empty(0, dtype=torch.long)
        owner = torch.repeat_interleave(torch.arange(nodes.numel()), deg)  # node of each edge
        first = torch.cumsum(deg, 0) - deg  # where each node's edges begin in owner
        pos = start[owner] + torch.arange(total) - first[owner]
        if k < 0 or int(deg.max()) <= k:
            return pos
        # a random order within each node's edges: sort by (owner, random key)
        key = owner.double() + torch.rand(total, generator=generator, dtype=torch.double) * 0.5
        order = torch.argsort(key)
        rank = torch.arange(total) - first[owner[order]]
        return pos[order[rank < k]]


def sample_neighbors(graph: Data, seeds: Tensor, num_neighbors: Sequence[int],
                     generator: Optional[torch.Generator] = None,
                     _edges: Optional[_InEdges] = None) -> Data:
    r"""The neighbour-sampled subgraph of :obj:`seeds` in :obj:`graph`, in plain PyTorch.

    Hop :math:`l` adds up to :obj:`num_neighbors[l]` in-edges (:math:`-1`: all) of every node
    added at hop :math:`l - 1` (the seeds at hop 1), and their sources as new nodes.

    Returns:
        Data: :obj:`x`, :obj:`y` and the other node attributes of the sampled nodes (numbered
        seeds first, in the order of :obj:`seeds`, then in the order they were reached), the
        sampled edges (:obj:`edge_index` renumbered, :obj:`edge_attr` of those edges),
        :obj:`n_id` (each node's id in :obj:`graph`), :obj:`e_id` (each edge's),
        :obj:`batch_size` (the number of seeds) and :obj:`target_mask` (the seeds).
    """
    n = int(graph.num_nodes)
    edges = _edges if _edges is not None else _InEdges(graph.edge_index, n)
    seeds = seeds.view(-1).long()
    if seeds.unique().numel() != seeds.numel():
        raise ValueError("seeds must be distinct nodes")
    local = edges.local
    local[seeds] = torch.arange(seeds.numel())
    n_ids, e_pos = [seeds], []
    frontier, count = seeds, seeds.numel()
    for k in num_neighbors:
        pos = edges.sample(frontier, int(k), generator)
        e_pos.append(pos)
        src = edges.src[pos]
        new = torch.unique(src[local[src] < 0])  # sources not numbered yet
        local[new] = torch.arange(count, count + new.numel())
        count += new.numel()
        n_ids.append(new)
        frontier = new
        if frontier.numel() == 0:
            break
    n_id = torch.cat(n_ids)
    pos = torch.cat(e_pos) if e_pos else torch.empty(0, dtype=torch.long)
    e_id = edges.perm[pos]
    out = Data(edge_index=torch.stack([local[graph.edge_index[0, e_id]],
                                       local[graph.edge_index[1, e_id]]]),
               num_nodes=n_id.numel())
    local[n_id] = -1  # ready for the next batch
    for key, value in graph.items():
        if key in ("edge_index", "num_nodes") or key in EXPLAIN_KEYS:
            continue
        if graph.is_node_attr(key):
            out[key] = value[n_id]
        elif graph.is_edge_attr(key):
            out[key] = value[e_id]
    out.n_id, out.e_id, out.batch_size = n_id, e_id, seeds.numel()
    out.target_mask = torch.zeros(n_id.numel(), dtype=torch.bool)
    out.target_mask[:seeds.numel()] = True
    return out


class NeighborBatches:
    r"""Neighbour-sampled mini-batches of the one whole graph of a node task: the target
    nodes (:obj:`graph.target_mask`) in batches of :obj:`batch_size` seeds (shuffled every
    epoch with :attr:`generator`, or in node order), each a
    :class:`~torch_geometric.data.Batch` of one graph (:func:`sample_neighbors`, or PyG's
    :class:`~torch_geometric.loader.NeighborLoader` where it can sample) with the seeds as
    :obj:`target_mask`.

    Args:
        graph (Data): one graph of :func:`gsat.data.node.whole.whole_graph_dataset`.
        num_neighbors (list of int): neighbours sampled per node at each hop (:math:`-1`: all);
            one entry per message-passing layer.
        batch_size (int): seeds per batch.
        shuffle (bool, optional): a new order of the seeds every epoch. (default: :obj:`True`)
        seed (int, optional): seed of :attr:`generator`. (default: :obj:`0`)
        use_pyg (bool, optional): use PyG's loader (:obj:`None`: where it can sample; :obj:`True`
            raises where it cannot). (default: :obj:`None`)
    """

    def __init__(self, graph: Data, num_neighbors: Sequence[int], batch_size: int,
                 shuffle: bool = True, seed: int = 0, use_pyg: Optional[bool] = None):
        if getattr(graph, "target_mask", None) is None:
            raise ValueError("the graph has no target_mask; NeighborBatches samples the whole "
                             "graph of a node task (gsat.data.node.whole.whole_graph_dataset)")
        if not num_neighbors or any(int(k) == 0 or int(k) < -1 for k in num_neighbors):
            raise ValueError(f"num_neighbors must list one count per hop, each >= 1 or -1 "
                             f"(all), got {list(num_neighbors)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if use_pyg and not pyg_sampler_available():
            raise ImportError("PyG's NeighborLoader needs pyg-lib or torch-sparse; install one "
                              "or leave use_pyg unset")
        self.graph = graph.clone()
        for key in EXPLAIN_KEYS:  # edge lists of their own length, not sampled
            if key in self.graph:
                del self.graph[key]
        self.num_neighbors: List[int] = [int(k) for k in num_neighbors]
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.targets = graph.target_mask.nonzero().view(-1)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.use_pyg = pyg_sampler_available() if use_pyg is None else bool(use_pyg)
        self._edges: Optional[_InEdges] = None

    def __len__(self) -> int:
        return -(-self.targets.numel() // self.batch_size)

    def _order(self) -> Tensor:
        if not self.shuffle:
            return self.targets
        return self.targets[torch.randperm(self.targets.numel(), generator=self.generator)]

    def __iter__(self) -> Iterator[Batch]:
        order = self._order()
        if self.use_pyg:
            yield from self._pyg(order)
            return
        if self._edges is None:
            self._edges = _InEdges(self.graph.edge_index, int(self.graph.num_nodes))
        for seeds in order.split(self.batch_size):
            yield Batch.from_data_list([sample_neighbors(self.graph, seeds, self.num_neighbors,
                                                         self.generator, self._edges)])

    def _pyg(self, order: Tensor) -> Iterator[Batch]:
        from torch_geometric.loader import NeighborLoader

        loader = NeighborLoader(self.graph, num_neighbors=self.num_neighbors,
                                input_nodes=order, batch_size=self.batch_size, shuffle=False)
        for part in loader:
            part.target_mask = torch.zeros(part.num_nodes, dtype=torch.bool)
            part.target_mask[:part.batch_size] = True
            yield Batch.from_data_list([part])
