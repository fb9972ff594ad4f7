r"""Rows of ``benchmarks/results/gmt.md`` from finished ``gsat train`` run folders.

    python benchmarks/gmt_table.py RUN_DIR [RUN_DIR+RUN_DIR ...]

prints, per run folder (or per ``+``-joined group of run folders of the same cell, e.g. seed
0 in one and seeds 1 and 2 in another), one markdown row: the method and config (``results.json``,
``config.yml``), the seeds finished so far, test interpretation ROC AUC, test prediction
metric and the seconds of a training epoch (mean ± population std over seeds, x100 for the
scores), and the selected epochs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gsat.metrics.summary import mean_std, summarize  # noqa: E402


def row(folders: str) -> str:
    results = [json.loads((Path(f) / "results.json").read_text()) for f in folders.split("+")]
    res = results[0]
    runs = sorted((r for one in results for r in one["runs"]), key=lambda r: r["seed"])
    summary = summarize(runs)
    n = len(runs)
    seeds = " ".join(str(r["seed"]) for r in runs)
    epochs = " ".join(str(r["best_epoch"]) for r in runs)
    return (f"| {res['method']} | {res['backbone']} | {res['dataset']} | "
            f"{mean_std(summary, 'test_interp_auc', n=n)} | "
            f"{mean_std(summary, 'test_metric', n=n)} | "
            f"{mean_std(summary, 'seconds_per_epoch', scale=1.0, digits=1, n=n)} | "
            f"{n} ({seeds}) | {epochs} | {res['epochs']} |")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    args = p.parse_args(argv)
    print("| method | backbone | dataset | test interp AUC | test acc | s/epoch | seeds | "
          "selected epochs | epochs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for folders in args.runs:
        if all((Path(f) / "results.json").is_file() for f in folders.split("+")):
            print(row(folders))


if __name__ == "__main__":
    main()
