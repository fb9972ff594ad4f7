"""Speed and loader memory of GSAT on OGB-format molecular datasets, offline.

    OMP_NUM_THREADS=1 python benchmarks/ogb_mol.py [--epochs 5] [--large 41127] [--threads 1]

The real ogbg-molhiv needs a download; this script measures what does not: it writes
molecules in OGB's on-disk format with ogb's own tools (needs RDKit) and

- trains GSAT (paper configs, gsat/configs/<BACKBONE>-ogbg_mol.yml) for a few epochs with GIN
  and PNA on the 20-molecule set of the tests and reports seconds per training epoch;
- loads a molhiv-sized set (--large molecules, drug-like SMILES repeated) through
  gsat.data.load_dataset in a fresh interpreter and reports the loader's peak resident
  memory (Linux VmHWM) above the interpreter's after imports, for the first load (ogb
  processes the raw files) and a second load (processed file cached);
- trains one epoch of GIN and PNA on the large set.

Writes benchmarks/results/ogb.md. The reference runs on the real data are one command each:
``python run_gsat.py --dataset ogbg_molhiv --backbone GIN --data-dir DIR --seeds 0 1 2``.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from gsat.core.config import load_config  # noqa: E402
from gsat.data import load_dataset  # noqa: E402
from gsat.data.ogb import save_ogb_mol_dataset  # noqa: E402
from gsat.training.seed import train_one_seed  # noqa: E402

#: the 20 molecules of tests/data/test_ogb.py
TINY = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "O=C=O", "CC(C)Cl", "c1ccncc1", "CCOC(=O)C",
        "CC(=O)Nc1ccc(O)cc1", "CS(=O)C", "CC(C)CC1=CC=C(C=C1)C(C)C(=O)O", "C1CCCCC1",
        "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "OC(=O)c1ccccc1O", "CCBr", "FC(F)(F)c1ccccc1",
        "NCCc1ccc(O)c(O)c1", "C#N", "CC(=O)OC1=CC=CC=C1C(=O)O", "c1ccc2ccccc2c1"]
#: drug-like molecules (20.7 heavy atoms on average; ogbg-molhiv has 25.5)
DRUGS = [
    "CC(=O)OC1=CC=CC=C1C(=O)O", "CC(C)CC1=CC=C(C=C1)C(C)C(=O)O",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(=O)NC1=CC=C(O)C=C1",
    "COC1=CC2=CC(=CC=C2C=C1)C(C)C(=O)O", "CN1C(=O)CN=C(C2=C1C=CC(=C2)Cl)C3=CC=CC=C3",
    "CNCCC(C1=CC=CC=C1)OC2=CC=C(C=C2)C(F)(F)F",
    "CC(C)C1=C(C(=C(N1CCC(CC(CC(=O)O)O)O)C2=CC=C(C=C2)F)C3=CC=CC=C3)C(=O)NC4=CC=CC=C4",
    "CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)C5=CN=CC=C5",
    "CN1CCCC1C2=CN=CC=C2", "CN1CCC23C4C1CC5=C2C(=C(C=C5)O)OC3C(C=C4)O",
    "CC1(C(N2C(S1)C(C2=O)NC(=O)CC3=CC=CC=C3)C(=O)O)C", "CCN(CC)CC(=O)NC1=C(C=CC=C1C)C",
    "CN(C)C(=N)N=C(N)N", "CC1=CN=C(C(=C1OC)C)CS(=O)C2=NC3=C(N2)C=C(C=C3)OC",
    "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C",
    "CC(=O)CC(C1=CC=CC=C1)C2=C(C3=CC=CC=C3OC2=O)O",
    "CC1=CN(C(=O)NC1=O)C2CC(C(O2)CO)N=[N+]=[N-]", "CCN(CC)CCCC(C)NC1=C2C=CC(=CC2=NC=C1)Cl"]

MEASURE = r"""
import json, sys, time, torch
sys.path.insert(0, {root!r})
from gsat.data import load_dataset

def peak_rss_mb():
    # VmHWM: peak resident memory of this process image (reset at exec, unlike ru_maxrss,
    # which keeps the parent's peak across fork + exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")

