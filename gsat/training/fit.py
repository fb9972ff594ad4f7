r"""Train a :class:`~gsat.GSAT` (or :class:`~gsat.core.model.ERM`) model from Python:
:func:`fit`, on the same epoch loop as the command line (:class:`gsat.training.engine.Engine`)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Iterable, List, Literal, Mapping, Optional, Tuple, Union

import torch
from torch import nn
from torch_geometric.data import Batch, Data

from gsat.core.config import check_epochs
from gsat.core.validation import check_device
from gsat.errors import ConfigError, GraphInputError
from gsat.core.functional import check_r_schedule, final_prior
from gsat.core.model import GSAT
from gsat.core.selection import Selection, Selector
from gsat.core.task import Task
from gsat.metrics.prediction import Evaluator
from gsat.training.engine import PRECISION_K, Engine
from gsat.training.hooks import SelectionHook, Stage1PickHook, TensorBoardHook

log = logging.getLogger(__name__)

#: keys of a dict :obj:`r_schedule` (the arguments of :func:`gsat.core.functional.r_schedule`)
R_SCHEDULE_KEYS = ("init_r", "final_r", "decay_r", "decay_interval", "fixed_r")

RSchedule = Union[None, float, Mapping[str, Any]]
Device = Union[str, torch.device]
Metric = Optional[Literal["acc", "rocauc"]]


def _apply_r_schedule(model: nn.Module, r_schedule: RSchedule) -> None:
    if r_schedule is None:
        return
    if not isinstance(model, GSAT):
        raise ConfigError(f"r_schedule applies to GSAT models only, got "
                          f"{type(model).__name__}; leave r_schedule=None")
    if isinstance(r_schedule, (int, float)) and not isinstance(r_schedule, bool):
        r_schedule = {"fixed_r": float(r_schedule)}
    if not isinstance(r_schedule, Mapping):
        raise ConfigError(f"r_schedule must be None, a float (a fixed r) or a dict with keys "
                          f"{', '.join(R_SCHEDULE_KEYS)}; got {type(r_schedule).__name__}")
    unknown = sorted(set(r_schedule) - set(R_SCHEDULE_KEYS))
    if unknown:
        raise ConfigError(f"unknown r_schedule key(s) {', '.join(unknown)}; valid keys: "
                          f"{', '.join(R_SCHEDULE_KEYS)}")
    new = dict(model.r_kwargs, **r_schedule)
    try:
        check_r_schedule(new, "r_schedule[{!r}]")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if int(new["decay_interval"]) < 1:
        raise ConfigError(f"r_schedule['decay_interval'] must be >= 1, got "
                          f"{new['decay_interval']}")
    model.r_kwargs = new


def _evaluator(model: nn.Module, metric: Optional[str], caller: str) -> Evaluator:
    """The :class:`Evaluator` of :obj:`model`'s task and :obj:`metric` (default: the task's)."""
    try:
        task = Task.parse(getattr(model, "task", None))
    except ValueError:
        raise ConfigError(f"{caller} needs a gsat.GSAT or gsat.ERM model (with a 'task'), got "
                          f"{type(model).__name__}") from None
    return Evaluator(task, metric)


def fit(model: nn.Module, train_loader: Iterable, val_loader: Optional[Iterable] = None,
        epochs: int = 100, r_schedule: RSchedule = None, lr: float = 1e-3,
        weight_decay: float = 0.0, optimizer: Optional[torch.optim.Optimizer] = None,
        device: Device = "cpu", metric: Metric = None, start_epoch: int = 0,
        progress: bool = True, tensorboard: Optional[Union[str, Path]] = None,
        k: int = PRECISION_K, min_select_epoch: int = 10, method: Optional[str] = None,
        samples: int = 1, stage2_epochs: int = 0, stage2_input: str = "soft",
        stage2_top_ratio: float = 0.5, stage2_init: str = "fresh",
        stage1_pick: str = "last", warmup_epochs: int = 0,
        warmup_info_factor: float = 2.0, stage2_frozen_mode: str = "eval"
        ) -> List[Dict[str, Any]]:
    r"""Train :obj:`model` for :obj:`epochs` epochs and return its history.

    Each epoch is one :func:`gsat.training.engine.train_epoch` pass over :obj:`train_loader`,
    then, with :obj:`val_loader`, :func:`gsat.training.engine.evaluate` on it (prediction loss
    and metric; for GSAT also the interpretation ROC AUC and precision@k of the attention when
    the graphs carry :obj:`edge_label`). With :obj:`val_loader` the model ends with the weights
    of the epoch ``gsat train`` would select (:class:`gsat.core.selection.Selector`: the best
    validation metric among epochs > :obj:`min_select_epoch` whose :math:`r` reached its final
    value, else among all epochs; ties: lower validation loss), marked :obj:`"selected": True`
    in the history; without it, with the last epoch's weights. Either way the model is returned
    in eval mode. The graphs of :obj:`train_loader` are checked (:meth:`gsat.GSAT.check_input`)
    as they pass in the first epoch, those of :obj:`val_loader` by the model in evaluation
    mode.

    Args:
        model (torch.nn.Module): a :class:`~gsat.GSAT` or :class:`~gsat.core.model.ERM` model.
        train_loader (torch_geometric.loader.DataLoader): training batches (with :obj:`y`).
        val_loader (torch_geometric.loader.DataLoader, optional): validation batches.
            (default: :obj:`None`)
        epochs (int, optional): number of epochs. (default: :obj:`100`)
        r_schedule (float or dict, optional): the prior :math:`r(e) = \max(r_{\text{final}},
            r_{\text{init}} - \delta \lfloor e / T \rfloor)` of the information bottleneck
            (:func:`gsat.core.functional.r_schedule`). :obj:`None` keeps the model's schedule
            (the paper's 0.9 to 0.5 by 0.1 every 10 epochs unless set when building the model);
            a float in (0, 1) is a fixed :math:`r`; a dict sets any of :obj:`init_r`,
            :obj:`final_r`, :obj:`decay_r` (:math:`\delta`), :obj:`decay_interval` (:math:`T`),
            :obj:`fixed_r`, e.g. :obj:`dict(init_r=0.9, final_r=0.7, decay_interval=2)`.
            It is stored on the model (:attr:`GSAT.r_kwargs`, reported by :meth:`GSAT.get_r`).
            (default: :obj:`None`)
        lr (float, optional): learning rate of the Adam optimizer made when
            :obj:`optimizer` is :obj:`None`. (default: :obj:`1e-3`)
        weight_decay (float, optional): its weight decay. (default: :obj:`0.0`)
        optimizer (torch.optim.Optimizer, optional): use this optimizer instead
            (:obj:`lr` and :obj:`weight_decay` are then ignored). (default: :obj:`None`)
        device (str or torch.device, optional): where to train; the model is moved there.
            (default: :obj:`"cpu"`)
        metric (str, optional): :obj:`"acc"` or :obj:`"rocauc"`. (default: :obj:`"acc"`
            for binary and multiclass tasks, :obj:`"rocauc"` for multilabel)
        start_epoch (int, optional): 0-based number of the first epoch, to continue a
            schedule. (default: :obj:`0`)
        progress (bool, optional): show a progress bar over epochs. (default: :obj:`True`)
        tensorboard (str or Path, optional): write TensorBoard scalars and attention
            histograms to this folder (needs the :obj:`tensorboard` extra; see
            :class:`gsat.training.tensorboard.TensorBoardLogger`). (default: :obj:`None`)
        k (int, optional): the :math:`k` of the validation precision@k. (default: :obj:`5`)
        min_select_epoch (int, optional): model selection considers epochs after this one
            (as :obj:`train.min_select_epoch` of the config; with a second stage, counted
            from its start). (default: :obj:`10`)
        method (str, optional): the estimator of a :class:`~gsat.GSAT` model
            (:func:`gsat.core.gmt.use_estimator`): :obj:`"gsat"`, :obj:`"gmt_lin"` or
            :obj:`"gmt_sam"`; :obj:`None` keeps the model's. (default: :obj:`None`)
        samples (int, optional): GMT-sam's :math:`K`. (default: :obj:`1`)
        stage2_epochs (int, optional): the last this many of :obj:`epochs` train a fresh
            classifier on the frozen attention, after any estimator's first stage (0: no
            second stage). (default: :obj:`0`)
        stage2_input (str, optional): :obj:`"soft"` or :obj:`"top"` (see
            :class:`gsat.core.gmt.GMTEstimator`). (default: :obj:`"soft"`)
        stage2_top_ratio (float, optional): the share of edges :obj:`"top"` keeps.
            (default: :obj:`0.5`)
        stage2_init (str, optional): :obj:`"fresh"` or :obj:`"copy"`. (default: :obj:`"fresh"`)
        stage1_pick (str, optional): the first-stage weights the second stage freezes:
            the :obj:`"last"` epoch's or the :obj:`"best"` one's by the selection rule above
            (needs :obj:`val_loader`). (default: :obj:`"last"`)
        warmup_epochs (int, optional): GMT-sam: epochs below this one (counted from 0, as
            :obj:`start_epoch`) draw one subgraph per step and weigh the information loss by
            :obj:`warmup_info_factor`, as GMT's released code does for GIN on BA-2Motifs.
            (default: :obj:`0`)
        warmup_info_factor (float, optional): that weight's factor. (default: :obj:`2.0`)
        stage2_frozen_mode (str, optional): :obj:`"eval"` or :obj:`"train"`: how the frozen
            backbone and extractor run while the second stage trains (see
            :class:`gsat.core.gmt.GMTEstimator`). (default: :obj:`"eval"`)

    Returns:
        list of dict: one record per epoch: :obj:`epoch`, :obj:`r` (GSAT only),
        :obj:`train_loss`, :obj:`train_metric`, the loss parts :obj:`train_pred` and
        :obj:`train_info`, :obj:`seconds`, and with :obj:`val_loader` also :obj:`valid_loss`,
        :obj:`valid_metric`, :obj:`valid_interp_auc`, :obj:`valid_precision_at_k` (NaN where
        not defined).

    Raises:
        gsat.errors.ConfigError: :obj:`epochs < 1`, an invalid :obj:`r_schedule`, or a CUDA
            :obj:`device` without CUDA.
        gsat.errors.GraphInputError: a malformed graph in a loader; the message names the
            training batch.
        FloatingPointError: the training loss became NaN or infinite.
    """
    check_epochs(epochs if isinstance(epochs, int) else int(epochs), "epochs")
    _check_loader(train_loader, "train_loader")
    if val_loader is not None:
        _check_loader(val_loader, "val_loader")
    evaluator = _evaluator(model, metric, "fit")
    if method is not None:
        _apply_method(model, method, samples, stage2_epochs, stage2_input, stage2_top_ratio,
                      stage2_init, int(epochs), start_epoch, optimizer, stage1_pick,
                      warmup_epochs, warmup_info_factor, stage2_frozen_mode)
    if val_loader is None and Stage1PickHook.wanted(model):
        raise ConfigError("stage1_pick='best' picks the first-stage epoch by its validation "
                          "score; give a val_loader or use stage1_pick='last'")
    device, optimizer = _prepare(model, r_schedule, device, optimizer, lr, weight_decay)
    selection = (None if val_loader is None
                 else _selection(model, min_select_epoch, evaluator.higher_is_better))
    engine = Engine(model, optimizer, train_loader, val_loader, evaluator=evaluator,
                    device=device, k=k,
                    hooks=_hooks(tensorboard, selection, model, min_select_epoch),
                    progress=progress, batch_progress=progress, desc="fit", check_inputs=True)
    history = engine.run(start_epoch + int(epochs), start_epoch)
    _keep_selected(model, selection, history)
    model.eval()
    return history


def _apply_method(model: nn.Module, method: str, samples: int, stage2_epochs: int,
                  stage2_input: str, stage2_top_ratio: float, stage2_init: str, epochs: int,
                  start_epoch: int, optimizer: Optional[torch.optim.Optimizer],
                  stage1_pick: str = "last", warmup_epochs: int = 0,
                  warmup_info_factor: float = 2.0, stage2_frozen_mode: str = "eval") -> None:
    """Attach the estimator :obj:`method` to :obj:`model` for :func:`fit`, with a
    :class:`~gsat.errors.ConfigError` for settings that cannot work."""
    from gsat.core.gmt import ESTIMATORS, use_estimator

    if not isinstance(model, GSAT):
        raise ConfigError(f"method applies to gsat.GSAT models only, got "
                          f"{type(model).__name__}; leave method=None")
    if method not in ESTIMATORS:
        raise ConfigError(f"method must be one of {', '.join(ESTIMATORS)}, got {method!r}")
    if isinstance(stage2_epochs, bool) or not isinstance(stage2_epochs, int) or \
            not 0 <= stage2_epochs < epochs:
        raise ConfigError(f"stage2_epochs must be a whole number from 0 to epochs - 1 "
                          f"({epochs - 1}), got {stage2_epochs!r}")
    if stage2_epochs and optimizer is not None:
        raise ConfigError("a second stage (stage2_epochs) trains a classifier made here, "
                          "which a given optimizer does not hold; leave optimizer=None")
    if method != "gmt_sam" and (samples != 1 or warmup_epochs):
        raise ConfigError("samples and warmup_epochs belong to method='gmt_sam'")
    stage2 = start_epoch + epochs - stage2_epochs if stage2_epochs else None
    use_estimator(model, method, samples, stage2, stage2_input, stage2_top_ratio, stage2_init,
                  stage1_pick, warmup_epochs, warmup_info_factor, stage2_frozen_mode)


def _check_loader(loader: Any, what: str) -> None:
    r"""Refuse a loader that cannot give batches of graphs: an empty one, or a plain list of
    :class:`~torch_geometric.data.Data` (not batched), with a
    :class:`~gsat.errors.GraphInputError` saying what to pass instead."""
    if isinstance(loader, (list, tuple)) and any(
            isinstance(g, Data) and not isinstance(g, Batch) for g in loader):
        raise GraphInputError(f"{what} must give batches of graphs, got a "
                              f"{type(loader).__name__} of {len(loader)} graphs; wrap them "
                              "in torch_geometric.loader.DataLoader(graphs, batch_size=...)")
    try:
        size = len(loader)
    except TypeError:  # an iterable without a length: checked as its batches arrive
        return
    if size == 0:
        raise GraphInputError(f"{what} holds no graphs; give at least one graph")


def _prepare(model: nn.Module, r_schedule: RSchedule, device: Device,
             optimizer: Optional[torch.optim.Optimizer], lr: float, weight_decay: float
             ) -> Tuple[torch.device, torch.optim.Optimizer]:
    """Store :obj:`r_schedule` on :obj:`model` (checked) and move it to :obj:`device`;
    return the device and the optimizer (Adam unless one is given)."""
    _apply_r_schedule(model, r_schedule)
    device = torch.device(check_device(device))
    model.to(device)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    return device, optimizer


def _hooks(tensorboard: Optional[Union[str, Path]], selection: Optional[Selection],
           model: nn.Module, min_select_epoch: int) -> list:
    """The engine's hooks in :func:`fit`: TensorBoard logging, model selection and, for
    GMT-sam freezing its best first-stage epoch, the record of that epoch."""
    hooks: list = [] if tensorboard is None else [TensorBoardHook(tensorboard)]
    if selection is not None:
        if Stage1PickHook.wanted(model):  # first, so that kept weights enter the snapshots
            hooks.append(Stage1PickHook.beside(selection, min_select_epoch))
        hooks.append(SelectionHook(selection))
    return hooks


def _selection(model: nn.Module, min_select_epoch: int,
               higher_is_better: bool = True) -> Selection:
    """The model selection of ``gsat train`` for :obj:`model`'s final :math:`r` (the lowest
    validation error where :obj:`higher_is_better` is false)."""
    from gsat.core.gmt import stage2_start  # GMT-sam: select among second-stage epochs

    rk = getattr(model, "r_kwargs", None) or {}
    final_r = final_prior(rk.get("final_r"), rk.get("fixed_r"))
    return Selection(Selector(min_select_epoch + stage2_start(model), final_r,
                              higher_is_better))


def _keep_selected(model: nn.Module, selection: Optional[Selection],
                   history: List[Dict[str, Any]]) -> None:
    """Load the selected epoch's weights into :obj:`model` and mark its record in
    :obj:`history` (nothing without a selection or when no epoch was selected)."""
    if selection is None:
        return
    chosen, how = selection.chosen()
    if chosen is None:
        return
    model.load_state_dict(chosen["state"])
    for rec in history:
        if rec["epoch"] == chosen["epoch"]:
            rec["selected"] = True
    log.info("fit: kept the weights of epoch %d (valid_metric %.4f, selected over %s)",
             chosen["epoch"], chosen["valid_metric"],
             "epochs with the final r" if how == "final_r" else "all epochs")


def evaluate(model: nn.Module, loader: Iterable, metric: Metric = None,
             device: Optional[Device] = None, k: int = PRECISION_K) -> Dict[str, float]:
    r"""Score :obj:`model` on the graphs of :obj:`loader` with the evaluation of training
    (:func:`gsat.training.engine.evaluate`): eval-time predictions (and attention), the model's mode
    left as it was.

    Args:
        model (torch.nn.Module): a :class:`~gsat.GSAT` or :class:`~gsat.core.model.ERM` model.
        loader (torch_geometric.loader.DataLoader): batches with :obj:`y`.
        metric (str, optional): :obj:`"acc"` or :obj:`"rocauc"`. (default: :obj:`"acc"`
            for binary and multiclass tasks, :obj:`"rocauc"` for multilabel)
        device (str or torch.device, optional): where the model is. (default: its
            parameters' device)
        k (int, optional): the :math:`k` of precision@k. (default: :obj:`5`)

    Returns:
        dict: :obj:`loss`, :obj:`metric`, and (GSAT, graphs with :obj:`edge_label`)
        :obj:`interp_auc` and :obj:`precision_at_k` (NaN where not defined).
    """
    from gsat.training.engine import evaluate as _evaluate

    _check_loader(loader, "loader")
    evaluator = _evaluator(model, metric, "evaluate")
    if device is None:
        device = next(model.parameters()).device
    res = _evaluate(model, loader, evaluator, torch.device(device), k)
    return {"loss": res.loss, "metric": res.metric, "interp_auc": res.interp_auc,
            "precision_at_k": res.precision_at_k}
