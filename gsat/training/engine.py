r"""The training loop of GSAT (and ERM): one optimisation pass (:func:`train_epoch`), one
evaluation pass (:func:`evaluate`), and the epoch loop around them (:class:`Engine`) whose
hooks (:mod:`gsat.training.hooks`) add checkpoints, ``metrics.csv``, TensorBoard and model
selection. :func:`gsat.training.seed.train_one_seed` (the command line), :func:`gsat.fit` and GSAT*
pretraining (:func:`gsat.training.seed.pretrain_backbone`) all run on the :class:`Engine`."""
from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from gsat.errors import GraphInputError
from gsat.io.checkpoint import rng_state
from gsat.metrics.interpretation import score_edges
from gsat.metrics.prediction import Evaluator
from gsat.core.model import GSAT

log = logging.getLogger(__name__)

__all__ = ["set_seed", "make_loader", "EvalResult", "evaluate", "predict_batches",
           "score_batches", "train_epoch", "Hook", "Engine", "PRECISION_K"]

#: k of the precision@k reported in results.json (as in the paper)
PRECISION_K = 5
#: what scores the logits of a split: an :class:`~gsat.metrics.prediction.Evaluator` or any
#: callable :obj:`(logits, y) -> float` of the same meaning
MetricFn = Callable[[torch.Tensor, torch.Tensor], float]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


#: what :func:`predict_batches` keeps of one batch: graph logits, labels, and for GSAT on
#: graphs with ground truth the edge attention, edge labels and the batch-local graph of each
#: edge (else :obj:`None`), and the number of graphs
BatchPrediction = Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor],
                        Optional[torch.Tensor], Optional[torch.Tensor], int]


def targets(out: Any, data: Any) -> Tuple[Any, torch.Tensor]:
    r"""The predictions and labels a batch is scored on: all of them, or for a whole graph
    of a node task (:func:`gsat.data.node.whole.whole_graph_dataset`) the nodes of its
    :obj:`target_mask` only (the nodes of one split). :obj:`out` keeps its other fields."""
    mask = getattr(data, "target_mask", None)
    if mask is None:
        return out, data.y
    return out._replace(logits=out.logits[mask]), data.y[mask]


def _explained_edges(out: Any, data: Any) -> tuple:
    """Attention, ground truth and group (graph, or explained node) of the scored edges of a
    batch, or Nones."""
    if out.edge_att is None:
        return None, None, None
    att = out.edge_att.view(-1)
    if getattr(data, "explain_edges", None) is not None:  # a whole graph of a node task
        return (att[data.explain_edges].cpu(), data.explain_labels.view(-1).cpu(),
                data.explain_group.view(-1).cpu())
    if getattr(data, "edge_label", None) is None:
        return None, None, None
    return att.cpu(), data.edge_label.view(-1).cpu(), data.batch[data.edge_index[0]].cpu()


def _groups(data: Any) -> int:
    """How many groups of scored edges a batch holds (graphs, or explained nodes)."""
    explained = getattr(data, "explain_count", None)
    return int(explained.sum()) if explained is not None else int(data.num_graphs)


@torch.no_grad()
def predict_batches(model: nn.Module, loader: Any, device: torch.device
                    ) -> List[BatchPrediction]:
    r"""Run :obj:`model` in evaluation mode over :obj:`loader` and keep, per batch, what
    :func:`score_batches` needs (:data:`BatchPrediction`, on the CPU). The module's
    train/eval mode is left as it was."""
    was_training = model.training
    model.eval()
    parts: List[BatchPrediction] = []
    try:
        for data in loader:
            data = data.to(device)
            out = model(data)
            att, lab, gr = _explained_edges(out, data)
            scored, y = targets(out, data)
            parts.append((scored.logits.cpu(), y.cpu(), att, lab, gr, _groups(data)))
    finally:
        model.train(was_training)
    return parts


