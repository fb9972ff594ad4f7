"""Training throughput of one process against data-parallel processes (torchrun, gloo, CPU).

    OMP_NUM_THREADS=1 python benchmarks/ddp.py [--molecules 4096] [--epochs 3] [--nproc 2]

Writes a CSV of drug-like molecules (the SMILES of benchmarks/ogb_mol.py repeated, random
0/1 labels, about molhiv's atoms per molecule) and trains GSAT with GIN on it through the
command line, ``--dataset csv:PATH`` (ogb's smiles2graph, the ogbg_mol config, batch size
128), first as one process and then under ``torchrun --nproc-per-node N``, one torch thread
per process. The molecules are parsed once before the timed runs. Reported per run: the
mean seconds of a training pass over the epochs (the slowest rank's), training graphs per
second, the wall time of the whole command, and the test ROC AUC (labels are random, so
about 0.5: the point is that both runs work and are comparable, not the score).

Writes benchmarks/results/ddp.md with the command.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from ogb_mol import DRUGS  # noqa: E402


def write_molecules(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["smiles", "y"])
        for i in range(n):
            w.writerow([DRUGS[i % len(DRUGS)], int(rng.random() < 0.3)])


def gsat_args(csv_path: Path, data_dir: Path, out: Path, epochs: int) -> list:
    return ["train", "--dataset", f"csv:{csv_path}", "--split", "random", "--epochs",
            str(epochs), "--data-dir", str(data_dir), "--out", str(out), "--no-progress",
            "--threads", "1"]


def timed(cmd: list, env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--molecules", type=int, default=4096)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--out", default=str(HERE / "results" / "ddp.md"))
    args = p.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mols, data = tmp / "mols.csv", tmp / "data"
        write_molecules(mols, args.molecules)
        # parse the molecules once (cached), so that no timed run includes it
        timed([sys.executable, "-m", "gsat", *gsat_args(mols, data, tmp / "warm", 1)], env)
        sys.path.insert(0, str(ROOT))
        from gsat.data import load_dataset

        n_train = len(load_dataset(f"csv:{mols}", data, split="random").train)
        runs = [("1 process", [sys.executable, "-m", "gsat"]),
                (f"{args.nproc} processes (torchrun, gloo)",
                 [sys.executable, "-m", "torch.distributed.run", "--standalone",
                  "--nproc-per-node", str(args.nproc), "-m", "gsat"])]
        for label, launcher in runs:
            out = tmp / label.split()[0]
            wall = timed([*launcher, *gsat_args(mols, data, out, args.epochs)], env)
            res = json.loads((out / "results.json").read_text())
            run = res["runs"][0]
            sec = run["seconds_per_epoch"]
            rows.append({"label": label, "sec": sec, "wall": wall, "n_train": n_train,
                         "auc": run["test_metric"], "world": res.get("world_size", 1)})
            print(rows[-1], flush=True)
    base = rows[0]["sec"]
    lines = [f"| {r['label']} | {r['sec']:.2f} | {r['n_train'] / r['sec']:.0f} | "
             f"{base / r['sec']:.2f}x | {r['wall']:.1f} | {r['auc']:.3f} |" for r in rows]
    load = os.getloadavg()[0]
    text = f"""# Data-parallel training: 1 process vs. {args.nproc} (torchrun, gloo, CPU)

Command: `OMP_NUM_THREADS=1 python benchmarks/ddp.py {' '.join(sys.argv[1:])}`

Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs (load average
{load:.1f} at the end), CPU only, one torch thread per process. Data: {args.molecules}
drug-like molecules (SMILES of `benchmarks/ogb_mol.py` repeated, random labels; {rows[0]['n_train']} for
training), read
through `--dataset csv:PATH --split random` (ogb's smiles2graph, the `GIN-ogbg_mol.yml`
config, global batch size 128: {128 // args.nproc} per process with {args.nproc} processes),
GSAT with GIN, {args.epochs} epochs. The runs are

    python -m gsat train --dataset csv:mols.csv --split random --epochs {args.epochs} --threads 1 ...
    torchrun --standalone --nproc-per-node {args.nproc} -m gsat train --dataset csv:mols.csv ...

s/epoch is the mean training pass (the slowest rank's under torchrun); graphs/s is training
graphs over that; wall is the whole command (start-up, data loading, evaluation, pictures).
Test ROC AUC of random labels is about 0.5; it is listed to show both runs finish with a
score.

| run | s/epoch | graphs/s | speed-up | wall s | test ROC AUC |
|---|---|---|---|---|---|
{chr(10).join(lines)}

Here {args.nproc} processes trained at {base / rows[-1]['sec']:.2f}x the speed of one. On
{os.cpu_count()} cores that other jobs also use, little or no gain is to be expected: the
processes compete for the same cores, each step adds a gradient all-reduce, and each
process runs batches half as large, which use a core less efficiently. On GPUs
(`torchrun --nproc-per-node 8 -m gsat train ... --device cuda`) each process has a device
of its own and the all-reduce runs over NCCL.
"""
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
