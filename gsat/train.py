r"""Training, evaluation and model selection for GSAT (and ERM) on a :class:`GraphDataset`."""
from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import random
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence

import numpy as np
import torch
from torch import nn
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from gsat.checkpoint import (config_differences, load_checkpoint, load_state_checked,
                             remove_stale_temporaries, rng_state, save_checkpoint, set_rng_state)
from gsat.config import Config, default_config_path, load_config, save_config
from gsat.data import GraphDataset, load_dataset
from gsat.errors import CheckpointError, ConfigError, TrainingDivergedError
from gsat.explain.metrics import interp_auc, precision_at_k
from gsat.model import ERM, GSAT
from gsat.nn import GIN, PNA, degree_histogram

log = logging.getLogger(__name__)

Method = Literal["gsat", "erm"]
#: numeric per-run fields summarised by mean/std in results.json
#: k of the precision@k reported in results.json (as in the paper)
PRECISION_K = 5
SUMMARY_FIELDS = ("best_epoch", "valid_metric", "test_metric", "test_interp_auc",
                  "test_precision_at_5", "seconds_per_epoch")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_backbone(cfg: Config, ds: GraphDataset) -> nn.Module:
    r"""The backbone of :obj:`cfg.model` sized for :obj:`ds`."""
    m = cfg.model
    edge_dim = ds.edge_dim if m.use_edge_attr else None
    node_enc = edge_enc = None
    if m.atom_encoder:
        try:
            from ogb.graphproppred.mol_encoder import AtomEncoder, BondEncoder
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ConfigError("model.atom_encoder needs the 'ogb' extra: "
                              "pip install -e \".[ogb]\"") from exc
        node_enc = AtomEncoder(m.hidden_size)
        edge_enc = BondEncoder(m.hidden_size) if edge_dim else None
    common = dict(in_channels=ds.num_features, out_channels=ds.num_outputs,
                  hidden_channels=m.hidden_size, num_layers=m.n_layers, dropout=m.dropout_p,
                  edge_dim=edge_dim, node_encoder=node_enc, edge_encoder=edge_enc)
    if m.backbone == "GIN":
        return GIN(**common)
    scalers = ["identity", "amplification", "attenuation"] if m.scalers else ["identity"]
    return PNA(deg=degree_histogram(ds.train), aggregators=m.aggregators, scalers=scalers,
               **common)


def build_model(cfg: Config, ds: GraphDataset, method: Method = "gsat") -> nn.Module:
    r"""A :class:`~gsat.GSAT` (or :class:`~gsat.model.ERM`) model for :obj:`ds` from :obj:`cfg`."""
    backbone = build_backbone(cfg, ds)
    if method == "erm":
        return ERM(backbone, task=ds.task)
    g = cfg.gsat
    return GSAT(backbone, task=ds.task, learn_edge_att=cfg.extractor.learn_edge_att,
                info_loss_coef=g.info_loss_coef, pred_loss_coef=g.pred_loss_coef,
                temperature=g.temperature, init_r=g.init_r, final_r=g.final_r,
                decay_r=g.decay_r, decay_interval=g.decay_interval, fixed_r=g.fixed_r,
                symmetrize=True if ds.undirected else False,
                extractor_dropout=cfg.extractor.dropout_p,
                separate_bn_stats=g.separate_bn_stats)


