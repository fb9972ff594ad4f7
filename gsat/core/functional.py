r"""Small named formulas of GSAT (`Miao et al., ICML 2022 <https://arxiv.org/abs/2201.12987>`_).

Every function here is one formula, written once and unit-tested; the model, the trainer and
the explainers call these instead of repeating the math.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gsat.core.schedule import R_KEYS, check_r, check_r_schedule, final_prior, r_schedule
from gsat.core.task import Task

__all__ = ["concrete_sample", "bernoulli_kl", "lift_node_att", "symmetrize_edge_att",
           "rank_in_groups", "REGRESSION_LOSSES", "prediction_loss",
           # the r schedule (gsat.core.schedule), beside the KL term that uses it
           "r_schedule", "R_KEYS", "check_r", "check_r_schedule", "final_prior"]


def concrete_sample(logits: Tensor, temperature: float = 1.0, training: bool = True) -> Tensor:
    r"""Relaxed Bernoulli ("concrete" / Gumbel-sigmoid) sample of an attention logit.

    .. math::
        \alpha = \sigma\!\left(\frac{\ell + \log u - \log(1-u)}{t}\right),
        \quad u \sim \mathcal{U}(0, 1)

    during training, and :math:`\alpha = \sigma(\ell)` (no noise, no temperature) otherwise.

    Args:
        logits (torch.Tensor): attention logits :math:`\ell` of any shape.
        temperature (float, optional): temperature :math:`t > 0`. (default: :obj:`1.0`)
        training (bool, optional): sample with logistic noise if :obj:`True`.
            (default: :obj:`True`)

    Returns:
        torch.Tensor: attention in :math:`(0, 1)` with the shape of :obj:`logits`.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not training:
        return logits.sigmoid()
    u = torch.rand_like(logits).clamp(1e-10, 1 - 1e-10)
    return ((logits + u.log() - (1 - u).log()) / temperature).sigmoid()


def bernoulli_kl(att: Tensor, r: float, eps: float = 1e-6) -> Tensor:
    r"""Elementwise KL divergence :math:`\mathrm{KL}(\mathrm{Bern}(\alpha)\,\|\,\mathrm{Bern}(r))`.

    .. math::
        \alpha \log\frac{\alpha}{r} + (1-\alpha)\log\frac{1-\alpha}{1-r}

    This is GSAT's information-bottleneck regulariser; it is zero where :math:`\alpha = r`.

    Args:
        att (torch.Tensor): attention :math:`\alpha \in [0, 1]`, any shape.
        r (float): prior keep probability :math:`r \in (0, 1)`.
        eps (float, optional): added inside the logarithms for stability. (default: :obj:`1e-6`)

    Returns:
        torch.Tensor: the KL divergence per element, shape of :obj:`att`.
    """
    check_r(r)
    return att * torch.log(att / r + eps) + (1 - att) * torch.log((1 - att) / (1 - r) + eps)


def lift_node_att(node_att: Tensor, edge_index: Tensor) -> Tensor:
    r"""Lift node attention to edges: :math:`\alpha_{uv} = \alpha_u \cdot \alpha_v`.

    Args:
        node_att (torch.Tensor): node attention, shape :obj:`[N]` or :obj:`[N, 1]`.
        edge_index (torch.Tensor): edges, shape :obj:`[2, E]`.

    Returns:
        torch.Tensor: edge attention, shape :obj:`[E]` (or :obj:`[E, 1]`).
    """
    return node_att.index_select(0, edge_index[0]) * node_att.index_select(0, edge_index[1])


def symmetrize_edge_att(edge_att: Tensor, edge_index: Tensor,
                        num_nodes: Optional[int] = None) -> Tensor:
    r"""Give both directions of an undirected edge the same attention, their mean.

    .. math::
        \tilde\alpha_{uv} = \tilde\alpha_{vu} =
        \operatorname{mean}\{\alpha_{e} : e \in \{(u,v), (v,u)\}\}

    Edges are grouped by their unordered node pair, so the result is correct for **any** edge
    order (no sorting assumed); an edge without its reverse keeps its own value, and duplicate
    edges share the mean of their group. Fully vectorised.

    Args:
        edge_att (torch.Tensor): attention per edge, shape :obj:`[E]` or :obj:`[E, 1]`.
        edge_index (torch.Tensor): edges, shape :obj:`[2, E]`, any integer dtype (the pair key
            is computed in :obj:`torch.long`).
        num_nodes (int, optional): number of nodes. (default: :obj:`edge_index.max() + 1`)
    """
    if edge_index.numel() == 0:
        return edge_att
    if num_nodes is None:
        num_nodes = int(edge_index.max()) + 1
    # int64 key: lo * num_nodes + hi overflows int32 beyond about 46,000 nodes
    lo = torch.minimum(edge_index[0], edge_index[1]).long()
    hi = torch.maximum(edge_index[0], edge_index[1]).long()
    _, group = torch.unique(lo * num_nodes + hi, return_inverse=True)
    flat = edge_att.reshape(edge_att.size(0), -1)
    sums = flat.new_zeros(int(group.max()) + 1, flat.size(1)).index_add_(0, group, flat)
    counts = torch.bincount(group).to(flat.dtype).unsqueeze(-1)
    return (sums / counts).index_select(0, group).reshape(edge_att.shape)


