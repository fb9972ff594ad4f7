r"""The estimators of GMT (`Chen, Bian, Han & Cheng, "How Interpretable Are Interpretable Graph
Neural Networks?", ICML 2024 <https://arxiv.org/abs/2406.07955>`_) as options of
:class:`~gsat.GSAT`: the same extractor and information bottleneck, another way to let the
attention reach the prediction.

- **GMT-lin** (:obj:`"gmt_lin"`): the attention gates the messages of the first
  message-passing layer only; every later layer passes its messages ungated.
- **GMT-sam** (:obj:`"gmt_sam"`): per step, :math:`K` subgraphs are drawn edge by edge from
  Bernoulli(attention) with the straight-through estimator
  (:func:`straight_through_bernoulli`); the classifier runs on each and the logits are
  averaged, a Monte-Carlo estimate of the subgraph multilinear extension. An optional second
  stage then freezes the backbone and extractor and trains a fresh classifier (a newly
  initialised copy of the backbone) on the graphs weighted by the frozen attention, either
  every edge with its soft weight (:obj:`"soft"`) or only the top share of each graph's edges
  (:obj:`"top"`, :func:`top_share_mask`).

The second stage is not tied to GMT-sam's first stage: GSAT's own estimator (:obj:`"gsat"`)
and GMT-lin can freeze their trained attention and train a classifier on it the same way
(``gmt.stage2_epochs`` with any ``gsat.method``).

:func:`use_estimator` attaches a :class:`GMTEstimator` to a model; the model's
:meth:`~gsat.GSAT.forward`, :meth:`~gsat.GSAT.loss` and
:meth:`~gsat.GSAT.start_epoch` hand over to it.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
from typing import Dict, Iterator, Literal, Optional, Tuple

import torch
from torch import Tensor, nn
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.nn import MessagePassing

from gsat.core.functional import rank_in_groups
from gsat.core.model import GSAT, GSATOutput, edge_mask
from gsat.core.selection import Selector
from gsat.core.validation import check_finite_output
from gsat.errors import ConfigError

log = logging.getLogger(__name__)

Estimator = Literal["gsat", "gmt_lin", "gmt_sam"]
#: the estimators of :class:`~gsat.GSAT` (``gsat.method`` of a config, ``--method``)
ESTIMATORS: Tuple[str, ...] = ("gsat", "gmt_lin", "gmt_sam")
#: how each estimator is named in results and tables
LABELS: Dict[str, str] = {"gsat": "GSAT", "gmt_lin": "GMT-lin", "gmt_sam": "GMT-sam"}
#: the largest number of samples per step
MAX_SAMPLES = 10_000
#: which first-stage weights GMT-sam's second stage freezes (``gmt.stage1_pick``)
STAGE1_PICKS: Tuple[str, ...] = ("last", "best")
#: how GMT-sam's frozen backbone and extractor run while the second stage trains
#: (``gmt.stage2_frozen_mode``)
STAGE2_FROZEN_MODES: Tuple[str, ...] = ("eval", "train")


def straight_through_bernoulli(p: Tensor, generator: Optional[torch.Generator] = None
                               ) -> Tensor:
    r"""A hard Bernoulli sample of the probabilities :obj:`p` whose gradient is that of
    :obj:`p` (the straight-through estimator):

    .. math::
        m = b + p - \operatorname{sg}(p), \quad b \sim \mathrm{Bern}(p)

    where :math:`\operatorname{sg}` stops the gradient; the value is :math:`b \in \{0, 1\}`,
    :math:`\partial m / \partial p = 1`.

    Args:
        p (torch.Tensor): probabilities in :math:`[0, 1]`, any shape.
        generator (torch.Generator, optional): the random numbers. (default: the global one)
    """
    b = torch.bernoulli(p.detach(), generator=generator)
    return b + (p - p.detach())  # exactly b in value


def top_share_mask(score: Tensor, group: Tensor, ratio: float) -> Tensor:
    r"""Which elements are among the :math:`\lceil \rho\, n_g \rceil` highest of their group
    :math:`g` (:math:`n_g` its size, :math:`\rho` = :obj:`ratio`); ties go to the lower
    index.

    Args:
        score (torch.Tensor): scores, shape :obj:`[E]`.
        group (torch.Tensor): the group of each element (e.g. the graph of each edge),
            shape :obj:`[E]`, non-negative integers.
        ratio (float): the share kept, in :math:`(0, 1]`.

    Returns:
        torch.Tensor: a boolean mask, shape :obj:`[E]`.
    """
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must lie in (0, 1], got {ratio}")
    n = score.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.bool, device=score.device)
    group = group.long()
    # sort by group, then by descending score, then by index
    order = torch.argsort(-score.detach().double(), stable=True)
    order = order[torch.argsort(group[order], stable=True)]
    rank = rank_in_groups(order, group)
    keep = torch.ceil(torch.bincount(group).double() * ratio - 1e-9).long()
    return rank < keep[group]


def reset_copy(module: nn.Module) -> nn.Module:
    r"""A copy of :obj:`module` with every parameter initialised afresh (each submodule's
    :meth:`reset_parameters`, batch-norm running statistics included); buffers that are not
    reset (e.g. PNA's degree histogram) are copied."""
    fresh = copy.deepcopy(module)
    for m in fresh.modules():
        reset = getattr(m, "reset_parameters", None)
        if callable(reset) and m is not fresh:
            reset()
    return fresh


@contextlib.contextmanager
def first_layer_mask(module: nn.Module, mask: Tensor, edge_index: Tensor) -> Iterator[None]:
    r"""Within the block, the first :class:`~torch_geometric.nn.conv.MessagePassing` layer of
    :obj:`module` (in registration order, e.g. :obj:`convs[0]`) multiplies the message of
    edge :math:`e` by :obj:`mask[e]`; the other layers are not gated. Masks are cleared on
    exit."""
    first = next((m for m in module.modules() if isinstance(m, MessagePassing)), None)
    if first is None:
        raise TypeError(f"{type(module).__name__} has no PyG MessagePassing layer to gate")
    set_masks(first, mask, edge_index, apply_sigmoid=False)
    try:
        yield
    finally:
        clear_masks(module)


class GMTEstimator(nn.Module):
    r"""GMT-lin or GMT-sam for a :class:`~gsat.GSAT` model (see the module's text).

    Args:
        backbone (torch.nn.Module): the model's backbone; GMT-sam with a second stage copies
            it (:func:`reset_copy`) as the stage-2 classifier.
        method (str): :obj:`"gmt_lin"` or :obj:`"gmt_sam"`, or :obj:`"gsat"` (the first
            stage is GSAT's own forward pass; only useful with a second stage).
        samples (int, optional): GMT-sam: subgraphs :math:`K` drawn per step (and per
            evaluation). (default: :obj:`1`)
        stage2_from (int, optional): the 0-based epoch at which the second stage starts;
            :obj:`None` for none. (default: :obj:`None`)
        stage2_input (str, optional): what the stage-2 classifier reads: :obj:`"soft"`
            (every edge weighted by its attention) or :obj:`"top"` (the top
            :obj:`stage2_top_ratio` of each graph's edges with their attention, the others
            removed). (default: :obj:`"soft"`)
        stage2_top_ratio (float, optional): the share kept by :obj:`"top"`.
            (default: :obj:`0.5`)
        stage2_init (str, optional): the stage-2 classifier starts :obj:`"fresh"` (newly
            initialised) or as a :obj:`"copy"` of the trained backbone. (default:
            :obj:`"fresh"`)
        stage1_pick (str, optional): the first-stage weights (backbone and extractor) the
            second stage freezes: those of the :obj:`"last"` first-stage epoch, or of the
            :obj:`"best"` one by the rule of :class:`~gsat.core.selection.Selector` (the best
            validation metric among the epochs whose :math:`r` reached its final value,
            ties to the lower validation loss), as GMT's released code does
            (``GSAT/run_gmt.py``: the stage-1 checkpoint is saved at the best validation
            epoch and loaded by the second stage). With :obj:`"best"` the training loop
            reports every first-stage epoch through :meth:`consider` and the candidate
            weights are kept as buffers of this module, so ``last.pt`` carries them.
            (default: :obj:`"last"`)
        extractor (torch.nn.Module, optional): the model's extractor; needed by
            :obj:`stage1_pick="best"`. (default: :obj:`None`)
        stage2_frozen_mode (str, optional): how the frozen backbone and extractor compute
            the attention while the stage-2 classifier trains: :obj:`"eval"` (evaluation
            mode: the first stage's batch-norm statistics, no dropout; the attention is
            fixed) or :obj:`"train"` (training mode, as GMT's released code runs its second
            stage: batch statistics and dropout, and the backbone's batch-norm running
            statistics re-estimated on the ungated pass alone; the weights stay frozen and
            evaluation uses the re-estimated statistics). (default: :obj:`"eval"`)
        warmup_epochs (int, optional): GMT-sam: in the first this many epochs (0-based
            epochs below it, counted as :meth:`start_epoch` reports them) one subgraph is
            drawn per step and per evaluation instead of :obj:`samples`, and the
            information loss is weighed by :obj:`warmup_info_factor`, as GMT's released code
            does for GIN on BA-2Motifs (``GSAT/run_gmt.py``, ``-mt 8``: one sample and twice
            the information-loss weight while the epoch is below the decay interval of
            :math:`r`). (default: :obj:`0`)
        warmup_info_factor (float, optional): the factor of the information-loss weight in
            the warm-up epochs. (default: :obj:`2.0`)
    """

    def __init__(self, backbone: nn.Module, method: str, samples: int = 1,
                 stage2_from: Optional[int] = None, stage2_input: str = "soft",
                 stage2_top_ratio: float = 0.5, stage2_init: str = "fresh",
                 stage1_pick: str = "last", extractor: Optional[nn.Module] = None,
                 warmup_epochs: int = 0, warmup_info_factor: float = 2.0,
                 stage2_frozen_mode: str = "eval"):
        super().__init__()
        check_estimator(method, samples, stage2_from, stage2_input, stage2_top_ratio,
                        stage2_init, stage1_pick=stage1_pick, warmup_epochs=warmup_epochs,
                        warmup_info_factor=warmup_info_factor,
                        stage2_frozen_mode=stage2_frozen_mode)
        self.method, self.samples = method, int(samples)
        self.stage2_from = stage2_from
        self.stage2_input, self.stage2_top_ratio = stage2_input, float(stage2_top_ratio)
        self.stage2_init = stage2_init
        self.stage1_pick = stage1_pick
        self.stage2_frozen_mode = stage2_frozen_mode
        self.warmup_epochs = int(warmup_epochs)
        self.warmup_info_factor = float(warmup_info_factor)
        # the epoch the training loop last started (None outside training: no warm-up)
        self._epoch: Optional[int] = None
        self.classifier = reset_copy(backbone) if stage2_from is not None else None
        # 1 or 2; a buffer, so that a checkpoint knows which stage its weights are from
        self.register_buffer("stage", torch.ones((), dtype=torch.long))
        self._kept_names: Dict[str, Tuple[str, str]] = {}
        if stage1_pick == "best" and stage2_from is not None:
            if extractor is None:
                raise ValueError("stage1_pick='best' needs the model's extractor")
            self._keep_buffers({"backbone": backbone, "extractor": extractor})

    def extra_repr(self) -> str:
        pick = f", stage1_pick={self.stage1_pick}" if self.stage1_pick != "last" else ""
        if self.stage2_frozen_mode != "eval":
            pick += f", stage2_frozen_mode={self.stage2_frozen_mode}"
        if self.warmup_epochs:
            pick += (f", warmup_epochs={self.warmup_epochs}, "
                     f"warmup_info_factor={self.warmup_info_factor:g}")
        return (f"method={self.method}, samples={self.samples}, stage2_from={self.stage2_from}"
                f", stage2_input={self.stage2_input}{pick}")

    # -- the first-stage epoch the second stage freezes (stage1_pick="best") ---------------
    def _keep_buffers(self, parts: Dict[str, nn.Module]) -> None:
        """One buffer per entry of each part's state (``kept__<part>__<key>``) and the record
        of the kept epoch: its number (-1: none yet), validation metric and loss, and whether
        it qualified under the selection rule."""
        for part, module in parts.items():
            for key, value in module.state_dict().items():
                name = f"kept__{part}__{key.replace('.', '__')}"
                self._kept_names[name] = (part, key)
                self.register_buffer(name, value.detach().clone())
        self.register_buffer("kept_epoch", torch.full((), -1, dtype=torch.long))
        self.register_buffer("kept_record", torch.zeros(3, dtype=torch.float64))

    @property
    def keeps_best(self) -> bool:
        """Does the second stage freeze the best first-stage epoch (and not the last)?"""
        return bool(self._kept_names)

    @torch.no_grad()
    def consider(self, model: nn.Module, rec: Dict[str, float], selector: Selector) -> bool:
        r"""Keep :obj:`model`'s backbone and extractor weights if the first-stage epoch of
        record :obj:`rec` (:obj:`epoch`, :obj:`r`, :obj:`valid_metric`, :obj:`valid_loss`)
        is the best so far under :obj:`selector`: the best qualifying epoch, or while none
        qualifies the best of all. Returns whether it was kept. Second-stage epochs and a
        model that keeps the last epoch are ignored."""
        if not self.keeps_best or self.in_stage2 or rec["epoch"] >= self.stage2_from:
            return False
        qual = selector.qualifies(int(rec["epoch"]), rec.get("r"))
        if int(self.kept_epoch) >= 0:
            kept_qual = bool(self.kept_record[2])
            kept = {"valid_metric": float(self.kept_record[0]),
                    "valid_loss": float(self.kept_record[1])}
            if kept_qual and not qual:
                return False
            if qual == kept_qual and not selector.better(rec, kept, selector.higher_is_better):
                return False
        state = {"backbone": model.backbone.state_dict(),
                 "extractor": model.extractor.state_dict()}
        for name, (part, key) in self._kept_names.items():
            getattr(self, name).copy_(state[part][key])
        self.kept_epoch.fill_(int(rec["epoch"]))
        self.kept_record.copy_(torch.tensor([float(rec["valid_metric"]),
                                             float(rec["valid_loss"]), float(qual)],
                                            dtype=torch.float64))
        return True

    @torch.no_grad()
    def _restore_kept(self, model: nn.Module) -> None:
        """Put the kept first-stage weights back into :obj:`model`'s backbone and
        extractor."""
        parts: Dict[str, Dict[str, Tensor]] = {"backbone": {}, "extractor": {}}
        for name, (part, key) in self._kept_names.items():
            parts[part][key] = getattr(self, name)
        model.backbone.load_state_dict(parts["backbone"])
        model.extractor.load_state_dict(parts["extractor"])
        log.info("GMT-sam: the second stage freezes the first-stage weights of epoch %d "
                 "(validation metric %.4f, loss %.4f)", int(self.kept_epoch),
                 float(self.kept_record[0]), float(self.kept_record[1]))

    @property
    def in_stage2(self) -> bool:
        return int(self.stage) == 2

    def in_warmup(self, epoch: Optional[int]) -> bool:
        """Is :obj:`epoch` (:obj:`None`: outside training) a warm-up epoch
        (:obj:`warmup_epochs`)?"""
        return epoch is not None and epoch < self.warmup_epochs and not self.in_stage2

    def info_factor(self, epoch: int) -> float:
        """The factor of the information-loss weight at :obj:`epoch`: :obj:`warmup_info_factor`
        in the warm-up epochs, else 1."""
        return self.warmup_info_factor if self.in_warmup(epoch) else 1.0

    def start_epoch(self, model: nn.Module, epoch: int) -> None:
        """Note the epoch (for the warm-up of :obj:`warmup_epochs`) and enter the second stage
        at :obj:`stage2_from` (a copy-initialised classifier takes the backbone's weights
        then, once)."""
        self._epoch = int(epoch)
        if self.stage2_from is None or epoch < self.stage2_from or self.in_stage2:
            return
        if self.keeps_best and int(self.kept_epoch) >= 0:
            self._restore_kept(model)
        elif self.keeps_best:
            log.warning("GMT-sam: no first-stage epoch was reported with a validation "
                        "score, so the second stage freezes the last first-stage weights")
        if self.stage2_init == "copy":
            self.classifier.load_state_dict(model.backbone.state_dict())
        self.stage.fill_(2)

    # -- forward -------------------------------------------------------------------------
    def forward(self, model: nn.Module, data) -> GSATOutput:
        if self.method == "gsat" and not self.in_stage2:
            return model._gsat_forward(data)
        x, edge_index, batch, edge_attr = model._inputs(data, check=not model.training)
        if self.in_stage2:
            return self._stage2(model, x, edge_index, batch, edge_attr)
        att_logits, att, edge_att = model._attention(x, edge_index, batch, edge_attr)
        bb = model.backbone
        if self.method == "gmt_lin":
            with first_layer_mask(bb, edge_att, edge_index), model._gated():
                emb = bb.get_emb(x, edge_index, batch, edge_attr)
            logits = bb.get_pred_from_emb(emb, batch)
        else:
            runs = []
            for _ in range(1 if self.in_warmup(self._epoch) else self.samples):
                mask = straight_through_bernoulli(edge_att)
                with edge_mask(bb, mask, edge_index), model._gated():
                    emb = bb.get_emb(x, edge_index, batch, edge_attr)
                runs.append(bb.get_pred_from_emb(emb, batch))
            logits = torch.stack(runs).mean(0)
        check_finite_output(model, x, att_logits, logits)
        return GSATOutput(logits, edge_att, att_logits, att)

    def stage2_weights(self, edge_att: Tensor, edge_index: Tensor, batch: Tensor) -> Tensor:
        """The edge weights the stage-2 classifier reads (see :obj:`stage2_input`)."""
        if self.stage2_input == "soft":
            return edge_att
        keep = top_share_mask(edge_att, batch[edge_index[0]], self.stage2_top_ratio)
        return edge_att * keep

    def _stage2(self, model: nn.Module, x: Tensor, edge_index: Tensor, batch: Tensor,
                edge_attr: Optional[Tensor]) -> GSATOutput:
        train_mode = self.stage2_frozen_mode == "train" and model.training
        with frozen(model, train_mode), torch.no_grad():
            att_logits, att, edge_att = model._attention(x, edge_index, batch, edge_attr)
        weights = self.stage2_weights(edge_att, edge_index, batch)
        clf = self.classifier
        with edge_mask(clf, weights, edge_index):
            emb = clf.get_emb(x, edge_index, batch, edge_attr)
        logits = clf.get_pred_from_emb(emb, batch)
        check_finite_output(model, x, att_logits, logits)
        return GSATOutput(logits, edge_att, att_logits, att)

    def loss(self, model: nn.Module, out, y: Tensor, epoch: int
             ) -> Tuple[Tensor, Dict[str, float]]:
        """Stage 1: the model's own loss; stage 2: the prediction loss alone (the attention
        is frozen)."""
        if not self.in_stage2:
            return None  # type: ignore[return-value]
        r = model.get_r(epoch)
        pred = model.prediction_loss(out.logits, y)
        loss = model.pred_loss_coef * pred
        return loss, {"loss": loss.item(), "pred": pred.item(), "info": 0.0, "r": r}


@contextlib.contextmanager
def frozen(model: nn.Module, train_mode: bool = False) -> Iterator[None]:
    r"""Within the block :obj:`model` (its backbone and extractor) runs in evaluation mode:
    the attention is :math:`\sigma(\ell)` without noise or dropout and no batch-norm
    statistics change; with :obj:`train_mode` the backbone and extractor run in training
    mode instead (batch statistics, dropout, running statistics updated) while the
    attention is still :math:`\sigma(\ell)` without noise. Modes are restored on exit."""
    modes = [(m, m.training) for m in model.modules()]
    model.backbone.train(train_mode)
    model.extractor.train(train_mode)
    model.training = False
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def check_estimator(method: str, samples: int = 1, stage2_from: Optional[int] = None,
                    stage2_input: str = "soft", stage2_top_ratio: float = 0.5,
                    stage2_init: str = "fresh", where: str = "", stage1_pick: str = "last",
                    warmup_epochs: int = 0, warmup_info_factor: float = 2.0,
                    stage2_frozen_mode: str = "eval") -> None:
    r"""Refuse settings of a GMT estimator that cannot work, with a
    :class:`~gsat.errors.ConfigError` naming the setting (prefixed by :obj:`where`)."""
    def bad(msg: str) -> ConfigError:
        return ConfigError(f"{where}{msg}")

    if method not in ESTIMATORS:
        raise bad(f"method must be one of {', '.join(ESTIMATORS)}, got {method!r}")
    if isinstance(samples, bool) or not isinstance(samples, int) or not (
            1 <= samples <= MAX_SAMPLES):
        raise bad(f"samples (K) must be a whole number from 1 to {MAX_SAMPLES}, got "
                  f"{samples!r}")
    if method != "gmt_sam" and samples != 1:
        raise bad(f"samples belong to gmt_sam; {method} draws no samples (got "
                  f"samples={samples})")
    if stage2_from is not None and (isinstance(stage2_from, bool) or not isinstance(
            stage2_from, int) or stage2_from < 1):
        raise bad(f"the second stage must start after at least one epoch, got {stage2_from!r}")
    if stage2_input not in ("soft", "top"):
        raise bad(f"stage2_input must be soft or top, got {stage2_input!r}")
    if stage2_init not in ("fresh", "copy"):
        raise bad(f"stage2_init must be fresh or copy, got {stage2_init!r}")
    if stage2_frozen_mode not in STAGE2_FROZEN_MODES:
        raise bad(f"stage2_frozen_mode must be {' or '.join(STAGE2_FROZEN_MODES)}, got "
                  f"{stage2_frozen_mode!r}")
    if stage1_pick not in STAGE1_PICKS:
        raise bad(f"stage1_pick must be {' or '.join(STAGE1_PICKS)}, got {stage1_pick!r}")
    for key, value, default in (("stage1_pick", stage1_pick, "last"),
                                ("stage2_frozen_mode", stage2_frozen_mode, "eval")):
        if value != default and stage2_from is None:
            raise bad(f"{key} ({value}) applies to a second stage; set stage2_epochs too "
                      "(there is no second stage)")
    if isinstance(stage2_top_ratio, bool) or not isinstance(stage2_top_ratio, (int, float)) \
            or not math.isfinite(stage2_top_ratio) or not 0 < stage2_top_ratio <= 1:
        raise bad(f"stage2_top_ratio must lie in (0, 1], got {stage2_top_ratio!r}")
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or \
            warmup_epochs < 0:
        raise bad(f"warmup_epochs must be a whole number >= 0, got {warmup_epochs!r}")
    if warmup_epochs and method != "gmt_sam":
        raise bad("warmup_epochs belongs to gmt_sam (it draws one sample instead of K)")
    if isinstance(warmup_info_factor, bool) or not isinstance(
            warmup_info_factor, (int, float)) or not math.isfinite(warmup_info_factor) or \
            warmup_info_factor < 0:
        raise bad(f"warmup_info_factor must be a finite number >= 0, got "
                  f"{warmup_info_factor!r}")


def use_estimator(model: nn.Module, method: str = "gsat", samples: int = 1,
                  stage2_from: Optional[int] = None, stage2_input: str = "soft",
                  stage2_top_ratio: float = 0.5, stage2_init: str = "fresh",
                  stage1_pick: str = "last", warmup_epochs: int = 0,
                  warmup_info_factor: float = 2.0, stage2_frozen_mode: str = "eval"
                  ) -> nn.Module:
    r"""Train and evaluate the :class:`~gsat.GSAT` :obj:`model` with the estimator
    :obj:`method`: :obj:`"gsat"` (the paper's, removing any other), :obj:`"gmt_lin"` or
    :obj:`"gmt_sam"` (:class:`GMTEstimator`, which holds the stage-2 classifier, so attach
    it before the optimizer is made). With :obj:`stage2_from`, :obj:`"gsat"` too gets a
    :class:`GMTEstimator`, whose first stage is GSAT's own. Returns :obj:`model`.

    Raises:
        gsat.errors.ConfigError: an unknown method or impossible settings.
        TypeError: :obj:`model` is not a :class:`~gsat.GSAT`.
    """
    if not isinstance(model, GSAT):
        raise TypeError(f"the estimator {method!r} needs a gsat.GSAT model, got "
                        f"{type(model).__name__}")
    if method == "gsat" and stage2_from is None:
        check_estimator(method, samples, stage2_from, stage2_input, stage2_top_ratio,
                        stage2_init, stage1_pick=stage1_pick, warmup_epochs=warmup_epochs,
                        warmup_info_factor=warmup_info_factor,
                        stage2_frozen_mode=stage2_frozen_mode)
        model.estimator = None
        return model
    model.estimator = GMTEstimator(model.backbone, method, samples, stage2_from,
                                   stage2_input, stage2_top_ratio, stage2_init, stage1_pick,
                                   extractor=model.extractor, warmup_epochs=warmup_epochs,
                                   warmup_info_factor=warmup_info_factor,
                                   stage2_frozen_mode=stage2_frozen_mode)
    param = next(model.backbone.parameters(), None)
    if param is not None:
        model.estimator.to(param.device)
    return model


def estimator_name(model: nn.Module) -> str:
    """:obj:`"gsat"`, :obj:`"gmt_lin"` or :obj:`"gmt_sam"`: the estimator of :obj:`model`."""
    est = getattr(model, "estimator", None)
    return "gsat" if est is None else est.method


def stage2_start(model: nn.Module) -> int:
    """The epoch at which :obj:`model`'s second stage starts (0 without one): model selection
    considers the epochs of the stage that makes the final model."""
    est = getattr(model, "estimator", None)
    return 0 if est is None or est.stage2_from is None else int(est.stage2_from)
