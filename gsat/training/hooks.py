r"""What the :class:`~gsat.training.engine.Engine` calls around its epochs: model selection
(:class:`SelectionHook`), the run folder's per-epoch files (:class:`RunFilesHook`), TensorBoard
(:class:`TensorBoardHook`) and kept checkpoints for TracIn (:class:`KeepCheckpointsHook`)."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import torch

from gsat.core.selection import Selection, Selector
from gsat.io.files import atomic_write
from gsat.io.checkpoint import save_checkpoint
from gsat.runs.layout import SeedFolder
from gsat.training.engine import Engine, EvalResult, Hook

__all__ = ["CHECKPOINT_FORMAT", "write_csv", "TensorBoardHook", "SelectionHook",
           "GuardHook", "RunFilesHook", "KeepCheckpointsHook"]


#: version of the layout of ``last.pt``
CHECKPOINT_FORMAT = 1


def write_csv(history: List[Dict[str, Any]], path: Path) -> None:
    """Write epoch records as CSV, one column per key seen in any record."""
    keys: List[str] = []
    for rec in history:
        keys += [k for k in rec if k not in keys]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(history)
    atomic_write(path, buf.getvalue())


class TensorBoardHook(Hook):
    r"""TensorBoard scalars and attention histograms per epoch
    (:class:`gsat.training.tensorboard.TensorBoardLogger`) in :obj:`folder`."""

    needs_arrays = True

    def __init__(self, folder: str | Path):
        from gsat.training.tensorboard import TensorBoardLogger

        self.logger = TensorBoardLogger(folder)

    def on_epoch_end(self, engine: Engine, epoch: int, rec: Dict[str, Any],
                     val: Optional[EvalResult]) -> None:
        if engine.is_main:
            self.logger.log_epoch(epoch, rec, val)

    def close(self, engine: Engine) -> None:
        self.logger.close()


class SelectionHook(Hook):
    r"""Model selection during training (:mod:`gsat.core.selection`): when an epoch becomes the
    best qualifying or the best overall epoch, its test scores are added to the record
    (:obj:`test_loss`, :obj:`test_metric`, :obj:`test_interp_auc`,
    :obj:`test_precision_at_k`; the interpretation scores on :obj:`interp_loader` when
    given) and a copy of the weights is kept; the selected epoch's weights go to
    :obj:`best_path` (if given)."""

    def __init__(self, selection: Selection, test_loader: Any = None,
                 interp_loader: Any = None, best_path: Optional[Path] = None,
                 best_meta: Optional[Dict[str, Any]] = None):
        self.selection = selection
        self.test_loader, self.interp_loader = test_loader, interp_loader
        self.best_path, self.best_meta = best_path, dict(best_meta or {})

    def on_epoch_end(self, engine: Engine, epoch: int, rec: Dict[str, Any],
                     val: Optional[EvalResult]) -> None:
        new_qual, new_any = self.selection.candidate(rec)
        if not (new_qual or new_any):
            return
        if self.test_loader is not None:
            test = engine.evaluate_split(self.test_loader)
            if self.interp_loader is not None:
                # the interpretation graphs carry ground truth; the prediction metric of the
                # dataset (its evaluator) may not apply to them
                it = engine.evaluate_split(self.interp_loader, dataset_metric=False)
                test.interp_auc, test.precision_at_k = it.interp_auc, it.precision_at_k
            rec.update(test_loss=test.loss, test_metric=test.metric,
                       test_interp_auc=test.interp_auc, test_precision_at_k=test.precision_at_k)
        state = {k_: v.detach().cpu().clone() for k_, v in engine.model.state_dict().items()}
        sel = self.selection
        if new_any:
            sel.best_any = dict(rec, state=state)
        if new_qual:
            sel.best_qual = dict(rec, state=state)
        chosen, _ = sel.chosen()
        if self.best_path is not None and engine.is_main and chosen["epoch"] == epoch:
            save_checkpoint({"model": state, "epoch": epoch, **self.best_meta}, self.best_path)


class Stage1PickHook(Hook):
    r"""GMT-sam with ``gmt.stage1_pick: best``: every first-stage epoch's record goes to
    :meth:`gsat.core.gmt.GMTEstimator.consider`, which keeps the weights of the best one under
    :obj:`selector` for the second stage to freeze. It must run before the hook that writes
    ``last.pt``, so that the kept weights are saved with the epoch."""

    def __init__(self, selector: Selector):
        self.selector = selector

    @classmethod
    def beside(cls, selection: Selection, min_select_epoch: int) -> "Stage1PickHook":
        """The hook for a run whose model selection is :obj:`selection`: the same rule, with
        epochs counted from the run's start (:obj:`min_select_epoch`) instead of the second
        stage's."""
        sel = selection.selector
        return cls(Selector(min_select_epoch, sel.final_r, sel.higher_is_better))

    @staticmethod
    def wanted(model: torch.nn.Module) -> bool:
        """Does :obj:`model` keep its best first-stage epoch?"""
        return bool(getattr(getattr(model, "estimator", None), "keeps_best", False))

    def on_epoch_end(self, engine: Engine, epoch: int, rec: Dict[str, Any],
                     val: Optional[EvalResult]) -> None:
        if self.wanted(engine.model) and "valid_metric" in rec:
            engine.model.estimator.consider(engine.model, rec, self.selector)


