r"""Integrated Gradients on the edge mask (`Sundararajan et al., ICML 2017
<https://arxiv.org/abs/1703.01365>`_), through Captum and
:class:`torch_geometric.explain.algorithm.CaptumExplainer` (registry name :obj:`"ig"`): the
path integral of the gradient of the predicted class's probability, from a baseline mask to
the full graph, times the difference. The attributions keep their sign (an edge that pushes
toward the other class scores below zero).
"""
from __future__ import annotations

from torch_geometric.explain.algorithm import CaptumExplainer

from gsat.explain.base import ExplainerEntry, PyGEdgeExplainer, settings_grid

__all__ = ["ENTRY"]


def _ig(n_steps: int = 50, baselines: float = 0.0) -> PyGEdgeExplainer:
    r"""Integrated Gradients with Captum's defaults (Gauss-Legendre quadrature).

    Args:
        n_steps (int, optional): quadrature points along the path. (default: :obj:`50`)
        baselines (float, optional): the mask value the path starts from.
            (default: :obj:`0.0`, no edge)
    """
    return PyGEdgeExplainer(
        "ig", lambda a, **s: CaptumExplainer("IntegratedGradients", **s), return_type="probs",
        n_steps=n_steps, baselines=baselines)


ENTRY = ExplainerEntry(
    name="ig", factory=_ig,
    help="Integrated Gradients on the edge mask, through Captum (Sundararajan et al., 2017)",
    tuning_grid=settings_grid(n_steps=[50, 200], baselines=[0.0, 0.5]) + settings_grid(
        n_steps=[20, 100], baselines=[0.0, 0.5]))
