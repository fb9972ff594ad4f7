r"""Node classification on the whole graph: one attention per edge of the graph, computed
from the two endpoint embeddings, gates every message-passing layer; the prediction loss
covers the training nodes and the information-bottleneck term every edge.

Each split is the whole graph once, with :obj:`target_mask` marking the nodes whose
predictions the split scores (:func:`gsat.training.engine.targets`). The interpretation split
also lists, for every explained node :math:`v`, the edges of its :math:`L`-hop computation
subgraph (:obj:`explain_edges`), the ground truth of :math:`v` on them (:obj:`explain_labels`)
and :math:`v`'s position among the explained nodes (:obj:`explain_group`), so that
explanations are scored exactly as in the subgraph design
(:mod:`gsat.data.node.subgraphs`): the edges of all explained nodes' computation subgraphs
pooled into one ROC AUC (Luo et al., NeurIPS 2020), precision@k per explained node.
"""
from __future__ import annotations

from typing import List

import torch
from torch import Tensor
from torch_geometric.data import Data

from gsat.data.base import GraphDataset
from gsat.data.node.base import SPLITS, NodeDataset
from gsat.data.node.subgraphs import (UNKNOWN, computation_subgraph, explained_truth,
                                      graph_dataset)

__all__ = ["whole_graph_dataset", "explained_edges", "targets_graph"]


def _graph(ds: NodeDataset, mask: Tensor) -> Data:
    data = ds.data
    g = Data(x=data.x, edge_index=data.edge_index, y=data.y, num_nodes=ds.num_nodes)
    if getattr(data, "edge_attr", None) is not None:
        g.edge_attr = data.edge_attr
    g.target_mask = mask
    return g


def explained_edges(ds: NodeDataset, nodes: List[int], num_hops: int) -> tuple:
    r"""For each of :obj:`nodes`: the ids of the edges of its :obj:`num_hops`-hop computation
    subgraph, its ground truth on them (:data:`~gsat.data.node.subgraphs.UNKNOWN` where it
    has none) and its position in :obj:`nodes`; concatenated over the nodes."""
    edges, labels, groups = [], [], []
    for i, v in enumerate(nodes):
        sub = computation_subgraph(ds, int(v), num_hops)
        ids = sub.edge_ids
        edges.append(ids)
        labels.append(sub.edge_label if ds.has_ground_truth
                      else torch.full((ids.numel(),), UNKNOWN, dtype=torch.long))
        groups.append(torch.full((ids.numel(),), i, dtype=torch.long))
    if not edges:
        empty = torch.empty(0, dtype=torch.long)
        return empty, empty, empty
    return torch.cat(edges), torch.cat(labels), torch.cat(groups)


def _with_explained(g: Data, ds: NodeDataset, nodes: List[int], num_hops: int) -> Data:
    g.explain_edges, g.explain_labels, g.explain_group = explained_edges(ds, nodes, num_hops)
    g.explain_count = torch.tensor([len(nodes)])
    g.explained = torch.as_tensor(list(nodes), dtype=torch.long)  # node of each group
    return g


def targets_graph(ds: NodeDataset, nodes: List[int], num_hops: int) -> Data:
    r"""The whole graph with :obj:`nodes` as targets and their computation subgraphs' edges
    to score (:func:`explained_edges`), as the interpretation graph of
    :func:`whole_graph_dataset` holds them."""
    mask = torch.zeros(ds.num_nodes, dtype=torch.bool)
    mask[torch.as_tensor(nodes, dtype=torch.long)] = True
    order = mask.nonzero().view(-1).tolist()  # explain_group follows the order of the mask
    return _with_explained(_graph(ds, mask), ds, order, num_hops)


def whole_graph_dataset(ds: NodeDataset, num_hops: int) -> GraphDataset:
    r"""The graph dataset of the whole-graph design: each split is :obj:`ds`'s graph once,
    with :obj:`target_mask` the split's nodes; :attr:`~gsat.data.base.GraphDataset.interp_test`
    is the graph with the explained nodes as targets and their computation subgraphs' edges to
    score (:func:`explained_edges`); the validation graph also scores the computation
    subgraphs of its nodes with ground truth. Its :obj:`extra` says :obj:`level: "node"` and
    :obj:`design: "whole"`.

    Args:
        ds (NodeDataset): the node dataset.
        num_hops (int): :math:`L`, the number of message-passing layers of the model (the
            size of the computation subgraphs explanations are scored on).
    """
    if num_hops < 1:
        raise ValueError(f"num_hops must be >= 1, got {num_hops}")
    splits = {s: [_graph(ds, getattr(ds.data, SPLITS[s]))] for s in SPLITS}
    interp = None
    if ds.has_ground_truth:
        interp = [targets_graph(ds, ds.explain_nodes.tolist(), num_hops)]
        # the validation nodes with ground truth, for the validation interpretation scores
        valid = [v for v in ds.split_nodes("valid").tolist()
                 if explained_truth(ds, v) is not None]
        _with_explained(splits["valid"][0], ds, valid, num_hops)
    return graph_dataset(ds, splits, interp, "whole", num_hops)
