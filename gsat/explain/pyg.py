r"""GSAT's explanation as a :class:`torch_geometric.explain.Explanation`, so PyG's own tools
(:meth:`~torch_geometric.explain.Explanation.visualize_graph`,
:func:`~torch_geometric.explain.metric.groundtruth_metrics`,
:func:`~torch_geometric.explain.metric.fidelity`,
:func:`~torch_geometric.explain.metric.characterization_score`, ...) work on it.

The edge mask is the evaluation-time attention :math:`\sigma(\ell)` of a trained
:class:`~gsat.GSAT` model (`Miao, Liu & Li, ICML 2022 <https://arxiv.org/abs/2201.12987>`_).
Fidelity re-runs the model with the explanation's mask (and its complement) in place of the
attention: :class:`GSATModelAdapter` makes that possible.
"""
from __future__ import annotations

from typing import Any, Dict, Literal, Optional

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.explain import Explainer, Explanation
from torch_geometric.nn import MessagePassing

from gsat.explain.base import model_config_for
from gsat.explain.gsat import GSATAlgorithm
from gsat.core.model import GSAT
from gsat.nn.utils import batch_vector

__all__ = ["GSATModelAdapter", "gsat_explainer", "to_explanation"]


class GSATModelAdapter(nn.Module):
    r"""A trained :class:`~gsat.GSAT` model with the call convention of
    :mod:`torch_geometric.explain`: :obj:`adapter(x, edge_index, batch=None, edge_attr=None)`
    returns graph logits.

    * Without an edge mask set by PyG, it returns GSAT's own prediction (the backbone gated by
      GSAT's attention), identical to :obj:`gsat_model(data).logits`.
    * When PyG has set an edge mask on the model's message-passing layers (as
      :meth:`torch_geometric.explain.Explainer.get_masked_prediction` does, e.g. inside
      :func:`~torch_geometric.explain.metric.fidelity`), that mask **replaces** the attention:
      the backbone runs once, every message multiplied by the mask (hard 0/1 or soft), and the
      head predicts from it. With the attention itself as mask, the logits equal GSAT's.

    The adapter starts in the train/eval mode of the wrapped model; :meth:`train` and
    :meth:`eval` on the adapter set both (:func:`to_explanation` re-reads the model's mode
    before every explanation).

    Args:
        gsat_model (gsat.GSAT): the trained model.
    """

    def __init__(self, gsat_model: GSAT):
        super().__init__()
        if not isinstance(gsat_model, GSAT):
            raise TypeError(f"GSATModelAdapter needs a gsat.GSAT model, got "
                            f"{type(gsat_model).__name__}")
        self.gsat_model = gsat_model
        self.training = gsat_model.training  # PyG's Explainer restores the adapter's mode

    def _external_mask(self) -> bool:
        return any(m.explain is True and getattr(m, "_edge_mask", None) is not None
                   for m in self.gsat_model.backbone.modules() if isinstance(m, MessagePassing))

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        model = self.gsat_model
        if not self._external_mask():
            batch = batch_vector(batch, x.size(0), edge_index)
            data = Data(x=x, edge_index=edge_index, batch=batch, edge_attr=edge_attr)
            return model(data).logits
        return model.gated_forward(x, edge_index, batch, edge_attr)


def gsat_explainer(model: GSAT, explanation_type: Literal["model", "phenomenon"] = "model",
                   threshold_config: Optional[Dict[str, Any]] = None) -> Explainer:
    r"""A :class:`torch_geometric.explain.Explainer` whose explanations are GSAT's attention
    (:class:`~gsat.explain.GSATAlgorithm`) and whose model is a :class:`GSATModelAdapter`, so
    :func:`~torch_geometric.explain.metric.fidelity` can re-run it with any edge mask.

    Args:
        model (gsat.GSAT): the trained model; its :obj:`task` must be :obj:`"binary"` or
            :obj:`"multiclass"` (PyG's explainers have no multi-label mode).
        explanation_type (str, optional): :obj:`"model"` explains the model's own prediction
            (the target is the predicted class); :obj:`"phenomenon"` explains the target you
            pass (e.g. the true label). (default: :obj:`"model"`)
        threshold_config (dict, optional): PyG's thresholding of the returned mask, e.g.
            :obj:`dict(threshold_type="hard", value=0.5)` for a 0/1 mask or
            :obj:`dict(threshold_type="topk_hard", value=10)`. (default: :obj:`None`, the
            soft attention)
    """
    return Explainer(model=GSATModelAdapter(model), algorithm=GSATAlgorithm(model),
                     explanation_type=explanation_type, edge_mask_type="object",
                     node_mask_type=None, model_config=model_config_for(model.task),
                     threshold_config=threshold_config)


def to_explanation(model: GSAT, data, explanation_type: Literal["model", "phenomenon"] = "model",
                   threshold_config: Optional[Dict[str, Any]] = None,
                   explainer: Optional[Explainer] = None) -> Explanation:
    r"""GSAT's explanation of :obj:`data` as a :class:`torch_geometric.explain.Explanation`.

    The result holds :obj:`edge_mask` (the attention, one value per edge), :obj:`prediction`
    (the model's logits), :obj:`target` (the predicted class, or :obj:`data.y` for
    :obj:`explanation_type="phenomenon"`), :obj:`x`, :obj:`edge_index`, :obj:`batch` and
    :obj:`edge_attr` when present. It works for one graph or a batch of graphs.

    .. code-block:: python

        from torch_geometric.explain.metric import fidelity, groundtruth_metrics

        explainer = gsat.explain.gsat_explainer(model)
        explanation = gsat.explain.to_explanation(model, data, explainer=explainer)
        groundtruth_metrics(explanation.edge_mask, data.edge_label, "auroc")
        fidelity(explainer, explanation)    # (fid+, fid-)

    Args:
        model (gsat.GSAT): the trained model.
        data (torch_geometric.data.Data or Batch): the graph(s) to explain.
        explanation_type (str, optional): see :func:`gsat_explainer`. (default: :obj:`"model"`)
        threshold_config (dict, optional): see :func:`gsat_explainer`. (default: :obj:`None`)
        explainer (torch_geometric.explain.Explainer, optional): one made by
            :func:`gsat_explainer` to reuse (its settings then apply).
    """
    if explainer is None:
        explainer = gsat_explainer(model, explanation_type, threshold_config)
    kwargs: Dict[str, Tensor] = {}
    batch = getattr(data, "batch", None)
    kwargs["batch"] = batch_vector(batch, data.num_nodes, data.edge_index)
    if getattr(data, "edge_attr", None) is not None:
        kwargs["edge_attr"] = data.edge_attr
    target = None
    if explainer.explanation_type.value == "phenomenon":
        if getattr(data, "y", None) is None:
            raise ValueError("explanation_type='phenomenon' explains the true label, but the "
                             "graph has no 'y'; use explanation_type='model'")
        target = data.y.view(-1).long()
    if isinstance(explainer.model, GSATModelAdapter):  # the mode of the model, not of the
        explainer.model.training = explainer.model.gsat_model.training  # adapter's creation
    with torch.no_grad():
        return explainer(data.x, data.edge_index, target=target, **kwargs)
