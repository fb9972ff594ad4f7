r"""A run of one seed: build the model, train it with the :class:`~gsat.training.engine.Engine` and
its hooks (model selection, run files, TensorBoard, kept checkpoints), resume from
``last.pt``, pretrain the backbone (GSAT*), draw explanations, and write the seed's
record for ``results.json``."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from gsat.training.build import Method, build_model, estimator_of
from gsat.io.checkpoint import (load_checkpoint, load_state_checked, save_checkpoint,
                                  set_rng_state)
from gsat.io.files import remove_stale_temporaries
from gsat.runs.layout import SeedFolder
from gsat.runs.store import stamp_differences
from gsat.core.config import Config, TrainConfig, model_relevant, schedule_advice
from gsat.core.functional import final_prior
from gsat.data.base import GraphDataset
from gsat.errors import CheckpointError, ConfigError
from gsat.core.model import ERM, GSAT
from gsat.core.selection import Selection, Selector
from gsat.training.engine import PRECISION_K, Engine, EvalResult, Hook, make_loader, set_seed
from gsat.training.hooks import (CHECKPOINT_FORMAT, GuardHook, KeepCheckpointsHook,
                                 RunFilesHook, SelectionHook, Stage1PickHook, TensorBoardHook)

if TYPE_CHECKING:  # pragma: no cover
    from gsat.training.distributed import DistContext

log = logging.getLogger("gsat.training.engine")


def _resume_state(path: Path, cfg: Config, method: str, ds: GraphDataset, model: nn.Module,
                  opt: torch.optim.Optimizer, generator: Optional[torch.Generator],
                  device: torch.device) -> Dict[str, Any]:
    r"""Put the training state of :obj:`path` (a ``last.pt``) back in place after checking
    that its stamp (config, method, dataset) is this run's
    (:func:`gsat.runs.store.stamp_differences`; a config key the file predates counts as its
    default); returns the checkpoint for the loop's own records."""
    remove_stale_temporaries(path.parent)
    ckpt = load_checkpoint(path, map_location=device, kind="last")
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a resumable training state (format "
                              f"{ckpt.get('format')!r}, {CHECKPOINT_FORMAT} expected)")
    if (ckpt.get("method"), ckpt.get("dataset")) != (method, ds.name):
        raise CheckpointError(f"{path} holds a {ckpt.get('method')} model of "
                              f"{ckpt.get('dataset')}, not {method} on {ds.name}")
    diff = stamp_differences(model_relevant(ckpt.get("config", {})),
                             model_relevant(cfg.to_dict()), Config().to_dict(),
                             saved_name="checkpoint")
    if diff:
        raise CheckpointError(f"{path} was written with another config: {'; '.join(diff)}")
    load_state_checked(model, ckpt["model"], str(path))
    try:
        opt.load_state_dict(ckpt["optimizer"])
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: the optimizer state does not fit ({exc})") from None
    set_rng_state(ckpt["rng"], generator)
    log.info("resuming from %s after epoch %d", path, ckpt["epoch"])
    return ckpt


def _loader(graphs: Sequence, batch_size: int, parts: int, shuffle: bool = False,
            seed: int = 0) -> Any:
    r"""The loader of a split: batches of :obj:`batch_size` graphs
    (:func:`~gsat.training.engine.make_loader`), or for :obj:`parts` :math:`> 0` the one
    whole graph of a node task in :obj:`parts` parts
    (:class:`~gsat.data.node.batches.NodeBatches`; a new partition every epoch with
    :obj:`shuffle`, else a fixed one)."""
    if not parts:
        return make_loader(graphs, batch_size, shuffle=shuffle, seed=seed)
    from gsat.data.node.batches import NodeBatches

    if len(graphs) != 1:
        raise ConfigError(f"train.node_batches / train.eval_node_batches cut the one whole "
                          f"graph of a node task, got a split of {len(graphs)} graphs")
    return NodeBatches(graphs[0], parts, shuffle=shuffle, seed=seed)


def _neighbor_loader(graphs: Sequence, num_neighbors: Sequence[int], batch_size: int,
                     seed: int) -> Any:
    """The training loader of :obj:`train.num_neighbors`: neighbour-sampled batches of
    :obj:`batch_size` training nodes of the one whole graph
    (:class:`~gsat.data.node.neighbors.NeighborBatches`)."""
    from gsat.data.node.neighbors import NeighborBatches

    if len(graphs) != 1:
        raise ConfigError(f"train.num_neighbors samples the one whole graph of a node task, "
                          f"got a split of {len(graphs)} graphs")
    return NeighborBatches(graphs[0], num_neighbors, batch_size, shuffle=True, seed=seed)


