r"""Mini-batches of the whole-graph design (:mod:`gsat.data.node.whole`) for graphs too large
for one training step: the nodes are cut at random into :math:`P` parts and each batch is the
subgraph one part induces (the edges with both ends in it), with its own
:obj:`target_mask` (the split's nodes in the part), so that
:func:`gsat.training.engine.targets` and the loss apply unchanged.

This is the random node partitioning of :class:`torch_geometric.loader.RandomNodeLoader`
(pure PyTorch, no compiled extension): each part holds about :math:`N / P` nodes and
:math:`E / P^2` edges, so a training step holds :math:`1 / P` of the nodes and
:math:`1 / P^2` of the edges of a full-graph step, and one epoch visits every target node
once and about :math:`E / P` of the edges. A node sees only its neighbours inside its part, so the model is trained (and,
when evaluation is partitioned too, evaluated) on sparser neighbourhoods than the whole
graph's.
"""
from __future__ import annotations

import copy
from typing import Iterator

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.loader import RandomNodeLoader

__all__ = ["NodeBatches", "EXPLAIN_KEYS"]

#: the attributes of a whole graph that list its explained nodes' scored edges
#: (:func:`gsat.data.node.whole.explained_edges`); a part keeps those inside it
EXPLAIN_KEYS = ("explain_edges", "explain_labels", "explain_group", "explain_count",
                "explained")


class NodeBatches(RandomNodeLoader):
    r"""The parts of one whole graph of a node task as batches (a
    :class:`~torch_geometric.data.Batch` of one graph each), in a random partition of its
    nodes drawn afresh every epoch, or a fixed one.

    A part keeps the node attributes of its nodes (:obj:`x`, :obj:`y`, :obj:`target_mask`)
    and the edge attributes of its edges. Explained nodes of an interpretation graph keep
    the edges of their computation subgraphs that lie inside their own part (the edges the
    model sees around them), renumbered; the groups of the explained nodes stay in the
    order of :obj:`explained`, so :func:`gsat.training.engine.score_batches` pools them as
    for the whole graph. Parts without a target node are skipped; :func:`len` counts all
    :obj:`num_parts`.

    Args:
        graph (Data): one graph of :func:`gsat.data.node.whole.whole_graph_dataset`.
        num_parts (int): :math:`P`, the number of parts (at most one per node).
        shuffle (bool, optional): a new random partition every epoch; otherwise the same
            partition, drawn from :obj:`seed`, every time the loader is iterated (for
            evaluation scores that can be compared between epochs). (default: :obj:`True`)
        seed (int, optional): seed of the loader's :attr:`generator`. (default: :obj:`0`)
    """

    def __init__(self, graph: Data, num_parts: int, shuffle: bool = True, seed: int = 0):
        if num_parts < 1:
            raise ValueError(f"num_parts must be >= 1, got {num_parts}")
        if getattr(graph, "target_mask", None) is None:
            raise ValueError("the graph has no target_mask; NodeBatches cuts the whole graph "
                             "of a node task (gsat.data.node.whole.whole_graph_dataset)")
        explain = {k: getattr(graph, k) for k in EXPLAIN_KEYS if k in graph}
        base = copy.copy(graph) if explain else graph  # shares the tensors
        for k in explain:  # edge lists of their own length: not sliced by Data.subgraph
            del base[k]
        self._explain = explain
        self._fixed_seed = None if shuffle else int(seed)
        super().__init__(base, num_parts=min(int(num_parts), int(graph.num_nodes)),
                         shuffle=True, generator=torch.Generator().manual_seed(int(seed)))

    def __iter__(self) -> Iterator[Batch]:
        if self._fixed_seed is not None:
            self.generator.manual_seed(self._fixed_seed)
        for part in super().__iter__():
            if bool(part.target_mask.any()):
                yield part

    def collate_fn(self, index) -> Batch:
        nodes = torch.as_tensor(index, dtype=torch.long).sort().values
        part = self.data.subgraph(nodes)
        if self._explain:
            self._keep_explained(part, nodes)
        return Batch.from_data_list([part])

    def _keep_explained(self, part: Data, nodes: Tensor) -> None:
        """Put on :obj:`part` the scored edges of the explained nodes in :obj:`nodes`."""
        ex = self._explain
        n, e = int(self.data.num_nodes), int(self.data.edge_index.size(1))
        in_part = torch.zeros(n, dtype=torch.bool)
        in_part[nodes] = True
        src, dst = self.data.edge_index
        edge_kept = in_part[src] & in_part[dst]
        new_edge = torch.full((e,), -1, dtype=torch.long)
        new_edge[edge_kept] = torch.arange(int(edge_kept.sum()))
        explained: Tensor = ex["explained"]
        node_kept = in_part[explained]  # explained nodes of this part, in their order
        new_group = torch.full((explained.numel(),), -1, dtype=torch.long)
        new_group[node_kept] = torch.arange(int(node_kept.sum()))
        keep = node_kept[ex["explain_group"]] & edge_kept[ex["explain_edges"]]
        part.explain_edges = new_edge[ex["explain_edges"][keep]]
        part.explain_labels = ex["explain_labels"][keep]
        part.explain_group = new_group[ex["explain_group"][keep]]
        part.explained = explained[node_kept]
        part.explain_count = torch.tensor([int(node_kept.sum())])

