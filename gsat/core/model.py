r"""GSAT: Graph Stochastic Attention (`Miao, Liu & Li, ICML 2022
<https://arxiv.org/abs/2201.12987>`_), and the attention-free ERM counterpart."""
from __future__ import annotations

import contextlib
from typing import Dict, Iterable, Iterator, Literal, NamedTuple, Optional, Tuple

import torch
from torch import Tensor, nn
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import is_undirected

from gsat.core import functional as F
from gsat.core.passes import (PassStatistics, batch_norms, cumulative_statistics,
                              recomputed)
from gsat.errors import GraphInputError
from gsat.nn.extractor import Extractor
from gsat.nn.utils import batch_vector
from gsat.core.task import Task
from gsat.core.validation import check_finite_output, check_graph, model_inputs


#: the batch-norm statistics choices of :class:`GSAT` (:obj:`bn_stats`)
BN_STATS = ("shared", "separate", "recomputed")
BNStats = Literal["shared", "separate", "recomputed"]
#: what the information-bottleneck KL is computed on (:class:`GSAT`'s :obj:`info_loss_on`)
INFO_LOSS_ON = ("sample", "probability")


class GSATOutput(NamedTuple):
    """What :meth:`GSAT.forward` returns."""

    logits: Tensor
    """Graph logits, shape ``[B, out]``."""
    edge_att: Optional[Tensor]
    """Attention that gated each edge's messages, shape ``[E]`` (``None`` for ERM)."""
    att_logits: Optional[Tensor]
    """Raw extractor logits, ``[E, 1]`` (edge level) or ``[N, 1]`` (node level)."""
    att: Optional[Tensor]
    """The sampled attention the KL term is computed on (edge or node level)."""


def open_unit(att: Tensor) -> Tensor:
    r"""Keep attention strictly inside :math:`(0, 1)` in floating point.

    A sigmoid saturates to exactly :math:`1` in float32 for logits above about 17 (and to
    :math:`0` far below), and the product of two small node attentions can underflow to
    :math:`0`. Values are clamped to :math:`[\text{tiny}, 1 - \epsilon/2]` of their dtype
    (the smallest normal number and the largest number below one); values inside that range,
    and the gradients there, are unchanged.
    """
    info = torch.finfo(att.dtype)
    return att.clamp(info.tiny, 1.0 - info.eps / 2)


@contextlib.contextmanager
def edge_mask(module: nn.Module, mask: Tensor, edge_index: Tensor) -> Iterator[None]:
    r"""Within the block, every :class:`~torch_geometric.nn.conv.MessagePassing` layer of
    :obj:`module` multiplies the message of edge :math:`e` by :obj:`mask[e]` (PyG's own
    explain hook); masks are cleared on exit, also when an exception is raised."""
    set_masks(module, mask, edge_index, apply_sigmoid=False)
    try:
        yield
    finally:
        clear_masks(module)


def _check_backbone(backbone: nn.Module, gated: bool = True) -> None:
    """The backbone contract of :class:`GSAT` and :class:`ERM`, with errors that say what to
    change."""
    for name in ("get_emb", "get_pred_from_emb"):
        if not callable(getattr(backbone, name, None)):
            raise TypeError(f"backbone {type(backbone).__name__} has no method {name}(); wrap "
                            "a PyG model with gsat.nn.GraphClassifier(gnn, head)")
    if gated and not any(isinstance(m, MessagePassing) for m in backbone.modules()):
        raise TypeError(f"backbone {type(backbone).__name__} has no PyG MessagePassing layer: "
                        "GSAT's attention gates the messages of such layers (GCNConv, GINConv, "
                        "...), so with none it would gate nothing")