def score_batches(model: nn.Module, parts: Sequence[BatchPrediction], evaluator: MetricFn,
                  k: int = 5, keep_arrays: bool = False) -> EvalResult:
    r"""The scores of :func:`evaluate` from the per-batch predictions of
    :func:`predict_batches`, given in the order of the batches (graph :math:`i` of batch
    :math:`j` is graph :math:`i + \sum_{j' < j} B_{j'}` of the split)."""
    if not parts:
        return EvalResult(loss=math.nan, metric=math.nan)
    lg = torch.cat([p[0] for p in parts])
    y = torch.cat([p[1] for p in parts])
    res = EvalResult(loss=float(model.prediction_loss(lg, y)),
                     metric=float(evaluator(lg, y)))
    atts, labels, graphs = [], [], []
    offset = 0
    for _, _, att, lab, gr, n in parts:
        if att is not None:
            atts.append(att)
            labels.append(lab)
            graphs.append(gr + offset)
        offset += n
    if atts:
        att, lab, gr = torch.cat(atts), torch.cat(labels), torch.cat(graphs)
        sc = score_edges(att, lab, gr, k)
        res.interp_auc, res.precision_at_k = sc.interp_auc, sc.precision_at_k
        if keep_arrays:
            res.edge_att, res.edge_label = att, lab
    return res


