r"""GraphMask (Schlichtkrull, De Cao and Titov, "Interpreting Graph Neural Networks for NLP
With Differentiable Edge Masking", ICLR 2021), amortised as in the paper.

For every message-passing layer :math:`k` a small gate network reads the source and target
inputs of the layer and the message, :math:`[h_j^{(k)}, h_i^{(k)}, m_{ji}^{(k)}]`, all taken
from the unmodified model, and gives one hard-concrete gate :math:`z_{ji}^{(k)}` per edge. The
gated model passes :math:`z\,m + (1 - z)\,b^{(k)}`, with a learned baseline message
:math:`b^{(k)}` per layer. The gates and baselines are trained on the training graphs to
minimise the expected number of open gates (the :math:`L_0` relaxation of Louizos et al.,
2018) subject to the gated model's predictive distribution staying within :math:`\beta` of the
original's, through a Lagrange multiplier :math:`\lambda \ge 0` that is maximised. An edge's
score is the probability that its gate is open (the :math:`L_0` term,
:func:`expected_open`), averaged over layers. The deterministic gate clips to exactly 0 or 1
over most of the logit range, so after training many edges share the same gate and a
ranking of them (ROC AUC) would be decided by ties; the open probability is a strictly
increasing function of the same logit, so it orders the edges whose gates agree.

The model's messages are used as they are. (PyG's :class:`GraphMaskExplainer` replaces every
message by its layer-normalised ReLU before gating, so it explains a different model, and it
trains a separate gate network for each explained graph, where the learned baseline alone can
reproduce a graph's output; neither is in the paper.)

Differences from the paper, all settings of :class:`GraphMaskEdgeExplainer`: the gates of all
layers are trained together (the paper enables them from the top layer down) and the
divergence is the KL divergence of the predictive distributions.

:func:`fit_graphmask` trains the gates and :func:`graphmask_scores` scores a graph with them;
:class:`GraphMaskEdgeExplainer` puts the two behind the explainer interface (registry name
:obj:`"graphmask"`).
"""
from __future__ import annotations

import math
from types import MethodType
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.nn import MessagePassing
from tqdm.auto import tqdm

from gsat.errors import ConfigError
from gsat.explain.base import (BackboneAdapter, EdgeExplainer, ExplainerEntry, edge_scores,
                               explained_copy, graphs_one_by_one, model_config_for,
                               settings_grid)

__all__ = ["GraphMaskEdgeExplainer", "GraphMaskModel", "fit_graphmask", "graphmask_scores",
           "hard_concrete", "expected_open", "ENTRY"]

# hard-concrete stretch and temperature (Louizos et al., 2018)
_GAMMA, _ZETA, _TEMP = -0.2, 1.0, 1.0 / 3.0


def hard_concrete(logits: Tensor, training: bool) -> Tensor:
    r"""A hard-concrete gate in :math:`[0, 1]`: sampled when :obj:`training`, otherwise the
    deterministic :math:`\mathrm{clip}(\sigma(\ell)(\zeta - \gamma) + \gamma, 0, 1)`."""
    if training:
        u = torch.rand_like(logits).clamp(1e-6, 1 - 1e-6)
        s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + logits) / _TEMP)
    else:
        s = torch.sigmoid(logits)
    return (s * (_ZETA - _GAMMA) + _GAMMA).clamp(0.0, 1.0)


def expected_open(logits: Tensor) -> Tensor:
    r"""Probability that a hard-concrete gate is non-zero (the :math:`L_0` penalty)."""
    return torch.sigmoid(logits - _TEMP * math.log(-_GAMMA / _ZETA))


class _Gate(nn.Module):
    """Gate network of one layer: one linear map per input, summed, ReLU, one logit."""

    def __init__(self, src_dim: int, dst_dim: int, msg_dim: int, hidden: int):
        super().__init__()
        self.src = nn.Linear(src_dim, hidden)
        self.dst = nn.Linear(dst_dim, hidden, bias=False)
        self.msg = nn.Linear(msg_dim, hidden, bias=False)
        self.out = nn.Linear(hidden, 1)
        nn.init.constant_(self.out.bias, 3.0)  # gates start open

    def forward(self, src: Tensor, dst: Tensor, msg: Tensor) -> Tensor:
        h = self.src(src) + self.dst(dst) + self.msg(msg)
        return self.out(F.relu(h)).squeeze(-1)


