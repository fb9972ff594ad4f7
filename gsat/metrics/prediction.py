r"""The prediction metric of a dataset, in the shape of OGB's
:class:`~ogb.graphproppred.Evaluator` (`Hu et al., NeurIPS 2020
<https://arxiv.org/abs/2005.00687>`_): one evaluator object per dataset, whose task and
metric are checked once when it is made and which scores the graph logits of a whole split.
Training (:mod:`gsat.training.engine`), :func:`gsat.fit`, :func:`gsat.evaluate` and every
:class:`~gsat.data.base.GraphDataset` (its :attr:`evaluator`) score predictions with one.

- :class:`Evaluator`: accuracy (:obj:`"acc"`) or ROC AUC (:obj:`"rocauc"`) of a
  classification :class:`~gsat.core.task.Task`, root mean squared error (:obj:`"rmse"`) or
  mean absolute error (:obj:`"mae"`) of a regression one (lower is better:
  :attr:`Evaluator.higher_is_better`).
- :class:`OGBEvaluator`: ogb's own evaluator of an OGB dataset behind the same interface.
"""
from __future__ import annotations

import contextlib
import io
import math
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from gsat.core.task import Task
from gsat.errors import ConfigError
from gsat.metrics.interpretation import interp_auc

__all__ = ["METRICS", "METRIC_NAMES", "default_metric", "higher_is_better", "Evaluator",
           "OGBEvaluator"]

#: the built-in prediction metrics
METRICS = ("acc", "rocauc", "rmse", "mae")

#: how tables and messages name a metric
METRIC_NAMES = {"acc": "accuracy", "rocauc": "ROC AUC", "rmse": "RMSE", "mae": "MAE",
                "ap": "AP"}

#: the metrics of which a lower value is better (errors)
LOWER_IS_BETTER = ("rmse", "mae")


def higher_is_better(metric: str) -> bool:
    """Is a larger value of :obj:`metric` the better one (accuracy, ROC AUC), or a smaller
    one (an error: RMSE, MAE)?"""
    return metric not in LOWER_IS_BETTER


def default_metric(task: Any) -> str:
    r"""The metric of a task unless one is chosen: :obj:`"rocauc"` for
    :obj:`"multilabel"`, :obj:`"rmse"` for :obj:`"regression"`, :obj:`"acc"` otherwise."""
    task = Task.parse(task)
    return {Task.MULTILABEL: "rocauc", Task.REGRESSION: "rmse"}.get(task, "acc")


class Evaluator:
    r"""The prediction metric of a dataset (or of a model's task).

    :obj:`evaluator(logits, y)` scores the graph logits of a whole split against their
    labels:

    - :obj:`"acc"`: the share of correct predictions: logit :math:`> 0` (binary), the
      largest logit (multi-class), or every label's logit :math:`> 0` against the labels
      that are present (multi-label, NaN labels are ignored);
    - :obj:`"rocauc"`: ROC AUC per label column over the graphs where it is present (NaN
      labels ignored), averaged over the columns that hold both classes; :obj:`nan` if none
      does;
    - :obj:`"rmse"` / :obj:`"mae"` (regression): root mean squared / mean absolute error
      over the values that are present (NaN targets ignored); lower is better.

    Args:
        task (str or Task): :obj:`"binary"`, :obj:`"multiclass"` or :obj:`"multilabel"`.
        metric (str, optional): :obj:`"acc"` or :obj:`"rocauc"`. (default:
            :func:`default_metric` of :obj:`task`)

    Raises:
        gsat.errors.ConfigError: an unknown task or metric.
    """

    def __init__(self, task: Any, metric: Optional[str] = None):
        self.task = Task.parse(task, error=ConfigError)
        self.metric = default_metric(self.task) if metric is None else metric
        if self.metric not in METRICS:
            raise ConfigError(f"metric must be one of {', '.join(METRICS)}, got "
                              f"{self.metric!r}")
        regression = self.task == Task.REGRESSION
        if regression != (self.metric in LOWER_IS_BETTER):
            raise ConfigError(f"metric {self.metric!r} does not score a {self.task} task; "
                              f"use {default_metric(self.task)!r}")

    @property
    def higher_is_better(self) -> bool:
        """Is a larger metric the better one? False for the errors of regression."""
        return higher_is_better(self.metric)

    def __call__(self, logits: Tensor, y: Tensor) -> float:
        r"""The metric of :obj:`logits` (shape :obj:`[B, out]`) against :obj:`y`."""
        if self.metric == "acc":
            return _accuracy(logits, y, self.task)
        if self.metric in LOWER_IS_BETTER:
            return _error(logits, y, self.metric)
        return _rocauc(logits, y)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task!r}, {self.metric!r})"


