r"""Scores of an explanation against ground-truth edges. GSAT during training
(:func:`gsat.training.engine.evaluate`) and every method of the benchmark
(:func:`score_explanations`) are scored by one function, :func:`score_edges`."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import Tensor

from gsat.errors import DataMissingError

ArrayLike = Union[np.ndarray, torch.Tensor]


def _np(a: ArrayLike) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def interp_auc(scores: ArrayLike, labels: ArrayLike) -> float:
    r"""Interpretation ROC AUC: one :func:`sklearn.metrics.roc_auc_score` over all edges pooled
    (as in GSAT's paper). :obj:`nan` if the labels hold a single class.

    Args:
        scores (array): edge scores (attention / mask), shape :obj:`[E]`.
        labels (array): 1 on ground-truth edges, 0 elsewhere, shape :obj:`[E]`.
    """
    s, y = _np(scores).reshape(-1), _np(labels).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores and labels must have the same length, got {s.shape[0]} and "
                         f"{y.shape[0]}")
    if len(np.unique(y)) < 2:
        return math.nan
    return float(roc_auc_score(y, s))


def precision_at_k(scores: ArrayLike, labels: ArrayLike, graph: ArrayLike, k: int = 5) -> float:
    r"""Precision@k: for each graph with at least one ground-truth edge, the share of
    ground-truth edges among its :math:`\min(k, E_g)` highest-scoring edges; averaged over those
    graphs. Ties are broken by edge order. :obj:`nan` if no graph has ground truth.

    Args:
        scores (array): edge scores, shape :obj:`[E]`.
        labels (array): 0/1 ground truth, shape :obj:`[E]`.
        graph (array): graph id of each edge, shape :obj:`[E]`.
        k (int, optional): edges taken per graph. (default: :obj:`5`)
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    s, y, g = _np(scores).reshape(-1), _np(labels).reshape(-1), _np(graph).reshape(-1)
    if not (s.shape == y.shape == g.shape):
        raise ValueError("scores, labels and graph must have the same length")
    if s.size == 0:
        return math.nan
    order = np.lexsort((np.arange(s.size), -s, g))  # by graph, then descending score
    g_sorted = g[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
    sizes = np.diff(np.r_[starts, s.size])
    rank = np.arange(s.size) - np.repeat(starts, sizes)
    top = rank < k
    ids, inv = np.unique(g_sorted, return_inverse=True)
    hits = np.bincount(inv, weights=(y[order] * top).astype(float), minlength=len(ids))
    has_gt = np.bincount(inv, weights=y[order].astype(float), minlength=len(ids)) > 0
    if not has_gt.any():
        return math.nan
    denom = np.minimum(sizes, k)
    return float((hits[has_gt] / denom[has_gt]).mean())


def score_edges(scores: ArrayLike, labels: ArrayLike, graph: ArrayLike, k: int = 5,
                num_graphs: Optional[int] = None) -> "ExplanationScores":
    r"""The one scoring of edge scores against ground truth: :func:`interp_auc` over all
    edges pooled and :func:`precision_at_k` averaged over the graphs with ground truth.

    Args:
        scores (array): edge scores, shape :obj:`[E]`.
        labels (array): 0/1 ground truth, shape :obj:`[E]`; an edge labelled below 0 (e.g. of
            a node's computation subgraph when the node has no ground truth,
            :data:`gsat.data.node.subgraphs.UNKNOWN`) is left out.
        graph (array): graph id of each edge, shape :obj:`[E]`.
        k (int, optional): k of precision@k. (default: :obj:`5`)
        num_graphs (int, optional): number of graphs scored (graphs without edges have no
            id in :obj:`graph`). (default: the number of distinct ids in :obj:`graph`)
    """
    if num_graphs is None:
        num_graphs = int(np.unique(_np(graph)).size)
    known = _np(labels).reshape(-1) >= 0  # edges of a graph without ground truth: left out
    if not known.all():
        scores, labels, graph = (_np(a_).reshape(-1)[known] for a_ in (scores, labels, graph))
    n_edges = int(_np(scores).size)
    if n_edges == 0:
        return ExplanationScores(math.nan, math.nan, num_graphs, 0)
    return ExplanationScores(interp_auc(scores, labels), precision_at_k(scores, labels, graph, k),
                             num_graphs, n_edges)


@dataclass
class ExplanationScores:
    """Scores of one method's explanations of a list of graphs."""

    interp_auc: float
    precision_at_k: float
    num_graphs: int
    num_edges: int


def score_explanations(scores: Sequence[Tensor], graphs: Sequence,
                       k: int = 5) -> ExplanationScores:
    r"""Score per-graph edge scores against the graphs' :obj:`edge_label`, the same way for
    every method: interpretation ROC AUC over all edges pooled
    and precision@k averaged over graphs with ground truth (:func:`score_edges`).

    Args:
        scores (list of torch.Tensor): one tensor of shape :obj:`[E_g]` per graph.
        graphs (list of Data): the explained graphs, with :obj:`edge_label`.
        k (int, optional): k of precision@k. (default: :obj:`5`)
    """
    if len(scores) != len(graphs):
        raise ValueError(f"got scores for {len(scores)} graphs but {len(graphs)} graphs")
    s, y, g = [], [], []
    for i, (sc, data) in enumerate(zip(scores, graphs)):
        lab = getattr(data, "edge_label", None)
        if lab is None:
            raise DataMissingError("the explained graphs have no ground truth 'edge_label'")
        sc = sc.reshape(-1).double().cpu()  # float32 would tie near-equal scores
        if sc.numel() != data.edge_index.size(1):
            raise ValueError(f"graph {i}: {sc.numel()} scores for {data.edge_index.size(1)} "
                             "edges")
        s.append(sc)
        y.append(lab.reshape(-1).cpu())
        g.append(torch.full((sc.numel(),), i))
    if not s:
        return ExplanationScores(math.nan, math.nan, 0, 0)
    return score_edges(torch.cat(s), torch.cat(y), torch.cat(g), k, num_graphs=len(graphs))