class _Recorder:
    """Replaces :obj:`explain_message` of every message-passing layer of a model. In
    ``record`` mode it stores each layer's inputs and messages and passes them on unchanged;
    in ``gate`` mode it passes :math:`z\\,m + (1 - z)\\,b` for the gates set in
    :attr:`gates`."""

    def __init__(self, model: nn.Module):
        self.layers: List[MessagePassing] = [m for m in model.modules()
                                             if isinstance(m, MessagePassing)]
        if not self.layers:
            raise ConfigError("GraphMask needs a model with message-passing layers")
        self.mode = "record"
        self.seen: List[Optional[tuple]] = [None] * len(self.layers)
        self.gates: List[Optional[Tensor]] = [None] * len(self.layers)
        self.baselines: Optional[nn.ParameterList] = None
        for k, conv in enumerate(self.layers):
            conv.explain = False  # PyG reads explain_message's arguments when switched on
            conv.explain_message = MethodType(self._hook(k), conv)
            conv.explain = True

    def _hook(self, k: int):
        rec = self

        # no annotations: PyG evaluates them in the namespace of the layer's module
        def explain_message(conv, inputs, x_i, x_j):
            if x_i.size(0) != inputs.size(conv.node_dim):
                raise ConfigError(f"GraphMask: {type(conv).__name__} passes messages on "
                                  "edges it adds itself (e.g. self-loops); it cannot gate them")
            if rec.mode == "record":
                rec.seen[k] = (x_j.detach(), x_i.detach(), inputs.detach())
                return inputs
            z = rec.gates[k].unsqueeze(-1)
            return z * inputs + (1 - z) * rec.baselines[k]
        return explain_message


def _divergence(orig: Tensor, gated: Tensor) -> Tensor:
    """Mean KL divergence from the original predictive distribution to the gated one."""
    if orig.size(-1) == 1:
        p, lq1, lq0 = torch.sigmoid(orig), F.logsigmoid(gated), F.logsigmoid(-gated)
        lp1, lp0 = F.logsigmoid(orig), F.logsigmoid(-orig)
        return (p * (lp1 - lq1) + (1 - p) * (lp0 - lq0)).sum(-1).mean()
    return F.kl_div(F.log_softmax(gated, -1), F.log_softmax(orig, -1), log_target=True,
                    reduction="batchmean")


class GraphMaskModel(nn.Module):
    """Gate networks and baselines for a recorded model (built on the first batch)."""

    def __init__(self, recorder: _Recorder, hidden: int):
        super().__init__()
        gates, baselines = [], []
        for seen in recorder.seen:
            if seen is None:
                raise ConfigError("GraphMask: a message-passing layer was not called")
            src, dst, msg = (t.reshape(t.size(0), -1) for t in seen)
            gates.append(_Gate(src.size(1), dst.size(1), msg.size(1), hidden))
            baselines.append(nn.Parameter(torch.zeros(seen[2].shape[1:])))
        self.gates = nn.ModuleList(gates)
        self.baselines = nn.ParameterList(baselines)

    def logits(self, recorder: _Recorder) -> List[Tensor]:
        out = []
        for gate, (src, dst, msg) in zip(self.gates, recorder.seen):
            out.append(gate(src.reshape(src.size(0), -1), dst.reshape(dst.size(0), -1),
                            msg.reshape(msg.size(0), -1)))
        return out


