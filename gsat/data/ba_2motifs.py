r"""BA-2Motifs (Luo et al., NeurIPS 2020): Barabasi-Albert graphs with a house or a 5-cycle."""
from __future__ import annotations

import random
from pathlib import Path
from typing import List

import networkx as nx

import torch
from torch_geometric.data import Data
from torch_geometric.datasets import ExplainerDataset
from torch_geometric.datasets.graph_generator import GraphGenerator
from torch_geometric.datasets.motif_generator import CycleMotif, HouseMotif

from gsat.data.base import GraphDataset, load_graphs, random_split, save_graphs
from torch_geometric.utils import to_undirected


class BarabasiAlbertGraph(GraphGenerator):
    r"""Barabasi-Albert graphs from :func:`networkx.barabasi_albert_graph`, as a PyG graph
    generator with its own seeded random stream. With :obj:`num_edges=1` every graph is a tree
    with :obj:`num_nodes - 1` edges (PyG's ``BAGraph`` can draw self-loops that are then
    dropped, leaving fewer edges and a disconnected base).

    Args:
        num_nodes (int): nodes per graph.
        num_edges (int): edges from each new node to existing nodes.
        seed (int): seed of the random stream.
    """

    def __init__(self, num_nodes: int, num_edges: int, seed: int):
        super().__init__()
        self.num_nodes, self.num_edges = num_nodes, num_edges
        self.rng = random.Random(seed)

    def __call__(self) -> Data:
        g = nx.barabasi_albert_graph(self.num_nodes, self.num_edges,
                                     seed=self.rng.randrange(2**31))
        ei = torch.tensor(list(g.edges), dtype=torch.long).t().reshape(2, -1)
        return Data(num_nodes=self.num_nodes,
                    edge_index=to_undirected(ei, num_nodes=self.num_nodes))


def generate_ba_2motifs(num_graphs: int = 1000, base_nodes: int = 20, num_features: int = 10,
                        seed: int = 0) -> List[Data]:
    r"""Generate BA-2Motifs graphs with PyG's :class:`~torch_geometric.datasets.ExplainerDataset`.

    Each graph is a Barabasi-Albert base graph (:obj:`base_nodes` nodes, one edge per new
    node) with one 5-node motif attached by a single edge: a house (label 0) for the first
    half of the graphs, a 5-cycle (label 1) for the second half. Node features are
    :obj:`num_features` constants 0.1; :obj:`edge_label` is 1 on the motif's edges.
    Deterministic for a :obj:`seed`.
    """
    if num_graphs < 2:
        raise ValueError(f"num_graphs must be >= 2, got {num_graphs}")
    graphs: List[Data] = []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        halves = [(HouseMotif(), num_graphs // 2), (CycleMotif(5), num_graphs - num_graphs // 2)]
        for label, (motif, count) in enumerate(halves):
            base = BarabasiAlbertGraph(base_nodes, 1, seed=seed * 2 + label)
            ds = ExplainerDataset(graph_generator=base,
                                  motif_generator=motif, num_motifs=1, num_graphs=count)
            for g in ds:
                n = g.num_nodes
                graphs.append(Data(x=torch.full((n, num_features), 0.1),
                                   edge_index=g.edge_index,
                                   y=torch.tensor([label]),
                                   edge_label=g.edge_mask.long(),
                                   node_label=g.node_mask.long(),
                                   num_nodes=n))
    return graphs


def load_ba_2motifs(data_dir: str | Path = "data", seed: int = 0, num_graphs: int = 1000,
                    **_: object) -> GraphDataset:
    r"""BA-2Motifs with a random 80/10/10 split by :obj:`seed`, cached under
    :obj:`<data_dir>/ba_2motifs/`. The graphs themselves are generated with seed 0 so that every
    split seed sees the same dataset."""
    path = Path(data_dir) / "ba_2motifs" / f"graphs_n{num_graphs}.pt"
    graphs = load_graphs(path)
    if graphs is None or len(graphs) != num_graphs:
        graphs = generate_ba_2motifs(num_graphs=num_graphs, seed=0)
        save_graphs(graphs, path)
    train, valid, test = random_split(len(graphs), [0.8, 0.1, 0.1], seed)
    return GraphDataset(name="ba_2motifs", train=[graphs[i] for i in train],
                        valid=[graphs[i] for i in valid], test=[graphs[i] for i in test],
                        num_features=graphs[0].x.size(1), num_outputs=1, task="binary",
                        metric="acc", config_name="ba_2motifs")