class _Classifier(nn.Module):
    """Shared prediction-loss and input handling of :class:`GSAT` and :class:`ERM`."""

    backbone: nn.Module
    task: Task

    def _embed(self, x: Tensor, edge_index: Tensor, batch: Tensor,
               edge_attr: Optional[Tensor]) -> Tensor:
        """Node embeddings of the backbone, checked against its declared width."""
        emb = self.backbone.get_emb(x, edge_index, batch, edge_attr)
        width = getattr(self.backbone, "hidden_channels", None)
        if isinstance(width, int) and (emb.dim() != 2 or emb.size(-1) != width):
            raise ValueError(f"{type(self.backbone).__name__}.get_emb returned embeddings of "
                             f"shape {list(emb.shape)}, but its hidden_channels is {width}: "
                             f"set hidden_channels to the width get_emb returns "
                             f"({emb.size(-1)})")
        return emb

    def _expects(self) -> Dict[str, object]:
        """What the backbone expects of a graph (the arguments of
        :func:`gsat.core.validation.check_graph`)."""
        bb = self.backbone
        enc = getattr(bb, "edge_encoder", None)
        return dict(in_channels=getattr(bb, "in_channels", None),
                    edge_dim=enc.in_features if isinstance(enc, nn.Linear) else None,
                    needs_edge_attr=bool(getattr(bb, "use_edge_attr", False)))

    def check_input(self, data) -> None:
        r"""Raise :class:`gsat.errors.GraphInputError` if :obj:`data` is not a graph (batch)
        this model can take (:func:`gsat.core.validation.check_graph` with the backbone's
        feature widths); the message says what was expected and what arrived.

        :meth:`forward` calls this in evaluation mode and :meth:`GSAT.explain` always; a
        training step does not (its graphs come from a checked dataset, and :func:`gsat.fit`
        checks the batches of its first epoch), so a training loop of one's own over
        unchecked graphs should call it once per graph or batch."""
        check_graph(data, **self._expects())
        param = next(self.parameters(), None)
        if param is not None and data.x.device != param.device:
            raise GraphInputError(f"the graph is on {data.x.device} but the model on "
                                  f"{param.device}; move one of them with .to(device)")

    def _inputs(self, data, check: bool) -> Tuple[Tensor, Tensor, Tensor, Optional[Tensor]]:
        """:obj:`(x, edge_index, batch, edge_attr)` of :obj:`data` converted to the model's
        dtypes (:func:`gsat.core.validation.model_inputs`), after :meth:`check_input` when
        :obj:`check` is true."""
        if check:
            self.check_input(data)
        bb = self.backbone
        dtype = next((p.dtype for p in self.parameters() if p.is_floating_point()), None)
        inputs = model_inputs(data, dtype, **self._expects(), check=False)
        if self.training and data.x.size(0) == 1 and any(
                isinstance(m, nn.modules.batchnorm._BatchNorm) for m in bb.modules()):
            raise GraphInputError("a training batch needs more than one node in total (the "
                                  "backbone uses batch norm), got a batch with 1 node; "
                                  "batch it with other graphs or call model.eval()")
        return inputs

    def prediction_loss(self, logits: Tensor, y: Tensor) -> Tensor:
        return F.prediction_loss(logits, y, self.task,
                                 getattr(self, "regression_loss", "mse"))


