r"""Pictures of explained graphs as nodes and edges (synthetic motifs, node tasks, any graph
without a better picture), image graphs as superpixels and sentence graphs as words."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import matplotlib
import networkx as nx
import numpy as np
import torch
from matplotlib import cm, colors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gsat.viz.scale import (CMAP_NAME, DEFAULT_SCALE, GROUND_TRUTH_COLOUR, ColorScale,
                            check_scale, scale_bounds, scaled_attention, top_k_mask)


def undirected_edges(edge_index: torch.Tensor, edge_att: torch.Tensor,
                     edge_label: Optional[torch.Tensor] = None
                     ) -> Tuple[List[Tuple[int, int]], np.ndarray, np.ndarray]:
    r"""One drawn edge per unordered node pair (self-loops left out): the pairs, the largest
    attention over both directions and whether either direction is ground truth."""
    ei = edge_index.detach().cpu().numpy()
    att = edge_att.detach().cpu().double().view(-1).numpy()
    gt = None if edge_label is None else edge_label.detach().cpu().view(-1).numpy()
    pairs: Dict[Tuple[int, int], Tuple[float, int]] = {}
    for e in range(ei.shape[1]):
        u, v = int(ei[0, e]), int(ei[1, e])
        if u == v:
            continue
        key = (min(u, v), max(u, v))
        a, t = pairs.get(key, (-np.inf, 0))
        pairs[key] = (max(a, float(att[e])), max(t, int(gt[e] > 0) if gt is not None else 0))
    edges = list(pairs)
    return (edges, np.array([pairs[e][0] for e in edges], dtype=np.float64),
            np.array([pairs[e][1] for e in edges], dtype=bool))


def _crossings(g: nx.Graph, pos: Dict[int, np.ndarray]) -> int:
    """How many pairs of edges of :obj:`g` without a shared node cross at :obj:`pos`."""
    def orient(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    edges = list(g.edges)
    count = 0
    for i, (a, b) in enumerate(edges):
        for c, d in edges[i + 1:]:
            if len({a, b, c, d}) < 4:
                continue
            pa, pb, pc, pd = pos[a], pos[b], pos[c], pos[d]
            if orient(pa, pb, pc) * orient(pa, pb, pd) < 0 and \
                    orient(pc, pd, pa) * orient(pc, pd, pb) < 0:
                count += 1
    return count


def _motif_shape(sub: nx.Graph) -> Dict[int, np.ndarray]:
    """Positions of a motif with edges of length about 1, centred at 0: a cycle as a regular
    polygon, anything else (house, crane, grid) by Kamada-Kawai on the motif alone, started
    elsewhere (or a planar embedding) when that would cross edges of a planar motif."""
    nodes = list(sub.nodes)
    n = len(nodes)
    if all(d == 2 for _, d in sub.degree()) and nx.is_connected(sub):
        order = [c[0] for c in nx.find_cycle(sub, source=nodes[0])]
        radius = 1.0 / (2.0 * np.sin(np.pi / n))
        return {v: radius * np.array([np.cos(2 * np.pi * i / n + np.pi / 2),
                                      np.sin(2 * np.pi * i / n + np.pi / 2)])
                for i, v in enumerate(order)}
    pos = {v: np.asarray(p, dtype=np.float64) for v, p in nx.kamada_kawai_layout(sub).items()}
    if _crossings(sub, pos) and nx.check_planarity(sub)[0]:
        # a planar motif drawn with crossing edges (e.g. the crane): Kamada-Kawai from other
        # starting points, else the planar embedding itself
        for k in range(16):
            start = nx.random_layout(sub, seed=k)
            again = {v: np.asarray(p, dtype=np.float64)
                     for v, p in nx.kamada_kawai_layout(sub, pos=start).items()}
            if not _crossings(sub, again):
                pos = again
                break
        else:
            pos = {v: np.asarray(p, dtype=np.float64)
                   for v, p in nx.planar_layout(sub).items()}
    lengths = [np.linalg.norm(pos[u] - pos[v]) for u, v in sub.edges]
    unit = float(np.median(lengths)) if lengths else 1.0
    centre = np.mean(list(pos.values()), axis=0)
    return {v: (p - centre) / max(unit, 1e-9) for v, p in pos.items()}


def explanation_layout(edge_index: torch.Tensor, num_nodes: int,
                       motif_nodes: Optional[Sequence[int]] = None,
                       seed: int = 0) -> np.ndarray:
    r"""Node positions for a picture, shape :obj:`[num_nodes, 2]`, that keep a motif
    readable: the whole graph by Kamada-Kawai (spring layout above 200 nodes), then every
    connected group of :obj:`motif_nodes` of at least 3 nodes (e.g. the ground-truth house or
    cycle) replaced by its own shape (:func:`_motif_shape`: a cycle as a regular polygon, a
    house as a house) at the same edge length, turned so that the nodes joined to the rest of
    the graph face it and moved away from it, and finally the other nodes relaxed around the
    fixed motifs by a seeded spring layout.

    Args:
        edge_index (torch.Tensor): edges, shape :obj:`[2, E]`.
        num_nodes (int): number of nodes.
        motif_nodes (sequence of int, optional): the nodes to keep in shape (e.g. the nodes
            of ground-truth edges). (default: none)
        seed (int, optional): seed of the spring layouts. (default: :obj:`0`)
    """
    g = nx.Graph()
    g.add_nodes_from(range(num_nodes))
    ei = edge_index.detach().cpu().numpy()
    g.add_edges_from((int(u), int(v)) for u, v in zip(ei[0], ei[1]) if u != v)
    if num_nodes == 0:
        return np.zeros((0, 2))
    if g.number_of_edges() == 0:
        return np.array([p for _, p in sorted(nx.circular_layout(g).items())]).reshape(-1, 2)
    raw = (nx.kamada_kawai_layout(g) if num_nodes <= 200 else nx.spring_layout(g, seed=seed))
    pos = {v: np.asarray(p, dtype=np.float64) for v, p in raw.items()}
    lengths = [np.linalg.norm(pos[u] - pos[v]) for u, v in g.edges]
    unit = float(np.median(lengths)) if lengths else 1.0
    motif = {int(v) for v in (motif_nodes if motif_nodes is not None else [])
             if 0 <= int(v) < num_nodes}
    fixed: List[int] = []
    placed = []  # (nodes, shape, anchor, direction) of every motif laid out in its own shape
    if motif:  # also a graph that is all motif, e.g. a node's subgraph inside its house
        for comp in nx.connected_components(g.subgraph(motif)):
            if len(comp) < 3:
                continue
            shape = _motif_shape(g.subgraph(comp))
            centre = np.mean([pos[v] for v in comp], axis=0)
            outside = [(v, w) for v in comp for w in g[v] if w not in motif]
            toward = None
            if outside:
                anchor = np.mean([pos[w] for _, w in outside], axis=0)
                toward = anchor - centre
                if np.linalg.norm(toward) < 1e-9:
                    toward = np.array([1.0, 0.0])
                toward /= np.linalg.norm(toward)
                joined = np.mean([shape[v] for v, _ in outside], axis=0)
                if np.linalg.norm(joined) > 1e-9:  # turn the joined nodes toward the base
                    a = np.arctan2(toward[1], toward[0]) - np.arctan2(joined[1], joined[0])
                    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
                    shape = {v: rot @ p for v, p in shape.items()}
            placed.append((sorted(comp), shape, [w for _, w in outside], toward, centre))
            fixed.extend(comp)
    if not fixed:
        return np.array([pos[v] for v in range(num_nodes)])
    base = [(u, v) for u, v in g.edges if u not in motif and v not in motif]
    for _ in range(2):  # place the motifs at the base's edge length, relax the base around them
        lengths = [np.linalg.norm(pos[u] - pos[v]) for u, v in base]
        unit = float(np.median(lengths)) if lengths else unit
        for comp, shape, outside, toward, centre in placed:
            if toward is not None:
                anchor = np.mean([pos[w] for w in outside], axis=0)
                radius = max(np.linalg.norm(p) for p in shape.values())
                centre = anchor - toward * unit * (radius + 1.0)
            for v in comp:
                pos[v] = centre + unit * shape[v]
        if len(fixed) == num_nodes:
            break
        raw = nx.spring_layout(g, pos={v: tuple(p) for v, p in pos.items()}, fixed=fixed,
                               k=0.5 * unit, iterations=60, seed=seed)
        pos = {v: np.asarray(p, dtype=np.float64) for v, p in raw.items()}
    return np.array([pos[v] for v in range(num_nodes)])


def _truncated_cmap() -> colors.Colormap:
    """The attention colour map as drawn (its palest 12 % left out, as
    :func:`gsat.viz.scale.attention_colours`)."""
    base = matplotlib.colormaps[CMAP_NAME]
    return colors.ListedColormap(base(np.linspace(0.12, 1.0, 256)), name=CMAP_NAME + "_drawn")


def explanation_figure(edge_index: torch.Tensor, edge_att: torch.Tensor, num_nodes: int,
                       edge_label: Optional[torch.Tensor] = None,
                       node_names: Optional[Sequence[str]] = None,
                       title: Optional[str] = None, seed: int = 0,
                       target: Optional[int] = None, scale: ColorScale = DEFAULT_SCALE,
                       top_k: Optional[int] = None, threshold: Optional[float] = None,
                       node_label: Optional[torch.Tensor] = None,
                       size: Tuple[float, float] = (6.0, 4.8),
                       quantity: str = "attention") -> Figure:
    r"""The picture of :func:`draw_explanation` as a matplotlib :class:`Figure` (no pyplot).
    Its first axes holds the graph: the ground-truth outline as the first
    :class:`~matplotlib.collections.LineCollection` (gid ``ground_truth``), the edges as the
    next (gid ``edges``), the nodes after them. :obj:`quantity` names what the colour bar
    shows (e.g. ``score`` for a post-hoc explainer's edge mask)."""
    from matplotlib.collections import LineCollection

    check_scale(scale)
    edges, vals, gts = undirected_edges(edge_index, edge_att, edge_label)
    gt_nodes = set()
    if node_label is not None:
        gt_nodes = {int(v) for v in torch.nonzero(node_label.view(-1) > 0).view(-1).tolist()}
    for (u, v), t in zip(edges, gts):
        if t:
            gt_nodes.update((u, v))
    pos = explanation_layout(edge_index, num_nodes, sorted(gt_nodes), seed=seed)
    fig = Figure(figsize=size)  # no pyplot: the user's backend and figures stay as they are
    ax = fig.add_axes((0.02, 0.04, 0.78, 0.86 if title else 0.92))
    cax = fig.add_axes((0.84, 0.18, 0.03, 0.62))
    cmap = _truncated_cmap()
    frac = scaled_attention(vals, scale)
    shown = top_k_mask(vals, top_k, threshold)
    widths = np.where(shown, 1.4 + 4.2 * frac, 0.9)
    edge_colours = [cmap(float(f)) if s else (0.8, 0.8, 0.8, 1.0) for f, s in zip(frac, shown)]
    segments = [(pos[u], pos[v]) for u, v in edges]
    if gts.any():
        idx = np.flatnonzero(gts)
        ax.add_collection(LineCollection([segments[i] for i in idx], linewidths=widths[idx] + 6,
                                         colors=GROUND_TRUTH_COLOUR, zorder=1, capstyle="round",
                                         gid="ground_truth"))
    if edges:
        ax.add_collection(LineCollection(segments, linewidths=widths, colors=edge_colours,
                                         zorder=2, capstyle="round", gid="edges"))
    labelled = node_names is not None
    size_n = 150 if labelled else 70
    plain = [v for v in range(num_nodes) if v not in gt_nodes]
    marked = sorted(gt_nodes)
    if plain:
        ax.scatter(pos[plain, 0], pos[plain, 1], s=size_n, c="#eeeeee", edgecolors="#555555",
                   linewidths=0.7, zorder=3)
    if marked:
        ax.scatter(pos[marked, 0], pos[marked, 1], s=size_n * 1.3, c="#ffffff",
                   edgecolors=GROUND_TRUTH_COLOUR, linewidths=2.4, zorder=3, gid="gt_nodes")
    if target is not None:
        ax.scatter([pos[int(target), 0]], [pos[int(target), 1]], s=size_n * 2.4, c="#222222",
                   edgecolors="#000000", zorder=4, marker="*")
    if labelled:
        for v in range(num_nodes):
            ax.text(pos[v, 0], pos[v, 1], str(node_names[v]), fontsize=7, ha="center",
                    va="center", zorder=5)
    ax.set_aspect("equal", adjustable="datalim")
    if num_nodes:
        ax.update_datalim(pos)
        ax.margins(0.06)
        ax.autoscale_view()
    ax.set_axis_off()
    lo, hi = scale_bounds(vals, scale)
    if scale == "rank":
        norm, label = colors.Normalize(0.0, 1.0), f"{quantity} rank (0 lowest, 1 highest)"
    else:
        norm = colors.Normalize(lo, hi if hi > lo else lo + 1e-6)
        label = quantity + (" (this graph's range)" if scale == "relative" else "")
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, label=label)
    handles = []
    if gts.any() or marked:
        handles.append(Line2D([], [], color=GROUND_TRUTH_COLOUR, lw=6,
                              label="ground truth (motif)"))
    if target is not None:
        handles.append(Line2D([], [], color="#222222", marker="*", lw=0, markersize=12,
                              label="explained node"))
    if top_k is not None or threshold is not None:
        handles.append(Line2D([], [], color="#cccccc", lw=1.5, label="not highlighted"))
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def draw_explanation(edge_index: torch.Tensor, edge_att: torch.Tensor, num_nodes: int,
                     path: Union[str, Path], edge_label: Optional[torch.Tensor] = None,
                     node_names: Optional[Sequence[str]] = None,
                     title: Optional[str] = None, seed: int = 0,
                     target: Optional[int] = None, scale: ColorScale = DEFAULT_SCALE,
                     top_k: Optional[int] = None, threshold: Optional[float] = None,
                     node_label: Optional[torch.Tensor] = None) -> Path:
    r"""Draw one graph to a PNG (or, by the suffix, SVG) file: edge colour and width follow
    the attention on :obj:`scale` (by default relative to the graph's own lowest and highest
    attention, :mod:`gsat.viz.scale`; a colour bar gives the attention at both ends);
    ground-truth edges, when :obj:`edge_label` is given, are outlined in solid blue under the
    attention colour and their nodes ringed in blue; the motif is laid out in its own shape
    (:func:`explanation_layout`); :obj:`target`, the explained node of a node task, is a black
    star.

    Args:
        edge_index (torch.Tensor): edges of the graph, shape :obj:`[2, E]`.
        edge_att (torch.Tensor): attention per edge, shape :obj:`[E]`.
        num_nodes (int): number of nodes.
        path (str or Path): output file.
        edge_label (torch.Tensor, optional): 0/1 ground truth per edge.
        node_names (list of str, optional): a label per node (e.g. atom symbols).
        title (str, optional): figure title (:func:`gsat.viz.scale.prediction_title`).
        seed (int, optional): layout seed. (default: :obj:`0`)
        target (int, optional): the node whose prediction is explained. (default: none)
        scale (str, optional): :obj:`"relative"`, :obj:`"rank"` or :obj:`"absolute"`.
            (default: :obj:`"relative"`)
        top_k (int, optional): colour only the :obj:`top_k` edges of highest attention.
        threshold (float, optional): colour only edges of attention :math:`\geq` it.
        node_label (torch.Tensor, optional): 0/1 ground truth per node (ringed in blue).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = explanation_figure(edge_index, edge_att, num_nodes, edge_label=edge_label,
                             node_names=node_names, title=title, seed=seed, target=target,
                             scale=scale, top_k=top_k, threshold=threshold,
                             node_label=node_label)
    fig.savefig(path, dpi=110)
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
