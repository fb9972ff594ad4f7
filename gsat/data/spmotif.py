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

Two variants (:obj:`variant`, on the command line ``--dataset-option variant=...``):

:obj:`"released"` (default) reproduces the generator released with GSAT
(Graph-COM/GSAT, commit 6812f5c, ``src/datasets/spmotif_utils/gen_spmotif.py``, which
calls ``BA3_loc.py`` and ``synthetic_structsim.py`` of DIR, Wuyxin/DIR-GNN
``spmotif_gen/``) and its loader (``src/datasets/spmotif.py``):

* **one direction per edge**: each graph stores ``np.array(G.edges).T``
  (``gen_spmotif.py`` lines 72, 104, 136, ...), every edge once, from the endpoint networkx
  lists first, which is the smaller node id because the nodes are numbered in insertion
  order; the loader (``spmotif.py`` lines 51-65) does not add reverse edges. Messages
  therefore flow from smaller to larger ids, and since the graphs are not undirected the
  released training code does not symmetrise attention; :attr:`GraphDataset.undirected` is
  :obj:`False` so neither does ours.
* **training tree depth**: the training split draws the depth of a tree base from
  ``range(3, 4)`` (i.e. 3) for class 0 (``gen_spmotif.py`` line 61) but from ``range(3)``
  (0, 1 or 2) for classes 1 and 2 (lines 93, 125); validation uses depth 3 for every class
  (lines 168, 200, 232) and the test split 3 to 5 (``range(3, 6)``, lines 273, 305, 337).
  A depth-0 tree is a single node. Trees have 2 or 3 children per node
  (``synthetic_structsim.py`` ``tree``, line 129).
* **ladders and wheels**: ``range(8, 12)`` rungs and ``range(15, 20)`` nodes in training and
  validation (lines 64-67, 96-99, ...), ``range(30, 50)`` and ``range(60, 80)`` in the test
  split (lines 276-279, ...).
* **motifs** (``synthetic_structsim.py``): the cycle is ``dircycle`` (a 5-cycle, line 270),
  the house ``house`` (line 172: square 1-2-3-4 with the roof apex 0 joined to 1 and 4) and
  the crane ``crane`` (line 241, :data:`CRANE_EDGES`); ``build_graph`` (lines 400-424) joins
  the motif's node 0 to one uniformly drawn base node, so the house hangs from its roof
  apex (degree 2 inside the motif).
* **noise** (``BA3_loc.py`` ``perturb``, lines 28-49, called with ``p = 0.05`` in
  ``gen_spmotif.py`` lines 388, 423, 458): :math:`\lfloor 0.05 |E| \rfloor` times a node pair
  without an edge is drawn and joined only if one end is a base node.
* **features, labels** (loader lines 57-63): ``x = rand(N, 4)``, all-ones one-dimensional
  edge features, ground truth 1 exactly on edges with both ends in the motif (``find_gd``,
  ``BA3_loc.py`` line 18).
* **counts**: 3,000 / 1,000 / 2,000 graphs per class for training / validation / test
  (9,000 / 3,000 / 6,000 in all).

:obj:`"undirected"` is this package's earlier, harder-to-fool variant: every edge stored in
both directions (attention then is symmetrised), tree depth 3 in training and validation
for every class, and PyG's :class:`~torch_geometric.datasets.motif_generator.HouseMotif`,
whose node 0, the attachment point, is a degree-3 corner of the square. Everything else is
as above.

The generated splits are cached under :obj:`<data_dir>/spmotif_<b>/`; the file names carry
the variant and :data:`CACHE_VERSION`, so data written by another version of the generator
is never reused.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Dict, List, Literal, Optional, Sequence, Tuple

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.datasets.motif_generator import CustomMotif, CycleMotif, HouseMotif
from torch_geometric.utils import coalesce, to_undirected

from gsat.data.base import GraphDataset, load_graphs, save_graphs

log = logging.getLogger(__name__)