class GSAT(_Classifier):
    r"""Graph Stochastic Attention around a GNN backbone, from `"Interpretable and
    Generalizable Graph Learning via Stochastic Attention Mechanism"
    <https://arxiv.org/abs/2201.12987>`_ (Miao, Liu & Li, ICML 2022).

    The backbone first embeds the nodes; the :class:`~gsat.nn.Extractor` turns the embeddings
    into attention logits :math:`\ell`. During training the attention is a relaxed Bernoulli
    sample (:func:`gsat.core.functional.concrete_sample`), at evaluation :math:`\sigma(\ell)`. The
    attention multiplies every edge's message in every message-passing layer of a second pass
    of the backbone, which makes the prediction. The loss adds the information bottleneck

    .. math::
        \mathcal{L} = \mathcal{L}_{\text{pred}} + \beta \cdot \frac{1}{|A|}\sum_{a \in A}
        \mathrm{KL}\big(\mathrm{Bern}(\alpha_a)\,\|\,\mathrm{Bern}(r)\big)

    with :math:`r` from :func:`gsat.core.functional.r_schedule`.

    Args:
        backbone (torch.nn.Module): provides :obj:`get_emb(x, edge_index, batch, edge_attr)`
            returning node embeddings :math:`(N, h)` computed by PyG
            :class:`~torch_geometric.nn.conv.MessagePassing` layers (they are gated by the
            attention through PyG's edge-mask hook; no change to them is needed),
            :obj:`get_pred_from_emb(emb, batch)` returning graph logits :math:`(B, out)`, and
            the int :obj:`hidden_channels` :math:`= h`; optionally :obj:`in_channels`, checked
            against :obj:`x`. E.g. :class:`~gsat.nn.GIN`, :class:`~gsat.nn.PNA`, or any PyG
            model split by :class:`~gsat.nn.GraphClassifier`; the README shows a backbone
            written by hand.
        extractor (gsat.nn.Extractor, optional): built from the backbone's width if omitted.
        task (str or gsat.core.task.Task, optional): :obj:`"binary"`, :obj:`"multiclass"` or
            :obj:`"multilabel"`; stored as a :class:`~gsat.core.task.Task`.
            (default: :obj:`"binary"`)
        learn_edge_att (bool, optional): edge-level attention; node-level attention is lifted
            to edges otherwise. Used only when :obj:`extractor` is omitted. (default: :obj:`True`)
        info_loss_coef (float, optional): :math:`\beta`. (default: :obj:`1.0`)
        pred_loss_coef (float, optional): weight of the prediction loss. (default: :obj:`1.0`)
        temperature (float, optional): concrete temperature. (default: :obj:`1.0`)
        init_r, final_r, decay_r, decay_interval, fixed_r: the :math:`r` schedule
            (defaults :obj:`0.9, 0.5, 0.1, 10, None`).
        symmetrize (bool, optional): average attention of :math:`(u,v)` and :math:`(v,u)`;
            :obj:`None` does so exactly when the batch is undirected. (default: :obj:`None`)
        extractor_dropout (float, optional): dropout in an extractor built here.
            (default: :obj:`0.5`)
        bn_stats (str, optional): the batch-norm running statistics the backbone's two
            passes are evaluated with. :obj:`"shared"`: one set, updated by both passes in
            training, as the paper's code does; at evaluation the ungated pass is then
            normalised with a mixture of both passes' statistics, which changes the
            attention from the one the classifier was trained with (on BA-2Motifs the
            validation accuracy of late epochs falls to chance while the attention scores
            well against the ground truth). :obj:`"separate"`: one set per pass
            (:class:`~gsat.core.passes.PassStatistics`), each an exponential average of
            its training-mode batches. :obj:`"recomputed"`: one set per pass, both
            re-estimated by :meth:`recompute_bn_stats` after every training epoch (the
            :class:`~gsat.training.engine.Engine` calls it), without dropout, the gated
            pass with the evaluation-time attention. Measurements:
            ``benchmarks/results/stable_eval.md``. (default: :obj:`"shared"`)
        separate_bn_stats (bool, optional): deprecated spelling of
            :obj:`bn_stats="separate"`. (default: :obj:`False`)
        info_loss_on (str, optional): the attention :math:`\alpha` of the KL term in training:
            :obj:`"sample"`, the concrete sample the gated pass uses, as in GSAT's paper and
            code; :obj:`"probability"`, :math:`\sigma(\ell)` without noise, as GMT's released
            code computes it for every estimator (LFhase/GMT, ``GSAT/run_gmt.py``, the KL of
            ``att_log_logits.sigmoid()``). (default: :obj:`"sample"`)
        recompute_embed (bool, optional): in training, do not keep the activations of the
            ungated backbone pass for the backward pass but run that pass again when the
            backward pass reaches it (:func:`torch.utils.checkpoint.checkpoint`, with the same
            random numbers and without a second update of batch-norm statistics), which
            costs one more ungated forward pass and lowers the peak memory of a step on a
            large graph. The results are the same. :obj:`None` does so for inputs of at
            least :obj:`RECOMPUTE_MIN_ELEMENTS` edge-times-width elements (262,144 edges at
            width 64). (default: :obj:`None`)
    """

    #: edges x hidden width from which ``recompute_embed=None`` recomputes the ungated pass
    RECOMPUTE_MIN_ELEMENTS = 1 << 24

    def __init__(self, backbone: nn.Module, extractor: Optional[nn.Module] = None,
                 task: str = "binary", learn_edge_att: bool = True,
                 info_loss_coef: float = 1.0, pred_loss_coef: float = 1.0,
                 temperature: float = 1.0, init_r: float = 0.9, final_r: float = 0.5,
                 decay_r: float = 0.1, decay_interval: int = 10,
                 fixed_r: Optional[float] = None, symmetrize: Optional[bool] = None,
                 extractor_dropout: float = 0.5, separate_bn_stats: bool = False,
                 recompute_embed: Optional[bool] = None, bn_stats: BNStats = "shared",
                 info_loss_on: str = "sample"):
        super().__init__()
        _check_backbone(backbone)
        task = Task.parse(task)
        r_kwargs = dict(init_r=init_r, final_r=final_r, decay_r=decay_r,
                        decay_interval=decay_interval, fixed_r=fixed_r)
        F.check_r_schedule(r_kwargs)
        self.backbone = backbone
        if extractor is None:
            extractor = Extractor(backbone.hidden_channels, learn_edge_att, extractor_dropout)
        self.extractor = extractor
        self.learn_edge_att = getattr(extractor, "learn_edge_att", learn_edge_att)
        self.task = task
        self.info_loss_coef, self.pred_loss_coef = info_loss_coef, pred_loss_coef
        self.temperature = temperature
        self.r_kwargs = r_kwargs
        self.symmetrize = symmetrize
        if separate_bn_stats and bn_stats == "shared":
            bn_stats = "separate"
        if bn_stats not in BN_STATS:
            raise ValueError(f"unknown bn_stats {bn_stats!r}; choose one of: "
                             f"{', '.join(BN_STATS)}")
        self.bn_stats = bn_stats
        if info_loss_on not in INFO_LOSS_ON:
            raise ValueError(f"unknown info_loss_on {info_loss_on!r}; choose one of: "
                             f"{', '.join(INFO_LOSS_ON)}")
        self.info_loss_on = info_loss_on
        self.gated_stats = PassStatistics(backbone) if bn_stats != "shared" else None
        self.recompute_embed = recompute_embed
        #: another estimator (GMT-lin, GMT-sam: :func:`gsat.core.gmt.use_estimator`) that
        #: :meth:`forward`, :meth:`loss` and :meth:`start_epoch` hand over to; None: GSAT's
        self.estimator: Optional[nn.Module] = None

    def start_epoch(self, epoch: int) -> None:
        """Called by the training loop before the training pass of a 0-based :obj:`epoch`
        (the estimator of :func:`gsat.core.gmt.use_estimator` enters its second stage
        there); GSAT's own estimator does nothing."""
        if self.estimator is not None:
            self.estimator.start_epoch(self, epoch)

    @torch.no_grad()
    def recompute_bn_stats(self, loader: Iterable, device: Optional[torch.device] = None
                           ) -> None:
        r"""Re-estimate the batch-norm running statistics of both backbone passes from the
        graphs of :obj:`loader` (e.g. the training loader, after an epoch), the model
        otherwise in evaluation mode (no dropout, attention :math:`\sigma(\ell)`):
        first those of the ungated pass, then, with the attention those give, those of the
        gated pass (:func:`~gsat.core.passes.cumulative_statistics`: averages over the
        batches). Needs one set of statistics per pass (:obj:`bn_stats` other than
        :obj:`"shared"`). Batches of a single node are skipped (batch norm cannot
        normalise them); the train/eval mode of every submodule is left as it was."""
        if self.gated_stats is None:
            raise RuntimeError("recompute_bn_stats needs one set of batch-norm statistics per "
                               "pass; build GSAT with bn_stats='recomputed' or 'separate'")
        norms = batch_norms(self.backbone)
        if not norms:
            return
        modes = [(m, m.training) for m in self.modules()]
        self.eval()

        def batches() -> Iterator[Tuple[Tensor, Tensor, Tensor, Optional[Tensor]]]:
            for data in loader:
                if device is not None:
                    data = data.to(device)
                if data.x.size(0) > 1:
                    yield self._inputs(data, check=False)
        try:
            with cumulative_statistics(norms):
                for x, edge_index, batch, edge_attr in batches():
                    self.backbone.get_emb(x, edge_index, batch, edge_attr)
            with self._gated():
                for m in norms:
                    m.reset_running_stats()
            for x, edge_index, batch, edge_attr in batches():
                _, _, edge_att = self._attention(x, edge_index, batch, edge_attr)
                with edge_mask(self.backbone, edge_att, edge_index), self._gated(), \
                        cumulative_statistics(norms, reset=False):
                    self.backbone.get_emb(x, edge_index, batch, edge_attr)
        finally:
            for m, training in modes:
                m.training = training

    def _gated(self) -> contextlib.AbstractContextManager:
        return self.gated_stats.swapped() if self.gated_stats is not None else \
            contextlib.nullcontext()

    def gated_forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                      edge_attr: Optional[Tensor] = None) -> Tensor:
        r"""Graph logits of the backbone's gated pass (with the batch-norm statistics of that
        pass), gated by whatever edge mask is set on its message-passing layers (e.g. by
        :func:`edge_mask` or by :mod:`torch_geometric.explain`); without a mask, the ungated
        backbone. :meth:`forward` runs this pass with GSAT's own attention as the mask.

        Args:
            x (torch.Tensor): node features, shape :obj:`[N, F]`.
            edge_index (torch.Tensor): edges, shape :obj:`[2, E]`.
            batch (torch.Tensor, optional): graph of each node, shape :obj:`[N]`.
                (default: one graph)
            edge_attr (torch.Tensor, optional): edge features. (default: :obj:`None`)
        """
        batch = batch_vector(batch, x.size(0), edge_index)
        with self._gated():
            emb = self.backbone.get_emb(x, edge_index, batch, edge_attr)
        return self.backbone.get_pred_from_emb(emb, batch)

    def get_r(self, epoch: int) -> float:
        """The prior keep probability :math:`r` at a 0-based :obj:`epoch`."""
        return F.r_schedule(epoch, **self.r_kwargs)

    def _edge_att(self, att: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
        if not self.learn_edge_att:
            return open_unit(F.lift_node_att(att, edge_index).view(-1))
        edge_att = att.view(-1)
        sym = self.symmetrize
        if sym is None:
            sym = edge_index.numel() > 0 and is_undirected(edge_index, num_nodes=num_nodes)
        return F.symmetrize_edge_att(edge_att, edge_index, num_nodes) if sym else edge_att

    def _attention(self, x: Tensor, edge_index: Tensor, batch: Tensor,
                   edge_attr: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """Extractor logits, the (sampled in training) attention and its edge-level form."""
        if self._recompute(edge_index):
            emb = recomputed(self._embed, self.backbone, x, edge_index, batch, edge_attr)
        else:
            emb = self._embed(x, edge_index, batch, edge_attr)
        if self.learn_edge_att and edge_index.size(1) == 0:  # no edges: nothing to attend to
            att_logits = emb.new_zeros((0, 1))
        else:
            att_logits = self.extractor(emb, edge_index, batch)
        att = open_unit(F.concrete_sample(att_logits, self.temperature, self.training))
        return att_logits, att, self._edge_att(att, edge_index, x.size(0))

    def _recompute(self, edge_index: Tensor) -> bool:
        if not (self.training and torch.is_grad_enabled()):
            return False
        if self.recompute_embed is not None:
            return bool(self.recompute_embed)
        width = getattr(self.backbone, "hidden_channels", None) or 1
        return edge_index.size(1) * width >= self.RECOMPUTE_MIN_ELEMENTS

    def forward(self, data) -> GSATOutput:
        r"""Predict with attention-gated messages.

        In evaluation mode :obj:`data` is checked first (:meth:`check_input`); in training
        mode it is only converted to the model's dtypes, as its graphs were checked where
        they entered (see :meth:`check_input`).

        Args:
            data (torch_geometric.data.Data or Batch): needs :obj:`x`, :obj:`edge_index`;
                :obj:`batch` and :obj:`edge_attr` are used when present.

        Returns:
            GSATOutput: :obj:`(logits, edge_att, att_logits, att)`.

        Raises:
            gsat.errors.GraphInputError: a malformed graph (evaluation mode), features that
                do not fit the model's dtype, or logits that overflow on finite input.
        """
        if self.estimator is not None:
            return self.estimator(self, data)
        return self._gsat_forward(data)

    def _gsat_forward(self, data) -> GSATOutput:
        """GSAT's own estimator: every message of the backbone weighted by the attention."""
        x, edge_index, batch, edge_attr = self._inputs(data, check=not self.training)
        att_logits, att, edge_att = self._attention(x, edge_index, batch, edge_attr)
        with edge_mask(self.backbone, edge_att, edge_index), self._gated():
            emb = self.backbone.get_emb(x, edge_index, batch, edge_attr)
        logits = self.backbone.get_pred_from_emb(emb, batch)
        check_finite_output(self, x, att_logits, logits)
        return GSATOutput(logits, edge_att, att_logits, att)

    def loss(self, out: GSATOutput, y: Tensor, epoch: int) -> Tuple[Tensor, Dict[str, float]]:
        r"""Prediction loss plus the information-bottleneck KL at :obj:`epoch`.

        Returns:
            (torch.Tensor, dict): the total loss and its parts (:obj:`pred`, :obj:`info`,
            :obj:`loss`, :obj:`r`) as floats.
        """
        if self.estimator is not None:
            own = self.estimator.loss(self, out, y, epoch)
            if own is not None:
                return own
        r = self.get_r(epoch)
        pred = self.prediction_loss(out.logits, y)
        att = out.att
        if self.info_loss_on == "probability":
            att = open_unit(torch.sigmoid(out.att_logits))
        info = F.bernoulli_kl(att, r).mean() if att.numel() else pred.new_zeros(())
        coef = self.info_loss_coef
        if self.estimator is not None:  # GMT-sam's warm-up weighs it more
            coef = coef * self.estimator.info_factor(epoch)
        loss = self.pred_loss_coef * pred + coef * info
        return loss, {"loss": loss.item(), "pred": pred.item(), "info": info.item(), "r": r}

    @torch.no_grad()
    def explain(self, data) -> Tensor:
        r"""Evaluation-time edge attention :math:`\sigma(\ell)` (no sampling) for every edge of
        :obj:`data`, shape :obj:`[E]`, equal to :obj:`forward(data).edge_att` in eval mode; the
        gated pass, which does not change the attention, is not run. The train/eval mode of
        every submodule is left as it was."""
        modes = [(m, m.training) for m in self.modules()]
        self.eval()
        try:
            x, edge_index, batch, edge_attr = self._inputs(data, check=True)
            att_logits, _, edge_att = self._attention(x, edge_index, batch, edge_attr)
            check_finite_output(self, x, att_logits)
            return edge_att
        finally:
            for m, training in modes:
                m.training = training


class ERM(_Classifier):
    r"""The same backbone trained on the prediction loss alone (empirical risk minimisation);
    the model post-hoc explainers are applied to.

    Args:
        backbone (torch.nn.Module): as for :class:`GSAT`.
        task (str, optional): as for :class:`GSAT`. (default: :obj:`"binary"`)
    """

    def __init__(self, backbone: nn.Module, task: str = "binary"):
        super().__init__()
        has_forward = type(backbone).forward is not nn.Module.forward
        self._split = all(callable(getattr(backbone, n, None))
                          for n in ("get_emb", "get_pred_from_emb"))
        if not self._split and not has_forward:
            _check_backbone(backbone, gated=False)  # raises, naming the missing method
        self.backbone, self.task = backbone, Task.parse(task)

    def forward(self, data) -> GSATOutput:
        """Graph logits of the backbone (no attention); :obj:`data` is checked in evaluation
        mode, as in :meth:`GSAT.forward`."""
        x, edge_index, batch, edge_attr = self._inputs(data, check=not self.training)
        logits = self.backbone_logits(x, edge_index, batch, edge_attr)
        check_finite_output(self, x, logits)
        return GSATOutput(logits, None, None, None)

    def backbone_logits(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                        edge_attr: Optional[Tensor] = None) -> Tensor:
        r"""Graph logits of the backbone on tensors already converted to the model's dtypes
        (what :meth:`forward` computes, without its checks); the counterpart of
        :meth:`GSAT.gated_forward`, gated by whatever edge mask is set on the backbone's
        message-passing layers.

        Args:
            x (torch.Tensor): node features, shape :obj:`[N, F]`.
            edge_index (torch.Tensor): edges, shape :obj:`[2, E]`.
            batch (torch.Tensor, optional): graph of each node, shape :obj:`[N]`.
                (default: one graph)
            edge_attr (torch.Tensor, optional): edge features. (default: :obj:`None`)
        """
        batch = batch_vector(batch, x.size(0), edge_index)
        if self._split:  # the backbone contract is enough: forward() is not needed
            return self.backbone.get_pred_from_emb(
                self._embed(x, edge_index, batch, edge_attr), batch)
        return self.backbone(x, edge_index, batch, edge_attr)

    def loss(self, out: GSATOutput, y: Tensor, epoch: int) -> Tuple[Tensor, Dict[str, float]]:
        pred = self.prediction_loss(out.logits, y)
        return pred, {"loss": pred.item(), "pred": pred.item()}
