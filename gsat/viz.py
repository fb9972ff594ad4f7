r"""Pictures of explanations: a graph with each edge drawn by its attention."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import matplotlib
import matplotlib.image
import networkx as nx
import numpy as np
import torch
from matplotlib import cm, colors
from matplotlib.figure import Figure


def draw_explanation(edge_index: torch.Tensor, edge_att: torch.Tensor, num_nodes: int,
                     path: Union[str, Path], edge_label: Optional[torch.Tensor] = None,
                     node_names: Optional[Sequence[str]] = None,
                     title: Optional[str] = None, seed: int = 0,
                     target: Optional[int] = None) -> Path:
    r"""Draw one graph to a PNG file: edge colour and width follow the attention (a colour bar
    gives the scale); ground-truth edges, when :obj:`edge_label` is given, get a blue halo;
    :obj:`target`, the explained node of a node task, is drawn larger and darker.

    Args:
        edge_index (torch.Tensor): edges of the graph, shape :obj:`[2, E]`.
        edge_att (torch.Tensor): attention per edge, shape :obj:`[E]`.
        num_nodes (int): number of nodes.
        path (str or Path): output PNG.
        edge_label (torch.Tensor, optional): 0/1 ground truth per edge.
        node_names (list of str, optional): a label per node (e.g. atom symbols).
        title (str, optional): figure title.
        seed (int, optional): layout seed. (default: :obj:`0`)
        target (int, optional): the node whose prediction is explained. (default: none)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ei = edge_index.detach().cpu().numpy()
    att = edge_att.detach().cpu().view(-1).numpy()
    gt = None if edge_label is None else edge_label.detach().cpu().view(-1).numpy()
    # One drawn edge per unordered pair: max attention / any ground truth over both directions.
    pairs = {}
    for e in range(ei.shape[1]):
        u, v = int(ei[0, e]), int(ei[1, e])
        key = (min(u, v), max(u, v))
        a, t = pairs.get(key, (0.0, 0))
        pairs[key] = (max(a, float(att[e])), max(t, int(gt[e]) if gt is not None else 0))
    g = nx.Graph()
    g.add_nodes_from(range(num_nodes))
    g.add_edges_from(pairs)
    pos = nx.kamada_kawai_layout(g) if num_nodes <= 200 and g.number_of_edges() else \
        nx.spring_layout(g, seed=seed)
    fig = Figure(figsize=(5.5, 4.5))  # no pyplot: the user's backend and figures stay as they are
    ax = fig.subplots()
    edges = list(pairs)
    vals = np.array([pairs[e][0] for e in edges])
    norm = colors.Normalize(vmin=0.0, vmax=1.0)
    cmap = matplotlib.colormaps["Reds"]
    if gt is not None:
        gt_edges = [e for e in edges if pairs[e][1]]
        nx.draw_networkx_edges(g, pos, edgelist=gt_edges, width=7, edge_color="#5aa9ff",
                               alpha=0.6, ax=ax)
    if edges:
        nx.draw_networkx_edges(g, pos, edgelist=edges, width=0.8 + 3.2 * vals,
                               edge_color=[cmap(norm(v)) for v in vals], ax=ax)
    labels = None
    if node_names is not None:
        labels = {i: str(node_names[i]) for i in range(num_nodes)}
    nx.draw_networkx_nodes(g, pos, node_size=90 if labels is None else 180,
                           node_color="#dddddd", edgecolors="#555555", linewidths=0.6, ax=ax)
    if target is not None:
        nx.draw_networkx_nodes(g, pos, nodelist=[int(target)], node_size=260,
                               node_color="#222222", edgecolors="#000000", ax=ax,
                               label="explained node")
    if labels is not None:
        nx.draw_networkx_labels(g, pos, labels=labels, font_size=7, ax=ax)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="attention")
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    if gt is not None:
        ax.plot([], [], color="#5aa9ff", lw=6, alpha=0.6, label="ground-truth edge")
    if gt is not None or target is not None:
        ax.legend(loc="lower left", fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def draw_molecule_explanation(mol: "object", bond_att: Dict[int, float],
                              path: Union[str, Path], title: Optional[str] = None,
                              size: Tuple[int, int] = (520, 400)) -> Path:
    r"""Draw a molecule to a PNG file as chemists draw it, with each bond highlighted by its
    attention: an RDKit 2-D depiction (:mod:`rdkit.Chem.Draw`, atom symbols as usual) whose
    bond highlight colour follows the attention on the same colour scale as
    :func:`draw_explanation`, with a colour bar.

    Args:
        mol (rdkit.Chem.Mol): the molecule; atoms and bonds are numbered as in it.
        bond_att (dict): RDKit bond index -> attention in :math:`[0, 1]`.
        path (str or Path): output PNG.
        title (str, optional): figure title.
        size (tuple, optional): width and height of the depiction in pixels.
            (default: :obj:`(520, 400)`)
    """
    from rdkit.Chem import Mol
    from rdkit.Chem.Draw import rdMolDraw2D

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    norm = colors.Normalize(vmin=0.0, vmax=1.0)
    cmap = matplotlib.colormaps["Reds"]
    highlight = {int(b): tuple(float(c) for c in cmap(norm(float(a)))[:3])
                 for b, a in bond_att.items()}
    drawer = rdMolDraw2D.MolDraw2DCairo(*size)
    drawer.drawOptions().highlightBondWidthMultiplier = 12
    drawer.drawOptions().continuousHighlight = False
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, Mol(mol), highlightAtoms=[],
                                       highlightBonds=list(highlight),
                                       highlightBondColors=highlight)
    drawer.FinishDrawing()
    image = matplotlib.image.imread(io.BytesIO(drawer.GetDrawingText()), format="png")
    fig = Figure(figsize=(size[0] / 100 + 1.2, size[1] / 100 + 0.4))
    ax = fig.subplots()
    ax.imshow(image)
    ax.set_axis_off()
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="attention",
                 fraction=0.04)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