def prediction_metric(logits: torch.Tensor, y: torch.Tensor, task: str, metric: str,
                      metric_fn: Optional[Callable[[torch.Tensor, torch.Tensor], float]] = None
                      ) -> float:
    r"""Accuracy (:obj:`"acc"`) or ROC AUC (:obj:`"rocauc"`, averaged over tasks with both
    classes present, NaN labels ignored) of graph logits; :obj:`metric_fn(logits, y)` instead
    when given (a dataset's own metric, :attr:`GraphDataset.metric_fn`)."""
    if metric_fn is not None:
        return float(metric_fn(logits, y))
    if metric == "acc":
        if task == "binary":
            pred = (logits.view(-1) > 0).long()
            return float((pred == y.view(-1).long()).float().mean())
        if task == "multiclass":
            return float((logits.argmax(-1) == y.view(-1).long()).float().mean())
        y2 = y.view(logits.shape)
        ok = ~torch.isnan(y2)
        return float(((logits > 0).float() == y2)[ok].float().mean())
    y2 = y.view(logits.size(0), -1).float()
    p2 = logits.view(logits.size(0), -1)
    aucs = []
    for t in range(y2.size(1)):
        ok = ~torch.isnan(y2[:, t])
        auc = interp_auc(p2[ok, t], y2[ok, t])
        if not math.isnan(auc):
            aucs.append(auc)
    return float(np.mean(aucs)) if aucs else math.nan


def make_loader(graphs: Sequence, batch_size: int, shuffle: bool = False,
                seed: int = 0) -> DataLoader:
    gen = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(list(graphs), batch_size=batch_size, shuffle=shuffle, generator=gen)


@dataclass
class EvalResult:
    """Scores of one pass over a split (and, if requested, the raw per-edge arrays)."""

    loss: float
    metric: float
    interp_auc: float = math.nan
    precision_at_k: float = math.nan
    edge_att: Optional[torch.Tensor] = None
    edge_label: Optional[torch.Tensor] = None
    edge_graph: Optional[torch.Tensor] = None


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, epoch: int, task: str, metric: str,
             device: torch.device, k: int = 5, keep_arrays: bool = False,
             metric_fn: Optional[Callable[[torch.Tensor, torch.Tensor], float]] = None
             ) -> EvalResult:
    r"""One evaluation pass: prediction loss and metric (:obj:`metric_fn` if given, see
    :func:`prediction_metric`); for GSAT also the interpretation ROC AUC and precision@k of
    the eval-time attention against :obj:`edge_label`."""
    was_training = model.training
    model.eval()
    logits, ys, atts, labels, graphs = [], [], [], [], []
    offset = 0
    try:
        for data in loader:
            data = data.to(device)
            out = model(data)
            logits.append(out.logits.cpu())
            ys.append(data.y.cpu())
            if out.edge_att is not None and getattr(data, "edge_label", None) is not None:
                atts.append(out.edge_att.view(-1).cpu())
                labels.append(data.edge_label.view(-1).cpu())
                graphs.append((data.batch[data.edge_index[0]] + offset).cpu())
            offset += data.num_graphs
    finally:
        model.train(was_training)
    if not logits:
        return EvalResult(loss=math.nan, metric=math.nan)
    lg, y = torch.cat(logits), torch.cat(ys)
    res = EvalResult(loss=float(model.prediction_loss(lg, y)),
                     metric=prediction_metric(lg, y, task, metric, metric_fn))
    if atts:
        att, lab, gr = torch.cat(atts), torch.cat(labels), torch.cat(graphs)
        res.interp_auc = interp_auc(att, lab)
        res.precision_at_k = precision_at_k(att, lab, gr, k)
        if keep_arrays:
            res.edge_att, res.edge_label, res.edge_graph = att, lab, gr
    return res


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                epoch: int, device: str | torch.device, task: str, metric: str,
                progress: bool = False,
                metric_fn: Optional[Callable[[torch.Tensor, torch.Tensor], float]] = None
                ) -> Dict[str, float]:
    r"""One optimisation pass of :obj:`model` (:class:`~gsat.GSAT` or :class:`~gsat.model.ERM`)
    over :obj:`loader` at a 0-based :obj:`epoch` (which sets GSAT's :math:`r`).

    Raises:
        FloatingPointError: the loss became NaN or infinite; the message names the epoch and
            the batch. The optimizer step of that batch is not taken.

    Returns:
        dict: :obj:`train_loss` (mean over graphs), :obj:`train_metric` (of the training-mode
        logits), :obj:`seconds`, and the mean of every part of :meth:`loss` (e.g.
        :obj:`pred`, :obj:`info`) under :obj:`train_<part>`.
    """
    device = torch.device(device)
    model.train()
    start = time.perf_counter()
    sums: Dict[str, float] = {}
    n_graphs = 0
    logits, ys = [], []
    batches = tqdm(loader, leave=False, desc="batches",
                   disable=not progress or len(loader) < 20)
    for b, data in enumerate(batches):
        data = data.to(device)
        out = model(data)
        loss, parts = model.loss(out, data.y, epoch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the training loss became {float(loss.detach())} at epoch {epoch}, "
                                     f"batch {b}")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        for key, val in parts.items():
            if key != "r":
                sums[key] = sums.get(key, 0.0) + val * data.num_graphs
        n_graphs += data.num_graphs
        logits.append(out.logits.detach().cpu())
        ys.append(data.y.cpu())
    res = {f"train_{k_}" if k_ != "loss" else "train_loss": v / max(n_graphs, 1)
           for k_, v in sums.items()}
    res["train_metric"] = (prediction_metric(torch.cat(logits), torch.cat(ys), task, metric,
                                             metric_fn) if logits else math.nan)
    res["seconds"] = time.perf_counter() - start
    return res