def fit_graphmask(adapter: nn.Module, graphs: Sequence[Data], *, epochs: int, lr: float,
                  batch_size: int, hidden: int, allowance: float, device,
                  progress: bool) -> tuple:
    r"""Train GraphMask's gates on :obj:`graphs` for the model behind :obj:`adapter` (called
    as :obj:`adapter(x, edge_index, batch=..., edge_attr=...)`). Returns
    :obj:`(recorder, gate_model)` for :func:`graphmask_scores`."""
    rec = _Recorder(adapter)
    loader = DataLoader(list(graphs), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    gm: Optional[GraphMaskModel] = None
    lam = torch.zeros((), device=device, requires_grad=True)  # softplus(0) = 0.69
    opt = opt_lam = None
    for _ in tqdm(range(epochs), desc="fit graphmask", disable=not progress, leave=False,
                  dynamic_ncols=True):
        for b in loader:
            b = b.to(device)
            if b.edge_index.size(1) == 0:
                continue
            kw = {"batch": b.batch}
            if getattr(b, "edge_attr", None) is not None:
                kw["edge_attr"] = b.edge_attr
            rec.mode = "record"
            with torch.no_grad():
                orig = adapter(b.x, b.edge_index, **kw)
            if gm is None:
                gm = GraphMaskModel(rec, hidden).to(device)
                rec.baselines = gm.baselines
                opt = torch.optim.Adam(gm.parameters(), lr=lr)
                opt_lam = torch.optim.Adam([lam], lr=lr)
            logits = gm.logits(rec)
            rec.gates = [hard_concrete(lg, training=True) for lg in logits]
            rec.mode = "gate"
            gated = adapter(b.x, b.edge_index, **kw)
            penalty = torch.cat([expected_open(lg) for lg in logits]).mean()
            constraint = _divergence(orig, gated) - allowance
            loss = penalty + F.softplus(lam) * constraint
            opt.zero_grad()
            opt_lam.zero_grad()
            loss.backward()
            opt.step()
            lam.grad.neg_()  # the multiplier ascends
            opt_lam.step()
    if gm is None:
        raise ConfigError("GraphMask: no training graph has an edge")
    rec.mode = "record"
    return rec, gm


@torch.no_grad()
def graphmask_scores(adapter: nn.Module, rec: _Recorder, gm: GraphMaskModel,
                     data: Data) -> Tensor:
    """Open probabilities of the gates of one graph, averaged over layers, shape :obj:`[E]`,
    in float64: trained gates saturate (one layer's logits above 25, another's below -25 on
    Spurious-Motif), and the float32 mean of 1.0 and 1e-11 is exactly 0.5 for every edge,
    which ties them all; float64 keeps their order."""
    rec.mode = "record"
    kw = {"batch": torch.zeros(data.num_nodes, dtype=torch.long, device=data.x.device)}
    if getattr(data, "edge_attr", None) is not None:
        kw["edge_attr"] = data.edge_attr
    adapter(data.x, data.edge_index, **kw)
    return torch.stack([expected_open(lg.double()) for lg in gm.logits(rec)]).mean(0)


# --------------------------------------------------------------------------- explainer


class GraphMaskEdgeExplainer(EdgeExplainer):
    r"""GraphMask, amortised as in the paper (:func:`fit_graphmask`): per-layer gate
    networks and baseline messages trained on the training graphs (:meth:`fit`), then applied
    to each test graph in one forward pass.

    Args:
        epochs (int, optional): training epochs over the training graphs. (default: :obj:`30`)
        lr (float, optional): learning rate of the gates and of the multiplier.
            (default: :obj:`0.01`)
        batch_size (int, optional): training graphs per step. (default: :obj:`32`)
        hidden (int, optional): width of each gate network. (default: :obj:`32`)
        allowance (float, optional): :math:`\beta`, the KL divergence from the model's
            predictive distribution the gated model may reach. (default: :obj:`0.03`)
    """

    needs_fit = True
    score_version = 3  # 3: layer means in float64, kept float64 up to the scoring

    def __init__(self, epochs: int = 30, lr: float = 0.01, batch_size: int = 32,
                 hidden: int = 32, allowance: float = 0.03):
        if epochs < 1 or batch_size < 1 or hidden < 1 or lr <= 0 or allowance < 0:
            raise ConfigError("graphmask: epochs, batch_size and hidden must be >= 1, lr > 0 "
                              "and allowance >= 0")
        super().__init__(epochs=epochs, lr=lr, batch_size=batch_size, hidden=hidden,
                         allowance=allowance)
        self._fitted: Optional[tuple] = None
        self._model: Optional[nn.Module] = None

    def fit(self, model: nn.Module, graphs: Sequence[Data], task: str,
            device: torch.device | str = "cpu", progress: bool = False) -> None:
        r"""Train the gates on :obj:`graphs` to keep the model's own predictions."""
        model_config_for(task)  # refuses multilabel
        adapter = BackboneAdapter(explained_copy(model)).to(device)
        rec, gm = fit_graphmask(adapter, graphs, device=device, progress=progress,
                                **self.settings)
        self._fitted, self._model = (adapter, rec, gm), model

    def _check_fitted(self, model: nn.Module) -> tuple:
        if self._fitted is None or self._model is not model:
            raise RuntimeError("GraphMask must be fitted on the training graphs of this model "
                               "first: call fit(model, train_graphs, task)")
        return self._fitted

    def explain(self, model: nn.Module, graphs: Sequence[Data], task: str,
                device: torch.device | str = "cpu", progress: bool = False) -> List[Tensor]:
        adapter, rec, gm = self._check_fitted(model)
        return graphs_one_by_one(graphs, lambda g: graphmask_scores(adapter, rec, gm, g),
                                 f"explain {self.name}", device, progress, self.symmetrize,
                                 model)

    def explain_graph(self, model: nn.Module, data: Data, task: str) -> Tensor:
        adapter, rec, gm = self._check_fitted(model)
        return edge_scores(lambda g: graphmask_scores(adapter, rec, gm, g), data,
                           self.symmetrize)


ENTRY = ExplainerEntry(
    name="graphmask", factory=GraphMaskEdgeExplainer,
    help="GraphMask: per-layer edge gates trained on the training graphs "
         "(Schlichtkrull et al., 2021)",
    tuning_grid=settings_grid(epochs=[30, 100], lr=[0.01, 0.003], allowance=[0.03, 0.3]),
    optimised=True)
