r"""Pictures of explanations (matplotlib figures without pyplot, RDKit depictions) and the HTML
page of an explanation run.

* :mod:`gsat.viz.scale`: attention -> colour (per-graph ``relative`` scale by default,
  ``rank`` or ``absolute``), top-k / threshold highlighting, titles that say
  ``P(active) = 0.01``;
* :mod:`gsat.viz.graphs`: nodes and edges with a layout that keeps motifs in shape and a
  solid ground-truth outline; superpixels (image graphs) and word strips (sentence graphs);
* :mod:`gsat.viz.molecules`: molecules drawn by RDKit with attention on bonds and atoms;
* :mod:`gsat.viz.html`: one self-contained HTML page of explained graphs;
* :mod:`gsat.viz.substructures`: which substructures of molecules carry the attention.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch

from gsat.viz.graphs import (draw_explanation, draw_superpixel_explanation,
                             draw_token_explanation, explanation_figure, explanation_layout,
                             node_attention, undirected_edges)
from gsat.viz.molecules import (bond_attention, draw_molecule_explanation, mol_from_graph,
                                molecule_picture)
from gsat.viz.scale import (DEFAULT_SCALE, SCALES, ColorScale, prediction_title,
                            scaled_attention, top_k_mask)

__all__ = ["draw_explanation", "draw_superpixel_explanation", "draw_token_explanation",
           "draw_graph_explanation", "draw_molecule_explanation", "explanation_figure",
           "explanation_layout", "node_attention", "undirected_edges", "bond_attention",
           "mol_from_graph", "molecule_picture", "prediction_title", "scaled_attention",
           "top_k_mask", "SCALES", "DEFAULT_SCALE", "ColorScale"]


def draw_graph_explanation(g: Any, edge_att: torch.Tensor, path: Union[str, Path],
                           node_names: Optional[Sequence[str]] = None,
                           title: Optional[str] = None, scale: ColorScale = DEFAULT_SCALE,
                           molecule: bool = False, top_k: Optional[int] = None) -> Path:
    r"""Draw one explained graph the way its data is best seen: an image graph that carries
    :obj:`sp_map` (the node of every pixel, e.g. MNIST-75sp) as superpixels
    (:func:`draw_superpixel_explanation`, the mean intensity read from :obj:`x[:, 0]`), a
    sentence graph that carries :obj:`tokens` (one word per node, e.g. Graph-SST2) as a strip
    of words (:func:`draw_token_explanation`), each with the edge attention lifted to nodes
    (:func:`node_attention`); any other graph as nodes and edges
    (:func:`draw_explanation`, ground-truth edges marked, colours on :obj:`scale`). With
    :obj:`molecule`, a graph featurised as OGB's molecules (a ``csv:`` or OGB dataset) is
    drawn by RDKit as a molecule (:func:`mol_from_graph`, :func:`draw_molecule_explanation`),
    the same drawer as ``gsat explain`` uses on SMILES. :obj:`top_k` colours only the edges
    (bonds) of highest attention."""
    num_nodes = int(g.num_nodes)
    if molecule:
        mol = mol_from_graph(g)
        if mol is not None:
            return draw_molecule_explanation(mol, bond_attention(mol, g.edge_index, edge_att),
                                             path, title=title, scale=scale, top_k=top_k)
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
                            title=title, scale=scale, top_k=top_k,
                            node_label=getattr(g, "node_label", None))
