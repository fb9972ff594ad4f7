r"""The explanation of a node: GSAT's attention on the edges of the node's :math:`L`-hop
computation subgraph, in either node design (the whole graph, or one subgraph per node),
as plain tensors (:class:`NodeExplanation`) or as a PyG
:class:`~torch_geometric.explain.Explanation` with :obj:`index` the node."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

__all__ = ["NodeExplanation", "node_graph", "explain_node", "explained_nodes", "to_pyg",
           "node_fidelity"]


@dataclass
class NodeExplanation:
    r"""The explanation of one node.

    Attributes:
        node (int): the explained node (index in the whole graph).
        node_ids (torch.Tensor): the nodes of its computation subgraph, the node first.
        edge_ids (torch.Tensor): the subgraph's edges (columns of the whole graph's
            :obj:`edge_index`).
        edge_index (torch.Tensor): those edges in the subgraph's own numbering
            (:obj:`node_ids[edge_index]` gives the whole graph's nodes).
        edge_att (torch.Tensor): attention per edge of the subgraph.
        edge_label (torch.Tensor, optional): ground truth per edge (1 explanation edge, 0
            not, -1 unknown), where the dataset has one.
    """

    node: int
    node_ids: Tensor
    edge_ids: Tensor
    edge_index: Tensor
    edge_att: Tensor
    edge_label: Optional[Tensor] = None


def _local(node: int, edge_ids: Tensor, whole_edge_index: Tensor) -> tuple:
    """The subgraph of :obj:`edge_ids` renumbered with :obj:`node` as node 0."""
    ends = whole_edge_index[:, edge_ids]
    others = ends.unique()
    node_ids = torch.cat([others.new_tensor([node]), others[others != node]])
    lookup = torch.full((int(node_ids.max()) + 1,), -1, dtype=torch.long,
                        device=node_ids.device)
    lookup[node_ids] = torch.arange(node_ids.numel(), device=node_ids.device)
    return node_ids, lookup[ends]


@torch.no_grad()
def explained_nodes(model: nn.Module, graphs: List[Data], limit: Optional[int] = None
                    ) -> Iterator[NodeExplanation]:
    r"""The explanations of the explained nodes of a node task's interpretation graphs
    (:attr:`GraphDataset.interp_test` of :func:`gsat.training.build.task_dataset`): each
    computation subgraph explained by itself (subgraph design), or the whole graph's
    attention on each explained node's subgraph (whole-graph design). At most :obj:`limit`.
    """
    count = 0
    for g in graphs:
        if limit is not None and count >= limit:
            return
        if getattr(g, "explain_edges", None) is not None:  # the whole graph
            att = model.explain(g)
            for i, v in enumerate(g.explained.tolist()):
                if limit is not None and count >= limit:
                    return
                mine = g.explain_group == i
                ids = g.explain_edges[mine]
                node_ids, local = _local(v, ids, g.edge_index)
                yield NodeExplanation(v, node_ids, ids, local, att[ids].cpu(),
                                      g.explain_labels[mine])
                count += 1
        else:  # a computation subgraph, centre first
            yield NodeExplanation(int(g.node_id), g.node_ids, g.edge_ids, g.edge_index,
                                  model.explain(g).cpu(), getattr(g, "edge_label", None))
            count += 1


def node_graph(ds: "object", node: int, readout: str, num_hops: int) -> Data:
    r"""The graph a model trained in the design of :obj:`readout` predicts and explains
    :obj:`node` of the node dataset :obj:`ds` on: its computation subgraph (``center``, the
    node is node 0) or the whole graph with the node as its one target (``node``)."""
    if readout == "center":
        from gsat.data.node.subgraphs import computation_subgraph

        return computation_subgraph(ds, int(node), num_hops)
    from gsat.data.node.whole import targets_graph

    return targets_graph(ds, [int(node)], num_hops)


def explain_node(model: nn.Module, ds: "object", node: int, readout: str, num_hops: int
                 ) -> NodeExplanation:
    r"""Explain :obj:`node` of the node dataset :obj:`ds` with a model trained in the design
    of :obj:`readout` (``node``: the whole graph; ``center``: computation subgraphs)."""
    g = node_graph(ds, node, readout, num_hops).to(next(model.parameters()).device)
    return next(explained_nodes(model, [g]))


def to_pyg(exp: NodeExplanation, ds: "object", prediction: Optional[Tensor] = None):
    r"""A :class:`torch_geometric.explain.Explanation` of the whole graph of :obj:`ds` with
    :obj:`index` the explained node and :obj:`edge_mask` the attention on the edges of its
    computation subgraph (0 elsewhere)."""
    from torch_geometric.explain import Explanation

    mask = torch.zeros(ds.num_edges)
    mask[exp.edge_ids] = exp.edge_att.float()
    out = Explanation(x=ds.data.x, edge_index=ds.data.edge_index, edge_mask=mask,
                      index=int(exp.node), target=ds.data.y)
    if prediction is not None:
        out.prediction = prediction
    return out


@torch.no_grad()
def node_fidelity(model: nn.Module, g: Data, exp: NodeExplanation, position: int,
                  keep: float = 0.2) -> dict:
    r"""Fidelity of a node's explanation without ground truth, in the sense of PyG's
    :func:`torch_geometric.explain.metric.fidelity` (model mode, Amara et al., 2022): the
    top :obj:`keep` share of the edges of the node's computation subgraph by attention (at
    least one) is the explanation; the GSAT model predicts the node with a hard mask in place
    of its attention (:func:`gsat.core.model.edge_mask` on the gated pass) keeping only the
    explanation (:obj:`fid_minus`: 1 if the predicted class changes) or only the rest of the
    subgraph (:obj:`fid_plus`: 1 if it changes). Edges outside the subgraph cannot reach the
    node in :math:`L` layers and keep their mask at 1. :obj:`prob_full`,
    :obj:`prob_explanation` and :obj:`prob_complement` are the probabilities of the
    originally predicted class. Average :obj:`fid_plus` / :obj:`fid_minus` over nodes and
    pass them to :func:`torch_geometric.explain.metric.characterization_score`.

    Args:
        model (gsat.GSAT): a GSAT model of either node design.
        g (Data): the graph :obj:`exp` was computed on (:func:`node_graph`).
        exp (NodeExplanation): the node's explanation.
        position (int): the node's position among :obj:`g`'s predictions (0 for a computation
            subgraph, the node itself for the whole graph).
        keep (float, optional): the share of the subgraph's edges kept. (default: :obj:`0.2`)
    """
    from gsat.core.model import edge_mask
    from gsat.core.task import Task

    if not 0.0 < keep < 1.0:
        raise ValueError(f"keep must lie in (0, 1), got {keep}")
    model.eval()
    task = Task.parse(model.task)
    x, ei, batch, edge_attr = model._inputs(g, check=True)

    def probs(mask=None) -> Tensor:
        if mask is None:
            logits = model(g).logits[position]
        else:
            with edge_mask(model.backbone, mask.to(x.dtype), ei):
                logits = model.gated_forward(x, ei, batch, edge_attr)[position]
        if task == Task.MULTICLASS:
            return logits.softmax(-1)
        p1 = logits.sigmoid().view(-1)[:1]
        return torch.cat([1 - p1, p1])

    full = probs()
    cls = int(full.argmax())
    n = exp.edge_ids.numel()
    # the subgraph's edges among g's: those of the whole graph, or all of a subgraph's own
    ids = exp.edge_ids if getattr(g, "explain_edges", None) is not None else torch.arange(n)
    ids = ids.to(ei.device)
    k = max(1, int(round(keep * n))) if n else 0
    top = ids[exp.edge_att.to(ei.device).argsort(descending=True)[:k]]
    inside = torch.zeros(ei.size(1), dtype=torch.bool, device=ei.device)
    inside[ids] = True
    explanation = torch.zeros_like(inside)
    explanation[top] = True
    with_expl = probs((~inside | explanation).float())  # the explanation (and what is far)
    without = probs((~explanation).float())  # everything but the explanation
    return {"kept_edges": k, "subgraph_edges": n, "predicted": cls,
            "prob_full": float(full[cls]), "prob_explanation": float(with_expl[cls]),
            "prob_complement": float(without[cls]),
            "fid_minus": float(int(with_expl.argmax()) != cls),
            "fid_plus": float(int(without.argmax()) != cls)}
