r"""What ``gsat.bn_stats: recomputed`` costs per epoch: the seconds of one training pass
(:func:`gsat.training.engine.train_epoch`) and of one re-estimation of both passes'
batch-norm statistics (:meth:`gsat.GSAT.recompute_bn_stats`) over the same training graphs,
alternated :obj:`--repeats` times in one process (medians printed).

    python benchmarks/stable_cost.py --dataset ba_2motifs --data-dir DIR [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gsat.core.config import default_config_path, load_config  # noqa: E402
from gsat.data import load_dataset  # noqa: E402
from gsat.training.build import build_model  # noqa: E402
from gsat.training.engine import make_loader, set_seed, train_epoch  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="ba_2motifs")
    p.add_argument("--backbone", default="GIN")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ds = load_dataset(args.dataset, args.data_dir, seed=0)
    cfg = load_config(default_config_path(args.backbone, ds.config_name))
    cfg.gsat.bn_stats = "recomputed"
    set_seed(0)
    model = build_model(cfg, ds)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    train = make_loader(ds.train, cfg.train.batch_size, shuffle=True, seed=0)
    fixed = make_loader(ds.train, cfg.train.batch_size)
    t_train, t_refresh = [], []
    for epoch in range(args.repeats):
        t_train.append(train_epoch(model, train, opt, epoch, "cpu", ds.evaluator)["seconds"])
        start = time.perf_counter()
        model.recompute_bn_stats(fixed)
        t_refresh.append(time.perf_counter() - start)
    a, b = statistics.median(t_train), statistics.median(t_refresh)
    print(f"{args.dataset} {args.backbone}: training pass {a:.2f} s, re-estimation {b:.2f} s "
          f"(+{100 * b / a:.0f} %), medians of {args.repeats}")


if __name__ == "__main__":
    main()
