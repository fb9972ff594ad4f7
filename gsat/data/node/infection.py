r"""Infection (Faber, Moghaddam & Wattenhofer, *When Comparing to Ground Truth is Wrong: On
Evaluating GNN Explanation Methods*, KDD 2021), generated with PyG's
:class:`~torch_geometric.datasets.InfectionDataset`.

An Erdos-Renyi graph (500 nodes, edge probability 0.004: the example of PyG's documentation)
has 50 infected nodes; the two features of a node say healthy / infected. The label of a node
is its distance to the nearest infected node: 0 infected, :math:`1 .. L` within
:obj:`max_path_length` :math:`L = 3` hops, :math:`L + 1` farther or unreachable
(:math:`L + 2 = 5` classes).

The ground truth of a node at distance :math:`1 .. L` is its shortest path from an infected
node, where that path is **unique** (exactly one shortest path from the whole infected set,
counted by breadth-first search): its edges, in both directions. Nodes with several shortest
paths, infected nodes and nodes beyond :math:`L` have no ground truth and are not explained.
:attr:`~gsat.data.node.base.NodeDataset.explanations` holds each node's path edges and
:obj:`edge_label` their union over all such nodes (PyG's own :obj:`edge_mask`, the edges
of the :math:`L`-hop neighbourhoods of the infected nodes, is not used: it is not the
ground truth of any one node).

The graph is deterministic for :obj:`graph_seed` (default 0) and generated in well under a
second, so nothing is cached; the split is a random 80/10/10 node split by the seed
(:func:`~gsat.data.node.base.split_masks`) and the explained nodes are the nodes of the test
split with a ground truth (:obj:`explain_split="all"`: every such node).
"""
from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Dict, List, Tuple

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.datasets import InfectionDataset
from torch_geometric.datasets.graph_generator import ERGraph
from torch_geometric.utils import coalesce

from gsat.data.node.base import NodeDataset, explained, split_masks
from gsat.errors import ConfigError


def shortest_paths(edge_index: Tensor, num_nodes: int, sources: Tensor
                   ) -> Tuple[List[int], List[int], List[int]]:
    r"""Breadth-first search from all :obj:`sources` at once.

    Returns:
        (list, list, list): per node its distance to the nearest source (:obj:`-1` if
        unreachable), the number of shortest paths from the source set to it (1 for a
        source) and one predecessor on a shortest path (:obj:`-1` for sources and
        unreachable nodes).
    """
    adj: List[List[int]] = [[] for _ in range(num_nodes)]
    for u, v in edge_index.t().tolist():
        adj[u].append(v)
    dist, count, pred = [-1] * num_nodes, [0] * num_nodes, [-1] * num_nodes
    queue = deque()
    for s in sources.tolist():
        dist[s], count[s] = 0, 1
        queue.append(s)
    while queue:
        u = queue.popleft()
        for v in adj[u]:
            if dist[v] == -1:
                dist[v], pred[v] = dist[u] + 1, u
                queue.append(v)
            if dist[v] == dist[u] + 1:
                count[v] += count[u]
    return dist, count, pred


def unique_path_edges(edge_index: Tensor, num_nodes: int, infected: Tensor,
                      max_path_length: int) -> Dict[int, Tensor]:
    r"""For every node at distance :math:`1 ..` :obj:`max_path_length` from the
    :obj:`infected` nodes with exactly one shortest path from them: the ids (columns of the
    undirected :obj:`edge_index`) of that path's edges, both directions, sorted."""
    dist, count, pred = shortest_paths(edge_index, num_nodes, infected)
    column = {(u, v): i for i, (u, v) in enumerate(edge_index.t().tolist())}
    out: Dict[int, Tensor] = {}
    for v in range(num_nodes):
        if not 1 <= dist[v] <= max_path_length or count[v] != 1:
            continue
        ids, w = [], v
        while pred[w] != -1:  # every node on a unique shortest path has a unique one too
            ids += [column[(pred[w], w)], column[(w, pred[w])]]
            w = pred[w]
        out[v] = torch.tensor(sorted(ids), dtype=torch.long)
    return out