def _atomic_save(obj: Any, path: Path) -> None:
    save_checkpoint(obj, path)


class TrainingInterrupted(KeyboardInterrupt):
    r"""Ctrl-C stopped a run; everything complete (epochs, finished seeds) is saved.
    :obj:`str(exc)` is a one-line message saying how to resume.

    Args:
        message (str): the message.
        run_dir (pathlib.Path, optional): the run folder to resume.
    """

    def __init__(self, message: str, run_dir: Optional[Path] = None):
        super().__init__(message)
        self.run_dir = run_dir


#: version of the layout of ``last.pt``
CHECKPOINT_FORMAT = 1


def _resume_state(path: Path, cfg: Config, method: str, ds: GraphDataset, model: nn.Module,
                  opt: torch.optim.Optimizer, scheduler: Any,
                  generator: Optional[torch.Generator], device: torch.device
                  ) -> Dict[str, Any]:
    r"""Put the training state of :obj:`path` (a ``last.pt``) back in place after checking
    that it belongs to this run; returns the checkpoint for the loop's own records."""
    remove_stale_temporaries(path.parent)
    ckpt = load_checkpoint(path, map_location=device)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a resumable training state (format "
                              f"{ckpt.get('format')!r}, {CHECKPOINT_FORMAT} expected)")
    diff = config_differences(ckpt.get("config", {}), cfg.to_dict())
    if diff:
        raise CheckpointError(f"{path} was written with another config: {'; '.join(diff)}")
    if (ckpt.get("method"), ckpt.get("dataset")) != (method, ds.name):
        raise CheckpointError(f"{path} holds a {ckpt.get('method')} model of "
                              f"{ckpt.get('dataset')}, not {method} on {ds.name}")
    load_state_checked(model, ckpt["model"], str(path))
    try:
        opt.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: the optimizer state does not fit ({exc})") from None
    set_rng_state(ckpt["rng"], generator)
    log.info("resuming from %s after epoch %d", path, ckpt["epoch"])
    return ckpt


def _better(a: Dict[str, float], b: Optional[Dict[str, float]]) -> bool:
    """Is epoch record :obj:`a` better than :obj:`b` (higher valid metric, then lower loss)?"""
    if b is None:
        return True
    va, vb = a["valid_metric"], b["valid_metric"]
    va = -math.inf if math.isnan(va) else va
    vb = -math.inf if math.isnan(vb) else vb
    if va != vb:
        return va > vb
    return a["valid_loss"] < b["valid_loss"]


