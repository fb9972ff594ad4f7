r"""Spurious-Motif (Wu et al., *Discovering Invariant Rationales for Graph Neural Networks*,
ICLR 2022), the synthetic benchmark of distribution shift used by GSAT (Miao, Liu & Li,
ICML 2022, `arXiv:2201.12987 <https://arxiv.org/abs/2201.12987>`_).

Every graph is a base graph (tree, ladder or wheel) with one 5-node motif attached by a
single edge; the label is the motif (cycle 0, house 1, crane 2). In the training split the
base is spuriously correlated with the label: a graph of class :math:`c` takes "its own"
base (:math:`0 \to` tree, :math:`1 \to` ladder, :math:`2 \to` wheel) with probability
:math:`b` and each other base with probability :math:`(1 - b) / 2`. Validation bases are
drawn uniformly; test bases are drawn uniformly *and* larger, which measures
out-of-distribution generalisation.

Sizes and base shapes follow the generator released with DIR and reused by GSAT: balanced
trees with 2 or 3 children per node and depth 3 (test: 3 to 5); ladders of 8 to 11 rungs
(test: 30 to 49); wheels of 15 to 19 nodes (test: 60 to 79); about 5 % extra random edges,
each touching at least one base node. Unlike that generator, which stored each edge in one
direction only, every edge here is stored in both directions.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.datasets.motif_generator import CustomMotif, CycleMotif, HouseMotif
from torch_geometric.utils import coalesce, to_undirected

from gsat.data.base import GraphDataset, load_graphs, save_graphs

log = logging.getLogger(__name__)

#: motif names in label order
MOTIFS: Tuple[str, ...] = ("cycle", "house", "crane")
#: base names; class c is spuriously tied to BASES[c] in the training split
BASES: Tuple[str, ...] = ("tree", "ladder", "wheel")
#: base-size parameter ranges (inclusive): tree depth, ladder rungs, wheel nodes
SMALL_BASES: Dict[str, Tuple[int, int]] = {"tree": (3, 3), "ladder": (8, 11), "wheel": (15, 19)}
LARGE_BASES: Dict[str, Tuple[int, int]] = {"tree": (3, 5), "ladder": (30, 49), "wheel": (60, 79)}
#: edges in the crane motif: a 4-cycle 1-2-3-4 whose opposite corners 1 and 3 share a
#: fifth node 0 (the "crane" shape of DIR)
CRANE_EDGES: Tuple[Tuple[int, int], ...] = ((0, 1), (0, 3), (1, 2), (2, 3), (3, 4), (4, 1))
NOISE_FRACTION = 0.05
NUM_FEATURES = 4


def crane_motif() -> CustomMotif:
    r"""The crane motif (5 nodes, 6 edges; see :data:`CRANE_EDGES`) as a PyG
    :class:`~torch_geometric.datasets.motif_generator.CustomMotif`."""
    ei = torch.tensor(CRANE_EDGES, dtype=torch.long).t()
    return CustomMotif(Data(edge_index=to_undirected(ei, num_nodes=5), num_nodes=5))


def motif_structures() -> List[Data]:
    r"""The three motifs in label order, from PyG's motif generators: a 5-cycle
    (:class:`CycleMotif`), a house (:class:`HouseMotif`) and the crane (:func:`crane_motif`)."""
    return [CycleMotif(5).structure, HouseMotif().structure, crane_motif().structure]


def base_graph(kind: str, size: int, rng: np.random.Generator) -> nx.Graph:
    r"""A base graph from networkx: :func:`~networkx.balanced_tree` of depth :obj:`size` with
    2 or 3 children per node (drawn from :obj:`rng`), :func:`~networkx.ladder_graph` of
    :obj:`size` rungs, or :func:`~networkx.wheel_graph` of :obj:`size` nodes."""
    if kind == "tree":
        return nx.balanced_tree(int(rng.integers(2, 4)), size)
    if kind == "ladder":
        return nx.ladder_graph(size)
    if kind == "wheel":
        return nx.wheel_graph(size)
    raise ValueError(f"unknown base {kind!r}; choose one of: {', '.join(BASES)}")


def assemble(base: nx.Graph, motif: Data, rng: np.random.Generator,
             noise_fraction: float = NOISE_FRACTION
             ) -> Tuple[torch.Tensor, torch.Tensor, int, int]:
    r"""Attach :obj:`motif` to :obj:`base` and add noise edges.

    Base nodes keep their ids :math:`0 .. n_b - 1`; motif nodes follow. Motif node 0 is joined
    to one random base node. Then :math:`\lfloor \text{noise\_fraction} \cdot |E| \rfloor`
    times a random node pair without an edge is drawn and joined if one end is a base node,
    so no edge is ever added inside the motif (the procedure of DIR's generator).

    Args:
        base (networkx.Graph): base graph with nodes :math:`0 .. n_b - 1`.
        motif (Data): the motif's structure (:obj:`edge_index`, :obj:`num_nodes`).
        rng (numpy.random.Generator): random stream.
        noise_fraction (float, optional): noise edges drawn per existing edge.
            (default: :obj:`0.05`)

    Returns:
        (edge_index, edge_label, num_nodes, num_base_nodes): :obj:`edge_index` undirected and
        coalesced (each edge in both directions, sorted, no duplicates or self-loops);
        :obj:`edge_label` 1 exactly on the motif's own edges.
    """
    nb = base.number_of_nodes()
    nm = motif.num_nodes
    n = nb + nm
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(base.edges())
    g.add_edges_from((int(u) + nb, int(v) + nb) for u, v in motif.edge_index.t().tolist())
    g.add_edge(nb, int(rng.integers(nb)))
    for _ in range(int(g.number_of_edges() * noise_fraction)):
        while True:
            u, v = (int(i) for i in rng.integers(n, size=2))
            if u != v and not g.has_edge(u, v):
                break
        if u < nb or v < nb:
            g.add_edge(u, v)
    ei = torch.tensor(list(g.edges()), dtype=torch.long).t().reshape(2, -1)
    ei = coalesce(to_undirected(ei, num_nodes=n), num_nodes=n)
    label = ((ei[0] >= nb) & (ei[1] >= nb)).long()
    return ei, label, n, nb


def base_probabilities(label: int, b: float) -> List[float]:
    r"""Probabilities of the three bases for a graph of class :obj:`label` under bias
    :obj:`b`: :obj:`b` for the class's own base, :math:`(1 - b) / 2` for each other one."""
    return [b if i == label else (1.0 - b) / 2.0 for i in range(len(BASES))]


def generate_split(num_graphs: int, b: float, large: bool, seed: int) -> List[Data]:
    r"""Generate :obj:`num_graphs` Spurious-Motif graphs, classes as balanced as the count
    allows (class :math:`c` gets :math:`\lfloor n/3 \rfloor` graphs, plus one for the first
    :math:`n \bmod 3` classes).

    Args:
        num_graphs (int): number of graphs.
        b (float): bias, the probability of a class's own base; :obj:`1/3` draws bases
            uniformly.
        large (bool): draw base sizes from :data:`LARGE_BASES` instead of
            :data:`SMALL_BASES`.
        seed (int): seed of the random stream (structure, attachment, noise, features).

    Each graph carries :obj:`x` (:obj:`[N, 4]` uniform random features), :obj:`edge_index`,
    :obj:`edge_attr` (:obj:`[E, 1]` ones), :obj:`y` (:obj:`[1]`), :obj:`edge_label`,
    :obj:`node_label` (1 on motif nodes) and :obj:`base_type` (:obj:`[1]`, index into
    :data:`BASES`).
    """
    if not 0.0 <= b <= 1.0:
        raise ValueError(f"the bias b must lie in [0, 1], got {b}")
    if num_graphs < 0:
        raise ValueError(f"num_graphs must be >= 0, got {num_graphs}")
    rng = np.random.default_rng(seed)
    motifs = motif_structures()
    ranges = LARGE_BASES if large else SMALL_BASES
    graphs: List[Data] = []
    for label in range(len(MOTIFS)):
        count = num_graphs // 3 + (1 if label < num_graphs % 3 else 0)
        for _ in range(count):
            kind = int(rng.choice(len(BASES), p=base_probabilities(label, b)))
            lo, hi = ranges[BASES[kind]]
            base = base_graph(BASES[kind], int(rng.integers(lo, hi + 1)), rng)
            ei, edge_label, n, nb = assemble(base, motifs[label], rng)
            x = torch.from_numpy(rng.random((n, NUM_FEATURES), dtype=np.float32))
            node_label = torch.zeros(n, dtype=torch.long)
            node_label[nb:] = 1
            graphs.append(Data(x=x, edge_index=ei, edge_attr=torch.ones(ei.size(1), 1),
                               y=torch.tensor([label]), edge_label=edge_label,
                               node_label=node_label, base_type=torch.tensor([kind]),
                               num_nodes=n))
    return graphs


def generate_spmotif(b: float, seed: int = 0, num_train: int = 9000, num_valid: int = 3000,
                     num_test: int = 6000) -> Dict[str, List[Data]]:
    r"""Generate the three splits of Spurious-Motif with bias :obj:`b`, deterministically for
    :obj:`seed`: training with bias :obj:`b` and small bases, validation with uniform bases
    and small bases, test with uniform bases and large bases (see :func:`generate_split`).

    Returns:
        dict: :obj:`"train"`, :obj:`"valid"`, :obj:`"test"` -> list of
        :class:`~torch_geometric.data.Data`.
    """
    seq = np.random.SeedSequence([seed, int(round(b * 1000))])
    s_train, s_valid, s_test = (int(s.generate_state(1)[0]) for s in seq.spawn(3))
    return {"train": generate_split(num_train, b, large=False, seed=s_train),
            "valid": generate_split(num_valid, 1.0 / 3.0, large=False, seed=s_valid),
            "test": generate_split(num_test, 1.0 / 3.0, large=True, seed=s_test)}


def load_spmotif(b: float, data_dir: str | Path = "data", seed: int = 0,
                 num_train: int = 9000, num_valid: int = 3000, num_test: int = 6000,
                 data_seed: int = 0, **_: object) -> GraphDataset:
    r"""Spurious-Motif with bias :obj:`b`, cached under :obj:`<data_dir>/spmotif_<b>/`.

    The splits are fixed by the generator (no random re-split), so the run :obj:`seed` does
    not change the graphs; :obj:`data_seed` (default :obj:`0`) selects the generated dataset.

    Args:
        b (float): bias of the training split.
        data_dir (str or Path, optional): data root. (default: :obj:`"data"`)
        seed (int, optional): run seed (unused: the splits are fixed). (default: :obj:`0`)
        num_train, num_valid, num_test (int, optional): split sizes, smaller for quick tests.
            (default: :obj:`9000`, :obj:`3000`, :obj:`6000`)
        data_seed (int, optional): generator seed. (default: :obj:`0`)
    """
    name = f"spmotif_{b}"
    folder = Path(data_dir) / name
    sizes = {"train": num_train, "valid": num_valid, "test": num_test}
    paths = {k: folder / f"{k}_n{n}_s{data_seed}.pt" for k, n in sizes.items()}
    splits: Dict[str, Optional[List[Data]]] = {k: load_graphs(p) for k, p in paths.items()}
    if any(splits[k] is None or len(splits[k]) != sizes[k] for k in sizes):
        log.info("generating %s (%d / %d / %d graphs) into %s", name, num_train, num_valid,
                 num_test, folder)
        splits = dict(generate_spmotif(b, data_seed, num_train, num_valid, num_test))
        for k, p in paths.items():
            if splits[k]:
                save_graphs(splits[k], p)
    return GraphDataset(name=name, train=splits["train"], valid=splits["valid"],
                        test=splits["test"], num_features=NUM_FEATURES, num_outputs=3,
                        task="multiclass", metric="acc", edge_dim=1, config_name="spmotif",
                        extra={"b": b, "bases": list(BASES), "motifs": list(MOTIFS)})


def spmotif_builder(b: float) -> Callable[..., GraphDataset]:
    r"""A registry builder for Spurious-Motif with a fixed bias :obj:`b`."""
    def build(data_dir: str | Path = "data", seed: int = 0, **options: object) -> GraphDataset:
        return load_spmotif(b, data_dir=data_dir, seed=seed, **options)

    build.__name__ = f"load_spmotif_{b}"
    build.__doc__ = f"Spurious-Motif with bias b = {b} (see :func:`load_spmotif`)."
    return build
