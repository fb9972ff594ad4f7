r"""Training, evaluation and model selection for GSAT (and ERM) on a :class:`GraphDataset`."""
from __future__ import annotations

import csv
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

from gsat.config import Config, default_config_path, load_config, save_config
from gsat.data import GraphDataset, load_dataset
from gsat.errors import ConfigError
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
               towers=m.towers, **common)


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
            raise FloatingPointError(f"the training loss became {float(loss)} at epoch {epoch}, "
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
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


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
                   progress: bool = True) -> Dict[str, Any]:
    r"""Train one model and return its record for ``results.json``.

    Model selection (the paper's protocol): among epochs :math:`e >` :obj:`min_select_epoch`
    whose :math:`r` has reached :obj:`final_r`, the best validation metric (ties: lower
    validation prediction loss); test metrics are those of that epoch. If no epoch qualifies,
    the best over all epochs is taken, a warning is logged and the record says
    :obj:`"selection": "all_epochs"`.

    Writes into :obj:`out_dir`: ``best.pt`` (weights of the selected epoch), ``last.pt``
    (full training state after the last complete epoch) and ``metrics.csv`` (one row per
    epoch).
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

    best_qual: Optional[Dict[str, Any]] = None
    best_any: Optional[Dict[str, Any]] = None
    history: List[Dict[str, Any]] = []
    train_seconds: List[float] = []
    bar = tqdm(range(t.epochs), desc=f"{ds.name} {cfg.model.backbone} {method} seed {seed}",
               disable=not progress, dynamic_ncols=True)
    for epoch in bar:
        ep = train_epoch(model, train_loader, opt, epoch, device, ds.task, ds.metric,
                         progress=progress, metric_fn=ds.metric_fn)
        train_seconds.append(ep["seconds"])
        train_metric = ep["train_metric"]
        val = evaluate(model, valid_loader, epoch, ds.task, ds.metric, device, k,
                       metric_fn=ds.metric_fn)
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
        _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                      "epoch": epoch, "config": cfg.to_dict(), "method": method,
                      "dataset": ds.name, "history": history,
                      "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                              "torch": torch.get_rng_state()}},
                     out_dir / "last.pt")
        bar.set_postfix(loss=f"{rec['train_loss']:.3f}", acc=f"{train_metric:.3f}",
                        val=f"{val.metric:.3f}", val_auc=f"{val.interp_auc:.3f}")
    _write_csv(history, out_dir / "metrics.csv")

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
    ``config.yml``, ``results.json`` (rewritten after every seed), and per seed ``seed<N>/``
    with ``best.pt``, ``last.pt``, ``metrics.csv`` and ``explanations/*.png``.
    """
    ds = load_dataset(spec.dataset, spec.data_dir, seed=spec.seeds[0], **spec.dataset_options)
    cfg = resolve_config(spec, ds.config_name)
    if spec.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {spec.device} was asked for but CUDA is not available; "
                          "use --device cpu")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(spec.out) if spec.out else Path("runs") / f"{spec.dataset}-{spec.backbone}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yml")
    results: Dict[str, Any] = {
        "dataset": spec.dataset, "backbone": spec.backbone,
        "method": "GSAT" if spec.method == "gsat" else "ERM", "metric_name": ds.metric,
        "device": spec.device, "seeds": spec.seeds, "epochs": cfg.train.epochs,
        "torch_version": torch.__version__, "runs": []}
    for i, seed in enumerate(spec.seeds):
        if i > 0:
            ds = load_dataset(spec.dataset, spec.data_dir, seed=seed, **spec.dataset_options)
        record = train_one_seed(cfg, ds, seed, out / f"seed{seed}", spec.device, spec.method,
                                spec.progress)
        results["runs"].append(record)
        results.update(summarize(results["runs"]))
        (out / "results.json").write_text(json.dumps(_json_safe(results), indent=2))
    results["out_dir"] = str(out)
    return results