#: the losses of a regression task (:func:`prediction_loss`)
def rank_in_groups(order: Tensor, group: Tensor, num_groups: Optional[int] = None) -> Tensor:
    r"""The position of every element within its group, given :obj:`order`, a permutation
    that sorts the elements by group (ascending) and, within a group, best first: 0 for the
    first element of each group. The one computation behind GMT's top share of each graph's
    edges (:func:`gsat.core.gmt.top_share_mask`) and fidelity's edge ranks
    (:func:`gsat.explain.fidelity.edge_ranks`).

    Args:
        order (torch.Tensor): the sorting permutation, shape :obj:`[E]`.
        group (torch.Tensor): the group of each element, non-negative integers, shape
            :obj:`[E]`.
        num_groups (int, optional): the number of groups. (default: :obj:`max + 1`)

    Returns:
        torch.Tensor: the rank of each element in its group, :obj:`torch.long`, shape
        :obj:`[E]`.
    """
    group = group.long()
    counts = torch.bincount(group, minlength=num_groups or 0)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty(order.numel(), dtype=torch.long, device=order.device)
    rank[order] = torch.arange(order.numel(), device=order.device) - starts[group[order]]
    return rank


REGRESSION_LOSSES = ("mse", "mae")


def prediction_loss(logits: Tensor, y: Tensor, task: str,
                    regression_loss: str = "mse") -> Tensor:
    r"""Prediction loss of a graph model.

    - :obj:`"binary"`: binary cross-entropy on one logit per graph.
    - :obj:`"multiclass"`: cross-entropy on :math:`C` logits.
    - :obj:`"multilabel"`: binary cross-entropy per task, averaged over the labels that are
      present (NaN labels are ignored).
    - :obj:`"regression"`: the mean squared error :math:`\frac{1}{n}\sum (\hat y - y)^2`
      (:obj:`regression_loss="mse"`) or the mean absolute error
      :math:`\frac{1}{n}\sum |\hat y - y|` (:obj:`"mae"`) over the values that are present
      (NaN targets are ignored).

    Args:
        logits (torch.Tensor): shape :obj:`[B, 1]` (binary) or :obj:`[B, C]`; for regression
            the predicted values :obj:`[B, T]`.
        y (torch.Tensor): labels, shape :obj:`[B]` / :obj:`[B, 1]` or :obj:`[B, C]`
            (multilabel, regression).
        task (str or Task): :obj:`"binary"`, :obj:`"multiclass"`, :obj:`"multilabel"` or
            :obj:`"regression"`.
        regression_loss (str, optional): :obj:`"mse"` or :obj:`"mae"`, regression only.
            (default: :obj:`"mse"`)
    """
    task = Task.parse(task)
    if task == Task.REGRESSION:
        if regression_loss not in REGRESSION_LOSSES:
            raise ValueError(f"regression_loss must be 'mse' or 'mae', got {regression_loss!r}")
        target = y.reshape(logits.shape).to(logits.dtype)
        present = ~torch.isnan(target)
        if not bool(present.any()):
            return logits.sum() * 0.0
        diff = logits[present] - target[present]
        return diff.pow(2).mean() if regression_loss == "mse" else diff.abs().mean()
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    if task == Task.BINARY and logits.dim() == 2 and logits.size(1) != 1:
        raise ValueError(f"task='binary' needs one logit per graph, the model gives "
                         f"{logits.size(1)}; for {logits.size(1)} classes use "
                         "task='multiclass', for several yes/no labels task='multilabel'")
    if task == Task.BINARY:
        return bce(logits.view(-1), y.view(-1).to(logits.dtype))
    if task == Task.MULTICLASS:
        return torch.nn.functional.cross_entropy(logits, y.view(-1).long())
    y = y.view(logits.shape).to(logits.dtype)
    present = ~torch.isnan(y)
    if not bool(present.any()):
        return logits.sum() * 0.0
    return bce(logits[present], y[present])
