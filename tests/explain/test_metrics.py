import math

import numpy as np
import pytest
import torch

from gsat.metrics.interpretation import interp_auc, precision_at_k


def test_interp_auc_known_values():
    assert interp_auc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == 1.0
    assert interp_auc([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0]) == 0.0
    # one of four positive/negative pairs misordered -> 0.75
    assert interp_auc(torch.tensor([0.9, 0.3, 0.5, 0.1]), torch.tensor([1, 1, 0, 0])) == 0.75
    assert math.isnan(interp_auc([0.2, 0.3], [1, 1]))
    with pytest.raises(ValueError, match="same length"):
        interp_auc([0.1, 0.2], [1])


def test_precision_at_k_known_values():
    # graph 0: top-2 = edges with 0.9 (gt) and 0.8 (not) -> 0.5
    # graph 1: top-2 = 0.7 (gt), 0.6 (gt) -> 1.0 ; graph 2 has no gt -> ignored
    scores = np.array([0.9, 0.8, 0.1, 0.7, 0.6, 0.2, 0.5, 0.4])
    labels = np.array([1, 0, 1, 1, 1, 0, 0, 0])
    graph = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    assert precision_at_k(scores, labels, graph, k=2) == pytest.approx(0.75)
    # k larger than the graph: divide by the edges the graph has
    assert precision_at_k(scores, labels, graph, k=5) == pytest.approx((2 / 3 + 2 / 3) / 2)
    # edge order within the arrays does not matter
    perm = np.random.default_rng(0).permutation(len(scores))
    assert precision_at_k(scores[perm], labels[perm], graph[perm], k=2) == pytest.approx(0.75)
    assert math.isnan(precision_at_k(scores, np.zeros(8), graph, k=2))
    with pytest.raises(ValueError):
        precision_at_k(scores, labels, graph, k=0)
