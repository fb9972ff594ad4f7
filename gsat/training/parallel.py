r"""Seeds trained in parallel processes (``gsat train --devices cuda:0 cuda:1`` or
``--devices cpu cpu``): one process per seed, at most one per listed device at a time, each
running exactly what a sequential run would."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import torch

log = logging.getLogger(__name__)

__all__ = ["train_seeds_in_parallel"]


def _seed_process(spec: Any, cfg: Any, seed: int, out: str, device: str, threads: int,
                  results: Any) -> None:
    """Body of the process that trains one seed of :func:`train_seeds_in_parallel`."""
    import pickle

    from gsat.io.signals import sigterm_as_interrupt
    from gsat.training.build import task_dataset
    from gsat.data import load_dataset
    from gsat.runs.layout import RunFolder
    from gsat.training.seed import train_one_seed

    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.WARNING,
                        format=f"%(levelname)s %(name)s (seed {seed}): %(message)s")
    try:
        with sigterm_as_interrupt():
            ds = task_dataset(load_dataset(spec.dataset, spec.data_dir, seed=seed,
                                           **spec.dataset_options), cfg)
            record = train_one_seed(cfg, ds, seed, RunFolder(out).seed(seed).path, device,
                                    spec.method, False, tensorboard=spec.tensorboard,
                                    resume=spec.resume is not None)
        results.put((seed, record, None))
    except BaseException as exc:  # noqa: B902 - handed to the parent, which raises it
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        results.put((seed, None, exc))


def train_seeds_in_parallel(spec: Any, cfg: Any, seeds: Sequence[int], out: Path,
                            devices: Sequence[str],
                            on_record: Any = None) -> Dict[int, Dict[str, Any]]:
    r"""Train :obj:`seeds` in parallel, one process per seed and at most one process per
    entry of :obj:`devices` at a time (a device may be listed twice to run two seeds on
    it, e.g. :obj:`["cpu", "cpu"]`), each with
    :func:`gsat.training.seed.train_one_seed` into :obj:`out/seed<N>/` exactly as a sequential
    run would. :obj:`on_record(seed, record)` is called in the parent as each seed
    finishes.

    Returns:
        dict: the record of every seed.

    Raises:
        KeyboardInterrupt: Ctrl-C or SIGTERM in the parent, or one in a child: the other
            processes are stopped (SIGTERM: they finish writing, complete epochs stay) and
            the first seed still running is reported by its exception.
        Exception: the first exception of a seed (e.g. :class:`FloatingPointError`), after
            the other processes are stopped; its :attr:`seed` attribute names the seed.
    """
    import multiprocessing as mp
    import queue as queue_mod

    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    pending = list(seeds)
    running: Dict[int, Tuple[Any, str]] = {}
    free = list(devices)
    records: Dict[int, Dict[str, Any]] = {}
    threads = torch.get_num_threads()
    failure: Optional[BaseException] = None
    try:
        while pending or running:
            while pending and free and failure is None:
                seed, device = pending.pop(0), free.pop(0)
                proc = ctx.Process(target=_seed_process, name=f"gsat-seed{seed}",
                                   args=(spec, cfg, seed, str(out), device, threads, results))
                proc.start()
                running[seed] = (proc, device)
                log.info("seed %d started on %s (process %d)", seed, device, proc.pid)
            if not running:
                break
            try:
                seed, record, exc = results.get(timeout=1.0)
            except queue_mod.Empty:
                for s, (proc, device) in list(running.items()):
                    if not proc.is_alive() and proc.exitcode != 0:  # died without a word
                        running.pop(s)
                        free.append(device)
                        failure = failure or _seeded(RuntimeError(
                            f"the process of seed {s} ended with exit code {proc.exitcode}"), s)
                continue
            proc, device = running.pop(seed)
            proc.join()
            free.append(device)
            if exc is not None:
                failure = failure or _seeded(exc, seed)
                _stop(running)
                continue
            records[seed] = record
            if on_record is not None:
                on_record(seed, record)
    except BaseException:
        _stop(running)
        raise
    if failure is not None:
        raise failure
    return records


def _seeded(exc: BaseException, seed: int) -> BaseException:
    exc.seed = seed  # type: ignore[attr-defined]
    return exc


def _stop(running: Dict[int, Tuple[Any, str]]) -> None:
    """SIGTERM every running seed process (they save like Ctrl-C) and wait for them."""
    for proc, _ in running.values():
        if proc.is_alive():
            proc.terminate()
    for proc, _ in running.values():
        proc.join(timeout=60)
        if proc.is_alive():
            proc.kill()
            proc.join()
