r"""The run driver behind ``gsat train``: what to run (:class:`RunSpec`), the run folder, one
:func:`gsat.training.seed.train_one_seed` per seed, ``results.json``, resuming an interrupted run
and stopping cleanly on Ctrl-C or a diverged loss."""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import typing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Literal, Optional

import torch

from gsat.runs.layout import RunFolder
from gsat.runs.lock import RunLock
from gsat.runs.records import (read_results, read_run_json, write_config, write_dataset_info,
                               write_results, write_run_json)
from gsat.io.checkpoint import load_checkpoint
from gsat.io.signals import sigterm_as_interrupt
from gsat.core.config import (BACKBONES, Config, check_epochs, check_gmt, default_config_path,
                              fit_schedule_to_epochs, load_config)
from gsat.data import load_dataset
from gsat.data.base import dataset_info
from gsat.data import dataset_label
from gsat.errors import (CheckpointError, ConfigError, Terminated, TrainingDivergedError,
                         UnknownNameError)
from gsat.metrics.summary import ERROR_METRICS, METRIC_LABELS, summarize
from gsat.core.validation import check_choice, check_device, check_path, check_seeds
from gsat.training.seed import train_one_seed
from gsat.training.build import Method, task_dataset
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
    :obj:`device` (see :func:`gsat.training.parallel.train_seeds_in_parallel`)."""
    resume: Optional[str] = None
    """Run folder of an interrupted run to continue; all other fields except
    :obj:`progress` are then read from its ``run.json`` (see :func:`resume_spec`)."""


#: fields of :class:`RunSpec` that are not stored in ``run.json``
_NOT_STORED = ("progress", "resume")


class TrainingTerminated(TrainingInterrupted, Terminated):
    r"""SIGTERM stopped a run (exit code 143); otherwise as :class:`TrainingInterrupted`."""


#: the methods of a run (``--method``)
METHODS = typing.get_args(Method)


def check_run_spec(spec: RunSpec, name: Optional[Callable[[str], str]] = None) -> RunSpec:
    r"""Check every field of :obj:`spec` with the function that checks the command-line flag
    it comes from (the same checks apply to a :class:`RunSpec` made in Python and to the
    ``run.json`` of a resumed run); :obj:`name(field)` says where a field came from in
    messages (default: the flag, e.g. ``--data-dir``). Returns :obj:`spec`.

    Raises:
        gsat.errors.ConfigError: a field of the wrong type or an impossible value.
        gsat.errors.UnknownNameError: an unknown backbone or method.
    """
    name = name or (lambda key: "--" + key.replace("_", "-"))
    try:
        _check_fields(spec, name)
    except UnknownNameError as exc:
        raise ConfigError(f"{name(exc.kind)}: {exc}") from None
    return spec


def _check_fields(spec: RunSpec, name: Callable[[str], str]) -> None:
    if not isinstance(spec.dataset, str) or not spec.dataset.strip():
        raise ConfigError(f"{name('dataset')} must be a dataset name, got {spec.dataset!r}")
    check_choice(spec.backbone, BACKBONES, "backbone")
    check_choice(spec.method, METHODS, "method")
    if spec.config is not None:
        check_path(spec.config, name("config"))
    if spec.epochs is not None:
        check_epochs(spec.epochs, name("epochs"))
    _named(name("seeds"), check_seeds, spec.seeds)
    _named(name("device"), check_device, spec.device)
    if spec.devices is not None:
        if not isinstance(spec.devices, list) or not spec.devices:
            raise ConfigError(f"{name('devices')} must list at least one device, got "
                              f"{spec.devices!r}")
        for device in spec.devices:
            _named(name("devices"), check_device, device)
    if spec.out is not None:
        check_path(spec.out, name("out"))
    check_path(spec.data_dir, name("data_dir"))
    options = spec.dataset_options
    if not isinstance(options, dict) or not all(
            isinstance(k, str) and k.isidentifier() for k in options):
        raise ConfigError(f"{name('dataset_options')} must map option names to values, got "
                          f"{options!r}")
    if not isinstance(spec.tensorboard, bool):
        raise ConfigError(f"{name('tensorboard')} must be true or false, got "
                          f"{spec.tensorboard!r}")


def _named(what: str, check: Callable[[Any], Any], value: Any) -> Any:
    """:obj:`check(value)`, its :class:`~gsat.errors.ConfigError` prefixed with :obj:`what`."""
    try:
        return check(value)
    except ConfigError as exc:
        raise ConfigError(f"{what}: {exc}") from None


def resume_spec(run_dir: str | Path, progress: bool = True) -> RunSpec:
    r"""The :class:`RunSpec` of the run in :obj:`run_dir` (from its ``run.json``), set to
    resume it. Every field is checked as the command line checks the flag it came from
    (:func:`check_run_spec`), and the data root must exist: it was made when the run
    started, and a resumed run does not create one where ``run.json`` points.

    Raises:
        gsat.errors.ConfigError: :obj:`run_dir` is missing, holds no readable ``run.json``,
            or a field of it has a wrong type or an impossible value (named with the file).
    """
    folder = RunFolder(run_dir)
    args = read_run_json(folder)
    spec = RunSpec(**args, progress=progress, resume=str(folder.path))
    check_run_spec(spec, lambda key: f"{folder.run_json}: field {key!r}")
    if not Path(spec.data_dir).is_dir():
        raise ConfigError(f"{folder.run_json}: field 'data_dir': the run's data root "
                          f"{spec.data_dir} is not a folder on this machine; a resumed run "
                          "reads its data where the run started")
    return spec


def _interrupt(exc: BaseException, message: str,
               run_dir: Optional[Path] = None) -> "TrainingInterrupted":
    """:class:`TrainingInterrupted` (Ctrl-C) or :class:`TrainingTerminated` (SIGTERM, as
    :obj:`exc` was) with :obj:`message`, which starts with what stopped the run."""
    if isinstance(exc, Terminated):
        return TrainingTerminated(f"terminated (SIGTERM) {message}", run_dir)
    return TrainingInterrupted(f"interrupted {message}", run_dir)


def _resume_command(dist: Optional["DistContext"] = None) -> str:
    if dist is None:
        return "gsat train"
    local = os.environ.get("LOCAL_WORLD_SIZE", str(dist.world_size))
    return (f"torchrun --nproc-per-node {local} -m gsat train"
            if local == str(dist.world_size) else
            "torchrun <the launch options of the run> -m gsat train")


def _stopped(exc: BaseException, out: Path, seed: int,
             dist: Optional["DistContext"] = None, where: Optional[str] = None
             ) -> BaseException:
    """The exception that ends a run stopped by Ctrl-C, SIGTERM or a non-finite loss, after
    writing ``metrics.csv`` of the complete epochs of :obj:`seed` (rank 0 only under
    :obj:`dist`); :obj:`where` says in which phase (default: during the seed). Every
    interruption once the run folder is written ends with this one line and its resume
    command."""
    seed_folder = RunFolder(out).seed(seed)
    last = seed_folder.last
    done, total = None, None
    try:
        ckpt = load_checkpoint(last, kind="last") if last.exists() else None
    except CheckpointError:
        ckpt = None
    if ckpt is not None and ckpt.get("seed", seed) == seed:
        done = int(ckpt["epoch"]) + 1  # epochs are numbered from 0; the bar counts from 1
        total = ckpt.get("config", {}).get("train", {}).get("epochs")
        if dist is None or dist.is_main:
            write_csv(list(ckpt["history"]), seed_folder.metrics)
    # counted as the progress bar counts them ("3/25" when the fourth epoch was stopped)
    of = f" (of {total})" if isinstance(total, int) else ""
    kept = (f"{last} holds {done} complete epoch{'s' if done != 1 else ''}{of}"
            if done is not None else "nothing was saved since no epoch was complete")
    if isinstance(exc, KeyboardInterrupt):
        return _interrupt(exc, f"{where or f'during seed {seed}'}; {kept}. Resume with: "
                               f"{_resume_command(dist)} --resume {out}", out)
    return TrainingDivergedError(f"{exc} (seed {seed}); training stopped and {kept}. Lower "
                                 "train.lr or check the data for extreme values")


def _run_seeds_parallel(spec: RunSpec, cfg: Config, out: Path, results: Dict[str, Any],
                        done: Dict[int, Dict[str, Any]],
                        guard: Optional[Callable[[], None]] = None) -> Dict[str, Any]:
    """:func:`_run_seeds` with the seeds trained in parallel on :obj:`spec.devices`."""
    from gsat.training.parallel import train_seeds_in_parallel

    records = dict(done)
    for seed in done:
        log.info("seed %d of %s is already finished", seed, out)

    def write(seed: int = -1, record: Optional[Dict[str, Any]] = None) -> None:
        if record is not None:
            records[seed] = record
        results["runs"] = [records[s] for s in spec.seeds if s in records]
        results.update(summarize(results["runs"]))
        _write_results(RunFolder(out), results, guard)

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
    """The config of a run: the file (given or default) with command-line overrides
    (:obj:`spec.epochs` through :func:`gsat.core.config.fit_schedule_to_epochs`)."""
    path = Path(spec.config) if spec.config else default_config_path(spec.backbone, ds_config_name)
    cfg = load_config(path)
    if cfg.model.backbone != spec.backbone:
        raise ConfigError(f"{path}: model.backbone is {cfg.model.backbone} but --backbone "
                          f"{spec.backbone} was asked for")
    if spec.method in ("gmt_lin", "gmt_sam"):  # --method sets the config's estimator
        cfg.gsat.method = spec.method
        check_gmt(cfg, f"{path} with --method {spec.method}")
    if spec.epochs is not None:  # fewer epochs than the config's: a scaled r schedule
        fit_schedule_to_epochs(cfg, spec.epochs)
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

    When :mod:`torch.distributed` is initialised (``torchrun``, see
    :func:`gsat.training.distributed.launched`), every process of the group calls :func:`run`: the
    seeds are trained data-parallel (:mod:`gsat.training.distributed`), rank 0 alone writes the run
    folder, and every rank returns the same results.

    Raises:
        TrainingInterrupted: Ctrl-C; the message says how to resume.
        gsat.errors.TrainingDivergedError: the loss became NaN or infinite (epoch and batch
            named); the last complete epoch's ``last.pt`` is kept.
    """
    # SIGTERM (e.g. from a scheduler) stops like Ctrl-C, in every phase of the run
    with sigterm_as_interrupt():
        try:
            return _run(spec)
        except KeyboardInterrupt as exc:
            if isinstance(exc, TrainingInterrupted):
                raise
            if spec.resume is not None:  # its run.json is there: resuming again works
                raise _interrupt(exc, f"before training started; nothing new was saved. "
                                      f"Resume with: gsat train --resume {spec.resume}",
                                 Path(spec.resume)) from None
            raise _interrupt(exc, "before the run folder was written; nothing was saved, "
                                  "so there is nothing to resume: start the run again") \
                from None