def train_one_seed(cfg: Config, ds: GraphDataset, seed: int, out_dir: Path,
                   device: str | torch.device = "cpu", method: Method = "gsat",
                   progress: bool = True, tensorboard: bool = False,
                   resume: bool = False) -> Dict[str, Any]:
    r"""Train one model and return its record for ``results.json``.

    Model selection (the paper's protocol): among epochs :math:`e >` :obj:`min_select_epoch`
    whose :math:`r` has reached :obj:`final_r`, the best validation metric (ties: lower
    validation prediction loss); test metrics are those of that epoch. If no epoch qualifies,
    the best over all epochs is taken, a warning is logged and the record says
    :obj:`"selection": "all_epochs"`.

    Writes into :obj:`out_dir`: ``best.pt`` (weights of the selected epoch), ``last.pt``
    (full training state after the last complete epoch: model, optimizer, epoch, history,
    best-so-far records with their weights, the random states of Python, NumPy, torch and of
    the training loader's shuffle, and the config; rewritten atomically at every epoch end)
    and ``metrics.csv`` (one row per epoch, rewritten after every epoch); with
    :obj:`tensorboard`, TensorBoard scalars and attention histograms per epoch in
    ``tensorboard/`` (see :class:`gsat.tensorboard_log.TensorBoardLogger`).

    Args:
        resume (bool, optional): continue after the epoch saved in :obj:`out_dir/last.pt`
            (if it exists); on the CPU the result is the one of an uninterrupted run.
            (default: :obj:`False`)

    Raises:
        FloatingPointError: the loss became NaN or infinite (see :func:`train_epoch`);
            ``last.pt`` of the last complete epoch is left as it was.
        gsat.errors.CheckpointError: :obj:`resume` and ``last.pt`` is unreadable or belongs
            to another config, method or dataset.
    """
    device = torch.device(device)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_seed(seed)
    model = build_model(cfg, ds, method).to(device)
    pretrain_record = pretrain_backbone(cfg, ds, model, seed, out_dir, device, progress)
    t = cfg.train
    opt = torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    train_loader = make_loader(ds.train, t.batch_size, shuffle=True, seed=seed)
    valid_loader = make_loader(ds.valid, t.batch_size)
    test_graphs = ds.interp_test if ds.interp_test is not None else ds.test
    test_loader = make_loader(ds.test, t.batch_size)
    interp_loader = None if ds.interp_test is None else make_loader(ds.interp_test, t.batch_size)
    final_r = cfg.gsat.fixed_r if cfg.gsat.fixed_r is not None else cfg.gsat.final_r
    k = PRECISION_K
    tb_log = None
    if tensorboard:
        from gsat.tensorboard_log import TensorBoardLogger

        tb_log = TensorBoardLogger(out_dir / "tensorboard")

    best_qual: Optional[Dict[str, Any]] = None
    best_any: Optional[Dict[str, Any]] = None
    history: List[Dict[str, Any]] = []
    train_seconds: List[float] = []
    scheduler: Any = None
    start_epoch = 0
    if resume and (out_dir / "last.pt").exists():
        ckpt = _resume_state(out_dir / "last.pt", cfg, method, ds, model, opt, scheduler,
                             train_loader.generator, device)
        best_qual, best_any = ckpt["best_qual"], ckpt["best_any"]
        history, train_seconds = list(ckpt["history"]), list(ckpt["train_seconds"])
        start_epoch = int(ckpt["epoch"]) + 1
    bar = tqdm(range(start_epoch, t.epochs),
               desc=f"{ds.name} {cfg.model.backbone} {method} seed {seed}",
               disable=not progress, dynamic_ncols=True, initial=start_epoch, total=t.epochs)
    for epoch in bar:
        ep = train_epoch(model, train_loader, opt, epoch, device, ds.task, ds.metric,
                         progress=progress, metric_fn=ds.metric_fn)
        train_seconds.append(ep["seconds"])
        train_metric = ep["train_metric"]
        val = evaluate(model, valid_loader, epoch, ds.task, ds.metric, device, k,
                       keep_arrays=tb_log is not None, metric_fn=ds.metric_fn)
        r = model.get_r(epoch) if isinstance(model, GSAT) else None
        rec: Dict[str, Any] = {
            "epoch": epoch, "r": r, "train_loss": ep["train_loss"],
            "train_metric": train_metric, "valid_loss": val.loss, "valid_metric": val.metric,
            "valid_interp_auc": val.interp_auc, "seconds": train_seconds[-1],
            **{k_: v for k_, v in ep.items() if k_ not in ("train_loss", "train_metric",
                                                           "seconds")}}
        qualifies = epoch > t.min_select_epoch and (r is None or abs(r - final_r) < 1e-9)
        new_qual = qualifies and _better(rec, best_qual)
        new_any = _better(rec, best_any)
        if new_qual or new_any:
            test = evaluate(model, test_loader, epoch, ds.task, ds.metric, device, k,
                            metric_fn=ds.metric_fn)
            if interp_loader is not None:
                it = evaluate(model, interp_loader, epoch, ds.task, ds.metric, device, k)
                test.interp_auc, test.precision_at_k = it.interp_auc, it.precision_at_k
            rec.update(test_loss=test.loss, test_metric=test.metric,
                       test_interp_auc=test.interp_auc, test_precision_at_k=test.precision_at_k)
            state = {k_: v.detach().cpu().clone() for k_, v in model.state_dict().items()}
            if new_any:
                best_any = dict(rec, state=state)
            if new_qual:
                best_qual = dict(rec, state=state)
            chosen = best_qual or best_any
            if chosen["epoch"] == epoch:
                _atomic_save({"model": state, "epoch": epoch, "config": cfg.to_dict(),
                              "method": method, "dataset": ds.name}, out_dir / "best.pt")
        history.append(rec)
        _write_csv(history, out_dir / "metrics.csv")  # after every epoch
        if tb_log is not None:
            tb_log.log_epoch(epoch, rec, val)
        _atomic_save({"format": CHECKPOINT_FORMAT, "model": model.state_dict(),
                      "optimizer": opt.state_dict(),
                      "scheduler": None if scheduler is None else scheduler.state_dict(),
                      "epoch": epoch, "seed": seed, "config": cfg.to_dict(), "method": method,
                      "dataset": ds.name, "history": history, "train_seconds": train_seconds,
                      "best_qual": best_qual, "best_any": best_any,
                      "rng": rng_state(train_loader.generator)},
                     out_dir / "last.pt")
        bar.set_postfix(loss=f"{rec['train_loss']:.3f}", acc=f"{train_metric:.3f}",
                        val=f"{val.metric:.3f}", val_auc=f"{val.interp_auc:.3f}")
    if tb_log is not None:
        tb_log.close()

    selection = "final_r"
    chosen = best_qual
    if chosen is None:
        selection = "all_epochs"
        chosen = best_any
        log.warning("no epoch after epoch %d had r at its final value %.2f (run of %d epochs); "
                    "selected the best validation epoch over all epochs", t.min_select_epoch,
                    final_r, t.epochs)
    model.load_state_dict(chosen["state"])
    record = {
        "seed": seed, "best_epoch": chosen["epoch"], "selection": selection,
        "valid_metric": chosen["valid_metric"], "test_metric": chosen["test_metric"],
        "test_interp_auc": chosen["test_interp_auc"],
        "test_precision_at_5": chosen["test_precision_at_k"],
        "valid_interp_auc": chosen["valid_interp_auc"],
        "seconds_per_epoch": float(np.mean(train_seconds)),
        "epochs": t.epochs,
        **pretrain_record,
    }
    if isinstance(model, GSAT) and t.num_viz > 0:
        _draw(model, test_graphs[: t.num_viz], ds, out_dir / "explanations", device)
    return record


