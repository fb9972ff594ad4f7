r"""GSAT's own explanation behind the explainer interface: the evaluation-time attention of a
trained :class:`~gsat.GSAT` model (`Miao, Liu & Li, ICML 2022
<https://arxiv.org/abs/2201.12987>`_), as an :class:`~gsat.explain.base.EdgeExplainer`
(:class:`GSATExplainer`, registry name :obj:`"gsat"`) and as a
:class:`torch_geometric.explain.algorithm.ExplainerAlgorithm` (:class:`GSATAlgorithm`).
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.explain import Explanation
from torch_geometric.explain.algorithm import ExplainerAlgorithm
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from gsat.core.model import GSAT
from gsat.core.validation import check_graph
from gsat.errors import GraphInputError
from gsat.explain.base import (EdgeExplainer, ExplainerEntry, explained_copy,
                               graphs_one_by_one, has_masks)

__all__ = ["GSATExplainer", "WholeGraphGSATExplainer", "GSATAlgorithm", "ENTRY"]


class GSATExplainer(EdgeExplainer):
    r"""GSAT's explanation: the evaluation-time attention :math:`\sigma(\ell)` of a trained
    :class:`~gsat.GSAT` model (:meth:`gsat.GSAT.explain`), computed for whole batches;
    node-level attention is lifted to edges by the model.

    Args:
        batch_size (int, optional): graphs per forward pass. (default: :obj:`128`)
    """

    name = "gsat"
    model_kind = "gsat"

    def __init__(self, batch_size: int = 128):
        super().__init__(batch_size=batch_size)

    def explain(self, model: nn.Module, graphs: Sequence[Data], task: str,
                device: torch.device | str = "cpu", progress: bool = False) -> List[Tensor]:
        if not isinstance(model, GSAT):
            raise TypeError(f"the gsat explainer needs a GSAT model, got {type(model).__name__}")
        # GSAT.explain runs without gradients and leaves the mode as it was, so the model is
        # used as it is; a copy without them only when explain masks were left on it
        work = explained_copy(model) if has_masks(model) else model
        if self.settings["batch_size"] == 1:  # one graph at a time, as the post-hoc methods
            return graphs_one_by_one(graphs, lambda g: work.explain(g), "explain gsat",
                                     device, progress, symmetrize=False)
        out: List[Tensor] = []
        graphs = list(graphs)
        for i, g in enumerate(graphs):  # each graph as it is, before collation
            try:
                check_graph(g)
            except GraphInputError as exc:
                raise GraphInputError(f"graph {i}: {exc}") from None
        # only what GSAT.explain reads is collated (labels and ground truth are not)
        unread = sorted(set(graphs[0].keys()) - {"x", "edge_index", "edge_attr"}) \
            if graphs else []
        loader = DataLoader(graphs, batch_size=self.settings["batch_size"],
                            exclude_keys=unread)
        for b in tqdm(loader, desc="explain gsat", disable=not progress, leave=False,
                      dynamic_ncols=True):
            b = b.to(device)
            att = work.explain(b).reshape(-1).cpu().double()  # as edge_scores gives
            counts = torch.bincount(b.batch[b.edge_index[0]].cpu(), minlength=b.num_graphs)
            out.extend(att.split(counts.tolist()))
        return out

    def explain_graph(self, model: nn.Module, data: Data, task: str) -> Tensor:
        return explained_copy(model).explain(data)

    def one_at_a_time(self) -> "GSATExplainer":
        """The same explainer explaining one graph per call, as the post-hoc methods do."""
        return GSATExplainer(batch_size=1)


class WholeGraphGSATExplainer(GSATExplainer):
    r"""GSAT's explanation of nodes of a model trained on the whole graph (node
    classification, :obj:`model.readout: node`): the attention of one pass over
    :obj:`whole`, the edges of each explained computation subgraph (its :obj:`edge_ids`)
    taken from it. With :obj:`batch_size=1` the pass is made again for every node.

    Args:
        whole (Data): the graph the model was trained on.
        batch_size (int, optional): :obj:`1` for one pass per node, else one pass for all.
            (default: :obj:`128`)
    """

    def __init__(self, whole: Data, batch_size: int = 128):
        super().__init__(batch_size=batch_size)
        self.whole = whole

    def explain(self, model: nn.Module, graphs: Sequence[Data], task: str,
                device: torch.device | str = "cpu", progress: bool = False) -> List[Tensor]:
        if not isinstance(model, GSAT):
            raise TypeError(f"the gsat explainer needs a GSAT model, got {type(model).__name__}")
        whole = self.whole.to(device)
        if self.settings["batch_size"] == 1:
            return [model.explain(whole)[g.edge_ids.to(device)].cpu().double()
                    for g in graphs]
        att = model.explain(whole).cpu().double()
        return [att[g.edge_ids] for g in graphs]

    def one_at_a_time(self) -> "GSATExplainer":
        return WholeGraphGSATExplainer(self.whole, batch_size=1)


class GSATAlgorithm(ExplainerAlgorithm):
    r"""GSAT as a :class:`torch_geometric.explain.algorithm.ExplainerAlgorithm`, so a trained
    GSAT model can be used through :class:`torch_geometric.explain.Explainer`: the edge
    mask is the model's evaluation-time attention (no optimisation).

    Use with :obj:`Explainer(model=BackboneAdapter(gsat_model), algorithm=GSATAlgorithm(gsat_model),
    explanation_type="model", edge_mask_type="object", ...)`; the :obj:`model` argument of
    :meth:`forward` is ignored in favour of :obj:`gsat_model`.

    Args:
        gsat_model (gsat.GSAT): the trained model whose attention is returned.
    """

    def __init__(self, gsat_model: GSAT):
        super().__init__()
        self.gsat_model = gsat_model

    def forward(self, model: nn.Module, x: Tensor, edge_index: Tensor, *, target: Tensor,
                index: Optional[Any] = None, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None, **kwargs: Any) -> Explanation:
        data = Data(x=x, edge_index=edge_index, batch=batch, edge_attr=edge_attr)
        return Explanation(edge_mask=self.gsat_model.explain(data))

    def supports(self) -> bool:
        return self.explainer_config.node_mask_type is None


#: GSAT is not tuned: it is trained with the paper's settings
ENTRY = ExplainerEntry(
    name="gsat", factory=GSATExplainer,
    help="GSAT's evaluation-time attention (explains the GSAT model, batched)")