def _accuracy(logits: Tensor, y: Tensor, task: Task) -> float:
    if task == Task.BINARY:
        pred = (logits.view(-1) > 0).long()
        return float((pred == y.view(-1).long()).float().mean())
    if task == Task.MULTICLASS:
        return float((logits.argmax(-1) == y.view(-1).long()).float().mean())
    y2 = y.view(logits.shape)
    ok = ~torch.isnan(y2)
    return float(((logits > 0).float() == y2)[ok].float().mean())


def _error(pred: Tensor, y: Tensor, metric: str) -> float:
    """RMSE or MAE of :obj:`pred` against :obj:`y` over the present (not NaN) targets."""
    target = y.reshape(pred.shape).double()
    ok = ~torch.isnan(target)
    if not bool(ok.any()):
        return math.nan
    diff = pred.double()[ok] - target[ok]
    return float(diff.pow(2).mean().sqrt()) if metric == "rmse" else float(diff.abs().mean())


def _rocauc(logits: Tensor, y: Tensor) -> float:
    y2 = y.view(logits.size(0), -1).float()
    p2 = logits.view(logits.size(0), -1)
    aucs = []
    for t in range(y2.size(1)):
        ok = ~torch.isnan(y2[:, t])
        auc = interp_auc(p2[ok, t], y2[ok, t])
        if not math.isnan(auc):
            aucs.append(auc)
    return float(np.mean(aucs)) if aucs else math.nan


class OGBEvaluator(Evaluator):
    r"""The metric of an OGB dataset computed by ogb's own
    :class:`~ogb.graphproppred.Evaluator` from graph logits, with the interface of
    :class:`Evaluator`.

    For the molecular datasets this is ROC AUC per task over the labelled graphs (NaN labels
    are skipped), averaged over the tasks that have both classes. A split where no task has
    both classes gives :obj:`nan` instead of ogb's error. For the regression sets
    (``ogbg-molesol``, ``ogbg-molfreesolv``, ``ogbg-mollipo``) it is ogb's RMSE.

    Args:
        name (str): an ogb dataset name such as :obj:`"ogbg-molhiv"`; it fixes the metric and
            the number of tasks (RMSE: :obj:`"regression"`; else one task: :obj:`"binary"`,
            several: :obj:`"multilabel"`).

    Raises:
        gsat.errors.ConfigError: ogb has no evaluator of that name.
    """

    def __init__(self, name: str):
        from ogb.graphproppred import Evaluator as OGBBaseEvaluator

        self.name = name
        with contextlib.redirect_stdout(io.StringIO()):  # ogb prints the name on errors
            try:
                self.evaluator = OGBBaseEvaluator(name)
            except ValueError:
                raise ConfigError(f"ogb has no evaluator for {name!r}; use one of the ogbg "
                                  "dataset names (e.g. ogbg-molhiv)") from None
        self.num_tasks = int(self.evaluator.num_tasks)
        self.metric = str(self.evaluator.eval_metric)
        self.task = (Task.REGRESSION if self.metric in LOWER_IS_BETTER
                     else Task.BINARY if self.num_tasks == 1 else Task.MULTILABEL)

    def __call__(self, logits: Tensor, y: Tensor) -> float:
        n = logits.size(0)
        if n == 0:
            return math.nan
        y_true = y.detach().reshape(n, -1).float().cpu()
        y_pred = logits.detach().reshape(n, -1).float().cpu()
        try:
            return float(self.evaluator.eval({"y_true": y_true, "y_pred": y_pred})
                         [self.metric])
        except RuntimeError as exc:
            if "No positively labeled" in str(exc):  # no task has both classes
                return math.nan
            raise

    def __repr__(self) -> str:
        return f"OGBEvaluator({self.name!r})"