def evaluate(model: nn.Module, loader: DataLoader, evaluator: MetricFn, device: torch.device,
             k: int = 5, keep_arrays: bool = False) -> EvalResult:
    r"""One evaluation pass: prediction loss and the metric of :obj:`evaluator` (e.g. a
    dataset's :attr:`~gsat.data.base.GraphDataset.evaluator`); for GSAT also the
    interpretation ROC AUC and precision@k of the eval-time attention against
    :obj:`edge_label` (:func:`predict_batches`, then :func:`score_batches`)."""
    return score_batches(model, predict_batches(model, loader, device), evaluator, k,
                         keep_arrays=keep_arrays)


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                epoch: int, device: str | torch.device, evaluator: MetricFn,
                progress: bool = False, check_inputs: bool = False) -> Dict[str, float]:
    r"""One optimisation pass of :obj:`model` (:class:`~gsat.GSAT` or :class:`~gsat.core.model.ERM`)
    over :obj:`loader` at a 0-based :obj:`epoch` (which sets GSAT's :math:`r`); the training
    metric is :obj:`evaluator`'s. With :obj:`check_inputs`, every batch is checked
    (:meth:`gsat.GSAT.check_input`) before the model sees it, which a training-mode forward
    pass does not do.

    Raises:
        gsat.errors.GraphInputError: with :obj:`check_inputs`, a malformed batch; the
            message names the batch.
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
    check = getattr(getattr(model, "module", model), "check_input", None) if check_inputs \
        else None  # (a DistributedDataParallel wrapper holds the model as .module)
    for b, data in enumerate(batches):
        data = data.to(device)
        if check is not None:
            try:
                check(data)
            except GraphInputError as exc:
                raise GraphInputError(f"training batch {b}: {exc}") from None
        out = model(data)
        out, y = targets(out, data)
        loss, parts = model.loss(out, y, epoch)
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
        ys.append(y.cpu())
    if n_graphs == 0:
        raise GraphInputError("the training loader gave no batch; give at least one "
                              "training graph")
    res = {f"train_{k_}" if k_ != "loss" else "train_loss": v / max(n_graphs, 1)
           for k_, v in sums.items()}
    res["train_metric"] = (float(evaluator(torch.cat(logits), torch.cat(ys))) if logits
                           else math.nan)
    res["seconds"] = time.perf_counter() - start
    return res


# --------------------------------------------------------------------------- the engine


class Hook:
    r"""Something the :class:`Engine` calls around its epochs; every method is optional.

    The engine calls :meth:`on_epoch_start` before the training pass of an epoch (e.g. to
    set a distributed sampler's epoch), :meth:`on_epoch_end` with the epoch record (which a
    hook may extend, e.g. with test scores) and the validation :class:`EvalResult`, in the
    order of :attr:`Engine.hooks`, and :meth:`close` once at the end (also after an error).
    A hook that writes files should do so only when :attr:`Engine.is_main` is true.
    """

    #: the engine keeps the per-edge validation arrays for this hook (e.g. histograms)
    needs_arrays: bool = False

    def on_epoch_start(self, engine: "Engine", epoch: int) -> None:
        pass

    def on_epoch_end(self, engine: "Engine", epoch: int, rec: Dict[str, Any],
                     val: Optional["EvalResult"]) -> None:
        pass

    def close(self, engine: "Engine") -> None:
        pass


class Engine:
    r"""The one epoch loop: for each epoch a :func:`train_epoch` pass over
    :obj:`train_loader`, an :func:`evaluate` pass over :obj:`valid_loader` (if given), an
    epoch record appended to :attr:`history`, the hooks, and a progress bar over epochs.

    The epoch record holds :obj:`epoch`, :obj:`r` (GSAT's prior at that epoch; GSAT only), :obj:`train_loss`, :obj:`train_metric`, with a validation loader
    :obj:`valid_loss`, :obj:`valid_metric`, :obj:`valid_interp_auc`,
    :obj:`valid_precision_at_k`, then :obj:`seconds` (training pass and
    :meth:`refresh_statistics`) and the mean of
    every other loss part under :obj:`train_<part>` (e.g. :obj:`train_pred`,
    :obj:`train_info`).

    For distributed training, :meth:`evaluate_split` is the single place where validation
    scores are computed (override it to gather predictions across processes), hooks receive
    :meth:`Hook.on_epoch_start` (the place for :obj:`sampler.set_epoch`), and
    :attr:`is_main` tells writing hooks whether this process writes.

    Args:
        model (torch.nn.Module): a :class:`~gsat.GSAT` or :class:`~gsat.core.model.ERM` model.
        optimizer (torch.optim.Optimizer): its optimizer.
        train_loader (iterable): training batches.
        valid_loader (iterable, optional): validation batches. (default: :obj:`None`)
        evaluator (gsat.metrics.prediction.Evaluator): scores the predictions of a split
            (a dataset's :attr:`~gsat.data.base.GraphDataset.evaluator`, or
            :obj:`Evaluator(model.task)`).
        device (torch.device, optional): where batches go. (default: CPU)
        k (int, optional): :math:`k` of the validation precision@k. (default: :obj:`5`)
        hooks (list of Hook, optional): called at every epoch, in order.
        progress (bool, optional): progress bar over epochs. (default: :obj:`True`)
        batch_progress (bool, optional): also a bar over the batches of long epochs.
            (default: :obj:`False`)
        desc (str, optional): label of the progress bar. (default: :obj:`"train"`)
        is_main (bool, optional): this process writes files. (default: :obj:`True`)
        check_inputs (bool, optional): check every batch of the first training pass
            (:func:`train_epoch` with :obj:`check_inputs`), for loaders whose graphs were not
            checked on loading (e.g. those given to :func:`gsat.fit`); validation batches
            are checked by the model in evaluation mode. (default: :obj:`False`)
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, train_loader: Any,
                 valid_loader: Optional[Any] = None, *, evaluator: Evaluator,
                 device: str | torch.device = "cpu", k: int = PRECISION_K,
                 hooks: Sequence[Hook] = (), progress: bool = True,
                 batch_progress: bool = False, desc: str = "train", is_main: bool = True,
                 check_inputs: bool = False):
        self.model, self.optimizer = model, optimizer
        self.train_loader, self.valid_loader = train_loader, valid_loader
        self.evaluator = evaluator
        self.device = torch.device(device)
        self.k = k
        self.hooks = list(hooks)
        self.progress, self.batch_progress, self.desc = progress, batch_progress, desc
        self.is_main = is_main
        self.check_inputs = check_inputs
        self.history: List[Dict[str, Any]] = []
        self.train_seconds: List[float] = []

    def evaluate_split(self, loader: Any, keep_arrays: bool = False,
                       dataset_metric: bool = True) -> "EvalResult":
        """:func:`evaluate` of the model on :obj:`loader` with the engine's evaluator (the
        built-in :class:`~gsat.metrics.prediction.Evaluator` of its task and metric instead
        of a dataset's own when :obj:`dataset_metric` is false, e.g. for graphs made for
        interpretation)."""
        return evaluate(self.model, loader, self.evaluator_for(dataset_metric), self.device,
                        self.k, keep_arrays=keep_arrays)

    def evaluator_for(self, dataset_metric: bool = True) -> Evaluator:
        """The engine's evaluator, or with :obj:`dataset_metric` false the built-in one of
        the same task and metric."""
        ev = self.evaluator
        return ev if dataset_metric or type(ev) is Evaluator else Evaluator(ev.task, ev.metric)

    def train_pass(self, epoch: int) -> Dict[str, float]:
        """The training pass of an epoch: :func:`train_epoch` over :obj:`train_loader`."""
        ep = train_epoch(self.model, self.train_loader, self.optimizer, epoch, self.device,
                         self.evaluator, progress=self.batch_progress,
                         check_inputs=self.check_inputs)
        self.check_inputs = False  # the loader's graphs have passed once
        return ep

    def refresh_statistics(self) -> float:
        r"""After the training pass of an epoch, a GSAT model with :obj:`bn_stats:
        recomputed` re-estimates the batch-norm statistics of its two passes on the
        training graphs (:meth:`gsat.GSAT.recompute_bn_stats`): those of a shuffled
        :obj:`train_loader` in their stored order, other loaders as they come, without
        drawing from the random streams training uses. Returns the seconds it took (0 for
        any other model)."""
        if getattr(self.model, "bn_stats", None) != "recomputed":
            return 0.0
        start = time.perf_counter()
        loader = self.train_loader
        if isinstance(loader, torch.utils.data.DataLoader) and \
                isinstance(loader.sampler, torch.utils.data.RandomSampler):
            loader = type(loader)(loader.dataset, batch_size=loader.batch_size, shuffle=False)
        gen = getattr(self.train_loader, "generator", None)
        gen_state = gen.get_state() if isinstance(gen, torch.Generator) else None
        with torch.random.fork_rng(devices=[]):
            self.model.recompute_bn_stats(loader, self.device)
        if gen_state is not None:
            gen.set_state(gen_state)
        return time.perf_counter() - start

    def training_state(self, generator: Optional[torch.Generator]) -> Dict[str, Any]:
        """What ``last.pt`` stores besides the model, optimizer and history: the random
        states (:func:`gsat.io.checkpoint.rng_state`, with :obj:`generator`'s)."""
        return {"rng": rng_state(generator)}

    def run_epoch(self, epoch: int) -> Dict[str, Any]:
        """Train and validate one 0-based :obj:`epoch`, call the hooks, return its record."""
        model = self.model
        start = getattr(model, "start_epoch", None)
        if callable(start):  # e.g. GMT-sam enters its second stage
            start(epoch)
        for h in self.hooks:
            h.on_epoch_start(self, epoch)
        ep = self.train_pass(epoch)
        ep["seconds"] += self.refresh_statistics()
        self.train_seconds.append(ep["seconds"])
        rec: Dict[str, Any] = {"epoch": epoch}
        if isinstance(model, GSAT):
            rec["r"] = model.get_r(epoch)
        rec.update(train_loss=ep["train_loss"], train_metric=ep["train_metric"])
        val = None
        if self.valid_loader is not None:
            val = self.evaluate_split(self.valid_loader,
                                      keep_arrays=any(h.needs_arrays for h in self.hooks))
            rec.update(valid_loss=val.loss, valid_metric=val.metric,
                       valid_interp_auc=val.interp_auc, valid_precision_at_k=val.precision_at_k)
        rec["seconds"] = ep["seconds"]
        rec.update({key: v for key, v in ep.items()
                    if key not in ("train_loss", "train_metric", "seconds")})
        for h in self.hooks:
            h.on_epoch_end(self, epoch, rec, val)
        self.history.append(rec)
        return rec

    def run(self, epochs: int, start_epoch: int = 0) -> List[Dict[str, Any]]:
        r"""Run epochs :obj:`start_epoch` to :obj:`epochs - 1` (0-based; :obj:`epochs` is
        the total, so a resumed run passes the epoch it continues at) and return
        :attr:`history`. :meth:`Hook.close` is called at the end, also on error."""
        bar = tqdm(range(start_epoch, epochs), desc=self.desc, disable=not self.progress,
                   dynamic_ncols=True, initial=start_epoch, total=epochs)
        try:
            for epoch in bar:
                rec = self.run_epoch(epoch)
                post = {"loss": f"{rec['train_loss']:.3f}", "acc": f"{rec['train_metric']:.3f}"}
                if "valid_metric" in rec:
                    post["val"] = f"{rec['valid_metric']:.3f}"
                    if not math.isnan(rec["valid_interp_auc"]):
                        post["val_auc"] = f"{rec['valid_interp_auc']:.3f}"
                bar.set_postfix(post)
        finally:
            for h in self.hooks:
                h.close(self)
        return self.history
