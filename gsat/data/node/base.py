r"""What every node classification dataset builder returns (:class:`NodeDataset`), the checks
it passes on construction, and the helpers the builders share (random node splits, the
ground truth of motif edges, the choice of the nodes to explain)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Dict, List, Literal, Optional, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data

from gsat.data.base import random_split
from gsat.errors import ConfigError, GraphInputError

#: the node masks of :attr:`NodeDataset.data`: training, validation and test split
MASKS = ("train_mask", "val_mask", "test_mask")
#: split name -> its mask
SPLITS = {"train": "train_mask", "valid": "val_mask", "test": "test_mask"}
#: fractions of a random train / valid / test node split, the protocol of PGExplainer
#: (Luo et al., NeurIPS 2020) for the synthetic node datasets
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
#: test nodes sampled for explanation where no ground truth singles nodes out
NUM_EXPLAIN = 100
#: which nodes with ground truth are explained: those of the test split, or all of them
EXPLAIN_SPLITS = ("test", "all")


@dataclass
class NodeDataset:
    r"""A node classification dataset: one graph, its nodes split into train / valid / test by
    boolean masks, plus the facts the trainer and model need about it.

    Args:
        name (str): registry name.
        data (Data): the graph: :obj:`x` (:obj:`[N, F]`, float), :obj:`edge_index`,
            :obj:`y` (:obj:`[N]`, class indices; :obj:`0`/:obj:`1` for a binary task),
            :obj:`train_mask`, :obj:`val_mask`, :obj:`test_mask` (boolean :obj:`[N]`,
            non-empty and pairwise disjoint; they need not cover every node) and, where
            ground truth exists, :obj:`edge_label` (:obj:`[E]`, 1 on an explanation edge) and
            :obj:`node_label` (:obj:`[N]`, 1 on a motif node); the motif datasets also carry
            :obj:`motif_id` (:obj:`[N]`, the motif instance of a node, :obj:`-1` for base
            nodes).
        num_features (int): node feature width.
        num_outputs (int): logits of the classifier (1 for binary).
        task (str): :obj:`"binary"` or :obj:`"multiclass"`.
        metric (str): :obj:`"acc"`. (default: :obj:`"acc"`)
        explain_nodes (torch.Tensor): sorted indices of the nodes whose explanations are
            scored (with ground truth: the motif nodes of the test split, as in the evaluation
            of GNNExplainer and PGExplainer; without: a sample of test nodes).
        has_ground_truth (bool): the graph carries :obj:`edge_label`.
            (default: :obj:`True`)
        undirected (bool): every edge comes with its reverse. (default: :obj:`True`)
        config_name (str): config stem, :obj:`gsat/configs/<BACKBONE>-<config_name>.yml`.
        explanations (dict, optional): node -> ids (columns of :obj:`edge_index`) of the
            edges that explain it, where the ground truth differs from node to node
            (Infection); :obj:`None`: the ground truth of every node is :obj:`edge_label`.
        edge_dim (int, optional): edge feature width, :obj:`None` without edge features.
        node_names (list of str, optional): names of categorical node types (none here; kept
            so that the metadata of a run reads the same for both levels).
        extra (dict): further facts (generator settings, sizes, sources).

    Raises:
        gsat.errors.GraphInputError: the graph, its labels, masks, ground truth or explained
            nodes are malformed (:func:`check_node_dataset`).
        gsat.errors.ConfigError: :obj:`task` or :obj:`metric` is unknown.
    """

    name: str
    data: Data
    num_features: int
    num_outputs: int
    task: Literal["binary", "multiclass"]
    metric: Literal["acc"] = "acc"
    explain_nodes: Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))
    has_ground_truth: bool = True
    undirected: bool = True
    config_name: str = ""
    explanations: Optional[Dict[int, Tensor]] = None
    edge_dim: Optional[int] = None
    node_names: Optional[List[str]] = None
    extra: Dict[str, object] = field(default_factory=dict)

    #: tells a node dataset from a :class:`~gsat.data.base.GraphDataset` (:obj:`"graph"`)
    level: ClassVar[str] = "node"

    def __post_init__(self) -> None:
        check_node_dataset(self)

    @property
    def num_nodes(self) -> int:
        return int(self.data.num_nodes)

    @property
    def num_edges(self) -> int:
        return int(self.data.edge_index.size(1))

    def split_nodes(self, split: str) -> Tensor:
        r"""Indices of the nodes of :obj:`split` (:obj:`"train"`, :obj:`"valid"` or
        :obj:`"test"`)."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
        return getattr(self.data, SPLITS[split]).nonzero().view(-1)

    def ground_truth(self, node: int) -> Tensor:
        r"""The ground-truth explanation of :obj:`node`: 0/1 per edge of the graph (restrict
        it to the node's computation subgraph to score an explanation).

        Raises:
            ValueError: the dataset has no ground truth, or none for :obj:`node`.
        """
        if not self.has_ground_truth:
            raise ValueError(f"dataset {self.name!r} has no ground-truth explanations")
        if self.explanations is None:
            return self.data.edge_label
        node = int(node)
        if node not in self.explanations:
            raise ValueError(f"dataset {self.name!r} has no ground truth for node {node} "
                             "(only nodes with one explanation have one)")
        label = torch.zeros(self.num_edges, dtype=torch.long)
        label[self.explanations[node]] = 1
        return label


