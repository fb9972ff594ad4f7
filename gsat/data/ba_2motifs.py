r"""BA-2Motifs (Luo et al., NeurIPS 2020): Barabasi-Albert graphs with a house or a 5-cycle.

Two sources (:obj:`source`, on the command line ``--dataset-option source=...``):

* the **released file**, ``<data_dir>/ba_2motifs/raw/BA_2Motifs.pkl``, the pickle published
  with PGExplainer and read by DIG and by GSAT (Graph-COM/GSAT ``src/datasets/ba_2motifs.py``,
  ``read_ba2motif_data``): a tuple of NumPy arrays (dense adjacency ``[G, 25, 25]``, node
  features ``[G, 25, 10]``, one-hot labels ``[G, 2]``). Edges are the nonzero adjacency
  entries (both directions), the label is the index of the one-hot entry, the motif is nodes
  20-24 and the ground truth is 1 on edges with both ends among them. The file is read by
  :func:`read_released_ba_2motifs` without arbitrary unpickling: only the NumPy globals that
  rebuild plain arrays are allowed. As in GSAT's code (``src/utils/get_data_loaders.py``,
  ``get_random_split_idx`` after ``set_seed``), the split of seed :math:`s` shuffles
  :math:`0 .. G-1` with ``numpy.random.RandomState(s)`` and takes the first
  :math:`\lfloor 0.8 G \rfloor` graphs for training, the next :math:`\lfloor 0.1 G \rfloor`
  for validation and the rest for testing.
* the **generator** (:func:`generate_ba_2motifs`), with a random 80/10/10 split by the seed
  (:func:`~gsat.data.base.random_split`).

:obj:`source="auto"` (the default) uses the released file when it exists and the generator
otherwise (the log says which); :obj:`"released"` requires the file, :obj:`"generated"`
ignores it.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import List, Tuple

import numpy as np

import networkx as nx

import torch
from torch_geometric.data import Data
from torch_geometric.datasets import ExplainerDataset
from torch_geometric.datasets.graph_generator import GraphGenerator
from torch_geometric.datasets.motif_generator import CycleMotif, HouseMotif

from gsat.data.base import GraphDataset, load_graphs, random_split, save_graphs
from torch_geometric.utils import dense_to_sparse, to_undirected

log = logging.getLogger(__name__)

#: where :func:`load_ba_2motifs` looks for the released file, relative to the data root
RELEASED_FILE = Path("ba_2motifs") / "raw" / "BA_2Motifs.pkl"
#: the motif's nodes in the released file
RELEASED_MOTIF_NODES = range(20, 25)
SOURCES = ("auto", "released", "generated")


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


#: where the generator joins the motif to the base graph (:obj:`attach`)
ATTACH = ("random", "first")


def _attach_first(base: Data, motif: Data) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Edges, edge mask and node mask of :obj:`base` with :obj:`motif` joined by one edge
    (both directions) between a random base node and the motif's node 0."""
    n = base.num_nodes
    i = int(torch.randint(0, n, (1,)))
    join = torch.tensor([[i, n], [n, i]])
    edge_index = torch.cat([base.edge_index, motif.edge_index + n, join], 1)
    edge_mask = torch.cat([torch.zeros(base.edge_index.size(1)),
                           torch.ones(motif.edge_index.size(1)), torch.zeros(2)])
    node_mask = torch.cat([torch.zeros(n), torch.ones(motif.num_nodes)])
    return edge_index, edge_mask, node_mask


