r"""The JSON files of a run folder, written atomically and read back with a schema:
``run.json`` (the arguments of the run), ``results.json`` (per seed records, mean and std)
and ``dataset.json`` (what a model needs to know about the data)."""
from __future__ import annotations

import json
import logging
import math
from typing import Any, Dict, List, Mapping, Optional

from gsat.core.config import Config, config_text
from gsat.errors import ConfigError
from gsat.io.files import atomic_write, write_json
from gsat.runs.layout import RunFolder

log = logging.getLogger(__name__)

__all__ = ["RUN_FIELDS", "write_config", "write_run_json", "read_run_json", "write_results", "read_results",
           "record_problem", "write_dataset_info", "read_dataset_info"]

_NONE = type(None)
_SEEDS = "seeds"

#: the fields of ``run.json`` and their types (a tuple lists the allowed types)
RUN_FIELDS: Dict[str, Any] = {
    "dataset": str, "backbone": str, "config": (str, _NONE), "epochs": (int, _NONE),
    _SEEDS: list, "device": str, "out": (str, _NONE), "data_dir": str, "method": str,
    "dataset_options": dict, "tensorboard": bool, "devices": (list, _NONE),
}


def write_config(folder: RunFolder, cfg: Config) -> None:
    """Write the resolved configuration ``config.yml`` (read back by
    :func:`gsat.core.config.load_config`)."""
    atomic_write(folder.config, config_text(cfg))


def write_run_json(folder: RunFolder, fields: Mapping[str, Any]) -> None:
    """Write ``run.json`` (the fields of :data:`RUN_FIELDS` found in :obj:`fields`)."""
    write_json({k: v for k, v in fields.items() if k in RUN_FIELDS}, folder.run_json)


def _type_ok(value: Any, tp: Any) -> bool:
    tps = tp if isinstance(tp, tuple) else (tp,)
    if isinstance(value, bool) and bool not in tps:
        return False
    return isinstance(value, tps)


def read_run_json(folder: RunFolder, what: str = "--resume") -> Dict[str, Any]:
    r"""The arguments of the run in :obj:`folder`, each field checked for its type
    (:data:`RUN_FIELDS`); unknown fields are ignored with a warning.

    Raises:
        gsat.errors.ConfigError: the folder is missing, holds no readable ``run.json``, or a
            field has the wrong type (the message names :obj:`what`, the field and the file).
    """
    if not folder.path.is_dir():
        raise ConfigError(f"{what} {folder.path}: no such run folder")
    path = folder.run_json
    if not path.is_file():
        raise ConfigError(f"{what} {folder.path}: the folder holds no run.json, so it is not "
                          "a run folder written by 'gsat train' (or the run stopped before "
                          "its first epoch)")
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what} {folder.path}: run.json is unreadable ({exc})") from None
    if not isinstance(saved, dict) or "dataset" not in saved:
        raise ConfigError(f"{path}: expected the arguments of a run (a mapping with "
                          "'dataset', 'backbone', 'seeds', ...)")
    ignored = sorted(set(saved) - set(RUN_FIELDS))
    if ignored:
        log.warning("%s: ignoring unknown field(s) %s", path, ", ".join(ignored))
    fields = {k: v for k, v in saved.items() if k in RUN_FIELDS}
    for key, value in fields.items():
        if not _type_ok(value, RUN_FIELDS[key]):
            raise ConfigError(f"{path}: field {key!r} must be "
                              f"{_type_text(RUN_FIELDS[key])}, got {value!r}")
    return fields


def _type_text(tp: Any) -> str:
    tps = tp if isinstance(tp, tuple) else (tp,)
    names = {str: "a string", int: "a whole number", list: "a list", dict: "a mapping",
             bool: "true or false", _NONE: "null"}
    return " or ".join(names.get(t, t.__name__) for t in tps)


def write_results(folder: RunFolder, results: Mapping[str, Any]) -> None:
    """Write ``results.json`` atomically (NaN as :obj:`null`)."""
    write_json(dict(results), folder.results)


#: record fields that are scores in [0, 1] (or NaN where undefined)
_SCORES = ("valid_metric", "test_metric", "test_interp_auc", "test_precision_at_5")


#: record fields that hold the prediction metric, an error >= 0 in a regression run
_PREDICTION = ("valid_metric", "test_metric")


def record_problem(rec: Any, epochs: int, error_metric: bool = False) -> Optional[str]:
    """Why a seed's record read back from ``results.json`` cannot be a training result, or
    None when it can (scores in [0, 1] or NaN, a best epoch within the run; with
    :obj:`error_metric`, the prediction metric is an error such as RMSE, any number
    >= 0)."""
    if not isinstance(rec, dict):
        return "not a record"
    epoch = rec.get("best_epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch < epochs:
        return f"best_epoch {epoch!r} outside 0..{epochs - 1}"
    for key in _SCORES:
        value = rec.get(key)
        if value is None:
            continue
        error = error_metric and key in _PREDICTION
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not (math.isnan(value) or (0.0 <= value < math.inf if error
                                           else 0.0 <= value <= 1.0)):
            return (f"{key} = {value!r} is not an error >= 0" if error
                    else f"{key} = {value!r} is not a score in [0, 1]")
    return None


def read_results(folder: RunFolder, epochs: Optional[int] = None,
                 error_metric: bool = False) -> Dict[int, Dict[str, Any]]:
    r"""The finished seeds' records of ``results.json`` by seed; empty when the file is
    absent or unreadable (logged). With :obj:`epochs`, a record that cannot be a result of a
    run of that many epochs (:func:`record_problem`) is left out with a warning, so its seed
    is rebuilt from its checkpoints."""
    path = folder.results
    if not path.is_file():
        return {}
    try:
        done = {int(r["seed"]): r for r in json.loads(path.read_text())["runs"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s is unreadable (%s); finished seeds are rebuilt from their "
                    "checkpoints", path, exc)
        return {}
    if epochs is not None:
        for seed, rec in list(done.items()):
            problem = record_problem(rec, epochs, error_metric)
            if problem is not None:
                log.warning("%s: the record of seed %s is not a training result (%s); the "
                            "seed is rebuilt from its checkpoints", path, seed, problem)
                del done[seed]
    return done


def write_dataset_info(folder: RunFolder, info: Mapping[str, Any]) -> None:
    """Write ``dataset.json`` (read by :func:`gsat.load_run`)."""
    write_json(dict(info), folder.dataset_json)


def read_dataset_info(folder: RunFolder) -> Optional[Dict[str, Any]]:
    """The content of ``dataset.json``, or :obj:`None` when it is absent or unreadable
    (logged)."""
    path = folder.dataset_json
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
        if isinstance(info, dict) and "num_features" in info:
            return info
    except (OSError, ValueError):
        pass
    log.warning("%s is unreadable; reading the dataset named in run.json instead", path)
    return None


def seeds_of(fields: Mapping[str, Any]) -> List[int]:
    """The seeds listed in a run's arguments."""
    return list(fields.get(_SEEDS) or [0])
