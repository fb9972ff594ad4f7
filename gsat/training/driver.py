r"""The run driver behind ``gsat train``: what to run (:class:`RunSpec`), the run folder, one
:func:`gsat.training.seed.train_one_seed` per seed, ``results.json``, resuming an interrupted run
and stopping cleanly on Ctrl-C or a diverged loss."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional

import torch

from gsat.runs.files import RunLock, load_checkpoint, sigterm_as_interrupt
from gsat.core.config import Config, default_config_path, load_config, save_config
from gsat.data import load_dataset
from gsat.data.base import dataset_info
from gsat.data import dataset_label
from gsat.errors import CheckpointError, ConfigError, Terminated, TrainingDivergedError
from gsat.metrics.summary import json_safe, summarize, write_json
from gsat.core.validation import check_device, check_seeds
from gsat.training.seed import train_one_seed
from gsat.core.build import Method
from gsat.training.hooks import write_csv

if TYPE_CHECKING:
    from gsat.training.distributed import DistContext

log = logging.getLogger(__name__)

__all__ = ["RunSpec", "TrainingInterrupted", "resume_spec", "resolve_config", "run"]


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
    devices: Optional[List[str]] = None
    """Train the seeds in parallel, one process per seed and at most one per listed device
    at a time (e.g. ``["cuda:0", "cuda:1"]`` or ``["cpu", "cpu"]``); replaces
    :obj:`device` (see :func:`gsat.training.distributed.train_seeds_in_parallel`)."""
    resume: Optional[str] = None
    """Run folder of an interrupted run to continue; all other fields except
    :obj:`progress` are then read from its ``run.json`` (see :func:`resume_spec`)."""


#: fields of :class:`RunSpec` that are not stored in ``run.json``
_NOT_STORED = ("progress", "resume")


class TrainingTerminated(TrainingInterrupted, Terminated):
    r"""SIGTERM stopped a run (exit code 143); otherwise as :class:`TrainingInterrupted`."""


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


def _stopped(exc: BaseException, out: Path, seed: int,
             dist: Optional["DistContext"] = None) -> BaseException:
    """The exception that ends a run stopped by Ctrl-C or a non-finite loss, after writing
    ``metrics.csv`` of the complete epochs of :obj:`seed` (rank 0 only under
    :obj:`dist`)."""
    last = out / f"seed{seed}" / "last.pt"
    done = None
    try:
        ckpt = load_checkpoint(last, kind="last") if last.exists() else None
    except CheckpointError:
        ckpt = None
    if ckpt is not None and ckpt.get("seed", seed) == seed:
        done = int(ckpt["epoch"])
        if dist is None or dist.is_main:
            write_csv(list(ckpt["history"]), out / f"seed{seed}" / "metrics.csv")
    kept = (f"{last} holds the last complete epoch ({done})" if done is not None
            else "nothing was saved since no epoch was complete")
    if isinstance(exc, KeyboardInterrupt):
        cls = TrainingTerminated if isinstance(exc, Terminated) else TrainingInterrupted
        what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        command = "gsat train"
        if dist is not None:
            local = os.environ.get("LOCAL_WORLD_SIZE", str(dist.world_size))
            command = (f"torchrun --nproc-per-node {local} -m gsat train"
                       if local == str(dist.world_size) else
                       "torchrun <the launch options of the run> -m gsat train")
        return cls(f"{what} during seed {seed}; {kept}. Resume with: "
                   f"{command} --resume {out}", out)
    return TrainingDivergedError(f"{exc} (seed {seed}); training stopped and {kept}. Lower "
                                 "train.lr or check the data for extreme values")


def _run_seeds_parallel(spec: RunSpec, cfg: Config, out: Path, results: Dict[str, Any],
                        done: Dict[int, Dict[str, Any]]) -> Dict[str, Any]:
    """:func:`_run_seeds` with the seeds trained in parallel on :obj:`spec.devices`."""
    from gsat.training.distributed import train_seeds_in_parallel

    records = dict(done)
    for seed in done:
        log.info("seed %d of %s is already finished", seed, out)

    def write(seed: int = -1, record: Optional[Dict[str, Any]] = None) -> None:
        if record is not None:
            records[seed] = record
        results["runs"] = [records[s] for s in spec.seeds if s in records]
        results.update(summarize(results["runs"]))
        write_json(json_safe(results), out / "results.json")

    todo = [s for s in spec.seeds if s not in done]
    try:
        train_seeds_in_parallel(spec, cfg, todo, out, spec.devices or [], on_record=write)
    except (KeyboardInterrupt, FloatingPointError) as exc:
        seed = getattr(exc, "seed", next(s for s in todo if s not in records))
        raise _stopped(exc, out, seed) from None
    write()
    results["out_dir"] = str(out)
    return results


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


#: record fields that are scores in [0, 1] (or NaN where undefined)
_SCORES = ("valid_metric", "test_metric", "test_interp_auc", "test_precision_at_5")


def _record_problem(rec: Any, epochs: int) -> Optional[str]:
    """Why a seed's record read back from ``results.json`` cannot be a training result, or
    None when it can (scores in [0, 1] or NaN, a best epoch within the run)."""
    if not isinstance(rec, dict):
        return "not a record"
    epoch = rec.get("best_epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch < epochs:
        return f"best_epoch {epoch!r} outside 0..{epochs - 1}"
    for key in _SCORES:
        value = rec.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not (math.isnan(value) or 0.0 <= value <= 1.0):
            return f"{key} = {value!r} is not a score in [0, 1]"
    return None


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

    When :mod:`torch.distributed` is initialised (``torchrun``, see
    :func:`gsat.training.distributed.launched`), every process of the group calls :func:`run`: the
    seeds are trained data-parallel (:mod:`gsat.training.distributed`), rank 0 alone writes the run
    folder, and every rank returns the same results.

    Raises:
        TrainingInterrupted: Ctrl-C; the message says how to resume.
        gsat.errors.TrainingDivergedError: the loss became NaN or infinite (epoch and batch
            named); the last complete epoch's ``last.pt`` is kept.
    """
    from gsat.training.distributed import current

    if spec.resume is not None:
        spec = resume_spec(spec.resume, spec.progress)
    check_seeds(spec.seeds)
    check_device(spec.device)
    dist = current(spec.device)
    with dist.main_first() if dist is not None else contextlib.nullcontext():
        ds = load_dataset(spec.dataset, spec.data_dir, seed=spec.seeds[0],
                          **spec.dataset_options)
    if spec.resume is not None:  # the run's own resolved config, not today's file
        cfg = load_config(Path(spec.resume) / "config.yml")
    else:
        cfg = resolve_config(spec, ds.config_name)
    for device in [spec.device, *(spec.devices or [])]:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"--device {device} was asked for but CUDA is not available; "
                              "use cpu")
    if spec.devices and dist is not None:
        raise ConfigError("--devices runs seeds in parallel processes of its own; under "
                          "torchrun every process already trains each seed data-parallel")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    label = dataset_label(spec.dataset)  # csv:PATH -> csv_<stem>
    out = Path(spec.out) if spec.out else Path("runs") / f"{label}-{spec.backbone}-{stamp}"
    if spec.resume is not None:
        out = Path(spec.resume)
    if dist is not None:
        out = Path(dist.broadcast_object(str(out)))  # rank 0's timestamp
    main = dist is None or dist.is_main
    # one process per run folder; SIGTERM (e.g. from a scheduler) stops like Ctrl-C
    with RunLock(out) if main else contextlib.nullcontext(), sigterm_as_interrupt():
        return _run_seeds(spec, cfg, ds, out, dist)