def generate_ba_2motifs(num_graphs: int = 1000, base_nodes: int = 20, num_features: int = 10,
                        seed: int = 0, attach: str = "random") -> List[Data]:
    r"""Generate BA-2Motifs graphs with PyG's :class:`~torch_geometric.datasets.ExplainerDataset`.

    Each graph is a Barabasi-Albert base graph (:obj:`base_nodes` nodes, one edge per new
    node) with one 5-node motif attached by a single edge: a house (label 0) for the first
    half of the graphs, a 5-cycle (label 1) for the second half. Node features are
    :obj:`num_features` constants 0.1; :obj:`edge_label` is 1 on the motif's edges.
    Deterministic for a :obj:`seed`.

    :obj:`attach` says which motif node the joining edge ends at (its other end is a random
    base node): :obj:`"random"`, a random one (PyG's :class:`ExplainerDataset`), or
    :obj:`"first"`, node 0 (for the house a node of the square next to the roof), as the
    ``build_graph`` of the structsim code the released file derives from does
    (Graph-COM/GSAT ``src/datasets/spmotif_utils/synthetic_structsim.py``: the edge
    ``(start, plugins[shape_id])`` joins the motif's first node ``start``).
    """
    if num_graphs < 2:
        raise ValueError(f"num_graphs must be >= 2, got {num_graphs}")
    if attach not in ATTACH:
        raise ValueError(f"unknown attach {attach!r}; choose one of: {', '.join(ATTACH)}")
    graphs: List[Data] = []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        halves = [(HouseMotif(), num_graphs // 2), (CycleMotif(5), num_graphs - num_graphs // 2)]
        for label, (motif, count) in enumerate(halves):
            base = BarabasiAlbertGraph(base_nodes, 1, seed=seed * 2 + label)
            if attach == "first":
                ds = []
                for _ in range(count):
                    ei, em, nm = _attach_first(base(), motif())
                    ds.append(Data(edge_index=ei, edge_mask=em, node_mask=nm,
                                   num_nodes=nm.numel()))
            else:
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


def read_released_ba_2motifs(path: str | Path) -> List[Data]:
    r"""Read the released BA-2Motifs pickle (see the module docstring) into graphs with
    :obj:`x` (:obj:`[25, 10]`), :obj:`edge_index` (the nonzero entries of the adjacency, as
    :func:`~torch_geometric.utils.dense_to_sparse` lists them), :obj:`y` (:obj:`[1]`, the
    index of the one-hot label), :obj:`edge_label` (1 on edges among nodes 20-24) and
    :obj:`node_label` (1 on nodes 20-24).

    Args:
        path (str or Path): the :obj:`BA_2Motifs.pkl` file.

    Raises:
        gsat.io.pickles.UnsafePickleError: the file needs a global other than NumPy's array
            reconstruction (it is not the released file, or it was tampered with); a
            :class:`pickle.UnpicklingError`.
        ValueError: the file is not a tuple of arrays of the released layout.
    """
    from gsat.io.pickles import load_array_pickle

    path = Path(path)
    blob = load_array_pickle(path, hint="Use the file published with PGExplainer, or delete "
                                        "it to use the generator")
    if not (isinstance(blob, tuple) and len(blob) == 3
            and all(isinstance(a, np.ndarray) for a in blob)):
        raise ValueError(f"{path}: expected a tuple (adjacency, features, labels) of NumPy "
                         f"arrays, got {type(blob).__name__}")
    adj, feat, labels = blob
    for what, a in (("adjacency", adj), ("features", feat), ("labels", labels)):
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{path}: {what} must be a numeric array, got dtype {a.dtype}")
    g_count = adj.shape[0]
    if (adj.ndim != 3 or adj.shape[1] != adj.shape[2] or adj.shape[1] < 25
            or feat.ndim != 3 or feat.shape[:2] != adj.shape[:2]
            or labels.ndim != 2 or labels.shape[0] != g_count):
        raise ValueError(f"{path}: expected adjacency [G, N, N] with N >= 25, features "
                         f"[G, N, F] and one-hot labels [G, C]; got {list(adj.shape)}, "
                         f"{list(feat.shape)}, {list(labels.shape)}")
    if not np.all((labels != 0).sum(1) == 1):
        raise ValueError(f"{path}: every row of the labels must be one-hot")
    graphs: List[Data] = []
    lo, hi = RELEASED_MOTIF_NODES.start, RELEASED_MOTIF_NODES.stop
    for i in range(g_count):
        x = torch.from_numpy(np.ascontiguousarray(feat[i])).float()
        ei = dense_to_sparse(torch.from_numpy(np.ascontiguousarray(adj[i])))[0]
        in_motif = (ei >= lo) & (ei < hi)
        node_label = torch.zeros(x.size(0), dtype=torch.long)
        node_label[lo:hi] = 1
        graphs.append(Data(x=x, edge_index=ei,
                           y=torch.tensor([int(np.flatnonzero(labels[i])[0])]),
                           edge_label=(in_motif[0] & in_motif[1]).long(),
                           node_label=node_label, num_nodes=x.size(0)))
    return graphs


def released_split(n: int, seed: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""GSAT's random split of :obj:`n` graphs for :obj:`seed`: a
    ``numpy.random.RandomState(seed)`` shuffle, then :math:`\lfloor 0.8 n \rfloor` training,
    :math:`\lfloor 0.1 n \rfloor` validation and the remaining test indices."""
    idx = np.arange(n)
    np.random.RandomState(seed).shuffle(idx)
    n_train, n_valid = int(0.8 * n), int(0.1 * n)
    return idx[:n_train], idx[n_train:n_train + n_valid], idx[n_train + n_valid:]


def load_ba_2motifs(data_dir: str | Path = "data", seed: int = 0, num_graphs: int = 1000,
                    source: str = "auto", attach: str = "random", **_: object) -> GraphDataset:
    r"""BA-2Motifs, from the released file or the generator (see the module docstring).

    Generated graphs are cached under :obj:`<data_dir>/ba_2motifs/` with their digest and the
    generator's parameters (a cache that does not match them is made again) and made with
    seed 0, so
    every split seed sees the same dataset; the split is a random 80/10/10 one by
    :obj:`seed`. The released file is split as GSAT's code splits it
    (:func:`released_split`).

    Args:
        data_dir (str or Path, optional): data root. (default: :obj:`"data"`)
        seed (int, optional): split seed. (default: :obj:`0`)
        num_graphs (int, optional): number of generated graphs (ignored for the released
            file). (default: :obj:`1000`)
        source (str, optional): :obj:`"auto"`, :obj:`"released"` or :obj:`"generated"`.
            (default: :obj:`"auto"`)
        attach (str, optional): the generator's motif node joined to the base graph,
            :obj:`"random"` or :obj:`"first"` (the released data's recipe; see
            :func:`generate_ba_2motifs`). Generated graphs only. (default: :obj:`"random"`)

    Raises:
        ValueError: unknown :obj:`source` or :obj:`attach`, :obj:`source="released"`
            without the file, or :obj:`attach` other than :obj:`"random"` for the released
            file.
    """
    if attach not in ATTACH:
        raise ValueError(f"unknown attach {attach!r}; choose one of: {', '.join(ATTACH)}")
    if source not in SOURCES:
        raise ValueError(f"unknown BA-2Motifs source {source!r}; choose one of: "
                         f"{', '.join(SOURCES)}")
    released = Path(data_dir) / RELEASED_FILE
    if source == "released" and not released.is_file():
        raise ValueError(f"source=released needs the released BA-2Motifs file at {released} "
                         f"(BA_2Motifs.pkl, published with PGExplainer); put it there or use "
                         f"source=generated")
    if source != "generated" and released.is_file():
        if attach != "random":
            raise ValueError(f"attach={attach} applies to generated graphs, but the released "
                             f"file {released} is read; add source=generated")
        log.info("BA-2Motifs: reading the released file %s", released)
        graphs = read_released_ba_2motifs(released)
        train, valid, test = released_split(len(graphs), seed)
        used = "released"
    else:
        suffix = "" if attach == "random" else f"_{attach}"
        path = Path(data_dir) / "ba_2motifs" / f"graphs_n{num_graphs}{suffix}.pt"
        params = {"generator": "generate_ba_2motifs", "num_graphs": num_graphs, "seed": 0,
                  "base_nodes": 20, "num_features": 10}
        if attach != "random":  # (caches of the default recipe keep their parameters)
            params["attach"] = attach
        graphs = load_graphs(path, params)
        if graphs is None or len(graphs) != num_graphs:
            graphs = generate_ba_2motifs(**{k: v for k, v in params.items()
                                            if k != "generator"})
            save_graphs(graphs, path, params)
        train, valid, test = random_split(len(graphs), [0.8, 0.1, 0.1], seed)
        used = "generated"
    return GraphDataset(name="ba_2motifs", train=[graphs[int(i)] for i in train],
                        valid=[graphs[int(i)] for i in valid],
                        test=[graphs[int(i)] for i in test],
                        num_features=graphs[0].x.size(1), num_outputs=1, task="binary",
                        metric="acc", config_name="ba_2motifs",
                        extra={"source": used, "class_names": ["house", "cycle"],
                               **({} if attach == "random" else {"attach": attach})})
