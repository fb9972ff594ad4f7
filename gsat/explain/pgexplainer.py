r"""PGExplainer (`Luo et al., NeurIPS 2020 <https://arxiv.org/abs/2011.04573>`_) through
:class:`torch_geometric.explain.algorithm.PGExplainer` (registry name :obj:`"pgexplainer"`): a
shared MLP on the last-layer embeddings of an edge's two nodes, trained on the training
graphs to explain the model's predictions, then applied to each explained graph in one
forward pass. An edge scores the MLP's logit (:class:`LogitPGExplainer`).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torch_geometric.data import Batch, Data
from torch_geometric.explain import Explainer
from torch_geometric.explain.algorithm import PGExplainer
from tqdm.auto import tqdm

from gsat.explain.base import (ExplainerEntry, PyGEdgeExplainer, adapter_kwargs, edge_scores,
                               explained_copy, graphs_one_by_one, settings_grid)

__all__ = ["LogitPGExplainer", "PGEdgeExplainer", "ENTRY"]


#: PyG's PGExplainer coefficients as shipped, copied once: PyG's constructor updates the
#: class-level dict in place, so one instance built with other coefficients would change the
#: defaults of every later one.
_PG_COEFFS: Dict[str, Any] = copy.deepcopy(PGExplainer.coeffs)


class LogitPGExplainer(PGExplainer):
    r"""PyG's :class:`~torch_geometric.explain.algorithm.PGExplainer`, trained as it is, whose
    explanation holds the explainer MLP's logit of each edge instead of its sigmoid. The
    order of the edges is the same, except that the sigmoid rounds logits below about -104
    to exactly 0 (and above about 17 to exactly 1) in float32: a trained explainer whose
    logits all lie there (measured on Mutag with batches of 32: every mask below 1.3e-13,
    many exactly 0) would tie those edges and score a ROC AUC of 0.5 for reasons of
    rounding."""

    @staticmethod
    def _post_process_mask(mask: Optional[Tensor], hard_mask: Optional[Tensor] = None,
                           apply_sigmoid: bool = True) -> Optional[Tensor]:
        return PGExplainer._post_process_mask(mask, hard_mask, apply_sigmoid=False)


def _pg_algorithm(epochs: int, lr: float, edge_size: float, edge_ent: float, temp0: float,
                  temp1: float, **_: Any) -> PGExplainer:
    algo = LogitPGExplainer(epochs=epochs, lr=lr)
    algo.coeffs = dict(copy.deepcopy(_PG_COEFFS), edge_size=edge_size, edge_ent=edge_ent,
                       temp=[temp0, temp1])  # on the instance, not the class
    return algo


class PGEdgeExplainer(PyGEdgeExplainer):
    r"""PGExplainer: a shared MLP on the last-layer embeddings of an edge's two nodes,
    trained on the training graphs (:meth:`fit`) to explain the model's predictions, then
    applied to each test graph in one forward pass.

    Args:
        epochs (int, optional): training epochs over the training graphs. (default: :obj:`30`)
        lr (float, optional): learning rate. (default: :obj:`0.003`)
        batch_size (int, optional): training graphs per optimisation step.
            (default: :obj:`1`, one graph per step as in the original implementation)
        edge_size (float, optional): coefficient of the mask-size penalty.
            (default: :obj:`0.05`, PyG's)
        edge_ent (float, optional): coefficient of the mask-entropy penalty.
            (default: :obj:`1.0`, PyG's)
        temp0 (float, optional): concrete temperature at the first epoch; it decays
            geometrically to :obj:`temp1` at the last. (default: :obj:`5.0`, PyG's)
        temp1 (float, optional): temperature at the last epoch. (default: :obj:`2.0`, PyG's)
    """

    needs_fit = True

    def __init__(self, epochs: int = 30, lr: float = 0.003, batch_size: int = 1,
                 edge_size: float = 0.05, edge_ent: float = 1.0, temp0: float = 5.0,
                 temp1: float = 2.0):
        super().__init__("pgexplainer", lambda adapter, **s: _pg_algorithm(**s),
                         epochs=epochs, lr=lr, batch_size=batch_size, edge_size=edge_size,
                         edge_ent=edge_ent, temp0=temp0, temp1=temp1)
        self._fitted: Optional[Explainer] = None
        self._model: Optional[nn.Module] = None

    def fit(self, model: nn.Module, graphs: Sequence[Data], task: str,
            device: torch.device | str = "cpu", progress: bool = False) -> None:
        r"""Train the explainer MLP on :obj:`graphs`; the target of each graph is the model's
        own prediction."""
        epochs = self.settings["epochs"]
        graphs = list(graphs)
        # the loader draws the order of the graphs; they are collated below
        order = DataLoader(range(len(graphs)), batch_size=self.settings["batch_size"],
                           shuffle=True, generator=torch.Generator().manual_seed(0),
                           collate_fn=list)
        explainer = self._explainer(explained_copy(model), task, "phenomenon")
        algo = explainer.algorithm
        algo.to(device)
        # one graph per step (the default): each graph is collated and its target (the frozen
        # model's prediction) computed once, not once per epoch; the order is the loader's
        cache: Dict[int, tuple] = {}
        for epoch in tqdm(range(epochs), desc="fit pgexplainer", disable=not progress,
                          leave=False, dynamic_ncols=True):
            for idx in order:
                step = cache.get(idx[0]) if len(idx) == 1 else None
                if step is None:
                    b = Batch.from_data_list([graphs[i] for i in idx]).to(device)
                    kw = {"batch": b.batch}
                    if getattr(b, "edge_attr", None) is not None:
                        kw["edge_attr"] = b.edge_attr
                    target = explainer.get_target(explainer.get_prediction(b.x, b.edge_index,
                                                                           **kw))
                    step = (b, kw, target)
                    if len(idx) == 1:
                        cache[idx[0]] = step
                b, kw, target = step
                algo.train(epoch, explainer.model, b.x, b.edge_index, target=target, **kw)
        self._fitted, self._model = explainer, model

    def fitted_state(self) -> Optional[Dict[str, Any]]:
        """The trained explainer MLP's weights and the last training epoch, or :obj:`None`
        before :meth:`fit`."""
        if self._fitted is None:
            return None
        algo = self._fitted.algorithm
        return {"mlp": {k: v.detach().cpu() for k, v in algo.mlp.state_dict().items()},
                "epoch": int(algo._curr_epoch)}

    def load_fitted(self, model: nn.Module, task: str, state: Dict[str, Any],
                    device: torch.device | str = "cpu") -> None:
        explainer = self._explainer(explained_copy(model), task, "phenomenon")
        algo = explainer.algorithm
        algo.mlp.load_state_dict(state["mlp"])
        algo._curr_epoch = int(state["epoch"])  # PyG refuses to explain before the last epoch
        algo.to(device)
        self._fitted, self._model = explainer, model

    def explain(self, model: nn.Module, graphs: Sequence[Data], task: str,
                device: torch.device | str = "cpu", progress: bool = False) -> List[Tensor]:
        if self._fitted is None or self._model is not model:
            raise RuntimeError("PGExplainer must be fitted on the training graphs of this "
                               "model first: call fit(model, train_graphs, task)")
        explainer = self._fitted
        return graphs_one_by_one(graphs, lambda g: self.explain_with(explainer, g),
                                 f"explain {self.name}", device, progress, self.symmetrize,
                                 model)

    def explain_graph(self, model: nn.Module, data: Data, task: str) -> Tensor:
        if self._fitted is None or self._model is not model:
            raise RuntimeError("PGExplainer must be fitted on the training graphs of this "
                               "model first: call fit(model, train_graphs, task)")
        return edge_scores(lambda g: self.explain_with(self._fitted, g), data,
                           self.symmetrize)

    def explain_with(self, explainer: Explainer, data: Data) -> Tensor:
        kw = adapter_kwargs(data)
        target = explainer.get_target(explainer.get_prediction(data.x, data.edge_index, **kw))
        return explainer(data.x, data.edge_index, target=target, **kw).edge_mask


ENTRY = ExplainerEntry(
    name="pgexplainer", factory=PGEdgeExplainer,
    help="PGExplainer: an edge-mask MLP trained on the training graphs (Luo et al., 2020)",
    # temperature schedule: PyG's 5 -> 2, or a constant 1. The first setting is the default
    # (one training graph per step); the other seven train on batches of 32, because one
    # graph per step costs 13x more time (6 s against 0.45 s per epoch over the 800
    # BA-2Motifs training graphs on one thread), which 520 epochs per grid cannot afford.
    tuning_grid=[dict(epochs=30, lr=0.003, temp0=5.0, temp1=2.0, batch_size=1)] + [
        dict(g, temp0=t0, temp1=t1, batch_size=32)
        for g in settings_grid(epochs=[30, 100], lr=[0.003, 0.03])
        for t0, t1 in ((5.0, 2.0), (1.0, 1.0))][1:],
    optimised=True)
