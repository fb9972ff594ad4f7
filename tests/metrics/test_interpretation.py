import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from gsat.metrics.interpretation import interp_auc, precision_at_k, score_explanations


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


def _graph(labels):
    n = len(labels)
    ei = torch.stack([torch.arange(n), (torch.arange(n) + 1) % (n + 1)])
    return Data(x=torch.ones(n + 1, 1), edge_index=ei, edge_label=torch.tensor(labels))


def test_score_explanations_known_auc_and_precision():
    graphs = [_graph([1, 0, 1]), _graph([0, 1])]
    scores = [torch.tensor([0.9, 0.1, 0.8]), torch.tensor([0.85, 0.3])]
    # positives 0.9, 0.8, 0.3 vs negatives 0.1, 0.85: 4 of 6 pairs ordered -> 2/3
    sc = score_explanations(scores, graphs, k=1)
    assert sc.interp_auc == pytest.approx(4 / 6)
    assert sc.precision_at_k == pytest.approx(0.5)  # graph 1 top edge right, graph 2 wrong
    assert (sc.num_graphs, sc.num_edges) == (2, 5)
    assert score_explanations(scores, graphs, k=2).precision_at_k == pytest.approx(0.75)
    with pytest.raises(ValueError, match="2 scores for 3 edges"):
        score_explanations([torch.tensor([0.1, 0.2]), scores[1]], graphs)