def pretrain_backbone(cfg: Config, ds: GraphDataset, model: nn.Module, seed: int,
                      out_dir: Path, device: str | torch.device = "cpu",
                      progress: bool = True) -> Dict[str, Any]:
    r"""GSAT* (the fine-tuning variant of the paper): when :obj:`cfg.train.from_scratch` is
    false, train the backbone of a :class:`~gsat.GSAT` :obj:`model` alone on the prediction
    loss (as :class:`~gsat.model.ERM`) for :obj:`train.pretrain_epochs` epochs with Adam
    (:obj:`train.pretrain_lr`, :obj:`train.pretrain_weight_decay`) and leave the weights of
    its best validation epoch in place, so that GSAT training starts from them. The gated
    pass's batch-norm statistics start from the pretrained ones too. The backbone weights are
    also written to :obj:`out_dir/pretrained.pt`.

    Does nothing (and returns :obj:`{}`) for training from scratch or an ERM model.

    Returns:
        dict: :obj:`pretrain_best_epoch`, :obj:`pretrain_valid_metric` for ``results.json``.
    """
    t = cfg.train
    if t.from_scratch or not isinstance(model, GSAT):
        return {}
    from gsat.model import PassStatistics

    erm = ERM(model.backbone, task=ds.task)
    opt = torch.optim.Adam(erm.parameters(), lr=t.pretrain_lr,
                           weight_decay=t.pretrain_weight_decay)
    train_loader = make_loader(ds.train, t.batch_size, shuffle=True, seed=seed)
    valid_loader = make_loader(ds.valid, t.batch_size)
    best: Optional[Dict[str, Any]] = None
    for epoch in tqdm(range(t.pretrain_epochs), desc=f"{ds.name} pretrain seed {seed}",
                      disable=not progress, dynamic_ncols=True):
        train_epoch(erm, train_loader, opt, epoch, device, ds.task, ds.metric,
                    metric_fn=ds.metric_fn)
        val = evaluate(erm, valid_loader, epoch, ds.task, ds.metric, torch.device(device),
                       metric_fn=ds.metric_fn)
        rec = {"epoch": epoch, "valid_metric": val.metric, "valid_loss": val.loss}
        if _better(rec, best):
            best = dict(rec, state={k_: v.detach().clone()
                                    for k_, v in model.backbone.state_dict().items()})
    model.backbone.load_state_dict(best["state"])
    if model.gated_stats is not None:
        model.gated_stats = PassStatistics(model.backbone).to(torch.device(device))
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_save({"backbone": {k_: v.cpu() for k_, v in best["state"].items()},
                  "epoch": best["epoch"]}, out_dir / "pretrained.pt")
    log.info("GSAT*: pretrained backbone of seed %d, best validation %s %.4f at epoch %d",
             seed, ds.metric, best["valid_metric"], best["epoch"])
    return {"pretrain_best_epoch": best["epoch"], "pretrain_valid_metric": best["valid_metric"]}