def _check_labels(ds: NodeDataset, n: int) -> None:
    y = getattr(ds.data, "y", None)
    if not isinstance(y, Tensor) or y.dim() != 1 or y.numel() != n:
        shape = list(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise GraphInputError(f"y must hold one class index per node, shape [{n}], got "
                              f"{shape}")
    if y.is_floating_point() or y.dtype == torch.bool:
        raise GraphInputError(f"y must be an integer tensor of class indices, got {y.dtype}")
    labelled = torch.zeros(n, dtype=torch.bool)
    for mask in MASKS:
        labelled |= getattr(ds.data, mask)
    classes = 2 if ds.task == "binary" else ds.num_outputs
    bad = labelled & ((y < 0) | (y >= classes))
    if bool(bad.any()):
        node = int(bad.nonzero()[0])
        raise GraphInputError(f"node {node} of a split has label {int(y[node])}; a {ds.task} "
                              f"task with {ds.num_outputs} output(s) needs labels 0..{classes - 1}")


def _check_masks(data: Data, n: int) -> None:
    for mask in MASKS:
        m = getattr(data, mask, None)
        if not isinstance(m, Tensor):
            raise GraphInputError(f"the graph has no {mask}; a node task needs boolean "
                                  f"{', '.join(MASKS)} of shape [{n}]")
        if m.dtype != torch.bool or m.dim() != 1 or m.numel() != n:
            raise GraphInputError(f"{mask} must be a boolean tensor of shape [{n}], got "
                                  f"{m.dtype} of shape {list(m.shape)}")
        if not bool(m.any()):
            raise GraphInputError(f"{mask} selects no node; every split needs at least one")
    for i, a in enumerate(MASKS):
        for b in MASKS[i + 1:]:
            both = getattr(data, a) & getattr(data, b)
            if bool(both.any()):
                raise GraphInputError(f"{a} and {b} overlap in {int(both.sum())} node(s) "
                                      f"(e.g. node {int(both.nonzero()[0])}); the splits "
                                      "must be disjoint")


def _check_ground_truth(ds: NodeDataset, n: int) -> None:
    e = ds.num_edges
    label = getattr(ds.data, "edge_label", None)
    if label is not None:
        if not isinstance(label, Tensor) or label.dim() != 1 or label.numel() != e:
            shape = list(label.shape) if isinstance(label, Tensor) else type(label).__name__
            raise GraphInputError(f"edge_label must have one entry per edge, shape [{e}], got "
                                  f"{shape}")
        if bool(((label != 0) & (label != 1)).any()):
            raise GraphInputError("edge_label must be 0 or 1 on every edge")
    elif ds.has_ground_truth:
        raise GraphInputError("has_ground_truth is set but the graph has no edge_label")
    node_label = getattr(ds.data, "node_label", None)
    if node_label is not None and (not isinstance(node_label, Tensor)
                                   or node_label.numel() != n):
        raise GraphInputError(f"node_label must have one entry per node ({n})")
    nodes = ds.explain_nodes
    if not isinstance(nodes, Tensor) or nodes.dim() != 1 or nodes.dtype != torch.long:
        raise GraphInputError("explain_nodes must be a one-dimensional torch.long tensor")
    if nodes.numel() and (int(nodes.min()) < 0 or int(nodes.max()) >= n):
        raise GraphInputError(f"explain_nodes must be node indices in 0..{n - 1}")
    if nodes.unique().numel() != nodes.numel():
        raise GraphInputError("explain_nodes lists a node twice")
    if ds.explanations is not None:
        missing = [int(v) for v in nodes if int(v) not in ds.explanations]
        if missing:
            raise GraphInputError(f"explained node {missing[0]} has no ground truth in "
                                  "explanations")
        for v, ids in ds.explanations.items():
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= e):
                raise GraphInputError(f"the explanation of node {v} names an edge outside "
                                      f"0..{e - 1}")