def _engine(model: nn.Module, optimizer: torch.optim.Optimizer, ds: GraphDataset,
            t: TrainConfig, seed: int, dist: Optional["DistContext"], **kwargs: Any) -> Engine:
    """The engine over :obj:`ds.train` (shuffled with :obj:`seed`; in
    :obj:`t.node_batches` parts if set) and :obj:`ds.valid` (in :obj:`t.eval_node_batches`
    parts if set): an :class:`Engine`, or a
    :class:`gsat.training.distributed.DistributedEngine` in a process group."""
    if dist is not None and (t.node_batches or t.eval_node_batches):
        raise ConfigError("train.node_batches and train.eval_node_batches do not combine with "
                          "distributed training; train in one process")
    if dist is not None and t.num_neighbors:
        raise ConfigError("train.num_neighbors does not combine with distributed training; "
                          "train in one process")
    valid = _loader(ds.valid, t.batch_size, t.eval_node_batches, seed=seed)
    if dist is None:
        if t.num_neighbors:
            train = _neighbor_loader(ds.train, t.num_neighbors, t.batch_size, seed)
        else:
            train = _loader(ds.train, t.batch_size, t.node_batches, shuffle=True, seed=seed)
        return Engine(model, optimizer, train, valid, **kwargs)
    from gsat.training.distributed import DistributedEngine, distributed_loader

    return DistributedEngine(model, optimizer,
                             distributed_loader(ds.train, t.batch_size, dist, seed), valid,
                             dist=dist, **kwargs)


def train_one_seed(cfg: Config, ds: GraphDataset, seed: int, out_dir: Path,
                   device: str | torch.device = "cpu", method: Method = "gsat",
                   progress: bool = True, tensorboard: bool = False,
                   resume: bool = False, dist: Optional["DistContext"] = None,
                   guard: Optional[Callable[[], None]] = None) -> Dict[str, Any]:
    r"""Train one model and return its record for ``results.json``.

    Model selection (the paper's protocol, :class:`gsat.core.selection.Selector`): among epochs
    :math:`e >` :obj:`min_select_epoch` whose :math:`r` has reached :obj:`final_r`, the best
    validation metric (ties: lower validation prediction loss); test metrics are those of
    that epoch. If no epoch qualifies, the best over all epochs is taken, a warning is logged
    and the record says :obj:`"selection": "all_epochs"`.

    Writes into :obj:`out_dir`: ``best.pt`` (weights of the selected epoch), ``last.pt``
    (full training state after the last complete epoch: model, optimizer, epoch, history,
    best-so-far records with their weights, the random states of Python, NumPy, torch and of
    the training loader's shuffle, and the config; rewritten atomically at every epoch end)
    and ``metrics.csv`` (one row per epoch, rewritten after every epoch); with
    :obj:`tensorboard`, TensorBoard scalars and attention histograms per epoch in
    ``tensorboard/`` (see :class:`gsat.training.tensorboard.TensorBoardLogger`).

    Args:
        resume (bool, optional): continue after the epoch saved in :obj:`out_dir/last.pt`
            (if it exists); on the CPU the result is the one of an uninterrupted run.
            (default: :obj:`False`)
        dist (gsat.training.distributed.DistContext, optional): this process's place in a process
            group: train with DistributedDataParallel on :obj:`dist.device` (which replaces
            :obj:`device`), only rank 0 writes files (see :mod:`gsat.training.distributed`).
            (default: :obj:`None`, one process)
        guard (callable, optional): called before every epoch's files and the pictures are
            written; raises to stop the run, e.g. :meth:`gsat.runs.lock.RunLock.check` when
            the run folder was deleted (:class:`gsat.training.hooks.GuardHook`).
            (default: :obj:`None`)

    Raises:
        FloatingPointError: the loss became NaN or infinite (see :func:`train_epoch`);
            ``last.pt`` of the last complete epoch is left as it was.
        gsat.errors.CheckpointError: :obj:`resume` and ``last.pt`` is unreadable or belongs
            to another config, method or dataset.
        gsat.errors.ConfigError: with :obj:`dist`, :obj:`train.batch_size` is not a
            multiple of the number of processes.
    """
    device = torch.device(device) if dist is None else dist.device
    main = dist is None or dist.is_main
    t = cfg.train
    if dist is not None:
        dist.per_rank_batch_size(t.batch_size)  # refuse a batch size that does not split
    folder = SeedFolder(out_dir, seed)
    if main:
        folder.path.mkdir(parents=True, exist_ok=True)
    set_seed(seed)
    model = build_model(cfg, ds, method).to(device)
    if dist is not None:
        dist.seed_rank(seed)  # same initial weights, own noise per rank from here on
    pretrain_record = pretrain_backbone(cfg, ds, model, seed, folder.path, device, progress,
                                        dist)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    test_graphs = ds.interp_test if ds.interp_test is not None else ds.test
    final_r = final_prior(cfg.gsat.final_r, cfg.gsat.fixed_r)
    from gsat.core.gmt import stage2_start  # GMT-sam: select among second-stage epochs

    selection = Selection(Selector(t.min_select_epoch + stage2_start(model), final_r,
                                   higher_is_better=getattr(ds.evaluator, "higher_is_better",
                                                            True)))
    meta = {"config": cfg.to_dict(), "method": method, "dataset": ds.name}
    engine = _engine(model, opt, ds, t, seed, dist,
                     evaluator=ds.evaluator, device=device,
                     k=PRECISION_K, progress=progress, batch_progress=progress,
                     desc=f"{ds.name} {cfg.model.backbone} {estimator_of(cfg, method)} seed {seed}")
    start_epoch = 0
    if resume and folder.last.exists():
        start_epoch = _resume(engine, selection, folder, cfg, method, ds, seed, dist)
    engine.hooks = _hooks(engine, selection, folder, cfg, ds, {"seed": seed, **meta},
                          tensorboard and main)
    if Stage1PickHook.wanted(model):  # GMT-sam freezing its best first-stage epoch
        engine.hooks.insert(0, Stage1PickHook.beside(selection, t.min_select_epoch))
    if guard is not None:
        engine.hooks.insert(0, GuardHook(guard))
    engine.run(t.epochs, start_epoch)
    if guard is not None:
        guard()

    record = {**_selected(engine, selection, cfg, seed, final_r), **pretrain_record}
    if isinstance(model, GSAT) and t.num_viz > 0 and main:
        _draw(model, test_graphs, t.num_viz, ds, folder.explanations, device)
    return record


