"""Pictures of graphs: a layout that keeps motifs in shape, a visible ground truth, colours
relative to the graph (gsat.viz.graphs)."""
import itertools

import numpy as np
import pytest
import torch
from matplotlib import colors

from gsat.data.ba_2motifs import generate_ba_2motifs
from gsat.viz import draw_explanation, explanation_figure, explanation_layout
from gsat.viz.scale import GROUND_TRUTH_COLOUR, colour_at


def _cross(p1, p2, p3, p4) -> bool:
    """Whether the open segments p1-p2 and p3-p4 cross."""
    def orient(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
    return (orient(p1, p2, p3) * orient(p1, p2, p4) < 0 and
            orient(p3, p4, p1) * orient(p3, p4, p2) < 0)


@pytest.fixture(scope="module")
def motif_graphs():
    gs = generate_ba_2motifs(num_graphs=8, base_nodes=20, seed=1)
    return [gs[0], gs[1], gs[6], gs[7]]  # two houses, two cycles


def test_layout_keeps_house_and_cycle_in_shape(motif_graphs):
    for g in motif_graphs:
        motif = torch.nonzero(g.node_label).view(-1).tolist()
        pos = explanation_layout(g.edge_index, g.num_nodes, motif)
        assert pos.shape == (g.num_nodes, 2) and np.isfinite(pos).all()
        ei = g.edge_index.t().tolist()
        base = [np.linalg.norm(pos[u] - pos[v]) for u, v in ei
                if u not in motif and v not in motif]
        unit = float(np.median(base))
        motif_edges = {(min(u, v), max(u, v)) for u, v in ei if u in motif and v in motif}
        # no bow-tie: no two motif edges cross
        for (a, b), (c, d) in itertools.combinations(motif_edges, 2):
            if len({a, b, c, d}) == 4:
                assert not _cross(pos[a], pos[b], pos[c], pos[d]), (a, b, c, d)
        # motif nodes are apart, and the motif is drawn at the size of the base
        gaps = [np.linalg.norm(pos[u] - pos[v]) for u, v in itertools.combinations(motif, 2)]
        assert min(gaps) > 0.5 * unit
        lengths = [np.linalg.norm(pos[u] - pos[v]) for u, v in motif_edges]
        assert 0.5 * unit < np.median(lengths) < 2.0 * unit
        # other nodes keep out of the motif
        others = [v for v in range(g.num_nodes) if v not in motif]
        assert min(np.linalg.norm(pos[o] - pos[m]) for o in others for m in motif) > 0.25 * unit


def test_cycle_motif_is_a_regular_polygon(motif_graphs):
    g = motif_graphs[2]
    motif = torch.nonzero(g.node_label).view(-1).tolist()
    assert len(motif) == 5
    pos = explanation_layout(g.edge_index, g.num_nodes, motif)
    ei = g.edge_index.t().tolist()
    sides = [np.linalg.norm(pos[u] - pos[v]) for u, v in ei if u in motif and v in motif]
    assert max(sides) == pytest.approx(min(sides), rel=1e-6)


def test_figure_marks_ground_truth_under_relative_colours(motif_graphs):
    g = motif_graphs[0]
    att = 0.4 + 0.4 * torch.rand(g.edge_index.size(1))
    att[g.edge_label.bool()] = 0.9
    fig = explanation_figure(g.edge_index, att, g.num_nodes, edge_label=g.edge_label,
                             title="t")
    ax = fig.axes[0]
    by_gid = {c.get_gid(): c for c in ax.collections}
    gt, edges = by_gid["ground_truth"], by_gid["edges"]
    # solid, opaque, drawn below the attention and wider than it
    assert colors.to_hex(gt.get_colors()[0]) == GROUND_TRUTH_COLOUR
    assert gt.get_alpha() in (None, 1.0) and gt.get_zorder() < edges.get_zorder()
    assert min(gt.get_linewidths()) > max(edges.get_linewidths())
    assert len(gt.get_segments()) == int(g.edge_label.sum()) // 2  # one per undirected edge
    # relative scale: the lowest base edge is the palest colour, the motif the darkest
    cols = [colors.to_hex(c) for c in edges.get_colors()]
    assert colors.to_hex(colour_at(1.0)) in cols and colors.to_hex(colour_at(0.0)) in cols
    assert "gt_nodes" in by_gid
    # absolute: the base edges (0.4-0.8) never reach the darkest colour
    fig_abs = explanation_figure(g.edge_index, att, g.num_nodes, scale="absolute")
    cols_abs = [colors.to_hex(c) for c in fig_abs.axes[0].collections[0].get_colors()]
    assert colors.to_hex(colour_at(1.0)) not in cols_abs


def test_top_k_greys_out_the_rest_and_files_are_written(motif_graphs, tmp_path):
    g = motif_graphs[3]
    att = torch.rand(g.edge_index.size(1))
    fig = explanation_figure(g.edge_index, att, g.num_nodes, top_k=3)
    edges = {c.get_gid(): c for c in fig.axes[0].collections}["edges"]
    grey = colors.to_hex((0.8, 0.8, 0.8))
    assert sum(colors.to_hex(c) != grey for c in edges.get_colors()) == 3
    png = draw_explanation(g.edge_index, att, g.num_nodes, tmp_path / "a" / "g.png",
                           edge_label=g.edge_label, title="x", target=0)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_crane_motif_is_drawn_without_crossings():
    from gsat.data.spmotif import CRANE_EDGES

    # the crane (a square with a node joined to two opposite corners) hanging from a path
    edges = list(CRANE_EDGES) + [(0, 5)] + [(i, i + 1) for i in range(5, 12)]
    ei = torch.tensor(edges).t()
    ei = torch.cat([ei, ei.flip(0)], 1)
    pos = explanation_layout(ei, 13, [0, 1, 2, 3, 4])
    for (a, b), (c, d) in itertools.combinations(CRANE_EDGES, 2):
        if len({a, b, c, d}) == 4:
            assert not _cross(pos[a], pos[b], pos[c], pos[d]), (a, b, c, d)


def test_a_graph_that_is_all_motif_keeps_its_shape():
    # e.g. a node's subgraph inside its motif: every node is ground truth; the crane alone
    # drawn by Kamada-Kawai crosses two of its edges
    from gsat.data.spmotif import CRANE_EDGES

    ei = torch.tensor(CRANE_EDGES).t()
    ei = torch.cat([ei, ei.flip(0)], 1)
    pos = explanation_layout(ei, 5, [0, 1, 2, 3, 4])
    for (a, b), (c, d) in itertools.combinations(CRANE_EDGES, 2):
        if len({a, b, c, d}) == 4:
            assert not _cross(pos[a], pos[b], pos[c], pos[d]), (a, b, c, d)
