r"""The synthetic node classification datasets of GNNExplainer (Ying et al., *GNNExplainer:
Generating Explanations for Graph Neural Networks*, NeurIPS 2019), with ground truth:

* **BA-Shapes** -- a Barabasi-Albert base graph (300 nodes, 5 edges per new node) with 80
  five-node houses attached; 4 classes: 0 base, 1 the two house nodes joined to the roof,
  2 the two floor nodes, 3 the roof apex (PyG's :class:`HouseMotif` roles, plus one).
* **BA-Community** -- two BA-Shapes graphs joined by 350 random edges between them; 8
  classes (the second graph's labels are shifted by 4); 10 features drawn per node from
  normal distributions: dimensions 0-1 with mean :math:`-1` (first graph) or :math:`+1`
  (second graph) and variance 0.5, dimensions 2-9 standard normal.
* **Tree-Cycles** -- a balanced binary tree of height 8 (511 nodes) with 60 six-cycles
  attached; 2 classes (1 on cycle nodes).
* **Tree-Grid** -- the same tree with 80 :math:`3 \times 3` grids attached; 2 classes (1 on
  grid nodes).

Sizes and noise follow GNNExplainer's released generator (``gengraph.py``), which the
published data files and DGL's ``BAShapeDataset`` / ``TreeCycleDataset`` /
``TreeGridDataset`` defaults share: after the motifs are attached, ``int(p * E)`` random
edges are added to the :math:`E` undirected edges (:math:`p = 0.01`; 0.1 for Tree-Grid;
option :obj:`perturb`), Tree-Cycles has 60 cycles (871 nodes; :obj:`num_motifs=80` attaches
80) and both halves of BA-Community use 5 edges per new node.
Nodes of BA-Shapes, Tree-Cycles and Tree-Grid have 10 constant features 1.0 (the paper gives
them no information beyond the structure).

Generation uses PyG's :class:`~torch_geometric.datasets.ExplainerDataset`: each motif joins a
distinct base node, drawn at random, by one edge from a random motif node (the released
generator joins regularly spaced base nodes to the motif's first node, and sometimes a second
cycle-to-tree edge in Tree-Cycles). The BA base comes from :func:`networkx.barabasi_albert_graph`
(:class:`~gsat.data.ba_2motifs.BarabasiAlbertGraph`, exactly :math:`5 \times 295` edges), the
tree from PyG's :class:`~torch_geometric.datasets.graph_generator.TreeGraph`. A random edge
never joins two nodes of the same motif instance, so the ground truth is exactly the motif
structure: :obj:`edge_label` is 1 on the edges whose endpoints lie in the same motif
instance, in both directions. Every graph is undirected and coalesced.

Generation is deterministic for :obj:`graph_seed` (default 0: every split seed sees the same
graph) and takes well under a second, so nothing is cached. The split is a random 80/10/10
node split by the seed (PGExplainer's protocol, Luo et al., NeurIPS 2020); the explained nodes
are the motif nodes of the test split (:obj:`explain_split="all"`: every motif node).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Dict, List, Tuple

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.datasets import ExplainerDataset
from torch_geometric.datasets.graph_generator import GraphGenerator, TreeGraph
from torch_geometric.datasets.motif_generator import (CycleMotif, GridMotif, HouseMotif,
                                                      MotifGenerator)
from torch_geometric.utils import coalesce, to_undirected

from gsat.data.ba_2motifs import BarabasiAlbertGraph
from gsat.data.node.base import NodeDataset, explained, motif_edge_label, split_masks
from gsat.errors import ConfigError

#: feature width of the datasets with constant features (GNNExplainer's default input size)
NUM_FEATURES = 10


def attach_motifs(base: GraphGenerator, motif: MotifGenerator, num_motifs: int, seed: int
                  ) -> Tuple[Tensor, Tensor, Tensor]:
    r"""One graph of PyG's :class:`~torch_geometric.datasets.ExplainerDataset`: the base graph
    with :obj:`num_motifs` motifs, each joined by one edge to a distinct random base node.

    Returns:
        (Tensor, Tensor, Tensor): :obj:`edge_index` (undirected), :obj:`y` (0 on base nodes,
        the motif's role plus one, or 1, on motif nodes) and :obj:`motif_id` (:obj:`-1` on
        base nodes, the instance :math:`0 .. \text{num\_motifs} - 1` on motif nodes, which
        follow the base nodes in blocks).
    """
    if num_motifs < 1:
        raise ConfigError(f"num_motifs must be at least 1, got {num_motifs}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        g = ExplainerDataset(graph_generator=base, motif_generator=motif,
                             num_motifs=num_motifs)[0]
    n = g.y.numel()
    base_n = int((g.node_mask == 0).sum())
    motif_id = torch.full((n,), -1, dtype=torch.long)
    motif_id[base_n:] = torch.arange(n - base_n) // ((n - base_n) // num_motifs)
    return g.edge_index, g.y, motif_id


def add_random_edges(edge_index: Tensor, num_nodes: int, count: int, motif_id: Tensor,
                     rng: random.Random) -> Tensor:
    r""":obj:`edge_index` with :obj:`count` new undirected edges between random pairs of
    distinct nodes that are not adjacent and not in the same motif instance (the noise of
    GNNExplainer's generator, which keeps the ground truth exactly the motifs)."""
    existing = set(zip(edge_index[0].tolist(), edge_index[1].tolist()))
    ids = motif_id.tolist()
    new: List[Tuple[int, int]] = []
    tries = 0
    while len(new) < count:
        tries += 1
        if tries > 1000 * (count + 1):
            raise ConfigError(f"cannot add {count} random edges to a graph of {num_nodes} "
                              "nodes; lower the perturb option")
        u, v = rng.randrange(num_nodes), rng.randrange(num_nodes)
        if u == v or (u, v) in existing or (ids[u] >= 0 and ids[u] == ids[v]):
            continue
        existing.update([(u, v), (v, u)])
        new.append((u, v))
    if not new:
        return edge_index
    extra = torch.tensor(new, dtype=torch.long).t()
    return torch.cat([edge_index, to_undirected(extra, num_nodes=num_nodes)], 1)


def _perturbed(edge_index: Tensor, motif_id: Tensor, perturb: float, seed: int) -> Tensor:
    if not 0.0 <= perturb <= 1.0:
        raise ConfigError(f"perturb must be a fraction in [0, 1], got {perturb}")
    n = motif_id.numel()
    count = int(perturb * (edge_index.size(1) // 2))
    edge_index = add_random_edges(edge_index, n, count, motif_id,
                                  random.Random(f"perturb-{seed}"))
    return coalesce(edge_index, num_nodes=n)


def _graph(x: Tensor, edge_index: Tensor, y: Tensor, motif_id: Tensor) -> Data:
    return Data(x=x, edge_index=edge_index, y=y, motif_id=motif_id,
                node_label=(motif_id >= 0).long(),
                edge_label=motif_edge_label(edge_index, motif_id), num_nodes=y.numel())


def _ba_shapes_parts(base_nodes: int, base_edges: int, num_motifs: int, perturb: float,
                     seed: int) -> Tuple[Tensor, Tensor, Tensor]:
    if base_edges < 1 or base_nodes <= base_edges:
        raise ConfigError(f"base_nodes ({base_nodes}) must exceed base_edges ({base_edges}) "
                          ">= 1")
    if num_motifs > base_nodes:
        raise ConfigError(f"num_motifs ({num_motifs}) cannot exceed base_nodes ({base_nodes})")
    edge_index, y, motif_id = attach_motifs(BarabasiAlbertGraph(base_nodes, base_edges, seed),
                                            HouseMotif(), num_motifs, seed)
    return _perturbed(edge_index, motif_id, perturb, seed), y, motif_id


def generate_ba_shapes(base_nodes: int = 300, base_edges: int = 5, num_motifs: int = 80,
                       perturb: float = 0.01, num_features: int = NUM_FEATURES,
                       seed: int = 0) -> Data:
    r"""The BA-Shapes graph (see the module docstring): :obj:`x` constant 1.0,
    :obj:`y` in 0..3, :obj:`motif_id`, :obj:`node_label` and :obj:`edge_label`.
    Deterministic for :obj:`seed`."""
    edge_index, y, motif_id = _ba_shapes_parts(base_nodes, base_edges, num_motifs, perturb,
                                               seed)
    return _graph(torch.ones(y.numel(), num_features), edge_index, y, motif_id)


def generate_ba_community(base_nodes: int = 300, base_edges: int = 5, num_motifs: int = 80,
                          perturb: float = 0.01, inter_edges: int = 350,
                          num_features: int = NUM_FEATURES, seed: int = 0) -> Data:
    r"""The BA-Community graph (see the module docstring): two BA-Shapes graphs (the second
    numbered after the first, its labels shifted by 4 and its motif instances by
    :obj:`num_motifs`) joined by :obj:`inter_edges` distinct random edges between them.
    Deterministic for :obj:`seed`."""
    if num_features < 2:
        raise ConfigError(f"num_features must be at least 2, got {num_features}")
    halves = [_ba_shapes_parts(base_nodes, base_edges, num_motifs, perturb, 2 * seed + h)
              for h in (0, 1)]
    (ei1, y1, m1), (ei2, y2, m2) = halves
    n1, n2 = y1.numel(), y2.numel()
    if inter_edges > n1 * n2:
        raise ConfigError(f"inter_edges ({inter_edges}) exceeds the {n1 * n2} possible pairs")
    rng = random.Random(f"community-{seed}")
    pairs = set()
    while len(pairs) < inter_edges:
        pairs.add((rng.randrange(n1), n1 + rng.randrange(n2)))
    between = torch.tensor(sorted(pairs), dtype=torch.long).t().reshape(2, -1)
    n = n1 + n2
    edge_index = coalesce(torch.cat([ei1, ei2 + n1, to_undirected(between, num_nodes=n)], 1),
                          num_nodes=n)
    y = torch.cat([y1, y2 + 4])
    motif_id = torch.cat([m1, torch.where(m2 >= 0, m2 + num_motifs, m2)])
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, num_features, generator=gen)  # dimensions 2.. standard normal
    std = 0.5 ** 0.5
    x[:n1, :2] = -1.0 + std * torch.randn(n1, 2, generator=gen)
    x[n1:, :2] = 1.0 + std * torch.randn(n2, 2, generator=gen)
    return _graph(x, edge_index, y, motif_id)


def _tree_with(motif: MotifGenerator, depth: int, num_motifs: int, perturb: float,
               num_features: int, seed: int) -> Data:
    if depth < 1:
        raise ConfigError(f"depth must be at least 1, got {depth}")
    if num_motifs > 2 ** (depth + 1) - 1:
        raise ConfigError(f"num_motifs ({num_motifs}) exceeds the {2 ** (depth + 1) - 1} "
                          "tree nodes")
    edge_index, _, motif_id = attach_motifs(TreeGraph(depth, undirected=True), motif,
                                            num_motifs, seed)
    edge_index = _perturbed(edge_index, motif_id, perturb, seed)
    y = (motif_id >= 0).long()
    return _graph(torch.ones(y.numel(), num_features), edge_index, y, motif_id)


def generate_tree_cycles(depth: int = 8, num_motifs: int = 60, cycle_size: int = 6,
                         perturb: float = 0.01, num_features: int = NUM_FEATURES,
                         seed: int = 0) -> Data:
    r"""The Tree-Cycles graph (see the module docstring); :obj:`y` is 1 on cycle nodes.
    Deterministic for :obj:`seed`."""
    if cycle_size < 3:
        raise ConfigError(f"cycle_size must be at least 3, got {cycle_size}")
    return _tree_with(CycleMotif(cycle_size), depth, num_motifs, perturb, num_features, seed)


def generate_tree_grid(depth: int = 8, num_motifs: int = 80, perturb: float = 0.1,
                       num_features: int = NUM_FEATURES, seed: int = 0) -> Data:
    r"""The Tree-Grid graph (see the module docstring); :obj:`y` is 1 on the nodes of the
    :math:`3 \times 3` grids. Deterministic for :obj:`seed`."""
    return _tree_with(GridMotif(), depth, num_motifs, perturb, num_features, seed)


#: the classes of the motif node tasks, by name (pictures' titles)
CLASS_NAMES: Dict[str, List[str]] = {
    "ba_shapes": ["base", "house middle", "house floor", "house roof"],
    "ba_community": [f"{part} {role}" for part in ("A", "B")
                     for role in ("base", "house middle", "house floor", "house roof")],
    "tree_cycles": ["tree", "cycle"],
    "tree_grid": ["tree", "grid"],
}


def motif_dataset(name: str, data: Data, seed: int, explain_split: str,
                  settings: Dict[str, object]) -> NodeDataset:
    r"""A generated motif graph as a :class:`~gsat.data.node.base.NodeDataset`: random
    80/10/10 node split by :obj:`seed`, the motif nodes of the test split (or all, with
    :obj:`explain_split="all"`) explained; :obj:`settings` (the generator's arguments) and
    the sizes go to :attr:`extra`."""
    data.update(split_masks(data.num_nodes, seed))
    num_classes = int(data.y.max()) + 1
    binary = num_classes <= 2
    nodes = explained(data.node_label.bool(), data.test_mask, explain_split)
    extra = dict(settings, num_nodes=data.num_nodes, num_edges=data.edge_index.size(1),
                 num_classes=num_classes, num_motif_edges=int(data.edge_label.sum()),
                 explain_split=explain_split)
    if name in CLASS_NAMES and len(CLASS_NAMES[name]) == num_classes:
        extra["class_names"] = list(CLASS_NAMES[name])
    return NodeDataset(name=name, data=data, num_features=data.x.size(1),
                       num_outputs=1 if binary else num_classes,
                       task="binary" if binary else "multiclass", metric="acc",
                       explain_nodes=nodes, has_ground_truth=True, undirected=True,
                       config_name=name, extra=extra)


def load_ba_shapes(data_dir: str | Path = "data", seed: int = 0, num_motifs: int = 80,
                   base_nodes: int = 300, base_edges: int = 5, perturb: float = 0.01,
                   num_features: int = NUM_FEATURES, graph_seed: int = 0,
                   explain_split: str = "test", **_: object) -> NodeDataset:
    r"""BA-Shapes (see the module docstring), a 4-class node task.

    Args:
        data_dir (str or Path, optional): unused (the graph is generated, not cached).
        seed (int, optional): seed of the 80/10/10 node split. (default: :obj:`0`)
        num_motifs (int, optional): houses attached. (default: :obj:`80`)
        base_nodes (int, optional): nodes of the BA base graph. (default: :obj:`300`)
        base_edges (int, optional): edges from each new BA node. (default: :obj:`5`)
        perturb (float, optional): random edges added, as a fraction of the edges.
            (default: :obj:`0.01`)
        num_features (int, optional): width of the constant features. (default: :obj:`10`)
        graph_seed (int, optional): seed of the generator. (default: :obj:`0`)
        explain_split (str, optional): :obj:`"test"` explains the motif nodes of the test
            split, :obj:`"all"` every motif node. (default: :obj:`"test"`)
    """
    settings = dict(num_motifs=num_motifs, base_nodes=base_nodes, base_edges=base_edges,
                    perturb=perturb, num_features=num_features, graph_seed=graph_seed)
    data = generate_ba_shapes(base_nodes, base_edges, num_motifs, perturb, num_features,
                              graph_seed)
    return motif_dataset("ba_shapes", data, seed, explain_split, settings)


def load_ba_community(data_dir: str | Path = "data", seed: int = 0, num_motifs: int = 80,
                      base_nodes: int = 300, base_edges: int = 5, perturb: float = 0.01,
                      inter_edges: int = 350, num_features: int = NUM_FEATURES,
                      graph_seed: int = 0, explain_split: str = "test",
                      **_: object) -> NodeDataset:
    r"""BA-Community (see the module docstring), an 8-class node task. Options as
    :func:`load_ba_shapes` (per BA-Shapes half), plus :obj:`inter_edges`, the random edges
    between the halves (default: :obj:`350`); :obj:`num_features` (at least 2) is the width
    of the normal features."""
    settings = dict(num_motifs=num_motifs, base_nodes=base_nodes, base_edges=base_edges,
                    perturb=perturb, inter_edges=inter_edges, num_features=num_features,
                    graph_seed=graph_seed)
    data = generate_ba_community(base_nodes, base_edges, num_motifs, perturb, inter_edges,
                                 num_features, graph_seed)
    return motif_dataset("ba_community", data, seed, explain_split, settings)


def load_tree_cycles(data_dir: str | Path = "data", seed: int = 0, num_motifs: int = 60,
                     depth: int = 8, cycle_size: int = 6, perturb: float = 0.01,
                     num_features: int = NUM_FEATURES, graph_seed: int = 0,
                     explain_split: str = "test", **_: object) -> NodeDataset:
    r"""Tree-Cycles (see the module docstring), a binary node task. Options as
    :func:`load_ba_shapes`, with :obj:`depth` the height of the binary tree (default:
    :obj:`8`), :obj:`cycle_size` the nodes of a cycle (default: :obj:`6`) and 60 cycles by
    default."""
    settings = dict(num_motifs=num_motifs, depth=depth, cycle_size=cycle_size,
                    perturb=perturb, num_features=num_features, graph_seed=graph_seed)
    data = generate_tree_cycles(depth, num_motifs, cycle_size, perturb, num_features,
                                graph_seed)
    return motif_dataset("tree_cycles", data, seed, explain_split, settings)


def load_tree_grid(data_dir: str | Path = "data", seed: int = 0, num_motifs: int = 80,
                   depth: int = 8, perturb: float = 0.1, num_features: int = NUM_FEATURES,
                   graph_seed: int = 0, explain_split: str = "test",
                   **_: object) -> NodeDataset:
    r"""Tree-Grid (see the module docstring), a binary node task. Options as
    :func:`load_tree_cycles`, with 80 grids and :obj:`perturb=0.1` by default."""
    settings = dict(num_motifs=num_motifs, depth=depth, perturb=perturb,
                    num_features=num_features, graph_seed=graph_seed)
    data = generate_tree_grid(depth, num_motifs, perturb, num_features, graph_seed)
    return motif_dataset("tree_grid", data, seed, explain_split, settings)
