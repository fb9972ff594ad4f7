r"""How a classifier answers the soft edge masks mask-optimising explainers feed it.

GNNExplainer, PGExplainer and GraphMask score edges by scaling their messages with a mask in
(0, 1) and asking the model for its prediction. A model that was only ever trained on
unmasked graphs (mask 1 on every edge) may predict something else on a graph whose messages
are all halved, before any edge is singled out: the optimisation then starts from, and
follows the gradient of, a model the explainer was not meant to explain. GSAT trains the
model with the masks it samples, so its attention does not meet that shift (Miao et al.,
ICML 2022, Sec. 3).

:func:`mask_level_response` measures this: every edge's mask set to one level, the
probability of the class the model predicts on the unmasked graph, how often the prediction
stays, and the sign of the gradient of that class's log probability on the ground-truth
edges (positive: more of the edge's message, more of the class). :func:`edge_removal_effect`
checks the model itself uses the ground-truth edges: the share of predictions that change
when they are removed, against removing as many other edges.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.loader import DataLoader
from torch_geometric.nn import MessagePassing

from gsat.errors import ConfigError
from gsat.explain.base import explained_copy

#: mask levels of :func:`mask_level_response` (1 is the unmasked graph; 0.5 is where
#: GNNExplainer's masks start, sigmoid of logits drawn around 0)
DEFAULT_LEVELS = (1.0, 0.9, 0.73, 0.5)


def _logits(model: nn.Module, data: Data) -> Tensor:
    out = model(data)
    return getattr(out, "logits", out)


def _log_probs(logits: Tensor, task: str) -> Tensor:
    r"""Log probability of every class, shape ``[G, C]`` (``C = 2`` for a binary logit)."""
    if task == "binary":
        z = logits.reshape(-1, 1)
        return torch.cat([nn.functional.logsigmoid(-z), nn.functional.logsigmoid(z)], 1)
    if task == "multiclass":
        return torch.log_softmax(logits, -1)
    raise ConfigError(f"mask sensitivity is defined for single-label tasks (binary, "
                      f"multiclass), got {task!r}")


def predicted_classes(model: nn.Module, graphs: Sequence[Data], task: str) -> Tensor:
    """The class :obj:`model` predicts for each graph (batches of 128, no gradients)."""
    preds: List[Tensor] = []
    with torch.no_grad():
        for b in DataLoader(list(graphs), batch_size=128):
            preds.append(_log_probs(_logits(model, b), task).argmax(-1))
    return torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long)


def _check_graphs(graphs: Sequence[Data]) -> None:
    if not graphs:
        raise ValueError("no graphs given")
    missing = [i for i, g in enumerate(graphs) if getattr(g, "edge_label", None) is None]
    if missing:
        raise ValueError(f"graph {missing[0]} has no edge_label: the ground-truth edges "
                         "are needed")


def mask_level_response(model: nn.Module, graphs: Sequence[Data], task: str,
                        levels: Sequence[float] = DEFAULT_LEVELS) -> Dict[str, Any]:
    r"""The model's answer when every edge's message is scaled by the same mask level.

    For each graph, class :math:`c` is the model's prediction on the unmasked graph. At each
    level :math:`m`, every edge mask is set to :math:`m` (PyG's explain masks, as
    GNNExplainer sets them) and the gradient of :math:`\log p(c)` with respect to each
    edge's mask is taken. The model is a copy (:func:`~gsat.explain.base.explained_copy`);
    :obj:`model` is left as it was.

    Args:
        model (torch.nn.Module): a classifier whose message-passing layers are PyG
            :class:`~torch_geometric.nn.conv.MessagePassing` modules; its forward takes a
            batch and returns logits (or an object with :obj:`logits`).
        graphs (sequence of Data): graphs with :obj:`edge_label` (1 on ground-truth edges).
        task (str): :obj:`"binary"` or :obj:`"multiclass"`.
        levels (sequence of float, optional): mask levels in (0, 1].
            (default: :data:`DEFAULT_LEVELS`)

    Returns:
        dict: :obj:`levels` and :obj:`by_class`, one entry per predicted class :math:`c`
        (as a string) with :obj:`graphs` (how many) and, per level (as a string),
        :obj:`p_class` (mean :math:`p(c)`), :obj:`same_prediction` (share of graphs still
        predicted :math:`c`), :obj:`truth_grad_positive` (share of ground-truth edges whose
        mask gradient is positive) and :obj:`other_grad_positive` (the same for the other
        edges); the last two are :obj:`None` where there are no such edges.
    """
    _check_graphs(graphs)
    levels = [float(v) for v in levels]
    if not levels or any(not 0.0 < v <= 1.0 for v in levels):
        raise ValueError(f"mask levels must lie in (0, 1], got {levels}")
    if not any(isinstance(m, MessagePassing) for m in model.modules()):
        raise ValueError(f"{type(model).__name__} has no message-passing layer (PyG "
                         "MessagePassing) to put edge masks on")
    work = explained_copy(model)
    pred = predicted_classes(work, graphs, task)
    acc: Dict[int, Dict[float, Dict[str, List[float]]]] = {}
    for g, c in zip(graphs, pred.tolist()):
        per_level = acc.setdefault(c, {v: {"p": [], "same": [], "truth": [], "other": []}
                                       for v in levels})
        truth = g.edge_label.reshape(-1).bool()
        for v in levels:
            mask = torch.full((g.edge_index.size(1),), v, requires_grad=True)
            set_masks(work, mask, g.edge_index, apply_sigmoid=False)
            try:
                with torch.enable_grad():
                    logp = _log_probs(_logits(work, g), task)[0]
                    logp[c].backward()
            finally:
                clear_masks(work)
            grad = mask.grad if mask.grad is not None else torch.zeros_like(mask)  # no edges
            pos = (grad > 0).float()
            rec = per_level[v]
            rec["p"].append(float(logp[c].detach().exp()))
            rec["same"].append(float(int(logp.detach().argmax()) == c))
            rec["truth"].extend(pos[truth].tolist())
            rec["other"].extend(pos[~truth].tolist())

    def mean(xs: List[float]):
        return sum(xs) / len(xs) if xs else None

    by_class = {}
    for c in sorted(acc):
        rows = acc[c]
        by_class[str(c)] = {"graphs": len(rows[levels[0]]["p"]), **{
            str(v): {"p_class": mean(rows[v]["p"]), "same_prediction": mean(rows[v]["same"]),
                     "truth_grad_positive": mean(rows[v]["truth"]),
                     "other_grad_positive": mean(rows[v]["other"])} for v in levels}}
    return {"levels": levels, "by_class": by_class}


def edge_removal_effect(model: nn.Module, graphs: Sequence[Data], task: str,
                        seed: int = 0) -> Dict[str, Any]:
    r"""Does the model use the ground-truth edges? The share of graphs whose prediction
    changes when their ground-truth edges are removed, against removing as many randomly
    chosen other edges (all of them if there are fewer), per class predicted on the whole
    graph. Graphs without ground-truth edges are skipped.

    Returns:
        dict: :obj:`by_class`, per predicted class (as a string): :obj:`graphs`,
        :obj:`changed_without_truth`, :obj:`changed_without_others`.
    """
    _check_graphs(graphs)
    gen = torch.Generator().manual_seed(seed)
    kept = [g for g in graphs if bool(g.edge_label.reshape(-1).bool().any())]
    if not kept:
        raise ValueError("no graph has ground-truth edges")
    work = explained_copy(model)

    def without(g: Data, drop: Tensor) -> Data:
        h = g.clone()
        keep = ~drop
        h.edge_index = g.edge_index[:, keep]
        for key in ("edge_label", "edge_attr"):
            val = getattr(g, key, None)
            if val is not None:
                setattr(h, key, val[keep])
        return h

    no_truth, no_other = [], []
    for g in kept:
        truth = g.edge_label.reshape(-1).bool()
        no_truth.append(without(g, truth))
        others = (~truth).nonzero().view(-1)
        pick = others[torch.randperm(others.numel(), generator=gen)[:int(truth.sum())]]
        drop = torch.zeros_like(truth)
        drop[pick] = True
        no_other.append(without(g, drop))
    p0 = predicted_classes(work, kept, task)
    p1, p2 = predicted_classes(work, no_truth, task), predicted_classes(work, no_other, task)
    by_class = {}
    for c in sorted(set(p0.tolist())):
        m = p0 == c
        by_class[str(c)] = {"graphs": int(m.sum()),
                            "changed_without_truth": float((p1[m] != c).float().mean()),
                            "changed_without_others": float((p2[m] != c).float().mean())}
    return {"by_class": by_class}