meta = torch.load({meta!r}, weights_only=False)
base = peak_rss_mb()
t = time.perf_counter()
ds = load_dataset("ogbg_molhiv", "unused", meta_dict=meta)
sec = time.perf_counter() - t
peak = peak_rss_mb()
n = len(ds.train) + len(ds.valid) + len(ds.test)
nodes = sum(g.num_nodes for g in ds.train + ds.valid + ds.test) / n
print(json.dumps(dict(graphs=n, mean_nodes=nodes, seconds=sec, base_mb=base, peak_mb=peak)))
"""


def _make(smiles, root: Path, seed: int = 0) -> Path:
    n = len(smiles)
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 1)) < 0.3).astype(np.float64)
    labels[0, 0], labels[1, 0] = 0.0, 1.0
    cut1, cut2 = int(0.8 * n), int(0.9 * n)
    split = {"train": range(cut1), "valid": range(cut1, cut2), "test": range(cut2, n)}
    if n == len(TINY):
        labels = np.array([[i % 2] for i in range(n)], dtype=np.float64)
        split = {"train": range(12), "valid": range(12, 16), "test": range(16, 20)}
    meta = save_ogb_mol_dataset(smiles, labels, {k: list(v) for k, v in split.items()}, root)
    path = root / "meta_dict.pt"
    torch.save(meta, path)
    return path


def _measure_load(meta_path: Path) -> dict:
    code = MEASURE.format(root=str(ROOT), meta=str(meta_path))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def _speed(meta_path: Path, backbone: str, epochs: int, out: Path) -> float:
    meta = torch.load(meta_path, weights_only=False)
    ds = load_dataset("ogbg_molhiv", "unused", meta_dict=meta)
    cfg = load_config(ROOT / "gsat" / "configs" / f"{backbone}-ogbg_mol.yml")
    cfg.train.epochs, cfg.train.num_viz = epochs, 0
    rec = train_one_seed(cfg, ds, 0, out, progress=False)
    return rec["seconds_per_epoch"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--epochs", type=int, default=5, help="epochs on the tiny set")
    p.add_argument("--large", type=int, default=41127,
                   help="molecules of the large set (0: skip it); ogbg-molhiv has 41127")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", default=str(HERE / "results" / "ogb.md"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cmd = "python benchmarks/ogb_mol.py " + " ".join(sys.argv[1:])
    lines = ["# GSAT on OGB-format molecules: speed and loader memory", "",
             f"Command: `OMP_NUM_THREADS={args.threads} {cmd.strip()}`", "",
             f"Machine: {platform.processor() or platform.machine()}, "
             f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}, "
             f"python {platform.python_version()}; CPU shared with other jobs, so times are "
             "upper bounds.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tiny = _make(TINY, tmp / "tiny")
        lines += ["## Seconds per training epoch, tiny set (20 molecules, 12 for training)", "",
                  "| backbone | epochs | seconds / epoch |", "|---|---|---|"]
        for bb in ("GIN", "PNA"):
            s = _speed(tiny, bb, args.epochs, tmp / f"run-tiny-{bb}")
            lines.append(f"| {bb}+GSAT | {args.epochs} | {s:.3f} |")
            print(lines[-1], flush=True)
        first = _measure_load(tiny)
        second = _measure_load(tiny)
        rows = [("tiny, first load", first), ("tiny, cached", second)]
        if args.large:
            smiles = [DRUGS[i % len(DRUGS)] for i in range(args.large)]
            t = time.perf_counter()
            large = _make(smiles, tmp / "large")
            write_s = time.perf_counter() - t
            print(f"wrote {args.large} molecules in {write_s:.0f} s", flush=True)
            rows += [("large, first load (ogb processes raw files)", _measure_load(large)),
                     ("large, cached", _measure_load(large))]
        lines += ["", "## Loader: `gsat.data.load_dataset('ogbg_molhiv', meta_dict=...)`", "",
                  "Fresh interpreter per row (Linux). Peak RSS is the process's resident "
                  "high-water mark (`VmHWM` in /proc/self/status, tensors included); 'before "
                  "loading' is the same mark after the imports, so the difference is what "
                  "loading adds at its peak.", "",
                  "| data | graphs | mean nodes | seconds | peak RSS before loading (MB) | "
                  "peak RSS after loading (MB) | loading adds (MB) |",
                  "|---|---|---|---|---|---|---|"]
        for name, r in rows:
            lines.append(f"| {name} | {r['graphs']} | {r['mean_nodes']:.1f} | "
                         f"{r['seconds']:.2f} | {r['base_mb']:.0f} | {r['peak_mb']:.0f} | "
                         f"{r['peak_mb'] - r['base_mb']:.0f} |")
            print(lines[-1], flush=True)
        if args.large:
            lines += ["", f"## One training epoch on the large set ({args.large} molecules, "
                      "80% for training, batch 128)", "",
                      "| backbone | seconds / epoch |", "|---|---|"]
            for bb in ("GIN", "PNA"):
                s = _speed(large, bb, 1, tmp / f"run-large-{bb}")
                lines.append(f"| {bb}+GSAT | {s:.1f} |")
                print(lines[-1], flush=True)
    lines += ["", "Published prediction ROC AUC on ogbg-molhiv (Miao et al., ICML 2022): "
              "GIN+GSAT 76.47 ± 1.53, PNA+GSAT 80.24 ± 0.73 (ERM: GIN 76.69, PNA 78.91). "
              "Reference runs on the real data: `python run_gsat.py --dataset ogbg_molhiv "
              "--backbone GIN --data-dir DIR --seeds 0 1 2` (and `--backbone PNA`).", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
