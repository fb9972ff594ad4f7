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


def node_attention(edge_att: torch.Tensor, edge_index: torch.Tensor,
                   num_nodes: int) -> np.ndarray:
    r"""Edge attention lifted to nodes for pictures: each node gets the largest attention of
    the edges it is an end of (0 for a node without edges), shape :obj:`[N]`."""
    att = edge_att.detach().cpu().double().view(-1)
    ei = edge_index.detach().cpu()
    out = torch.zeros(num_nodes, dtype=torch.float64)
    if att.numel():
        for ends in (ei[0], ei[1]):
            out.scatter_reduce_(0, ends, att, reduce="amax")
    return out.numpy()


def draw_superpixel_explanation(sp_map: torch.Tensor, node_att: Sequence[float],
                                path: Union[str, Path], intensity: Optional[Sequence[float]] = None,
                                node_label: Optional[torch.Tensor] = None,
                                title: Optional[str] = None, graph_scale: bool = True) -> Path:
    r"""Draw an image graph (e.g. an MNIST-75sp digit) as its superpixels, to a PNG file: on
    the left the digit, each superpixel filled with its mean intensity; on the right each
    superpixel filled with its node's attention (a colour bar gives the scale). The outline of
    the ground-truth superpixels, when :obj:`node_label` is given, is drawn in blue on both.
    With :obj:`graph_scale` the colours span this graph's lowest to highest attention (the
    released code's ``viz_norm_att``), else 0 to 1.

    Args:
        sp_map (torch.Tensor): the node of every pixel, shape :obj:`[H, W]`.
        node_att (sequence of float): attention per node (:func:`node_attention`).
        path (str or Path): output PNG.
        intensity (sequence of float, optional): mean intensity per node in :math:`[0, 1]`.
            (default: no digit panel)
        node_label (torch.Tensor, optional): 0/1 ground truth per node.
        title (str, optional): figure title.
        graph_scale (bool, optional): colours from the graph's lowest to highest attention.
            (default: :obj:`True`)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pix = np.asarray(sp_map.detach().cpu() if isinstance(sp_map, torch.Tensor) else sp_map,
                     dtype=np.int64)
    att = np.asarray(node_att, dtype=np.float64).reshape(-1)
    n = att.size
    pix = np.where(pix < n, pix, n)  # pixels of no node (never in built graphs) drawn as 0
    # drawn 8x larger, pixel by pixel, so that borders are thin lines between superpixels
    pix = np.kron(pix, np.ones((8, 8), dtype=np.int64))
    att_img = np.append(att, 0.0)[pix]
    panels = 1 if intensity is None else 2
    fig = Figure(figsize=(3.3 * panels + 0.9, 3.7))
    axes = np.atleast_1d(fig.subplots(1, panels))
    gt = None
    if node_label is not None:
        lab = node_label.detach().cpu().view(-1).numpy().astype(np.float64)
        gt = np.append(lab, 0.0)[pix]
    if intensity is not None:
        px = np.append(np.asarray(intensity, dtype=np.float64).reshape(-1), 0.0)[pix]
        axes[0].imshow(px, cmap="gray", vmin=0.0, vmax=1.0)
        axes[0].set_title("superpixels (mean intensity)", fontsize=8)
    lo, hi = (float(att.min()), float(att.max())) if graph_scale and att.size else (0.0, 1.0)
    norm = colors.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1e-6)
    cmap = matplotlib.colormaps["Reds"]
    axes[-1].imshow(att_img, cmap=cmap, norm=norm)
    axes[-1].set_title("attention per superpixel" + ("\nblue: ground truth (on the digit)"
                                                     if gt is not None else ""), fontsize=8)
    border = np.zeros(pix.shape, dtype=bool)
    border[:, 1:] |= pix[:, 1:] != pix[:, :-1]
    border[1:, :] |= pix[1:, :] != pix[:-1, :]
    overlay = np.zeros(pix.shape + (4,))
    overlay[border] = (0.5, 0.5, 0.5, 0.6)
    for ax in axes:
        ax.imshow(overlay)
        if gt is not None and gt.any() and not gt.all():
            ax.contour(gt, levels=[0.5], colors="#1f6fff", linewidths=1.6)
        ax.set_axis_off()
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[-1], label="attention",
                 fraction=0.046, pad=0.04)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def draw_token_explanation(tokens: Sequence[str], node_att: Sequence[float],
                           path: Union[str, Path], title: Optional[str] = None,
                           line_chars: int = 60) -> Path:
    r"""Draw a sentence graph (e.g. Graph-SST2) as a strip of its words, to a PNG file: each
    word in a box filled by its node's attention (a colour bar gives the scale), in sentence
    order, wrapped into lines of about :obj:`line_chars` characters.

    Args:
        tokens (sequence of str): the words, one per node.
        node_att (sequence of float): attention per node (:func:`node_attention`).
        path (str or Path): output PNG.
        title (str, optional): figure title.
        line_chars (int, optional): characters per line before wrapping. (default: :obj:`60`)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    att = np.asarray(node_att, dtype=np.float64).reshape(-1)
    if len(tokens) != att.size:
        raise ValueError(f"{len(tokens)} tokens but {att.size} attention values; give one "
                         "per node")
    lines: list = [[]]
    used = 0
    for i, tok in enumerate(tokens):
        width = len(str(tok)) + 2
        if lines[-1] and used + width > line_chars:
            lines.append([])
            used = 0
        lines[-1].append((i, str(tok), used))
        used += width
    norm = colors.Normalize(vmin=0.0, vmax=1.0)
    cmap = matplotlib.colormaps["Reds"]
    char_w = 0.09  # inches per character cell of the 10-point monospace font, with padding
    span = max(sum(len(t) + 2 for _, t, _ in ln) for ln in lines) if tokens else 1
    width_in = max(4.0, span * char_w / 0.8 + 0.4)
    fig = Figure(figsize=(width_in, 0.55 * len(lines) + 1.1))
    ax = fig.add_axes((0.02, 0.08, 0.8, 0.72 if title else 0.84))
    ax.set_xlim(0, 0.8 * width_in / char_w)  # one unit is one character cell
    ax.set_ylim(len(lines), 0)
    for row, ln in enumerate(lines):
        for i, tok, col in ln:
            face = cmap(norm(att[i]))
            ink = "white" if att[i] > 0.6 else "black"
            ax.text(col + 0.5, row + 0.5, tok, family="monospace", fontsize=10, va="center",
                    ha="left", color=ink,
                    bbox=dict(boxstyle="round,pad=0.25", facecolor=face, edgecolor="#888888",
                              linewidth=0.5))
    ax.set_axis_off()
    cax = fig.add_axes((0.86, 0.15, 0.025, 0.6))
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, label="attention")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def draw_graph_explanation(g: "object", edge_att: torch.Tensor, path: Union[str, Path],
                           node_names: Optional[Sequence[str]] = None,
                           title: Optional[str] = None) -> Path:
    r"""Draw one explained graph the way its data is best seen: an image graph that carries
    :obj:`sp_map` (the node of every pixel, e.g. MNIST-75sp) as superpixels
    (:func:`draw_superpixel_explanation`, the mean intensity read from :obj:`x[:, 0]`), a
    sentence graph that carries :obj:`tokens` (one word per node, e.g. Graph-SST2) as a strip
    of words (:func:`draw_token_explanation`), each with the edge attention lifted to nodes
    (:func:`node_attention`); any other graph as nodes and edges
    (:func:`draw_explanation`, ground-truth edges marked)."""
    num_nodes = int(g.num_nodes)
    sp_map = getattr(g, "sp_map", None)
    tokens = getattr(g, "tokens", None)
    if isinstance(sp_map, torch.Tensor) and sp_map.dim() == 2:
        att = node_attention(edge_att, g.edge_index, num_nodes)
        x = getattr(g, "x", None)
        intensity = x[:, 0].detach().cpu().numpy() if isinstance(x, torch.Tensor) else None
        return draw_superpixel_explanation(sp_map, att, path, intensity=intensity,
                                           node_label=getattr(g, "node_label", None),
                                           title=title)
    if isinstance(tokens, (list, tuple)) and len(tokens) == num_nodes:
        return draw_token_explanation(tokens, node_attention(edge_att, g.edge_index,
                                                             num_nodes), path, title=title)
    return draw_explanation(g.edge_index.cpu(), edge_att, num_nodes, path,
                            edge_label=getattr(g, "edge_label", None), node_names=node_names,
                            title=title)
