r"""Scores of an explanation against ground-truth edges; every method is scored by these."""
from __future__ import annotations

import math
from typing import Union

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

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