def _resume(engine: Engine, selection: Selection, folder: SeedFolder, cfg: Config,
            method: str, ds: GraphDataset, seed: int, dist: Optional["DistContext"]) -> int:
    """Put the state of ``last.pt`` back into :obj:`engine` and :obj:`selection`; returns
    the epoch to continue at."""
    ckpt = _resume_state(folder.last, cfg, method, ds, engine.model, engine.optimizer,
                         engine.train_loader.generator, engine.device)
    if dist is not None:
        from gsat.training.distributed import restore_rank_rng

        restore_rank_rng(ckpt, dist, seed, str(folder.last))
    elif int(ckpt.get("world_size", 1)) != 1:
        log.warning("%s was written by %d processes, resumed with one: training "
                    "continues, but not exactly as an uninterrupted run would",
                    folder.last, int(ckpt["world_size"]))
    selection.best_qual, selection.best_any = ckpt["best_qual"], ckpt["best_any"]
    engine.history = list(ckpt["history"])
    engine.train_seconds = list(ckpt["train_seconds"])
    return int(ckpt["epoch"]) + 1


def _hooks(engine: Engine, selection: Selection, folder: SeedFolder, cfg: Config,
           ds: GraphDataset, meta: Dict[str, Any], tensorboard: bool) -> List[Hook]:
    """The hooks of a seed's run: model selection (``best.pt``), TensorBoard, the run files
    (``metrics.csv``, ``last.pt``) and kept checkpoints."""
    t = cfg.train
    seed = int(meta["seed"])
    interp_loader = None if ds.interp_test is None else _loader(ds.interp_test, t.batch_size,
                                                                t.eval_node_batches, seed=seed)
    best_meta = {k: v for k, v in meta.items() if k != "seed"}
    test_loader = _loader(ds.test, t.batch_size, t.eval_node_batches, seed=seed)
    hooks: List[Hook] = [SelectionHook(selection, test_loader, interp_loader, folder.best,
                                       best_meta)]
    if tensorboard:
        hooks.append(TensorBoardHook(folder.tensorboard))
    hooks.append(RunFilesHook(folder, selection, meta, engine.train_loader.generator))
    if getattr(t, "keep_checkpoints_every", None):
        hooks.append(KeepCheckpointsHook(folder, t.keep_checkpoints_every))
    return hooks