def check_node_dataset(ds: NodeDataset) -> NodeDataset:
    r"""Check :obj:`ds`: a valid graph (:func:`gsat.core.validation.check_graph`) with
    :obj:`num_features` features, :obj:`y` with one class index per node (valid for the task
    on every node of a split), boolean :obj:`train_mask` / :obj:`val_mask` / :obj:`test_mask`
    of one entry per node, non-empty and pairwise disjoint, 0/1 :obj:`edge_label` with one
    entry per edge (required when :obj:`has_ground_truth`), and :obj:`explain_nodes` distinct
    node indices; returns :obj:`ds`.

    Raises:
        gsat.errors.GraphInputError: one line naming the dataset and the problem.
        gsat.errors.ConfigError: :obj:`task` or :obj:`metric` is unknown, or the outputs do
            not fit the task.
    """
    from gsat.core.validation import check_graph

    if ds.task not in ("binary", "multiclass"):
        raise ConfigError(f"node dataset {ds.name!r}: task must be 'binary' or 'multiclass', "
                          f"got {ds.task!r}")
    if ds.metric != "acc":
        raise ConfigError(f"node dataset {ds.name!r}: metric must be 'acc', got {ds.metric!r}")
    if (ds.task == "binary") != (ds.num_outputs == 1) or ds.num_outputs < 1:
        raise ConfigError(f"node dataset {ds.name!r}: a {ds.task} task cannot have "
                          f"{ds.num_outputs} output(s) (binary: 1, multiclass: the classes)")
    try:
        if not isinstance(ds.data, Data):
            raise GraphInputError(f"data must be a torch_geometric.data.Data, got "
                                  f"{type(ds.data).__name__}")
        check_graph(ds.data)
        n = ds.data.x.size(0)
        if ds.data.x.size(1) != ds.num_features:
            raise GraphInputError(f"x has {ds.data.x.size(1)} features, the dataset declares "
                                  f"{ds.num_features}")
        _check_masks(ds.data, n)
        _check_labels(ds, n)
        _check_ground_truth(ds, n)
    except GraphInputError as exc:
        raise GraphInputError(f"node dataset {ds.name!r}: {exc}") from None
    return ds


def split_masks(num_nodes: int, seed: int,
                fractions: Sequence[float] = SPLIT_FRACTIONS) -> Dict[str, Tensor]:
    r"""Boolean :obj:`train_mask`, :obj:`val_mask` and :obj:`test_mask` of a random node split
    by :obj:`fractions` (default 80/10/10), reproducible for :obj:`seed`
    (:func:`gsat.data.base.random_split`); together they cover every node."""
    masks = {}
    for mask, idx in zip(MASKS, random_split(num_nodes, fractions, seed)):
        m = torch.zeros(num_nodes, dtype=torch.bool)
        m[idx] = True
        masks[mask] = m
    return masks


def motif_edge_label(edge_index: Tensor, motif_id: Tensor) -> Tensor:
    r"""1 on the edges whose endpoints lie in the same motif instance (:obj:`motif_id`
    :math:`\geq 0`, equal at both ends), 0 elsewhere; symmetric on an undirected graph."""
    src, dst = motif_id[edge_index[0]], motif_id[edge_index[1]]
    return ((src >= 0) & (src == dst)).long()


def explained(candidates: Tensor, test_mask: Tensor, explain_split: str) -> Tensor:
    r"""Sorted indices of the :obj:`candidates` (boolean per node) to explain: those in
    :obj:`test_mask` (:obj:`explain_split="test"`) or all of them (:obj:`"all"`).

    Raises:
        gsat.errors.ConfigError: :obj:`explain_split` is neither.
    """
    if explain_split not in EXPLAIN_SPLITS:
        raise ConfigError(f"explain_split must be one of {', '.join(EXPLAIN_SPLITS)}, got "
                          f"{explain_split!r}")
    chosen = candidates & test_mask if explain_split == "test" else candidates
    return chosen.nonzero().view(-1)


def sample_nodes(mask: Tensor, k: int, seed: int) -> Tensor:
    r"""At most :obj:`k` of the nodes in :obj:`mask`, drawn without replacement with a
    generator seeded by :obj:`seed`, sorted."""
    nodes = mask.nonzero().view(-1)
    perm = torch.randperm(nodes.numel(), generator=torch.Generator().manual_seed(seed))
    return nodes[perm[:max(k, 0)]].sort().values
