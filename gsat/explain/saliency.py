r"""Saliency: the gradient of the predicted class's probability with respect to the edge mask
(`Simonyan et al., ICLR 2014 workshop <https://arxiv.org/abs/1312.6034>`_), through Captum and
:class:`torch_geometric.explain.algorithm.CaptumExplainer` (registry name
:obj:`"saliency"`).
"""
from __future__ import annotations

from torch_geometric.explain.algorithm import CaptumExplainer

from gsat.explain.base import ExplainerEntry, PyGEdgeExplainer, settings_grid

__all__ = ["ENTRY"]


def _saliency(abs: bool = True) -> PyGEdgeExplainer:  # noqa: A002 (Captum's name)
    r"""Saliency with Captum's default.

    Args:
        abs (bool, optional): score the gradient's magnitude; :obj:`False` keeps its sign.
            (default: :obj:`True`)
    """
    # the gradient of the predicted class's probability; abs=False keeps its sign
    return PyGEdgeExplainer(
        "saliency", lambda a, **s: CaptumExplainer("Saliency", **s), return_type="probs",
        abs=abs)


#: a single knob
ENTRY = ExplainerEntry(
    name="saliency", factory=_saliency,
    help="Saliency: the gradient with respect to the edge mask, through Captum "
         "(Simonyan et al., 2014)",
    tuning_grid=settings_grid(abs=[True, False]))