def _selected(engine: Engine, selection: Selection, cfg: Config, seed: int,
              final_r: float) -> Dict[str, Any]:
    """Load the selected epoch's weights into the engine's model; its record for
    ``results.json``."""
    t = cfg.train
    chosen, how = selection.chosen()
    if how == "all_epochs":
        log.warning("no epoch after epoch %d had r at its final value %.2f (run of %d epochs); "
                    "selected the best validation epoch over all epochs. To select as the "
                    "paper does: %s", t.min_select_epoch, final_r, t.epochs,
                    schedule_advice(cfg))
    engine.model.load_state_dict(chosen["state"])
    return {
        "seed": seed, "best_epoch": chosen["epoch"], "selection": how,
        "valid_metric": chosen["valid_metric"], "test_metric": chosen["test_metric"],
        "test_interp_auc": chosen["test_interp_auc"],
        "test_precision_at_5": chosen["test_precision_at_k"],
        "valid_interp_auc": chosen["valid_interp_auc"],
        "seconds_per_epoch": float(np.mean(engine.train_seconds)),
        "epochs": t.epochs,
    }


def pretrain_backbone(cfg: Config, ds: GraphDataset, model: nn.Module, seed: int,
                      out_dir: Path, device: str | torch.device = "cpu",
                      progress: bool = True, dist: Optional["DistContext"] = None
                      ) -> Dict[str, Any]:
    r"""GSAT* (the fine-tuning variant of the paper): when :obj:`cfg.train.from_scratch` is
    false, train the backbone of a :class:`~gsat.GSAT` :obj:`model` alone on the prediction
    loss (as :class:`~gsat.core.model.ERM`) for :obj:`train.pretrain_epochs` epochs with Adam
    (:obj:`train.pretrain_lr`, :obj:`train.pretrain_weight_decay`; with
    :obj:`train.pretrain_plateau_patience` the learning rate follows
    :class:`torch.optim.lr_scheduler.ReduceLROnPlateau` on the validation metric) and leave
    the weights of its best validation epoch (:meth:`gsat.core.selection.Selector.better`
    over all epochs) or, with :obj:`train.pretrain_start: last`, of its last epoch in place,
    so that GSAT training starts from them. The gated pass's batch-norm statistics
    start from the pretrained ones too. The backbone weights are also written to
    :obj:`out_dir/pretrained.pt` (by rank 0 only when :obj:`dist` is given, in which case the
    pretraining is data-parallel as in :func:`train_one_seed`).

    Does nothing (and returns :obj:`{}`) for training from scratch or an ERM model.

    Returns:
        dict: :obj:`pretrain_best_epoch`, :obj:`pretrain_valid_metric` (of the best
        epoch) and :obj:`pretrain_start_epoch` (the epoch GSAT starts from) for
        ``results.json``.
    """
    t = cfg.train
    if t.from_scratch or not isinstance(model, GSAT):
        return {}
    from gsat.core.passes import PassStatistics

    erm = ERM(model.backbone, task=ds.task)
    opt = torch.optim.Adam(erm.parameters(), lr=t.pretrain_lr,
                           weight_decay=t.pretrain_weight_decay)
    best = _BestBackbone(model.backbone)
    hooks: List[Hook] = [best]
    if t.pretrain_plateau_patience is not None:
        higher = getattr(ds.evaluator, "higher_is_better", True)
        hooks.append(_PlateauHook(torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="max" if higher else "min", factor=t.pretrain_plateau_factor,
            patience=t.pretrain_plateau_patience, threshold=t.pretrain_plateau_threshold)))
    engine = _engine(erm, opt, ds, t, seed, dist, evaluator=ds.evaluator,
                     device=device, hooks=hooks, progress=progress,
                     desc=f"{ds.name} pretrain seed {seed}")
    engine.run(t.pretrain_epochs)
    if t.pretrain_start == "last":
        start = {"epoch": t.pretrain_epochs - 1,
                 "state": {k_: v.detach().clone()
                           for k_, v in model.backbone.state_dict().items()}}
    else:
        start = best.best
    if dist is not None:  # the DDP wrapper of the backbone must be gone before the next one
        import gc

        del engine
        gc.collect()
    model.backbone.load_state_dict(start["state"])
    if model.gated_stats is not None:
        model.gated_stats = PassStatistics(model.backbone).to(torch.device(device))
    if dist is None or dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint({"backbone": {k_: v.cpu() for k_, v in start["state"].items()},
                         "epoch": start["epoch"]}, SeedFolder(out_dir, seed).pretrained)
    log.info("GSAT*: pretrained backbone of seed %d, best validation %s %.4f at epoch %d; "
             "GSAT starts from epoch %d", seed, ds.metric, best.best["valid_metric"],
             best.best["epoch"], start["epoch"])
    return {"pretrain_best_epoch": best.best["epoch"],
            "pretrain_valid_metric": best.best["valid_metric"],
            "pretrain_start_epoch": start["epoch"]}


