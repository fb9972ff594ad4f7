r"""Training speed of GSAT against the same backbone without attention (ERM).

GSAT runs the backbone twice per step (once ungated to embed the nodes for the extractor, once
gated by the attention) plus the extractor MLP on every edge. This script times training
epochs of both on the same data, alternating GSAT and ERM epoch by epoch so that both see the
same machine load, and writes the medians and their ratio to
``benchmarks/results/speed.md``.

    python benchmarks/speed.py --rounds 5 --datasets ba_2motifs mutag --backbones GIN PNA \
        --threads 1 2

Seconds are CPU seconds of the process (``time.process_time``), which a machine shared with
other jobs disturbs less than wall time; with two threads they count both threads' work, so
the wall time of an epoch is also reported.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gsat.training.build import build_model  # noqa: E402
from gsat.core.config import default_config_path, load_config  # noqa: E402
from gsat.data import load_dataset  # noqa: E402
from gsat.training.engine import make_loader, set_seed, train_epoch  # noqa: E402

HERE = Path(__file__).resolve().parent


def time_epochs(dataset: str, backbone: str, rounds: int, data_dir: str,
                threads: int = 1) -> dict:
    torch.set_num_threads(threads)
    ds = load_dataset(dataset, data_dir, seed=0)
    cfg = load_config(default_config_path(backbone, ds.config_name))
    t = cfg.train
    seconds = {"gsat": [], "erm": []}
    wall = {"gsat": [], "erm": []}
    models, opts = {}, {}
    for method in seconds:
        set_seed(0)
        models[method] = build_model(cfg, ds, method)
        opts[method] = torch.optim.Adam(models[method].parameters(), lr=t.lr,
                                        weight_decay=t.weight_decay)
    loader = make_loader(ds.train, t.batch_size, shuffle=True, seed=0)
    for epoch in range(rounds + 1):  # the first round warms up and is not counted
        for method in seconds:
            c0 = time.process_time()
            s = train_epoch(models[method], loader, opts[method], epoch, "cpu",
                            ds.evaluator)["seconds"]
            if epoch > 0:
                seconds[method].append(time.process_time() - c0)
                wall[method].append(s)
    g, e = statistics.median(seconds["gsat"]), statistics.median(seconds["erm"])
    return {"dataset": dataset, "backbone": backbone, "gsat": g, "erm": e, "ratio": g / e,
            "gsat_wall": statistics.median(wall["gsat"]),
            "erm_wall": statistics.median(wall["erm"]), "threads": threads,
            "num_train": len(ds.train), "batch_size": t.batch_size}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--datasets", nargs="+", default=["ba_2motifs"])
    p.add_argument("--backbones", nargs="+", default=["GIN", "PNA"], choices=["GIN", "PNA"])
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--data-dir", default="data")
    p.add_argument("--out", default=str(HERE / "results" / "speed.md"))
    args = p.parse_args()
    rows = []
    for ds in args.datasets:
        for bb in args.backbones:
            for th in args.threads:
                r = time_epochs(ds, bb, args.rounds, args.data_dir, th)
                rows.append(f"| {ds} | {bb} | {th} | {r['num_train']} | {r['batch_size']} | "
                            f"{r['gsat']:.3f} | {r['erm']:.3f} | {r['ratio']:.2f}x | "
                            f"{r['gsat_wall']:.3f} | {r['erm_wall']:.3f} |")
            print(rows[-1], flush=True)
    text = f"""# Training speed: GSAT vs. the same backbone without attention (ERM)

Command: `python benchmarks/speed.py {' '.join(sys.argv[1:])}`

Machine: {platform.machine()}, CPU, torch {torch.__version__}, shared with other jobs. Median
CPU seconds (of all threads) of one training epoch (forward, loss, backward, optimizer step
over the training split) over {args.rounds} epochs after one warm-up epoch, and the median
wall seconds; GSAT and ERM epochs alternate, so both see the same machine load. Target: GSAT
at most 2.5x ERM.

| dataset | backbone | threads | training graphs | batch size | GSAT CPU s/epoch | ERM CPU s/epoch | GSAT / ERM | GSAT wall s | ERM wall s |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
