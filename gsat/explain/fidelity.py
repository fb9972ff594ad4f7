r"""How faithful an edge explanation of a graph classifier is, without ground truth: the
one computation of fidelity, characterization score, unfaithfulness and deletion /
insertion curves, used the same way for GSAT's attention and for every post-hoc explainer's
edge scores (``gsat explain``, ``gsat benchmark``).

Every metric asks the model for its prediction on the graph with some of its edges removed:
the edges are ranked per graph by their score (highest first), and a share of each graph's
edges is kept or removed. **Removed** means the model does not see the edge: it is deleted
from :obj:`edge_index` (and :obj:`edge_attr`) before the model's pass, so neither its
message nor the degree it adds to its target node reaches the model. For a
:class:`~gsat.GSAT` model the pass is its gated pass (:meth:`gsat.GSAT.gated_forward`, the
batch-norm statistics of that pass) on the remaining edges, each with its whole message:
the explanation as a hard 0/1 mask in place of the soft attention. With ``removal="mask"``
the edges are kept and their messages multiplied by 0 or 1 instead (PyG's edge-mask hook,
as GSAT's attention gates); for a backbone that sums its messages (GIN) the two are the
same, for one that also counts degrees (PNA's degree scalers, mean aggregation) they are
not, which is why deletion is the default. An :class:`~gsat.ERM` model (the one post-hoc
explainers explain) runs its backbone on the remaining edges
(:meth:`gsat.ERM.backbone_logits`).

The explained class is the one the model predicts on the whole graph (its ordinary
forward pass: GSAT with its attention), so no label is needed. These are PyG's
:mod:`torch_geometric.explain.metric` definitions in their ``model`` mode, adapted to edge
scores on batches of graphs (see :func:`graph_fidelity`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Optional, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.utils import is_undirected
from tqdm.auto import tqdm

from gsat.core.functional import rank_in_groups
from gsat.core.model import ERM, GSAT, edge_mask
from gsat.core.task import Task
from gsat.errors import ConfigError, GraphInputError

__all__ = ["DEFAULT_KEEP", "DEFAULT_STEPS", "METRIC_DIRECTIONS", "GraphFidelity",
           "graph_fidelity", "edge_ranks", "top_counts", "characterization",
           "unfaithfulness", "curve_auc", "class_probabilities"]

#: share of each graph's edges that is the explanation of fid+ / fid- / unfaithfulness
DEFAULT_KEEP = 0.2
#: steps of the deletion and insertion curves: shares 0, 1/10, ..., 10/10 of the edges
DEFAULT_STEPS = 10

#: every summary metric and whether a higher value is better
METRIC_DIRECTIONS: Dict[str, bool] = {
    "fid_plus": True, "fid_minus": False, "characterization_score": True,
    "unfaithfulness": False, "deletion_auc": False, "insertion_auc": True}


def class_probabilities(logits: Tensor, task: str) -> Tensor:
    r"""Probabilities of every class, shape ``[G, C]``: :math:`[1 - p, p]` with
    :math:`p = \sigma(\text{logit})` for a binary task (one logit), the softmax otherwise."""
    if Task.parse(task) == Task.BINARY:
        p = logits.reshape(-1, 1).sigmoid()
        return torch.cat([1 - p, p], 1)
    return logits.softmax(-1)


def _check_task(task: str) -> Task:
    t = Task.parse(task, error=ConfigError)
    if t not in (Task.BINARY, Task.MULTICLASS):
        raise ConfigError(f"fidelity, unfaithfulness and deletion/insertion curves are "
                          f"defined for binary and multiclass classification (the "
                          f"probability of the predicted class), not for a {t.value} task")
    return t


def edge_ranks(scores: Tensor, edge_index: Tensor, edge_graph: Tensor,
               num_graphs: int) -> Tensor:
    r"""The rank of every edge within its graph by score, highest first (0 is the best),
    for a batch of graphs at once, shape ``[E]``. Ties are broken by the edge's node pair
    :math:`(\min(u, v), \max(u, v))`, so that on an undirected graph the two directions of
    an edge (equal scores, :func:`gsat.explain.base.symmetric_scores`) take neighbouring
    ranks, and then by edge order. A NaN score ranks last.

    Args:
        scores (torch.Tensor): one score per edge, shape ``[E]``.
        edge_index (torch.Tensor): the batch's edges, shape ``[2, E]``.
        edge_graph (torch.Tensor): the graph of every edge, shape ``[E]``.
        num_graphs (int): graphs in the batch.
    """
    n = scores.numel()
    s = torch.nan_to_num(scores.double(), nan=-math.inf)
    lo, hi = edge_index.min(0).values, edge_index.max(0).values
    order = torch.arange(n, device=scores.device)
    # stable sorts from the last key to the first: graph, score (descending), pair
    for key, desc in ((hi, False), (lo, False), (s, True), (edge_graph, False)):
        order = order[torch.sort(key[order], stable=True, descending=desc).indices]
    return rank_in_groups(order, edge_graph, num_graphs)


def top_counts(edges: Tensor, share: float, undirected: bool, at_least_one: bool = False
               ) -> Tensor:
    r"""How many of each graph's top-ranked edges make :obj:`share` of its edges:
    :math:`\lfloor s E_g + 1/2 \rfloor` (rounded half up); on an undirected graph counted in
    whole edges, both directions together (:math:`2 \lfloor s E_g / 2 + 1/2 \rfloor`). With
    :obj:`at_least_one`, a graph with edges keeps at least one edge (both directions on an
    undirected graph).

    Args:
        edges (torch.Tensor): edges per graph, shape ``[G]``.
        share (float): in :math:`[0, 1]`.
        undirected (bool): the graphs are undirected.
        at_least_one (bool, optional): see above. (default: :obj:`False`)
    """
    unit = 2 if undirected else 1
    e = edges.double() / unit
    k = torch.floor(share * e + 0.5 + 1e-9).long() * unit
    if at_least_one:
        k = torch.maximum(k, torch.full_like(k, unit))
    return torch.minimum(k, edges)


def characterization(fid_plus: float, fid_minus: float, pos_weight: float = 0.5,
                     neg_weight: float = 0.5) -> float:
    r"""PyG's characterization score
    (:func:`torch_geometric.explain.metric.characterization_score`, Amara et al., 2022),
    the weighted harmonic mean of :math:`\mathrm{fid}_+` and :math:`1 - \mathrm{fid}_-`:

    .. math::
        \mathrm{charact} = \frac{w_+ + w_-}{w_+ / \mathrm{fid}_+ + w_- / (1 - \mathrm{fid}_-)}

    computed by PyG's function itself; it is 0 (the limit PyG's float arithmetic gives)
    where :math:`\mathrm{fid}_+ = 0` or :math:`\mathrm{fid}_- = 1`. Higher is better.
    """
    from torch_geometric.explain.metric import characterization_score

    return float(characterization_score(torch.tensor(float(fid_plus), dtype=torch.float64),
                                        torch.tensor(float(fid_minus), dtype=torch.float64),
                                        pos_weight, neg_weight))


def _kl(full: Tensor, masked: Tensor) -> Tensor:
    r"""Per graph :math:`\sum_c \hat y_c (\log \hat y_c - \log y_c)`, PyG's
    :obj:`F.kl_div(y.log(), y_hat)` of :func:`~torch_geometric.explain.metric.unfaithfulness`
    row by row (probabilities clamped to the smallest normal number before the log)."""
    tiny = torch.finfo(full.dtype).tiny
    return (masked * (masked.clamp_min(tiny).log() - full.clamp_min(tiny).log())).sum(-1)


def unfaithfulness(full: Tensor, masked: Tensor) -> float:
    r"""PyG's graph explanation unfaithfulness
    (:func:`torch_geometric.explain.metric.unfaithfulness`, Agarwal et al., 2023) of a batch
    of graphs: :math:`1 - \exp(-\overline{\mathrm{KL}})`, the KL divergence averaged over the
    graphs (PyG's ``reduction="batchmean"``). Like PyG's code it is
    :math:`\sum_c \hat y_c \log(\hat y_c / y_c)` with :math:`y` the class probabilities on
    the whole graph and :math:`\hat y` those on the explanation (PyG's docstring names it
    :math:`\mathrm{KL}(y \| \hat y)`, its code computes this). 0 is perfectly faithful; lower
    is better.

    Args:
        full (torch.Tensor): class probabilities on the whole graphs, ``[G, C]``.
        masked (torch.Tensor): class probabilities on the explanations, ``[G, C]``.
    """
    if full.numel() == 0:
        return math.nan
    return 1.0 - math.exp(-float(_kl(full.double(), masked.double()).mean()))


def curve_auc(curves: Tensor, shares: Tensor) -> Tensor:
    r"""Area under each curve over the shares :math:`[0, 1]` of edges (trapezoid rule, as
    PyG's :func:`torch_geometric.explain.metric.fidelity_curve_auc` integrates), shape
    ``[G]`` for curves of shape ``[G, S]``."""
    return torch.trapezoid(curves, shares, dim=-1)


@dataclass
class GraphFidelity:
    r"""Per-graph results of :func:`graph_fidelity`; :meth:`summary` averages them.

    Attributes:
        predicted (torch.Tensor): the class predicted on the whole graph, ``[G]``.
        prob_full (torch.Tensor): its probability there (the model's ordinary pass), ``[G]``.
        prob_explanation, prob_complement (torch.Tensor): its probability with only the top
            :obj:`keep` share of the edges kept, and with them removed, ``[G]``.
        pred_explanation, pred_complement (torch.Tensor): the class predicted then, ``[G]``.
        kl (torch.Tensor): the KL term of :func:`unfaithfulness` per graph, ``[G]``.
        shares (torch.Tensor): the shares of edges of the curves, ``[S]`` (0 to 1).
        deletion (torch.Tensor): probability of the predicted class with the top share of
            edges removed, ``[G, S]``.
        insertion (torch.Tensor): the same with only the top share kept, ``[G, S]``.
        edges (torch.Tensor): edges per graph, ``[G]``.
        kept (torch.Tensor): edges of each graph's explanation, ``[G]``.
        keep (float): the share of edges that is the explanation.
        removal (str): how edges were removed (:obj:`"delete"` or :obj:`"mask"`).
    """

    predicted: Tensor
    prob_full: Tensor
    prob_explanation: Tensor
    prob_complement: Tensor
    pred_explanation: Tensor
    pred_complement: Tensor
    kl: Tensor
    shares: Tensor
    deletion: Tensor
    insertion: Tensor
    edges: Tensor
    kept: Tensor
    keep: float
    removal: str

    @property
    def num_graphs(self) -> int:
        return int(self.predicted.numel())

    @property
    def fid_plus_per_graph(self) -> Tensor:
        """1 where removing the explanation changes the predicted class."""
        return (self.pred_complement != self.predicted).double()

    @property
    def fid_minus_per_graph(self) -> Tensor:
        """1 where the explanation alone changes the predicted class."""
        return (self.pred_explanation != self.predicted).double()

    @property
    def deletion_auc(self) -> Tensor:
        """Area under each graph's deletion curve, ``[G]`` (lower is better)."""
        return curve_auc(self.deletion, self.shares)

    @property
    def insertion_auc(self) -> Tensor:
        """Area under each graph's insertion curve, ``[G]`` (higher is better)."""
        return curve_auc(self.insertion, self.shares)

    def summary(self) -> Dict[str, Any]:
        r"""Means over the graphs: :obj:`prob_full` (the probability of the predicted class
        on the whole graph, the height the curves start from), :obj:`fid_plus`,
        :obj:`fid_minus` (PyG's model-mode
        fidelity), :obj:`characterization_score` (:func:`characterization` of the two),
        :obj:`unfaithfulness`, :obj:`deletion_auc`, :obj:`insertion_auc`, the mean curves
        (:obj:`deletion_curve`, :obj:`insertion_curve` at :obj:`curve_shares`), and
        :obj:`higher_is_better` for every metric. Means are NaN-free: with no graph they
        are :obj:`None`."""
        if self.num_graphs == 0:
            values: Dict[str, Any] = {k: None for k in ("prob_full", *METRIC_DIRECTIONS)}
            curves: Dict[str, Any] = {"deletion_curve": None, "insertion_curve": None}
        else:
            plus = float(self.fid_plus_per_graph.mean())
            minus = float(self.fid_minus_per_graph.mean())
            values = {"prob_full": float(self.prob_full.mean()),
                      "fid_plus": plus, "fid_minus": minus,
                      "characterization_score": characterization(plus, minus),
                      "unfaithfulness": 1.0 - math.exp(-float(self.kl.mean())),
                      "deletion_auc": float(self.deletion_auc.mean()),
                      "insertion_auc": float(self.insertion_auc.mean())}
            curves = {"deletion_curve": self.deletion.mean(0).tolist(),
                      "insertion_curve": self.insertion.mean(0).tolist()}
        return {"graphs": self.num_graphs, "kept_share": self.keep, "removal": self.removal,
                **values, "curve_shares": self.shares.tolist(), **curves,
                "higher_is_better": dict(METRIC_DIRECTIONS)}

    def per_graph(self) -> List[Dict[str, Any]]:
        """One record per graph: its prediction, the probabilities of the predicted class,
        fid+ / fid-, its own unfaithfulness, and the areas of its two curves."""
        dele, ins = self.deletion_auc.tolist(), self.insertion_auc.tolist()
        return [{"edges": int(self.edges[i]), "kept_edges": int(self.kept[i]),
                 "predicted": int(self.predicted[i]), "prob_full": float(self.prob_full[i]),
                 "prob_explanation": float(self.prob_explanation[i]),
                 "prob_complement": float(self.prob_complement[i]),
                 "fid_plus": float(self.fid_plus_per_graph[i]),
                 "fid_minus": float(self.fid_minus_per_graph[i]),
                 "unfaithfulness": 1.0 - math.exp(-float(self.kl[i])),
                 "deletion_auc": dele[i], "insertion_auc": ins[i]}
                for i in range(self.num_graphs)]

    def curve_rows(self, ids: Optional[Sequence[str]] = None) -> List[List[Any]]:
        """Rows ``[graph, share, deletion, insertion]``: per graph and share the probability
        of the predicted class with that share of top edges removed / kept, then the means
        over the graphs as graph ``mean``."""
        ids = [str(i) for i in (ids if ids is not None else range(self.num_graphs))]
        shares = self.shares.tolist()
        rows = [[gid, s, float(self.deletion[i, j]), float(self.insertion[i, j])]
                for i, gid in enumerate(ids) for j, s in enumerate(shares)]
        if self.num_graphs:
            dm, im = self.deletion.mean(0).tolist(), self.insertion.mean(0).tolist()
            rows += [["mean", s, dm[j], im[j]] for j, s in enumerate(shares)]
        return rows


def _pass(model: nn.Module):
    if isinstance(model, GSAT):
        return model.gated_forward
    if isinstance(model, ERM):
        return model.backbone_logits
    raise TypeError(f"fidelity needs a gsat.GSAT or gsat.ERM model, got {type(model).__name__}")


def _collate(graphs: Sequence[Data], scores: Sequence[Tensor]) -> List[Data]:
    """The graphs with only what a model reads, each with its scores as :obj:`score`."""
    if len(scores) != len(graphs):
        raise ValueError(f"got scores for {len(scores)} graphs but {len(graphs)} graphs")
    out = []
    for i, (g, s) in enumerate(zip(graphs, scores)):
        s = torch.as_tensor(s).reshape(-1).double().cpu()
        if s.numel() != g.edge_index.size(1):
            raise ValueError(f"graph {i}: {s.numel()} scores for {g.edge_index.size(1)} edges")
        h = Data(x=g.x, edge_index=g.edge_index, score=s, num_nodes=g.num_nodes)
        if getattr(g, "edge_attr", None) is not None:
            h.edge_attr = g.edge_attr
        out.append(h)
    return out


@torch.no_grad()
def graph_fidelity(model: nn.Module, graphs: Sequence[Data], scores: Sequence[Tensor],
                   task: str, keep: float = DEFAULT_KEEP, steps: int = DEFAULT_STEPS,
                   batch_size: int = 128, device: torch.device | str = "cpu",
                   progress: bool = False,
                   removal: Literal["delete", "mask"] = "delete") -> GraphFidelity:
    r"""Fidelity of edge explanations of a graph classifier, without ground truth, for
    batches of graphs at once.

    Per graph, :math:`c` is the class the model predicts on the whole graph, the
    explanation :math:`G_S` its top :obj:`keep` share of edges by score (at least one;
    :func:`edge_ranks`, :func:`top_counts`) and :math:`G_{C \setminus S}` the graph without
    them. Following PyG's :mod:`torch_geometric.explain.metric` in its ``model`` mode:

    * :math:`\mathrm{fid}_+ = 1 - \frac1N \sum_i \mathbb 1(\hat y_i^{G_{C\setminus S}} = c_i)`
      and :math:`\mathrm{fid}_- = 1 - \frac1N \sum_i \mathbb 1(\hat y_i^{G_S} = c_i)`
      (:func:`torch_geometric.explain.metric.fidelity`; higher fid+, lower fid- is better);
    * the characterization score of the two (:func:`characterization`);
    * :func:`unfaithfulness`, :math:`1 - \exp(-\mathrm{KL})` between the class probabilities
      on the whole graph and on :math:`G_S`.

    Adapted to edge scores on batched graphs: PyG multiplies the messages by the soft mask
    (fid-, unfaithfulness) and by one minus it (fid+); here both sides are hard, the top
    :obj:`keep` share of every graph's edges kept or removed (GraphFramEx's top-k
    explanations), because the scores of different methods live on different scales (GSAT's
    attention in :math:`(0, 1)`, Integrated Gradients' attributions of either sign) and only
    their order is comparable. Removed edges are deleted (see the module's docstring), and
    every graph of a batch is cut at its own share.

    Deletion and insertion curves: at each share :math:`s \in \{0, 1/S, \dots, 1\}`
    (:obj:`steps` :math:`= S`) of a graph's edges, the probability of class :math:`c` with
    the top share removed (deletion) or with only the top share kept (insertion); and the
    area under each curve over :math:`[0, 1]` (:func:`curve_auc`). A faithful ranking makes
    the deletion curve fall fast (lower area is better) and the insertion curve rise fast
    (higher is better). At share 0 the deletion curve and at share 1 the insertion curve
    are the pass on the whole graph with every edge whole (for GSAT: the hard mask of all
    ones, not its attention); at share 1 (deletion) and 0 (insertion) the graph has no edge.

    Args:
        model (gsat.GSAT or gsat.ERM): the explained model (GSAT for its attention, ERM for
            post-hoc explanations).
        graphs (sequence of Data): the explained graphs.
        scores (sequence of torch.Tensor): one score per edge of every graph (shape
            ``[E_g]``), as :meth:`gsat.explain.base.EdgeExplainer.explain` returns.
        task (str): :obj:`"binary"` or :obj:`"multiclass"`; a regression or multi-label
            model is refused (:class:`gsat.errors.ConfigError`).
        keep (float, optional): share of edges that is the explanation, in :math:`(0, 1)`.
            (default: :data:`DEFAULT_KEEP`)
        steps (int, optional): steps of the curves, at least 1. (default:
            :data:`DEFAULT_STEPS`)
        batch_size (int, optional): graphs per forward pass. (default: :obj:`128`)
        device (str, optional): where the model runs. (default: :obj:`"cpu"`)
        progress (bool, optional): a progress bar over the batches. (default: :obj:`False`)
        removal (str, optional): :obj:`"delete"` the removed edges or :obj:`"mask"` their
            messages with 0. (default: :obj:`"delete"`)

    Returns:
        GraphFidelity: per-graph values; :meth:`GraphFidelity.summary` for the means.
    """
    from torch_geometric.loader import DataLoader

    t = _check_task(task)
    if not 0.0 < keep < 1.0:
        raise ConfigError(f"the kept share of edges must lie in (0, 1), got {keep}")
    if int(steps) != steps or steps < 1:
        raise ConfigError(f"the curves need at least 1 step, got {steps}")
    if removal not in ("delete", "mask"):
        raise ConfigError(f"removal must be 'delete' or 'mask', got {removal!r}")
    forward = _pass(model)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    shares = torch.arange(steps + 1, dtype=torch.float64) / steps
    parts: Dict[str, List[Tensor]] = {}
    try:
        loader = DataLoader(_collate(graphs, scores), batch_size=batch_size)
        for b in tqdm(loader, desc="fidelity", disable=not progress, leave=False,
                      dynamic_ncols=True):
            b = b.to(device)
            for key, value in _batch_fidelity(model, forward, b, t, keep, shares,
                                              removal).items():
                parts.setdefault(key, []).append(value.cpu())
    finally:
        for m, training in modes:
            m.training = training
    cat = {k: torch.cat(v) for k, v in parts.items()}
    if not cat:
        empty = torch.zeros(0, dtype=torch.float64)
        none = torch.zeros(0, dtype=torch.long)
        cat = {"predicted": none, "prob_full": empty, "prob_explanation": empty,
               "prob_complement": empty, "pred_explanation": none, "pred_complement": none,
               "kl": empty, "deletion": empty.view(0, steps + 1),
               "insertion": empty.view(0, steps + 1), "edges": none, "kept": none}
    return GraphFidelity(shares=shares, keep=float(keep), removal=removal, **cat)


def _batch_fidelity(model: nn.Module, forward: Any, b: Batch, task: Task, keep: float,
                    shares: Tensor, removal: str) -> Dict[str, Tensor]:
    """:func:`graph_fidelity` of one batch."""
    try:
        x, ei, batch, ea = model._inputs(b, check=True)
    except GraphInputError as exc:
        raise GraphInputError(f"a graph explained for fidelity: {exc}") from None
    num_graphs = int(b.num_graphs)
    edge_graph = batch[ei[0]]
    edges = torch.bincount(edge_graph, minlength=num_graphs)
    undirected = ei.numel() > 0 and is_undirected(ei, num_nodes=x.size(0))
    rank = edge_ranks(b.score, ei, edge_graph, num_graphs)

    def probs(keep_mask: Optional[Tensor]) -> Tensor:
        if keep_mask is None:  # the model's own prediction (GSAT: with its attention)
            logits = model(b).logits
        elif removal == "delete":
            logits = forward(x, ei[:, keep_mask], batch,
                             None if ea is None else ea[keep_mask])
        else:
            with edge_mask(model.backbone, keep_mask.to(x.dtype), ei):
                logits = forward(x, ei, batch, ea)
        return class_probabilities(logits.double(), task.value)

    def top(k: Tensor) -> Tensor:
        return rank < k[edge_graph]

    full = probs(None)
    predicted = full.argmax(-1)
    rows = torch.arange(num_graphs, device=full.device)
    k = top_counts(edges, keep, undirected, at_least_one=True)
    explanation = top(k)
    with_expl, without = probs(explanation), probs(~explanation)
    deletion, insertion = [], []
    for s in shares.tolist():
        k_s = top_counts(edges, s, undirected)
        mask = top(k_s)
        deletion.append(probs(~mask)[rows, predicted])
        insertion.append(probs(mask)[rows, predicted])
    return {"predicted": predicted, "prob_full": full[rows, predicted],
            "prob_explanation": with_expl[rows, predicted],
            "prob_complement": without[rows, predicted],
            "pred_explanation": with_expl.argmax(-1), "pred_complement": without.argmax(-1),
            "kl": _kl(full, with_expl), "deletion": torch.stack(deletion, 1),
            "insertion": torch.stack(insertion, 1), "edges": edges, "kept": k}
