r"""A node task of one's own: a ``pyg:PATH`` file holding **one**
:class:`~torch_geometric.data.Data` with a label per node.

:func:`is_node_task` tells such a file from a list of graphs to classify (it is called by
:func:`gsat.data.files.load_pyg_graphs` on what :func:`~gsat.data.files.read_graph_file`
read, safely); :func:`node_dataset` turns the graph into a
:class:`~gsat.data.node.base.NodeDataset`. The graph carries :obj:`x`, :obj:`edge_index`,
:obj:`y` (one class index per node, shape :obj:`[N]` or :obj:`[N, 1]`; nodes outside every
split may carry any value, e.g. -1) and either all of :obj:`train_mask`, :obj:`val_mask`,
:obj:`test_mask` (boolean, non-empty, disjoint) or none of them (then a random 80/10/10 node
split by the seed is drawn). Optional: :obj:`edge_attr`, :obj:`edge_label` (0/1 per edge, the
ground truth of explanations) and :obj:`node_label` (:math:`> 0` on the nodes whose
explanations are scored). The task is inferred from the labels of the split nodes: binary for
two classes, multi-class otherwise; the metric is accuracy.

Explained nodes: with :obj:`edge_label`, the test nodes with :obj:`node_label > 0`, or without
:obj:`node_label` the test nodes touching a ground-truth edge; without ground truth a sample
of :data:`~gsat.data.node.base.NUM_EXPLAIN` test nodes.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import is_undirected

from gsat.data.node.base import MASKS, NUM_EXPLAIN, NodeDataset, sample_nodes, split_masks
from gsat.errors import GraphInputError

log = logging.getLogger(__name__)


def is_node_task(graphs: Sequence[Data]) -> bool:
    r""":obj:`True` for a single graph that carries a node mask or a label per node
    (:obj:`y` of :obj:`num_nodes > 1` entries in one column)."""
    if len(graphs) != 1:
        return False
    g = graphs[0]
    if any(getattr(g, m, None) is not None for m in MASKS):
        return True
    y = getattr(g, "y", None)
    n = g.num_nodes or 0
    return (isinstance(y, Tensor) and n > 1 and y.size(0) == n
            and (y.dim() == 1 or (y.dim() == 2 and y.size(1) == 1)))


def _labels(y: object, n: int, source: str) -> Tensor:
    if not isinstance(y, Tensor):
        raise GraphInputError(f"{source}: the graph has no label y; a node task needs one "
                              f"class index per node, shape [{n}]")
    if y.dim() == 2 and y.size(1) == 1:
        y = y.view(-1)
    if y.dim() != 1 or y.numel() != n:
        raise GraphInputError(f"{source}: y has shape {list(y.shape)}; a node task needs one "
                              f"class index per node, shape [{n}]")
    if y.is_floating_point():
        if not bool(torch.isfinite(y).all()) or bool((y != y.round()).any()):
            raise GraphInputError(f"{source}: y must hold whole class indices (regression is "
                                  "not supported)")
    return y.long()


def _masks(g: Data, n: int, seed: int, source: str) -> dict:
    given = [m for m in MASKS if getattr(g, m, None) is not None]
    if not given:
        log.info("%s: no node masks; drawing a random 80/10/10 node split by seed %d",
                 source, seed)
        return split_masks(n, seed)
    if len(given) != len(MASKS):
        missing = [m for m in MASKS if m not in given]
        raise GraphInputError(f"{source}: the graph has {', '.join(given)} but no "
                              f"{', '.join(missing)}; give all three masks or none")
    for m in MASKS:
        value = getattr(g, m)
        if not isinstance(value, Tensor) or value.dtype != torch.bool or value.dim() != 1 \
                or value.numel() != n:
            got = (f"{value.dtype} of shape {list(value.shape)}" if isinstance(value, Tensor)
                   else type(value).__name__)
            raise GraphInputError(f"{source}: {m} must be a boolean tensor of shape [{n}] "
                                  f"(mask.bool()), got {got}")
    return {m: getattr(g, m) for m in MASKS}


def _graph(g: Data, n: int, source: str) -> Data:
    """The structure, features and ground truth of :obj:`g`, checked and converted."""
    from gsat.core.validation import check_graph

    if getattr(g, "x", None) is None:
        raise GraphInputError(f"{source}: the graph has no node features x")
    data = Data(x=g.x, edge_index=g.edge_index, num_nodes=n)
    for key in ("edge_attr", "edge_label", "node_label"):
        if getattr(g, key, None) is not None:
            data[key] = getattr(g, key)
    try:
        check_graph(data)
    except GraphInputError as exc:
        raise GraphInputError(f"{source}: {exc}") from None
    if not data.x.is_floating_point():
        data.x = data.x.float()
    if data.edge_attr is not None:
        data.edge_attr = data.edge_attr.float().view(data.edge_attr.size(0), -1)
    for key, size, what in (("edge_label", data.edge_index.size(1), "edge"),
                            ("node_label", n, "node")):
        value = data[key] if key in data else None
        if value is None:
            continue
        if not isinstance(value, Tensor) or value.numel() != size:
            got = list(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise GraphInputError(f"{source}: {key} must have one entry per {what} "
                                  f"({size}), got {got}")
        data[key] = value.view(-1).long()
    return data


def _explained(data: Data, n: int, seed: int) -> Tensor:
    test = data.test_mask
    if "edge_label" not in data:
        return sample_nodes(test, NUM_EXPLAIN, seed)
    if "node_label" in data:
        return (test & (data.node_label > 0)).nonzero().view(-1)
    touched = torch.zeros(n, dtype=torch.bool)
    touched[data.edge_index[:, data.edge_label > 0].reshape(-1)] = True
    return (test & touched).nonzero().view(-1)


def node_dataset(g: Data, path: str | Path, seed: int = 0) -> NodeDataset:
    r"""The graph :obj:`g` read from ``pyg:PATH`` as a node task (see the module docstring).

    Raises:
        gsat.errors.GraphInputError: one line: no node features, a malformed structure,
            :obj:`y` of the wrong shape or not whole numbers, only some masks, masks that are
            not boolean of one entry per node, empty or overlapping masks, labels of split
            nodes that are not class indices, :obj:`edge_label` / :obj:`node_label` of the
            wrong length.
    """
    source = f"pyg:{path}"
    n = int(g.num_nodes or 0)
    data = _graph(g, n, source)
    data.y = _labels(getattr(g, "y", None), n, source)
    data.update(_masks(g, n, seed, source))
    split = data.train_mask | data.val_mask | data.test_mask
    known = data.y[split & (data.y >= 0)]
    num_classes = int(known.max()) + 1 if known.numel() else 1
    binary = num_classes <= 2
    gt = "edge_label" in data
    name = f"pyg_{Path(path).stem}"
    try:
        ds = NodeDataset(
            name=name, data=data, num_features=data.x.size(1),
            num_outputs=1 if binary else num_classes,
            task="binary" if binary else "multiclass", metric="acc",
            explain_nodes=_explained(data, n, seed), has_ground_truth=gt,
            undirected=is_undirected(data.edge_index, num_nodes=n), config_name="nodes",
            edge_dim=data.edge_attr.size(1) if data.edge_attr is not None else None,
            extra={"source": str(Path(path).resolve())})
    except GraphInputError as exc:  # name the file rather than the dataset
        raise GraphInputError(str(exc).replace(f"node dataset {name!r}", source, 1)) from None
    log.info("%s: one graph, %d nodes (%d train / %d valid / %d test), node task: %s with %d "
             "output(s), metric acc; %s", source, n, int(data.train_mask.sum()),
             int(data.val_mask.sum()), int(data.test_mask.sum()), ds.task, ds.num_outputs,
             "edge_label present: explanations are scored" if gt else "no edge_label")
    return ds
