r"""Seconds of one training pass (forward, loss, backward, Adam step over the training split)
of GSAT or ERM on BA-2Motifs with the shipped config, as a command of its own, so that two
versions of the code (or this code and the original GSAT code, ``original_gsat.py``) can be
timed as whole processes, A and B interleaved.

    OMP_NUM_THREADS=1 python benchmarks/train_pass.py --backbone GIN --epochs 10

prints the median, min and max wall and CPU (`time.process_time`) seconds of the epochs after
one warm-up epoch. The batches
are those of a shuffled loader of the shipped batch size (128), seed 0.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # as the gsat command sets it

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pass_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of a timed training pass, shared with ``original_gsat.py``."""
    p.add_argument("--backbone", default="GIN", choices=["GIN", "PNA"])
    p.add_argument("--method", default="gsat", choices=["gsat", "erm"])
    p.add_argument("--epochs", type=int, default=10, help="timed epochs (after one warm-up)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", default="data")


def timed_epochs(run_epoch, epochs: int):
    """Wall and CPU seconds of :obj:`epochs` calls of :obj:`run_epoch(epoch)` after one
    warm-up call (epoch 0, not timed)."""
    times, cpu = [], []
    for epoch in range(epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        run_epoch(epoch)
        if epoch > 0:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return times, cpu


def timing_text(times, cpu) -> str:
    """The line both scripts print: median, min and max wall and CPU seconds per epoch."""
    return (f"{statistics.median(times):.4f} s/epoch median, min {min(times):.4f}, max "
            f"{max(times):.4f}; CPU {statistics.median(cpu):.4f} s/epoch median, min "
            f"{min(cpu):.4f}, max {max(cpu):.4f}")


def main() -> None:
    from gsat.core.config import default_config_path, load_config
    from gsat.data import load_dataset
    from gsat.training.build import build_model
    from gsat.training.engine import make_loader, set_seed, train_epoch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    pass_arguments(p)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ds = load_dataset("ba_2motifs", args.data_dir, seed=0)
    cfg = load_config(default_config_path(args.backbone, ds.config_name))
    set_seed(0)
    model = build_model(cfg, ds, args.method)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr,
                           weight_decay=cfg.train.weight_decay)
    loader = make_loader(ds.train, cfg.train.batch_size, shuffle=True, seed=0)
    times, cpu = timed_epochs(
        lambda epoch: train_epoch(model, loader, opt, epoch, "cpu", ds.evaluator), args.epochs)
    print(f"{args.backbone} {args.method}: {timing_text(times, cpu)} ({args.epochs} epochs, "
          f"{len(ds.train)} graphs)")


if __name__ == "__main__":
    main()