class _PlateauHook(Hook):
    """Steps a :class:`~torch.optim.lr_scheduler.ReduceLROnPlateau` with the validation
    metric after every epoch."""

    def __init__(self, scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau):
        self.scheduler = scheduler

    def on_epoch_end(self, engine: Engine, epoch: int, rec: Dict[str, Any],
                     val: Optional[EvalResult]) -> None:
        self.scheduler.step(rec["valid_metric"])


class _BestBackbone(Hook):
    """Keeps the backbone weights of the best validation epoch (all epochs qualify)."""

    def __init__(self, backbone: nn.Module):
        self.backbone = backbone
        self.best: Optional[Dict[str, Any]] = None

    def on_epoch_end(self, engine: Engine, epoch: int, rec: Dict[str, Any],
                     val: Optional[EvalResult]) -> None:
        rec = {"epoch": epoch, "valid_metric": rec["valid_metric"],
               "valid_loss": rec["valid_loss"]}
        if Selector.better(rec, self.best, getattr(engine.evaluator, "higher_is_better", True)):
            self.best = dict(rec, state={k_: v.detach().clone()
                                         for k_, v in self.backbone.state_dict().items()})


def _draw(model: GSAT, graphs: Sequence, limit: int, ds: GraphDataset, folder: Path,
          device: torch.device) -> None:
    """Pictures of the first test graphs, titled with the model's prediction and the true
    label by class name; graphs featurised as OGB's molecules (``csv:`` and OGB datasets)
    drawn by RDKit as molecules."""
    from gsat.core.task import prediction_record
    from gsat.viz import draw_graph_explanation, prediction_title

    if ds.extra.get("level") == "node":
        _draw_nodes(model, graphs, limit, ds, folder, device)
        return
    names = ds.extra.get("class_names")
    molecular = ds.config_name == "ogbg_mol"
    was_training = model.training
    model.eval()
    for i, g in enumerate(graphs[:limit]):
        g = g.to(device)
        att = model.explain(g).cpu()
        with torch.no_grad():
            logits = model(g).logits
        pred = prediction_record(logits, str(ds.task))
        node_names = None
        if ds.node_names is not None and getattr(g, "node_type", None) is not None:
            node_names = [ds.node_names[int(t)] for t in g.node_type.view(-1)]
        y = g.y.detach().cpu().view(-1)
        label = None
        if str(ds.task) in ("binary", "multiclass") and y.numel() == 1 and \
                not torch.isnan(y[0].double()):
            label = int(y[0])
        elif str(ds.task) in ("multilabel", "regression"):
            label = [float(v) for v in y] if not torch.isnan(y.double()).all() else None
        title = prediction_title(pred["prediction"], pred["probability"], str(ds.task),
                                 names if isinstance(names, list) else None, label,
                                 f"{ds.name} test graph {i}")
        draw_graph_explanation(g.cpu(), att, folder / f"graph_{i:03d}.png",
                               node_names=node_names, title=title, molecule=molecular)
    model.train(was_training)


def _draw_nodes(model: GSAT, graphs: Sequence, limit: int, ds: GraphDataset, folder: Path,
                device: torch.device) -> None:
    """Pictures of the first explained nodes: each one's computation subgraph, edges by
    attention, the node itself marked, its ground-truth edges outlined."""
    from gsat.explain.nodes import explained_nodes
    from gsat.viz import draw_explanation
    from gsat.viz.scale import class_name

    # a whole graph without ground truth has no explained nodes to draw
    graphs = [g for g in graphs if "explain_edges" in g or "node_id" in g]
    names = ds.extra.get("class_names")
    names = names if isinstance(names, list) else None
    labels = {}  # the true class of each node the graphs hold
    for g in graphs:
        ids = getattr(g, "node_id", None)
        y = g.y.view(-1)
        if isinstance(ids, torch.Tensor) and ids.numel() == 1 and y.numel() == 1:
            labels[int(ids)] = int(y[0])
    for exp in explained_nodes(model, [g.to(device) for g in graphs], limit):
        label = getattr(exp, "edge_label", None)
        true = labels.get(int(exp.node))
        draw_explanation(exp.edge_index.cpu(), exp.edge_att, int(exp.node_ids.numel()),
                         folder / f"node_{exp.node:05d}.png",
                         edge_label=None if label is None else label.clamp(min=0),
                         target=0, title=f"{ds.name} node {exp.node}"
                         + ("" if true is None else f" ({class_name(true, names)})")
                         + f" and its {ds.extra.get('num_hops')}-hop computation graph")
