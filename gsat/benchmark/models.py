r"""The models a benchmark explains: GSAT and the same backbone trained without attention
(ERM), per seed, each at its best validation epoch; trained once and reused from the run
folder's store while their stamp (config, dataset, options, seed, method) is the same."""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional

from gsat.training.build import build_model
from gsat.core.config import Config, model_relevant
from gsat.data.base import GraphDataset
from gsat.errors import CheckpointError
from gsat.runs.layout import SeedFolder
from gsat.training.reader import load_selected
from gsat.runs.store import load_piece, save_piece, stamp_differences
from gsat.training.seed import train_one_seed

log = logging.getLogger(__name__)

__all__ = ["model_stamp", "trained_model"]


def model_stamp(cfg: Config, ds: GraphDataset, seed: int, method: str,
                dataset_options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """What a trained model depends on: its config, dataset (and options), seed and method."""
    return {"dataset": ds.name, "dataset_options": dict(dataset_options or {}), "seed": seed,
            "method": method, "config": model_relevant(cfg.to_dict())}


def _saved_record(folder: SeedFolder, stamp: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The record of the model saved in :obj:`folder` under :obj:`stamp`, or None. Records
    written before stamps were kept (``{"key": ..., "record": ...}``, the config in
    ``best.pt``) are read too."""
    defaults = {"config": Config().to_dict()}
    try:
        saved = json.loads(folder.record.read_text()) if folder.record.is_file() else None
    except (OSError, ValueError):
        saved = None
    if isinstance(saved, dict) and "key" in saved and "stamp" not in saved:
        from gsat.io.checkpoint import load_checkpoint

        try:
            config = load_checkpoint(folder.best, kind="best")["config"]
        except CheckpointError:
            return None
        same = not stamp_differences({**saved["key"], "config": model_relevant(config)}, stamp,
                                     defaults)
        return saved.get("record") if same else None
    return load_piece(folder.record, stamp, defaults)


def trained_model(cfg: Config, ds: GraphDataset, seed: int, folder: SeedFolder, method: str,
                  device: str, progress: bool = True,
                  dataset_options: Optional[Dict[str, Any]] = None) -> tuple:
    r"""The model of :obj:`method` (``"gsat"`` or ``"erm"``) for :obj:`seed`: loaded from
    :obj:`folder` (``best.pt`` and ``record.json``) when they were made under the same stamp
    (:func:`model_stamp`; a config key added since counts as its default), trained with
    :func:`gsat.training.seed.train_one_seed` otherwise.

    Returns:
        (torch.nn.Module, dict, bool): the model in eval mode, its training record, and
        whether it was reused.
    """
    model = build_model(cfg, ds, method).to(device)
    stamp = model_stamp(cfg, ds, seed, method, dataset_options)
    record = _saved_record(folder, stamp) if folder.best.is_file() else None
    if record is not None:
        best = load_selected(folder, model, device)
        if not stamp_differences(model_relevant(best["config"]), model_relevant(cfg.to_dict()),
                                 Config().to_dict()):
            log.info("reusing the %s model in %s", method, folder.path)
            return model.eval(), record, True
    if folder.best.is_file():
        log.info("%s was trained with another config or data; training again", folder.best)
    record = train_one_seed(cfg, ds, seed, folder.path, device, method, progress)
    save_piece(folder.record, stamp, record)
    load_selected(folder, model, device)
    return model.eval(), record, False