Variant = Literal["released", "undirected"]
#: the generator variants (see the module docstring); the first is the default
VARIANTS: Tuple[str, ...] = ("released", "undirected")
#: bumped whenever the generator changes what it produces; part of the cache file names
CACHE_VERSION = 2
#: motif names in label order
MOTIFS: Tuple[str, ...] = ("cycle", "house", "crane")
#: base names; class c is spuriously tied to BASES[c] in the training split
BASES: Tuple[str, ...] = ("tree", "ladder", "wheel")
#: base-size parameter ranges (inclusive): tree depth, ladder rungs, wheel nodes
SMALL_BASES: Dict[str, Tuple[int, int]] = {"tree": (3, 3), "ladder": (8, 11), "wheel": (15, 19)}
LARGE_BASES: Dict[str, Tuple[int, int]] = {"tree": (3, 5), "ladder": (30, 49), "wheel": (60, 79)}
#: tree depths (inclusive) of the released variant's training split, per class
RELEASED_TRAIN_TREE_DEPTHS: Tuple[Tuple[int, int], ...] = ((3, 3), (0, 2), (0, 2))
#: edges in the crane motif: a 4-cycle 1-2-3-4 whose opposite corners 1 and 3 share a
#: fifth node 0 (the "crane" shape of DIR)
CRANE_EDGES: Tuple[Tuple[int, int], ...] = ((0, 1), (0, 3), (1, 2), (2, 3), (3, 4), (4, 1))
#: the released 5-cycle (DIR's ``dircycle``): 0-1-2-3-4-0
RELEASED_CYCLE_EDGES: Tuple[Tuple[int, int], ...] = ((0, 1), (1, 2), (3, 2), (0, 4), (4, 3))
#: the released house (DIR's ``house``): square 1-2-3-4, roof apex 0 joined to 1 and 4
RELEASED_HOUSE_EDGES: Tuple[Tuple[int, int], ...] = ((1, 2), (4, 3), (3, 2), (4, 1), (0, 1),
                                                     (0, 4))
NOISE_FRACTION = 0.05
NUM_FEATURES = 4


def check_variant(variant: object) -> str:
    r"""Return :obj:`variant` if it names a generator variant, else raise a
    :class:`ValueError` listing :data:`VARIANTS`."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown Spurious-Motif variant {variant!r}; choose one of: "
                         f"{', '.join(VARIANTS)}")
    return str(variant)


def crane_motif() -> CustomMotif:
    r"""The crane motif (5 nodes, 6 edges; see :data:`CRANE_EDGES`) as a PyG
    :class:`~torch_geometric.datasets.motif_generator.CustomMotif`."""
    ei = torch.tensor(CRANE_EDGES, dtype=torch.long).t()
    return CustomMotif(Data(edge_index=to_undirected(ei, num_nodes=5), num_nodes=5))


def _edge_data(edges: Sequence[Tuple[int, int]]) -> Data:
    ei = torch.tensor(edges, dtype=torch.long).t()
    return Data(edge_index=coalesce(to_undirected(ei, num_nodes=5), num_nodes=5), num_nodes=5)


def motif_structures(variant: Variant = "released") -> List[Data]:
    r"""The three motifs in label order, each with node 0 as the attachment node and
    :obj:`edge_index` in both directions.

    :obj:`"undirected"`: PyG's motif generators, a 5-cycle (:class:`CycleMotif`), a house
    (:class:`HouseMotif`, node 0 a corner of the square) and the crane (:func:`crane_motif`).
    :obj:`"released"`: the released generator's :data:`RELEASED_CYCLE_EDGES`,
    :data:`RELEASED_HOUSE_EDGES` (node 0 the roof apex) and :data:`CRANE_EDGES`.
    """
    if check_variant(variant) == "released":
        return [_edge_data(RELEASED_CYCLE_EDGES), _edge_data(RELEASED_HOUSE_EDGES),
                _edge_data(CRANE_EDGES)]
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
             noise_fraction: float = NOISE_FRACTION, directed: bool = False
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
        directed (bool, optional): store every edge once, as networkx lists the graph's
            edges (from the smaller node id to the larger), like the released generator;
            otherwise in both directions. (default: :obj:`False`)

    Returns:
        (edge_index, edge_label, num_nodes, num_base_nodes): :obj:`edge_index` without
        duplicates or self-loops, either one-way (:obj:`directed`) or undirected and
        coalesced; :obj:`edge_label` 1 exactly on the motif's own edges.
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
    if not directed:
        ei = coalesce(to_undirected(ei, num_nodes=n), num_nodes=n)
    label = ((ei[0] >= nb) & (ei[1] >= nb)).long()
    return ei, label, n, nb


def base_probabilities(label: int, b: float) -> List[float]:
    r"""Probabilities of the three bases for a graph of class :obj:`label` under bias
    :obj:`b`: :obj:`b` for the class's own base, :math:`(1 - b) / 2` for each other one."""
    return [b if i == label else (1.0 - b) / 2.0 for i in range(len(BASES))]


