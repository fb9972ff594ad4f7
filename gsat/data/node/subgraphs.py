r"""Node classification as graph classification: every node becomes the graph of its
:math:`L`-hop computation subgraph (:func:`torch_geometric.utils.k_hop_subgraph`, :math:`L`
the number of message-passing layers, so the subgraph holds every edge a prediction of the
node can depend on), whose label is the node's and whose centre is node 0. A backbone with
the centre readout (:func:`gsat.nn.readout.center_pool`) then predicts the node from its own
embedding, and GSAT's attention over the subgraph's edges is the node's explanation.

The ground truth of a subgraph is the ground truth of its centre restricted to its edges;
where the centre has none (a base node of a motif dataset, a node of Infection with several
shortest paths) every edge is labelled :data:`UNKNOWN`, which the scoring leaves out
(:func:`gsat.metrics.interpretation.score_edges`). Explanations are scored as in the
evaluation of PGExplainer (Luo et al., NeurIPS 2020): the edges of the computation subgraphs
of all explained nodes pooled into one ROC AUC.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import k_hop_subgraph

from gsat.data.base import GraphDataset
from gsat.data.node.base import NodeDataset

__all__ = ["UNKNOWN", "computation_subgraph", "subgraph_dataset", "explained_truth",
           "graph_dataset"]

#: :obj:`edge_label` of the edges of a subgraph whose centre has no ground truth
UNKNOWN = -1


def explained_truth(ds: NodeDataset, node: int) -> Optional[Tensor]:
    r"""The ground truth of :obj:`node` over all edges of the graph (0/1), or :obj:`None`
    when it has none: a dataset without ground truth, a node outside every motif
    (:obj:`node_label` 0), or a node without one explanation (:attr:`NodeDataset.explanations`)."""
    if not ds.has_ground_truth:
        return None
    if ds.explanations is not None:
        return ds.ground_truth(node) if int(node) in ds.explanations else None
    node_label = getattr(ds.data, "node_label", None)
    if node_label is not None and int(node_label[int(node)]) == 0:
        return None
    return ds.data.edge_label


def computation_subgraph(ds: NodeDataset, node: int, num_hops: int,
                         with_truth: bool = True) -> Data:
    r"""The :obj:`num_hops`-hop computation subgraph of :obj:`node` as one graph: its nodes
    (the centre first, then the others in the order of the graph), the edges among them
    (relabelled), :obj:`y` the centre's label, :obj:`node_id` (the centre) and
    :obj:`node_ids` / :obj:`edge_ids` (each node's and edge's index in the whole graph), and
    with :obj:`with_truth` and a dataset with ground truth, :obj:`edge_label` (the centre's
    ground truth on the subgraph's edges, :data:`UNKNOWN` where it has none)."""
    data = ds.data
    node = int(node)
    subset, _, center, edge_mask = k_hop_subgraph(node, num_hops, data.edge_index,
                                                  relabel_nodes=False,
                                                  num_nodes=data.num_nodes)
    others = subset[subset != node]
    nodes = torch.cat([subset.new_tensor([node]), others])
    local = torch.full((data.num_nodes,), -1, dtype=torch.long)
    local[nodes] = torch.arange(nodes.numel())
    edge_ids = edge_mask.nonzero().view(-1)
    g = Data(x=data.x[nodes], edge_index=local[data.edge_index[:, edge_ids]],
             y=data.y[node].view(1), num_nodes=int(nodes.numel()))
    g.node_id = torch.tensor([node])
    g.node_ids, g.edge_ids = nodes, edge_ids
    if getattr(data, "edge_attr", None) is not None:
        g.edge_attr = data.edge_attr[edge_ids]
    if with_truth and ds.has_ground_truth:
        truth = explained_truth(ds, node)
        g.edge_label = (truth[edge_ids].long() if truth is not None
                        else torch.full((edge_ids.numel(),), UNKNOWN, dtype=torch.long))
    return g


def graph_dataset(ds: NodeDataset, splits: Dict[str, List[Data]],
                  interp: Optional[List[Data]], design: str, num_hops: int) -> GraphDataset:
    r"""The :class:`~gsat.data.base.GraphDataset` of a node task in :obj:`design`
    (``subgraphs`` or ``whole``): the graphs of each split, the interpretation graphs, and
    :obj:`ds`'s facts, with :obj:`extra` saying :obj:`level: "node"`, the design,
    :obj:`num_hops`, the size of the whole graph and the explained nodes."""
    extra = {**ds.extra, "level": "node", "design": design, "num_hops": int(num_hops),
             "num_nodes": ds.num_nodes, "num_edges": ds.num_edges,
             "explain_nodes": ds.explain_nodes.tolist()}
    return GraphDataset(name=ds.name, train=splits["train"], valid=splits["valid"],
                        test=splits["test"], num_features=ds.num_features,
                        num_outputs=ds.num_outputs, task=ds.task, metric=ds.metric,
                        edge_dim=ds.edge_dim, has_ground_truth=ds.has_ground_truth,
                        undirected=ds.undirected, node_names=ds.node_names,
                        config_name=ds.config_name, interp_test=interp, extra=extra)


def _subgraphs(ds: NodeDataset, nodes: Sequence[int], num_hops: int) -> List[Data]:
    return [computation_subgraph(ds, int(v), num_hops) for v in nodes]


def subgraph_dataset(ds: NodeDataset, num_hops: int) -> GraphDataset:
    r"""The graph dataset of :obj:`ds`'s computation subgraphs: one graph per node of each
    split, and as :attr:`~gsat.data.base.GraphDataset.interp_test` the subgraphs of the
    explained nodes (:attr:`NodeDataset.explain_nodes`). Its :obj:`extra` says
    :obj:`level: "node"`, :obj:`num_hops` and the size of the whole graph.

    Args:
        ds (NodeDataset): the node dataset.
        num_hops (int): :math:`L`, the number of message-passing layers of the model.
    """
    if num_hops < 1:
        raise ValueError(f"num_hops must be >= 1, got {num_hops}")
    splits = {s: _subgraphs(ds, ds.split_nodes(s).tolist(), num_hops)
              for s in ("train", "valid", "test")}
    interp = _subgraphs(ds, ds.explain_nodes.tolist(), num_hops) if ds.has_ground_truth \
        else None
    return graph_dataset(ds, splits, interp, "subgraphs", num_hops)
