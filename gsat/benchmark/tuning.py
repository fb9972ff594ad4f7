r"""Tuning a post-hoc explainer with the same budget as every other: each setting of its
grid explains the validation graphs, the best validation interpretation AUC wins. A tuning
in progress keeps its finished trials, and the default row's fit it will reuse, in the run
folder's store (:mod:`gsat.runs.store`), so an interrupted tuning continues where it
stopped."""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from torch import nn
from torch_geometric.data import Data
from tqdm.auto import tqdm

from gsat.data.base import GraphDataset
from gsat.errors import ConfigError, DataMissingError
from gsat.explain.base import EdgeExplainer
from gsat.explain.registry import make_explainer
from gsat.metrics.interpretation import score_explanations
from gsat.runs.store import load_piece, save_piece, stamp_id
from gsat.training.engine import PRECISION_K

log = logging.getLogger(__name__)

__all__ = ["tune_explainer", "earlier_trials", "save_trials", "save_fit", "load_fit"]


def earlier_trials(path: Path, stamp: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The trials saved in :obj:`path` by an interrupted tuning made under the same
    :obj:`stamp` (piece key, trained model, tuning graphs); none otherwise."""
    trials = load_piece(path, stamp)
    return [t for t in trials if isinstance(t, dict)] if isinstance(trials, list) else []


def save_trials(path: Path, stamp: Dict[str, Any], trials: List[Dict[str, Any]]) -> None:
    """Keep the finished :obj:`trials` of a tuning in progress under :obj:`stamp`."""
    save_piece(path, stamp, trials)


def save_fit(path: Path, stamp: Dict[str, Any], explainer: EdgeExplainer,
             fit_seconds: float) -> None:
    """Save what :obj:`explainer` learned (if it can say), with its fit time, under
    :obj:`stamp` (piece key and trained model), for a tuning that runs after an
    interruption."""
    state = explainer.fitted_state()
    if state is not None:
        save_piece(path, stamp, {"fit_seconds": float(fit_seconds), "state": state})


def load_fit(path: Path, stamp: Dict[str, Any], explainer: EdgeExplainer, model: nn.Module,
             task: str, device: str) -> Optional[tuple]:
    """:obj:`(explainer, fit_seconds)` with the fit saved by :func:`save_fit` under the same
    :obj:`stamp` loaded into :obj:`explainer`, or :obj:`None`."""
    saved = load_piece(path, stamp)
    if not isinstance(saved, dict):
        return None
    try:
        explainer.load_fitted(model, task, saved["state"], device)
    except Exception as err:  # a foreign state: the tuning fits again
        log.warning("%s could not be loaded (%s); the default setting is fitted again", path,
                    err)
        return None
    log.info("reusing the default %s fit saved in %s", explainer.name, path)
    return explainer, float(saved["fit_seconds"])


def tune_explainer(name: str, model: nn.Module, ds: GraphDataset, valid_graphs: Sequence[Data],
                   grid: Sequence[Dict[str, Any]], seed: int, device: str = "cpu",
                   progress: bool = False, prefitted: Optional[tuple] = None,
                   done: Optional[Sequence[Dict[str, Any]]] = None,
                   on_trial: Optional[Callable[[List[Dict[str, Any]]], None]] = None) -> tuple:
    r"""Try every setting of :obj:`grid` for explainer :obj:`name` on :obj:`valid_graphs`
    (fitting learning explainers on :obj:`ds.train`) and keep the one with the highest
    interpretation ROC AUC on them; ties go to the earlier setting. Test graphs are not seen.
    :obj:`prefitted`, :obj:`(explainer, fit_seconds)` of an explainer fitted already on the
    same model and seed (the default row), stands in for the grid setting equal to its
    settings instead of fitting it again; the trial is marked :obj:`fit_reused`.

    :obj:`done`, the trials of an earlier tuning of the same explainer, model, seed and
    graphs that was interrupted, stand in for the settings they tried (marked
    :obj:`resumed`); each trial seeds torch itself, so the result is the one of an
    uninterrupted tuning. If the chosen setting is one of them, it is fitted again (once),
    unless it is :obj:`prefitted`'s.
    :obj:`on_trial` is called with the trials so far after every new trial, to save them.

    Returns:
        (EdgeExplainer, dict, list, int): the chosen explainer (fitted, if it learns), its
        grid setting, one trial per setting (:obj:`settings`, :obj:`valid_interp_auc`,
        :obj:`valid_precision_at_5`, :obj:`seconds`, :obj:`fit_seconds`) and the index of
        the chosen trial.
    """
    if not grid:
        raise ConfigError(f"the tuning grid of {name} is empty")
    if not valid_graphs:
        raise DataMissingError(f"dataset {ds.name} has no validation graph with ground-truth "
                               "edges to tune explainers on")
    trials: List[Dict[str, Any]] = []
    best: Optional[tuple] = None
    earlier = {stamp_id(t.get("settings")): t for t in done or ()}

    def is_prefitted(explainer: EdgeExplainer) -> bool:
        return (prefitted is not None and explainer.needs_fit
                and prefitted[0].settings == explainer.settings)

    for setting in tqdm(grid, desc=f"tune {name}", disable=not progress, leave=False,
                        dynamic_ncols=True):
        explainer = make_explainer(name, **setting)
        prev = earlier.get(stamp_id(explainer.settings))
        if prev is not None:
            auc = prev.get("valid_interp_auc")
            auc = math.nan if auc is None else float(auc)
            trials.append({**prev, "valid_interp_auc": auc, "resumed": True})
            explainer = None  # fitted again below if chosen
        else:
            reuse = is_prefitted(explainer)
            torch.manual_seed(seed)
            start = time.perf_counter()
            fit_seconds = 0.0
            if reuse:
                explainer, fit_seconds = prefitted
            elif explainer.needs_fit:
                explainer.fit(model, ds.train, ds.task, device, False)
                fit_seconds = time.perf_counter() - start
            scores = explainer.explain(model, valid_graphs, ds.task, device, False)
            sc = score_explanations(scores, valid_graphs, PRECISION_K)
            auc = sc.interp_auc if sc.interp_auc is not None else math.nan
            trials.append({"settings": dict(explainer.settings), "valid_interp_auc": auc,
                           "valid_precision_at_5": sc.precision_at_k,
                           "seconds": time.perf_counter() - start + (fit_seconds if reuse else 0),
                           "fit_seconds": fit_seconds, "fit_reused": reuse})
            if on_trial is not None:
                on_trial(trials)
        if best is None or (not math.isnan(auc) and (math.isnan(best[0]) or auc > best[0])):
            best = (auc, explainer, dict(setting), len(trials) - 1)
    explainer = best[1]
    if explainer is None:  # chosen among the trials of the interrupted tuning
        explainer = make_explainer(name, **best[2])
        if is_prefitted(explainer):
            explainer = prefitted[0]
        elif explainer.needs_fit:
            torch.manual_seed(seed)
            explainer.fit(model, ds.train, ds.task, device, False)
    return explainer, best[2], trials, best[3]
