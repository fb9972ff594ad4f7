r"""The one reader of a finished run: :func:`load_run` rebuilds the selected model of a
``gsat train`` run folder with its config and dataset metadata; :func:`run_config` and
:func:`load_selected` are the pieces it is made of, shared with ``gsat influence`` and the
benchmark's reuse of trained models."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch
from torch import nn
from torch_geometric.data import Data

from gsat.core.config import Config, load_config
from gsat.errors import CheckpointError, ConfigError
from gsat.io.checkpoint import load_checkpoint, load_state_checked
from gsat.runs.layout import RunFolder, SeedFolder
from gsat.runs.records import read_dataset_info, read_results, read_run_json, seeds_of

log = logging.getLogger(__name__)

PathLike = Union[str, Path]

__all__ = ["LoadedRun", "load_run", "run_config", "load_selected"]


@dataclass
class LoadedRun:
    r"""A trained model read back from a run folder by :func:`load_run`.

    Attributes:
        model (torch.nn.Module): :class:`~gsat.GSAT` (or :class:`~gsat.core.model.ERM` for runs
            with :obj:`--method erm`) with the weights of the selected epoch, in eval mode.
        config (Config): the run's resolved configuration (``config.yml``).
        dataset (dict): the dataset's metadata (``dataset.json``): :obj:`name`,
            :obj:`num_features`, :obj:`num_outputs`, :obj:`task`, :obj:`metric`,
            :obj:`edge_dim`, :obj:`node_names`, ... and :obj:`extra`.
        seed (int): the seed whose model was loaded.
        epoch (int): the selected epoch.
        method (str): :obj:`"gsat"` or :obj:`"erm"`.
        run_dir (pathlib.Path): the run folder.
        record (dict): the seed's record of ``results.json`` (empty if absent).
    """

    model: nn.Module
    config: Config
    dataset: Dict[str, Any]
    seed: int
    epoch: int
    method: str
    run_dir: Path
    record: Dict[str, Any] = field(default_factory=dict)

    @property
    def is_molecular(self) -> bool:
        """The model reads molecules featurised as the OGB datasets (SMILES input works)."""
        extra = self.dataset.get("extra") or {}
        return bool(self.config.model.atom_encoder and (
            extra.get("featurisation") == "ogb_smiles2graph" or "ogb_name" in extra))


def run_config(folder: RunFolder) -> Config:
    """The resolved configuration of the run in :obj:`folder` (``config.yml``).

    Raises:
        gsat.errors.ConfigError: not a run folder, or an invalid config.
    """
    if not folder.path.is_dir():
        raise ConfigError(f"{folder.path}: no such run folder")
    if not folder.config.is_file():
        raise ConfigError(f"{folder.path}: not a run folder written by 'gsat train' (it holds "
                          "no config.yml)")
    return load_config(folder.config)


def _dataset_info(folder: RunFolder) -> Dict[str, Any]:
    info = read_dataset_info(folder)
    if info is not None:
        return info
    # runs written before dataset.json existed: rebuild the metadata from the data
    fields = read_run_json(folder, what="run folder")
    from gsat.data import load_dataset
    from gsat.data.base import dataset_info

    ds = load_dataset(fields["dataset"], fields.get("data_dir", "data"),
                      seed=seeds_of(fields)[0], **fields.get("dataset_options", {}))
    return dataset_info(ds)


def _build(cfg: Config, info: Dict[str, Any], method: str) -> nn.Module:
    from gsat.training.build import build_model
    from gsat.data.base import GraphDataset

    # PNA restores its degree statistics from the weights; any histogram builds the layer
    stub = GraphDataset(
        name=str(info["name"]), train=[Data(edge_index=torch.tensor([[0], [1]]), num_nodes=2)],
        valid=[], test=[], num_features=int(info["num_features"]),
        num_outputs=int(info["num_outputs"]), task=info["task"], metric=info["metric"],
        edge_dim=info.get("edge_dim"), has_ground_truth=bool(info.get("has_ground_truth")),
        undirected=bool(info.get("undirected", True)), node_names=info.get("node_names"),
        config_name=str(info.get("config_name", "")))
    return build_model(cfg, stub, "erm" if method == "erm" else "gsat")


def load_selected(seed_folder: SeedFolder, model: nn.Module,
                  device: Union[str, torch.device] = "cpu") -> Dict[str, Any]:
    r"""Put the weights of the selected epoch (``best.pt`` of :obj:`seed_folder`) into
    :obj:`model` and return the checkpoint (:obj:`epoch`, :obj:`method`, :obj:`config`, ...).

    Raises:
        gsat.errors.CheckpointError: the file is missing, unsafe, damaged or does not fit.
    """
    path = seed_folder.best
    best = load_checkpoint(path, map_location=device, kind="best")
    load_state_checked(model, best["model"], str(path))
    return best


def _choose_seed(folder: RunFolder, seeds: Dict[int, SeedFolder],
                 results: Dict[int, Dict[str, Any]], seed: Optional[int],
                 higher_is_better: bool = True) -> int:
    if seed is None:
        sign = 1.0 if higher_is_better else -1.0  # the lowest RMSE of a regression

        def score(s: int) -> float:
            value = results.get(s, {}).get("valid_metric")
            return -math.inf if value is None or value != value else sign * float(value)
        seed = max(seeds, key=lambda s: (score(s), -s))
        if len(seeds) > 1:
            log.info("%s: loading seed %d, the best validation metric of seeds %s",
                     folder.path, seed, ", ".join(map(str, seeds)))
    elif seed not in seeds:
        raise CheckpointError(f"{folder.path}: no model for seed {seed}; seeds with a best.pt: "
                              f"{', '.join(map(str, seeds))}")
    return seed


def load_run(run_dir: PathLike, seed: Optional[int] = None,
             device: Union[str, torch.device] = "cpu") -> LoadedRun:
    r"""The selected (best-validation) model of a ``gsat train`` run folder, in eval mode,
    with its config and dataset metadata. Weights are read with
    :obj:`torch.load(weights_only=True)` (:func:`gsat.io.checkpoint.load_checkpoint`) and
    must fit the model the run's config builds.

    .. code-block:: python

        run = gsat.load_run("runs/ba_2motifs-GIN-20260101-120000")
        attention = run.model.explain(graph)   # one value per edge of graph

    Args:
        run_dir (str or Path): the run folder (holding ``config.yml`` and ``seed<N>/best.pt``).
        seed (int, optional): the seed to load; :obj:`None` takes the seed with the best
            validation metric in ``results.json`` (the only one for a one-seed run).
            (default: :obj:`None`)
        device (str or torch.device, optional): where to put the model. (default: :obj:`"cpu"`)

    Raises:
        gsat.errors.ConfigError: :obj:`run_dir` is not a run folder, or its config is invalid.
        gsat.errors.CheckpointError: no ``best.pt`` for :obj:`seed`, or one that is unsafe,
            damaged or does not fit the model.
    """
    folder = RunFolder(run_dir)
    cfg = run_config(folder)
    seeds = folder.seeds_with_model()
    if not seeds:
        raise CheckpointError(f"{run_dir}: no seed<N>/best.pt; the run has not selected a "
                              "model yet (it stops before its first epoch ended?)")
    results = read_results(folder)
    info = _dataset_info(folder)
    seed = _choose_seed(folder, seeds, results, seed,
                        higher_is_better=info.get("metric") not in ("rmse", "mae"))
    best = load_checkpoint(seeds[seed].best, kind="best")
    method = str(best["method"]).lower()
    model = _build(cfg, info, method)
    load_state_checked(model, best["model"], str(seeds[seed].best))
    model.to(device).eval()
    return LoadedRun(model=model, config=cfg, dataset=info, seed=int(seed),
                     epoch=int(best["epoch"]), method=method, run_dir=folder.path,
                     record=results.get(seed, {}))
