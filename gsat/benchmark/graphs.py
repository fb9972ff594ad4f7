r"""Which graphs a benchmark explains and tunes on: digests that tie a record to its graphs,
the validation graphs with ground truth, and a warning when a sample misses a class."""
from __future__ import annotations

import hashlib
import logging
from typing import List, Optional, Sequence

from torch_geometric.data import Data

from gsat.data.base import GraphDataset

log = logging.getLogger(__name__)

__all__ = ["graph_key", "graphs_digest", "warn_if_classes_missing", "tuning_graphs"]


def graph_key(g: Data) -> tuple:
    """A key equal for two copies of the same graph (nodes, edges, node features)."""
    return (g.num_nodes, tuple(g.edge_index.flatten().tolist()),
            tuple(g.x.flatten().tolist()) if g.x is not None else None)


def graphs_digest(graphs: Sequence[Data]) -> str:
    """A short digest of :obj:`graphs` and their order (:func:`graph_key` of each): equal
    for two lists of the same graphs, whatever list objects hold them."""
    h = hashlib.sha1()
    for g in graphs:
        h.update(repr(graph_key(g)).encode())
    return h.hexdigest()[:16]


def _classes(graphs: Sequence[Data]) -> set:
    return {int(g.y.reshape(-1)[0]) for g in graphs
            if getattr(g, "y", None) is not None and g.y.numel() == 1}


def warn_if_classes_missing(sample: Sequence[Data], split: Sequence[Data], what: str,
                            task: str) -> List[int]:
    r"""Log a warning when the graphs of :obj:`sample` (the first graphs of :obj:`split`)
    miss a class the whole split holds (classification tasks only): a score over them
    would speak for some classes only. Returns the missing classes."""
    if task not in ("binary", "multiclass") or len(sample) == len(split):
        return []
    missing = sorted(_classes(split) - _classes(sample))
    if missing:
        log.warning("the %d %s graphs miss class(es) %s of the %d graphs they were taken from; "
                    "their scores speak for the other classes only", len(sample), what,
                    missing, len(split))
    return missing


def tuning_graphs(ds: GraphDataset, limit: Optional[int] = None) -> List[Data]:
    r"""The validation graphs explanations are tuned on: those of :obj:`ds.valid` with at
    least one ground-truth edge (the first :obj:`limit` of them if given)."""
    graphs = [g for g in ds.valid if getattr(g, "edge_label", None) is not None
              and g.edge_index.size(1) > 0 and bool((g.edge_label.reshape(-1) > 0).any())]
    return graphs[:limit] if limit is not None else graphs
