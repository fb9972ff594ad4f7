r"""The benchmark's page of pictures: the same test graphs explained by every method, side by
side (``benchmark.html``, :func:`gsat.viz.html.comparison_page`).

Each record of ``benchmark.json`` keeps the edge scores of the first
:data:`EXAMPLE_GRAPHS` test graphs it explained (:obj:`example_masks`); the page draws those
of the first seed, each method's scores on the graph's own relative colour scale, so that
methods whose scores live on different ranges (attention, gradients, learned masks) can be
compared by what they rank high.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from torch_geometric.data import Data

log = logging.getLogger(__name__)

__all__ = ["EXAMPLE_GRAPHS", "comparison_rows", "write_comparison_page"]

#: test graphs per record whose scores are kept for the page
EXAMPLE_GRAPHS = 6


def _png(g: Data, scores: Sequence[float], title: str) -> bytes:
    import torch

    from gsat.viz.graphs import explanation_figure

    fig = explanation_figure(g.edge_index.cpu(), torch.tensor(list(scores), dtype=torch.float64),
                             int(g.num_nodes), edge_label=getattr(g, "edge_label", None),
                             node_label=getattr(g, "node_label", None), title=title,
                             size=(4.4, 3.5), quantity="score")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def comparison_rows(records: Sequence[Mapping[str, Any]], graphs: Sequence[Data], seed: int,
                    class_names: Optional[Sequence[str]] = None
                    ) -> tuple:
    r"""The methods (in record order) and the rows of the page: per graph its id, size, true
    label and one picture per method whose record of :obj:`seed` kept scores of this graph
    (as many as its edges)."""
    from gsat.viz.scale import class_name

    mine = [r for r in records if r.get("seed") == seed and r.get("example_masks")]
    methods = list(dict.fromkeys(str(r["method"]) for r in mine))
    rows: List[Dict[str, Any]] = []
    for i, g in enumerate(graphs):
        pictures: Dict[str, bytes] = {}
        for r in mine:
            masks = r["example_masks"]
            if i < len(masks) and len(masks[i]) == int(g.edge_index.size(1)):
                pictures[str(r["method"])] = _png(g, masks[i], str(r["method"]))
        y = getattr(g, "y", None)
        label = None
        if y is not None and y.numel() == 1:
            label = class_name(int(y.view(-1)[0]), class_names)
        rows.append({"id": str(i), "label": label, "pictures": pictures,
                     "input": f"{int(g.num_nodes)} nodes, {int(g.edge_index.size(1))} edges"})
    return methods, rows


def write_comparison_page(path: Path, result: Mapping[str, Any], seed: int,
                          graphs: Sequence[Data],
                          class_names: Optional[Sequence[str]] = None) -> Optional[Path]:
    r"""Write ``benchmark.html``: the first test graphs of :obj:`seed` explained by every
    method of :obj:`result` (``benchmark.json``'s content) side by side. Returns the path, or
    :obj:`None` when no record kept scores (e.g. every record was reused from a run made
    before records kept them)."""
    from gsat.viz.html import comparison_page

    methods, rows = comparison_rows(result.get("records", []), graphs, seed, class_names)
    if not methods:
        log.info("no record kept example scores: %s not written", path)
        return None
    return comparison_page(
        rows, methods, path, title=f"{result.get('dataset')} ({result.get('backbone')}): "
                                   f"explanations by method, seed {seed}",
        ground_truth=any(getattr(g, "edge_label", None) is not None for g in graphs),
        intro="The same test graphs explained by every method; each picture colours its "
              "method's edge scores from that graph's lowest to its highest score.")