class GuardHook(Hook):
    r"""Calls :obj:`guard()` at the end of every epoch, before the hooks after it write
    anything (it goes first): e.g. :meth:`gsat.runs.lock.RunLock.check`, which stops the
    run when its folder was deleted or replaced."""

    def __init__(self, guard: Callable[[], None]):
        self.guard = guard

    def on_epoch_end(self, engine: Engine, epoch: int, rec: Dict[str, Any],
                     val: Optional[EvalResult]) -> None:
        if engine.is_main:
            self.guard()


class RunFilesHook(Hook):
    r"""The files of a run folder after every epoch: ``metrics.csv`` (all epochs so far)
    and ``last.pt``, the full training state (:data:`CHECKPOINT_FORMAT`), written
    atomically."""

    def __init__(self, folder: SeedFolder, selection: Selection, meta: Dict[str, Any],
                 generator: Optional[torch.Generator]):
        self.folder, self.selection, self.meta = folder, selection, meta
        self.generator = generator

    def on_epoch_end(self, engine: Engine, epoch: int, rec: Dict[str, Any],
                     val: Optional[EvalResult]) -> None:
        extra = engine.training_state(self.generator)  # every process (may communicate)
        if not engine.is_main:
            return
        history = engine.history + [rec]  # the engine appends rec after the hooks
        write_csv(history, self.folder.metrics)
        save_checkpoint({"format": CHECKPOINT_FORMAT, "model": engine.model.state_dict(),
                         "optimizer": engine.optimizer.state_dict(), "scheduler": None,
                         "epoch": epoch, **self.meta, "history": history,
                         "train_seconds": engine.train_seconds,
                         "best_qual": self.selection.best_qual,
                         "best_any": self.selection.best_any, **extra},
                        self.folder.last)


class KeepCheckpointsHook(Hook):
    r"""Keep the weights of every :obj:`every`-th epoch (epochs :obj:`every - 1`,
    :obj:`2 * every - 1`, ... 0-based) in :obj:`folder`'s kept checkpoints, with the
    learning rate in use, for TracIn's sum over checkpoints (:mod:`gsat.app.influence`)
    (`Pruthi et al., NeurIPS 2020 <https://arxiv.org/abs/2002.08484>`_). Set by the config
    key ``train.keep_checkpoints_every``."""

    def __init__(self, folder: SeedFolder, every: int):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.folder, self.every = folder, int(every)

    def on_epoch_end(self, engine: Engine, epoch: int, rec: Dict[str, Any],
                     val: Optional[EvalResult]) -> None:
        if not engine.is_main or (epoch + 1) % self.every:
            return
        self.folder.checkpoints.mkdir(parents=True, exist_ok=True)
        state = {k_: v.detach().cpu() for k_, v in engine.model.state_dict().items()}
        save_checkpoint({"model": state, "epoch": epoch,
                         "lr": float(engine.optimizer.param_groups[0]["lr"])},
                        self.folder.kept_checkpoint(epoch))