def generate_split(num_graphs: int, b: float, large: bool, seed: int,
                   variant: Variant = "released", training: bool = False) -> List[Data]:
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
        variant (str, optional): :obj:`"released"` or :obj:`"undirected"` (see the module
            docstring). (default: :obj:`"released"`)
        training (bool, optional): this is the training split; with the released variant,
            tree depths then follow :data:`RELEASED_TRAIN_TREE_DEPTHS` (ignored when
            :obj:`large`). (default: :obj:`False`)

    Each graph carries :obj:`x` (:obj:`[N, 4]` uniform random features), :obj:`edge_index`,
    :obj:`edge_attr` (:obj:`[E, 1]` ones), :obj:`y` (:obj:`[1]`), :obj:`edge_label`,
    :obj:`node_label` (1 on motif nodes) and :obj:`base_type` (:obj:`[1]`, index into
    :data:`BASES`).
    """
    variant = check_variant(variant)  # type: ignore[assignment]
    if not 0.0 <= b <= 1.0:
        raise ValueError(f"the bias b must lie in [0, 1], got {b}")
    if num_graphs < 0:
        raise ValueError(f"num_graphs must be >= 0, got {num_graphs}")
    rng = np.random.default_rng(seed)
    motifs = motif_structures(variant)
    directed = variant == "released"
    graphs: List[Data] = []
    for label in range(len(MOTIFS)):
        ranges = dict(LARGE_BASES if large else SMALL_BASES)
        if directed and training and not large:
            ranges["tree"] = RELEASED_TRAIN_TREE_DEPTHS[label]
        count = num_graphs // 3 + (1 if label < num_graphs % 3 else 0)
        for _ in range(count):
            kind = int(rng.choice(len(BASES), p=base_probabilities(label, b)))
            lo, hi = ranges[BASES[kind]]
            base = base_graph(BASES[kind], int(rng.integers(lo, hi + 1)), rng)
            ei, edge_label, n, nb = assemble(base, motifs[label], rng, directed=directed)
            x = torch.from_numpy(rng.random((n, NUM_FEATURES), dtype=np.float32))
            node_label = torch.zeros(n, dtype=torch.long)
            node_label[nb:] = 1
            graphs.append(Data(x=x, edge_index=ei, edge_attr=torch.ones(ei.size(1), 1),
                               y=torch.tensor([label]), edge_label=edge_label,
                               node_label=node_label, base_type=torch.tensor([kind]),
                               num_nodes=n))
    return graphs


def generate_spmotif(b: float, seed: int = 0, num_train: int = 9000, num_valid: int = 3000,
                     num_test: int = 6000, variant: Variant = "released"
                     ) -> Dict[str, List[Data]]:
    r"""Generate the three splits of Spurious-Motif with bias :obj:`b`, deterministically for
    :obj:`seed` and :obj:`variant`: training with bias :obj:`b` and small bases (with the
    released variant, shallower trees for classes 1 and 2), validation with uniform bases
    and small bases, test with uniform bases and large bases (see :func:`generate_split`).

    Returns:
        dict: :obj:`"train"`, :obj:`"valid"`, :obj:`"test"` -> list of
        :class:`~torch_geometric.data.Data`.
    """
    seq = np.random.SeedSequence([seed, int(round(b * 1000))])
    s_train, s_valid, s_test = (int(s.generate_state(1)[0]) for s in seq.spawn(3))
    return {"train": generate_split(num_train, b, large=False, seed=s_train, variant=variant,
                                    training=True),
            "valid": generate_split(num_valid, 1.0 / 3.0, large=False, seed=s_valid,
                                    variant=variant),
            "test": generate_split(num_test, 1.0 / 3.0, large=True, seed=s_test,
                                   variant=variant)}


def cache_paths(folder: Path, sizes: Dict[str, int], data_seed: int, variant: str
                ) -> Dict[str, Path]:
    r"""Cache file of each split: :obj:`<split>_n<count>_s<data_seed>_<variant>_v<version>.pt`
    (:data:`CACHE_VERSION`), so files of other generator versions or variants never match."""
    return {k: folder / f"{k}_n{n}_s{data_seed}_{variant}_v{CACHE_VERSION}.pt"
            for k, n in sizes.items()}


#: the splits served in a fixed random order rather than the generator's class-by-class order
SHUFFLED_SPLITS = ("valid", "test")


def in_fixed_order(graphs: List[Data], data_seed: int, split: str) -> List[Data]:
    r"""The graphs of a generated split in a random order fixed by :obj:`data_seed` and the
    split's name. The generator writes the graphs class by class, so the first graphs of a
    split (a sample, such as the benchmark's :obj:`--max-graphs`) would otherwise all share
    one class."""
    order = np.random.default_rng([data_seed, SHUFFLED_SPLITS.index(split) + 1]).permutation(
        len(graphs))
    return [graphs[int(i)] for i in order]


def load_spmotif(b: float, data_dir: str | Path = "data", seed: int = 0,
                 num_train: int = 9000, num_valid: int = 3000, num_test: int = 6000,
                 data_seed: int = 0, variant: Variant = "released",
                 **unknown: object) -> GraphDataset:
    r"""Spurious-Motif with bias :obj:`b`, cached under :obj:`<data_dir>/spmotif_<b>/`
    (:func:`cache_paths`).

    The splits are fixed by the generator (no random re-split), so the run :obj:`seed` does
    not change the graphs; :obj:`data_seed` (default :obj:`0`) selects the generated dataset.
    The validation and test graphs come in a fixed random order (:func:`in_fixed_order`), so
    their first graphs hold every class; the training graphs keep the generator's
    class-by-class order (the training loader shuffles them with the run seed).

    Args:
        b (float): bias of the training split.
        data_dir (str or Path, optional): data root. (default: :obj:`"data"`)
        seed (int, optional): run seed (unused: the splits are fixed). (default: :obj:`0`)
        num_train, num_valid, num_test (int, optional): split sizes, smaller for quick tests.
            (default: :obj:`9000`, :obj:`3000`, :obj:`6000`)
        data_seed (int, optional): generator seed. (default: :obj:`0`)
        variant (str, optional): :obj:`"released"` (one-way edges, as the released generator;
            attention is not symmetrised) or :obj:`"undirected"` (both directions, depth-3
            trees, PyG's house); see the module docstring. (default: :obj:`"released"`)

    Raises:
        ValueError: an unknown :obj:`variant` or an option this dataset does not take.
    """
    variant = check_variant(variant)  # type: ignore[assignment]
    if unknown:
        raise ValueError(f"Spurious-Motif does not take the option(s) "
                         f"{', '.join(sorted(unknown))}; it takes: data_seed, num_train, "
                         f"num_valid, num_test, variant")
    name = f"spmotif_{b}"
    folder = Path(data_dir) / name
    sizes = {"train": num_train, "valid": num_valid, "test": num_test}
    paths = cache_paths(folder, sizes, data_seed, variant)
    params = {k: {"generator": "generate_spmotif", "b": b, "split": k, "num_graphs": n,
                  "data_seed": data_seed, "variant": variant, "version": CACHE_VERSION}
              for k, n in sizes.items()}
    splits: Dict[str, Optional[List[Data]]] = {k: load_graphs(p, params[k])
                                               for k, p in paths.items()}
    if any(splits[k] is None or len(splits[k]) != sizes[k] for k in sizes):
        log.info("generating %s, variant %s (%d / %d / %d graphs) into %s", name, variant,
                 num_train, num_valid, num_test, folder)
        splits = dict(generate_spmotif(b, data_seed, num_train, num_valid, num_test,
                                       variant=variant))
        for k, p in paths.items():
            if splits[k]:
                save_graphs(splits[k], p, params[k])
    for k in SHUFFLED_SPLITS:
        splits[k] = in_fixed_order(splits[k], data_seed, k)
    return GraphDataset(name=name, train=splits["train"], valid=splits["valid"],
                        test=splits["test"], num_features=NUM_FEATURES, num_outputs=3,
                        task="multiclass", metric="acc", edge_dim=1, config_name="spmotif",
                        undirected=variant == "undirected",
                        extra={"b": b, "bases": list(BASES), "motifs": list(MOTIFS),
                               "class_names": list(MOTIFS),
                               "variant": variant})


def spmotif_builder(b: float) -> Callable[..., GraphDataset]:
    r"""A registry builder for Spurious-Motif with a fixed bias :obj:`b`."""
    def build(data_dir: str | Path = "data", seed: int = 0, **options: object) -> GraphDataset:
        return load_spmotif(b, data_dir=data_dir, seed=seed, **options)

    build.__name__ = f"load_spmotif_{b}"
    build.__doc__ = f"Spurious-Motif with bias b = {b} (see :func:`load_spmotif`)."
    return build
