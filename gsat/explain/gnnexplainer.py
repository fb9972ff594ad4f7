r"""GNNExplainer (`Ying et al., NeurIPS 2019 <https://arxiv.org/abs/1903.03894>`_) through
:class:`torch_geometric.explain.algorithm.GNNExplainer`: a soft mask over the edges of each
explained graph, optimised on that graph alone to keep the model's prediction with a small,
near-binary mask (registry name :obj:`"gnnexplainer"`).
"""
from __future__ import annotations

from torch_geometric.explain.algorithm import GNNExplainer

from gsat.explain.base import ExplainerEntry, PyGEdgeExplainer, settings_grid

__all__ = ["ENTRY"]


def _gnnexplainer(epochs: int = 100, lr: float = 0.01, edge_size: float = 0.005,
                  edge_ent: float = 1.0) -> PyGEdgeExplainer:
    r"""GNNExplainer with PyG's defaults.

    Args:
        epochs (int, optional): optimisation steps per graph. (default: :obj:`100`)
        lr (float, optional): learning rate. (default: :obj:`0.01`)
        edge_size (float, optional): coefficient of the mask-size penalty.
            (default: :obj:`0.005`)
        edge_ent (float, optional): coefficient of the mask-entropy penalty.
            (default: :obj:`1.0`)
    """
    return PyGEdgeExplainer("gnnexplainer", lambda a, **s: GNNExplainer(**s), epochs=epochs,
                            lr=lr, edge_size=edge_size, edge_ent=edge_ent)


ENTRY = ExplainerEntry(
    name="gnnexplainer", factory=_gnnexplainer,
    help="GNNExplainer: a soft edge mask optimised on each graph (Ying et al., 2019)",
    tuning_grid=settings_grid(epochs=[100, 300], lr=[0.01, 0.1], edge_size=[0.005, 0.0005]),
    optimised=True)