def _draw(model: GSAT, graphs: Sequence, ds: GraphDataset, folder: Path,
          device: torch.device) -> None:
    from gsat.viz import draw_explanation

    for i, g in enumerate(graphs):
        att = model.explain(g.to(device)).cpu()
        names = None
        if ds.node_names is not None and getattr(g, "node_type", None) is not None:
            names = [ds.node_names[int(t)] for t in g.node_type.view(-1)]
        label = int(g.y.view(-1)[0]) if g.y.numel() == 1 else None
        draw_explanation(g.edge_index.cpu(), att, g.num_nodes, folder / f"graph_{i:03d}.png",
                         edge_label=getattr(g, "edge_label", None), node_names=names,
                         title=f"{ds.name} test graph {i} (label {label})")


def _write_csv(history: List[Dict[str, Any]], path: Path) -> None:
    keys: List[str] = []
    for rec in history:
        keys += [k for k in rec if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)


def summarize(runs: List[Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    """Mean and (population) standard deviation over seeds of the numeric run fields."""
    mean, std = {}, {}
    for key in SUMMARY_FIELDS:
        vals = [float(r[key]) for r in runs if key in r and r[key] is not None]
        vals = [v for v in vals if not math.isnan(v)]
        if vals:
            mean[key] = statistics.fmean(vals)
            std[key] = statistics.pstdev(vals) if len(vals) > 1 else 0.0
    return {"mean": mean, "std": std}


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return obj


@dataclass
class RunSpec:
    """What to run: everything the command line can set."""

    dataset: str
    backbone: Literal["GIN", "PNA"] = "GIN"
    config: Optional[str] = None
    epochs: Optional[int] = None
    seeds: List[int] = field(default_factory=lambda: [0])
    device: str = "cpu"
    out: Optional[str] = None
    data_dir: str = "data"
    method: Method = "gsat"
    progress: bool = True
    dataset_options: Dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments of the dataset builder (e.g. ``num_graphs``)."""
    tensorboard: bool = False
    """Write TensorBoard logs to ``seed<N>/tensorboard/`` (needs the ``tensorboard`` extra)."""
    resume: Optional[str] = None
    """Run folder of an interrupted run to continue; all other fields except
    :obj:`progress` are then read from its ``run.json`` (see :func:`resume_spec`)."""


#: fields of :class:`RunSpec` that are not stored in ``run.json``
_NOT_STORED = ("progress", "resume")


def resume_spec(run_dir: str | Path, progress: bool = True) -> RunSpec:
    r"""The :class:`RunSpec` of the run in :obj:`run_dir` (from its ``run.json``), set to
    resume it.

    Raises:
        gsat.errors.ConfigError: :obj:`run_dir` is missing or holds no readable ``run.json``.
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        raise ConfigError(f"--resume {run_dir}: no such run folder")
    path = folder / "run.json"
    if not path.is_file():
        raise ConfigError(f"--resume {run_dir}: the folder holds no run.json, so it is not a "
                          "run folder written by 'gsat train' (or the run stopped before "
                          "its first epoch)")
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--resume {run_dir}: run.json is unreadable ({exc})") from None
    known = {f.name for f in dataclasses.fields(RunSpec)} - set(_NOT_STORED)
    if not isinstance(saved, dict) or "dataset" not in saved:
        raise ConfigError(f"{path}: expected the arguments of a run (a mapping with "
                          "'dataset', 'backbone', 'seeds', ...)")
    ignored = sorted(set(saved) - known)
    if ignored:
        log.warning("%s: ignoring unknown field(s) %s", path, ", ".join(ignored))
    args = {k: v for k, v in saved.items() if k in known}
    return RunSpec(**args, progress=progress, resume=str(folder))


def _write_json(obj: Any, path: Path) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def _stopped(exc: BaseException, out: Path, seed: int) -> BaseException:
    """The exception that ends a run stopped by Ctrl-C or a non-finite loss, after writing
    ``metrics.csv`` of the complete epochs of :obj:`seed`."""
    last = out / f"seed{seed}" / "last.pt"
    done = None
    try:
        ckpt = load_checkpoint(last) if last.exists() else None
    except CheckpointError:
        ckpt = None
    if ckpt is not None and ckpt.get("seed", seed) == seed:
        done = int(ckpt["epoch"])
        _write_csv(list(ckpt["history"]), out / f"seed{seed}" / "metrics.csv")
    kept = (f"{last} holds the last complete epoch ({done})" if done is not None
            else "nothing was saved since no epoch was complete")
    if isinstance(exc, KeyboardInterrupt):
        return TrainingInterrupted(f"interrupted during seed {seed}; {kept}. Resume with: "
                                   f"gsat train --resume {out}", out)
    return TrainingDivergedError(f"{exc} (seed {seed}); training stopped and {kept}. Lower "
                                 "train.lr or check the data for extreme values")


def resolve_config(spec: RunSpec, ds_config_name: str) -> Config:
    """The config of a run: the file (given or default) with command-line overrides."""
    path = Path(spec.config) if spec.config else default_config_path(spec.backbone, ds_config_name)
    cfg = load_config(path)
    if cfg.model.backbone != spec.backbone:
        raise ConfigError(f"{path}: model.backbone is {cfg.model.backbone} but --backbone "
                          f"{spec.backbone} was asked for")
    if spec.epochs is not None:
        if spec.epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {spec.epochs}")
        cfg.train.epochs = spec.epochs
    return cfg


def run(spec: RunSpec) -> Dict[str, Any]:
    r"""Train (one model per seed), evaluate and explain; write the run folder and return the
    content of its ``results.json``.

    The run folder (``spec.out`` or ``runs/<dataset>-<backbone>-<timestamp>/``) receives
    ``config.yml``, ``run.json`` (the arguments of the run), ``results.json`` (rewritten after
    every seed), and per seed ``seed<N>/`` with ``best.pt``, ``last.pt``, ``metrics.csv`` and
    ``explanations/*.png``.

    With :obj:`spec.resume` set, the run in that folder continues with its own arguments and
    config: finished seeds are kept, the seed it was in continues after its last complete
    epoch, and ``results.json`` is written into the same folder.

    Raises:
        TrainingInterrupted: Ctrl-C; the message says how to resume.
        gsat.errors.TrainingDivergedError: the loss became NaN or infinite (epoch and batch
            named); the last complete epoch's ``last.pt`` is kept.
    """
    if spec.resume is not None:
        spec = resume_spec(spec.resume, spec.progress)
    ds = load_dataset(spec.dataset, spec.data_dir, seed=spec.seeds[0], **spec.dataset_options)
    if spec.resume is not None:  # the run's own resolved config, not today's file
        cfg = load_config(Path(spec.resume) / "config.yml")
    else:
        cfg = resolve_config(spec, ds.config_name)
    if spec.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {spec.device} was asked for but CUDA is not available; "
                          "use --device cpu")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(spec.out) if spec.out else Path("runs") / f"{spec.dataset}-{spec.backbone}-{stamp}"
    if spec.resume is not None:
        out = Path(spec.resume)
    else:
        if (out / "run.json").exists():
            log.warning("%s already holds a run; starting it over (to continue it instead: "
                        "gsat train --resume %s)", out, out)
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yml")
        stored = {k: v for k, v in dataclasses.asdict(spec).items() if k not in _NOT_STORED}
        stored["data_dir"] = str(Path(spec.data_dir).resolve())
        _write_json(stored, out / "run.json")
        (out / "results.json").unlink(missing_ok=True)
    done: Dict[int, Dict[str, Any]] = {}
    if spec.resume is not None and (out / "results.json").is_file():
        try:
            done = {r["seed"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s is unreadable (%s); finished seeds are rebuilt from their "
                        "checkpoints", out / "results.json", exc)
    results: Dict[str, Any] = {
        "dataset": spec.dataset, "backbone": spec.backbone,
        "method": "GSAT" if spec.method == "gsat" else "ERM", "metric_name": ds.metric,
        "device": spec.device, "seeds": spec.seeds, "epochs": cfg.train.epochs,
        "torch_version": torch.__version__, "runs": []}
    for i, seed in enumerate(spec.seeds):
        if seed in done:
            log.info("seed %d of %s is already finished", seed, out)
            results["runs"].append(done[seed])
            continue
        if i > 0:
            ds = load_dataset(spec.dataset, spec.data_dir, seed=seed, **spec.dataset_options)
        try:
            record = train_one_seed(cfg, ds, seed, out / f"seed{seed}", spec.device,
                                    spec.method, spec.progress, tensorboard=spec.tensorboard,
                                    resume=spec.resume is not None)
        except (KeyboardInterrupt, FloatingPointError) as exc:
            raise _stopped(exc, out, seed) from None
        results["runs"].append(record)
        results.update(summarize(results["runs"]))
        _write_json(_json_safe(results), out / "results.json")
    results.update(summarize(results["runs"]))
    _write_json(_json_safe(results), out / "results.json")
    results["out_dir"] = str(out)
    return results