def _run(spec: RunSpec) -> Dict[str, Any]:
    """The body of :func:`run`."""
    from gsat.training.distributed import current

    if spec.resume is not None:
        spec = resume_spec(spec.resume, spec.progress)
    else:
        check_run_spec(spec)
    dist = current(spec.device)
    with dist.main_first() if dist is not None else contextlib.nullcontext():
        ds = load_dataset(spec.dataset, spec.data_dir, seed=spec.seeds[0],
                          **spec.dataset_options)
    if spec.resume is not None:  # the run's own resolved config, not today's file
        cfg = load_config(RunFolder(spec.resume).config)
    else:
        cfg = resolve_config(spec, ds.config_name)
    ds = task_dataset(ds, cfg)  # a node dataset: its nodes' computation subgraphs
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
    # one process per run folder
    with RunLock(out) if main else contextlib.nullcontext() as lock:
        phase = {"seed": spec.seeds[0], "where": None}
        try:
            return _run_seeds(spec, cfg, ds, out, dist, lock, phase)
        except KeyboardInterrupt as exc:
            if isinstance(exc, TrainingInterrupted):
                raise
            raise _stopped(exc, out, phase["seed"], dist, phase["where"]) from None


def _run_seeds(spec: RunSpec, cfg: Config, ds: Any, out: Path,
               dist: Optional["DistContext"] = None, lock: Optional[RunLock] = None,
               phase: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The body of :func:`run` once the run folder :obj:`out` is locked (by :obj:`lock`,
    whose :meth:`~gsat.runs.lock.RunLock.check` stops the run when the folder is deleted or
    replaced); :obj:`phase` follows the seed and what is being done, for the message of an
    interruption."""
    phase = {} if phase is None else phase
    guard = lock.check if lock is not None else None
    main = dist is None or dist.is_main
    folder = RunFolder(out)
    if spec.resume is None and main:
        if folder.run_json.exists():
            log.warning("%s already holds a run; starting it over (to continue it instead: "
                        "gsat train --resume %s)", out, out)
        out.mkdir(parents=True, exist_ok=True)
        write_config(folder, cfg)
        stored = {k: v for k, v in dataclasses.asdict(spec).items() if k not in _NOT_STORED}
        stored["data_dir"] = str(Path(spec.data_dir).resolve())
        Path(stored["data_dir"]).mkdir(parents=True, exist_ok=True)  # resume reads it there
        write_run_json(folder, stored)
        write_dataset_info(folder, dataset_info(ds))  # for gsat.load_run
        folder.results.unlink(missing_ok=True)
    done: Dict[int, Dict[str, Any]] = {}
    if spec.resume is not None:
        done = read_results(folder, cfg.train.epochs, ds.metric in ERROR_METRICS)
    results: Dict[str, Any] = {
        "dataset": spec.dataset, "backbone": spec.backbone,
        "method": _method_label(spec.method, cfg), "metric_name": ds.metric,
        "metric_label": METRIC_LABELS.get(ds.metric, ds.metric),
        "higher_is_better": ds.metric not in ERROR_METRICS,
        "device": spec.device, "seeds": spec.seeds, "epochs": cfg.train.epochs,
        "torch_version": torch.__version__, "runs": []}
    if dist is not None:
        results["world_size"] = dist.world_size
    if spec.devices:
        results["devices"] = list(spec.devices)
        return _run_seeds_parallel(spec, cfg, out, results, done, guard)
    for i, seed in enumerate(spec.seeds):
        if seed in done:
            log.info("seed %d of %s is already finished", seed, out)
            results["runs"].append(done[seed])
            continue
        phase.update(seed=seed, where=None)
        if i > 0:
            with dist.main_first() if dist is not None else contextlib.nullcontext():
                ds = task_dataset(load_dataset(spec.dataset, spec.data_dir, seed=seed,
                                               **spec.dataset_options), cfg)
        try:
            kwargs = {} if dist is None else {"dist": dist}
            record = train_one_seed(cfg, ds, seed, folder.seed(seed).path, spec.device,
                                    spec.method, spec.progress and main,
                                    tensorboard=spec.tensorboard,
                                    resume=spec.resume is not None, guard=guard, **kwargs)
        except (KeyboardInterrupt, FloatingPointError) as exc:
            raise _stopped(exc, out, seed, dist) from None
        phase["where"] = f"after seed {seed} finished, while results.json was written"
        results["runs"].append(record)
        results.update(summarize(results["runs"]))
        if main:
            _write_results(folder, results, guard)
    results.update(summarize(results["runs"]))
    if main:
        _write_results(folder, results, guard)
    results["out_dir"] = str(out)
    return results


def _method_label(method: str, cfg: Config) -> str:
    """The method of a run as ``results.json`` names it: ERM, GSAT, GMT-lin or GMT-sam."""
    from gsat.core.gmt import LABELS
    from gsat.training.build import estimator_of

    return "ERM" if method == "erm" else LABELS[estimator_of(cfg, method)]


def _write_results(folder: RunFolder, results: Dict[str, Any],
                   guard: Optional[Callable[[], None]]) -> None:
    """``results.json``, once :obj:`guard` found the run folder still in place."""
    if guard is not None:
        guard()
    write_results(folder, results)