def _run_seeds(spec: RunSpec, cfg: Config, ds: Any, out: Path,
               dist: Optional["DistContext"] = None) -> Dict[str, Any]:
    """The body of :func:`run` once the run folder :obj:`out` is locked."""
    main = dist is None or dist.is_main
    if spec.resume is None and main:
        if (out / "run.json").exists():
            log.warning("%s already holds a run; starting it over (to continue it instead: "
                        "gsat train --resume %s)", out, out)
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yml")
        stored = {k: v for k, v in dataclasses.asdict(spec).items() if k not in _NOT_STORED}
        stored["data_dir"] = str(Path(spec.data_dir).resolve())
        write_json(stored, out / "run.json")
        write_json(json_safe(dataset_info(ds)), out / "dataset.json")  # for gsat.load_run
        (out / "results.json").unlink(missing_ok=True)
    done: Dict[int, Dict[str, Any]] = {}
    if spec.resume is not None and (out / "results.json").is_file():
        try:
            done = {r["seed"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s is unreadable (%s); finished seeds are rebuilt from their "
                        "checkpoints", out / "results.json", exc)
        for seed, rec in list(done.items()):
            problem = _record_problem(rec, cfg.train.epochs)
            if problem is not None:
                log.warning("%s: the record of seed %s is not a training result (%s); the "
                            "seed is rebuilt from its checkpoints", out / "results.json",
                            seed, problem)
                del done[seed]
    results: Dict[str, Any] = {
        "dataset": spec.dataset, "backbone": spec.backbone,
        "method": "GSAT" if spec.method == "gsat" else "ERM", "metric_name": ds.metric,
        "device": spec.device, "seeds": spec.seeds, "epochs": cfg.train.epochs,
        "torch_version": torch.__version__, "runs": []}
    if dist is not None:
        results["world_size"] = dist.world_size
    if spec.devices:
        results["devices"] = list(spec.devices)
        return _run_seeds_parallel(spec, cfg, out, results, done)
    for i, seed in enumerate(spec.seeds):
        if seed in done:
            log.info("seed %d of %s is already finished", seed, out)
            results["runs"].append(done[seed])
            continue
        if i > 0:
            with dist.main_first() if dist is not None else contextlib.nullcontext():
                ds = load_dataset(spec.dataset, spec.data_dir, seed=seed,
                                  **spec.dataset_options)
        try:
            kwargs = {} if dist is None else {"dist": dist}
            record = train_one_seed(cfg, ds, seed, out / f"seed{seed}", spec.device,
                                    spec.method, spec.progress and main,
                                    tensorboard=spec.tensorboard,
                                    resume=spec.resume is not None, **kwargs)
        except (KeyboardInterrupt, FloatingPointError) as exc:
            raise _stopped(exc, out, seed, dist) from None
        results["runs"].append(record)
        results.update(summarize(results["runs"]))
        if main:
            write_json(json_safe(results), out / "results.json")
    results.update(summarize(results["runs"]))
    if main:
        write_json(json_safe(results), out / "results.json")
    results["out_dir"] = str(out)
    return results