def generate_infection(num_nodes: int = 500, edge_prob: float = 0.004,
                       num_infected: int = 50, max_path_length: int = 3, seed: int = 0
                       ) -> Tuple[Data, Dict[int, Tensor]]:
    r"""The Infection graph (see the module docstring), deterministic for :obj:`seed`.

    Returns:
        (Data, dict): the graph (:obj:`x` one-hot healthy / infected, coalesced undirected
        :obj:`edge_index`, :obj:`y` the distance class, :obj:`edge_label` the union of the
        unique paths) and node -> ids of its unique path's edges.
    """
    if not 1 <= num_infected <= num_nodes:
        raise ConfigError(f"num_infected must be in 1..num_nodes ({num_nodes}), got "
                          f"{num_infected}")
    if max_path_length < 1:
        raise ConfigError(f"max_path_length must be at least 1, got {max_path_length}")
    if not 0.0 <= edge_prob <= 1.0:
        raise ConfigError(f"edge_prob must be a probability in [0, 1], got {edge_prob}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        g = InfectionDataset(graph_generator=ERGraph(num_nodes, edge_prob),
                             num_infected_nodes=num_infected,
                             max_path_length=max_path_length)[0]
    edge_index = coalesce(g.edge_index, num_nodes=num_nodes)
    infected = (g.x[:, 1] == 1).nonzero().view(-1)
    paths = unique_path_edges(edge_index, num_nodes, infected, max_path_length)
    edge_label = torch.zeros(edge_index.size(1), dtype=torch.long)
    for ids in paths.values():
        edge_label[ids] = 1
    data = Data(x=g.x.float(), edge_index=edge_index, y=g.y.long(), edge_label=edge_label,
                num_nodes=num_nodes)
    return data, paths


def load_infection(data_dir: str | Path = "data", seed: int = 0, num_nodes: int = 500,
                   edge_prob: float = 0.004, num_infected: int = 50,
                   max_path_length: int = 3, graph_seed: int = 0,
                   explain_split: str = "test", **_: object) -> NodeDataset:
    r"""Infection (see the module docstring), a node task with :obj:`max_path_length` + 2
    classes.

    Args:
        data_dir (str or Path, optional): unused (the graph is generated, not cached).
        seed (int, optional): seed of the 80/10/10 node split. (default: :obj:`0`)
        num_nodes (int, optional): nodes of the Erdos-Renyi graph. (default: :obj:`500`)
        edge_prob (float, optional): its edge probability. (default: :obj:`0.004`)
        num_infected (int, optional): infected nodes. (default: :obj:`50`)
        max_path_length (int, optional): the largest distance with a class of its own.
            (default: :obj:`3`)
        graph_seed (int, optional): seed of the generator. (default: :obj:`0`)
        explain_split (str, optional): :obj:`"test"` explains the nodes with a unique
            shortest path in the test split, :obj:`"all"` all of them.
            (default: :obj:`"test"`)
    """
    data, paths = generate_infection(num_nodes, edge_prob, num_infected, max_path_length,
                                     graph_seed)
    data.update(split_masks(num_nodes, seed))
    has_path = torch.zeros(num_nodes, dtype=torch.bool)
    has_path[list(paths)] = True
    nodes = explained(has_path, data.test_mask, explain_split)
    num_classes = max_path_length + 2
    extra = dict(num_nodes=num_nodes, edge_prob=edge_prob, num_infected=num_infected,
                 max_path_length=max_path_length, graph_seed=graph_seed,
                 num_edges=data.edge_index.size(1), num_classes=num_classes,
                 num_unique_paths=len(paths), num_motif_edges=int(data.edge_label.sum()),
                 explain_split=explain_split)
    return NodeDataset(name="infection", data=data, num_features=2, num_outputs=num_classes,
                       task="multiclass", metric="acc", explain_nodes=nodes,
                       has_ground_truth=True, undirected=True, config_name="infection",
                       explanations=paths, extra=extra)
