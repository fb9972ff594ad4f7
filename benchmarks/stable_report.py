r"""Tables and pictures of ``benchmarks/results/stable_eval.md``: per epoch, the validation
accuracy and interpretation ROC AUC of GSAT with shared batch-norm statistics (the run's own
``metrics.csv``) and with the statistics of ``gsat.bn_stats: recomputed`` (the file
``benchmarks/stable_eval.py --modes recomputed`` wrote for the same run and seed), and the
epoch each setting selects (:class:`gsat.core.selection.Selector`, the paper's protocol) with
its test accuracy and interpretation ROC AUC.

    python benchmarks/stable_report.py --title BA-2Motifs --picture out.png \
        RUN_DIR:SEED:RECOMPUTED_CSV [RUN_DIR:SEED:RECOMPUTED_CSV ...]

prints a markdown table (one row per seed and setting, then mean ± std) and draws the curves.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gsat.core.config import load_config  # noqa: E402
from gsat.core.functional import final_prior  # noqa: E402
from gsat.core.selection import Selection, Selector  # noqa: E402
from gsat.runs.layout import RunFolder  # noqa: E402


def _float(v: Any) -> float:
    return float(v) if v not in (None, "") else math.nan


def read_curves(run_dir: str, seed: int, csv_path: str) -> Dict[str, Any]:
    """Per-epoch records of both settings and the config's selection rule."""
    folder = RunFolder(run_dir)
    cfg = load_config(folder.config)
    shared = [{k: (_float(v) if k != "epoch" else int(v)) for k, v in r.items()}
              for r in csv.DictReader(open(folder.seed(seed).metrics))]
    r_of = {r["epoch"]: r["r"] for r in shared}
    recomputed = []
    for row in csv.DictReader(open(csv_path)):
        e = int(row["epoch"])
        recomputed.append({"epoch": e, "r": r_of[e], "valid_metric": _float(row["valid_acc"]),
                           "valid_loss": _float(row.get("valid_loss")),
                           "valid_interp_auc": _float(row["valid_interp_auc"]),
                           "test_metric": _float(row["test_acc"]),
                           "test_interp_auc": _float(row["test_interp_auc"])})
    g = cfg.gsat
    selector = Selector(cfg.train.min_select_epoch, final_prior(g.final_r, g.fixed_r))
    return {"shared": shared, "recomputed": recomputed, "selector": selector}


def select(records: List[Dict[str, Any]], selector: Selector) -> Dict[str, Any]:
    """The record the run's selection rule picks (records in epoch order)."""
    sel = Selection(selector)
    for rec in records:
        qual, any_ = sel.candidate(rec)
        if qual:
            sel.best_qual = rec
        if any_:
            sel.best_any = rec
    return sel.chosen()[0]


def summary_rows(runs: List[Tuple[int, Dict[str, Any]]]) -> List[str]:
    lines = ["| seed | setting | selected epoch | valid acc | test acc | test interp AUC | "
             "last epoch: valid acc | last epoch: valid interp AUC | second half: lowest "
             "valid acc |",
             "|---|---|---|---|---|---|---|---|---|"]
    agg: Dict[str, Dict[str, List[float]]] = {}
    for seed, c in runs:
        for setting in ("shared", "recomputed"):
            recs = c[setting]
            best = select(recs, c["selector"])
            last = recs[-1]
            half = recs[len(recs) // 2:]
            low = min(r["valid_metric"] for r in half)
            vals = {"test acc": best["test_metric"], "test interp AUC": best["test_interp_auc"],
                    "last valid acc": last["valid_metric"],
                    "last valid interp AUC": last["valid_interp_auc"]}
            for k, v in vals.items():
                agg.setdefault(setting, {}).setdefault(k, []).append(v)
            lines.append(f"| {seed} | {setting} | {best['epoch']} | "
                         f"{100 * best['valid_metric']:.2f} | {100 * best['test_metric']:.2f} | "
                         f"{100 * best['test_interp_auc']:.2f} | "
                         f"{100 * last['valid_metric']:.2f} | "
                         f"{100 * last['valid_interp_auc']:.2f} | {100 * low:.2f} |")
    for setting, vals in agg.items():
        ms = {k: f"{100 * np.mean(v):.2f} ± {100 * np.std(v):.2f}" for k, v in vals.items()}
        lines.append(f"| mean | {setting} | | | {ms['test acc']} | {ms['test interp AUC']} | "
                     f"{ms['last valid acc']} | {ms['last valid interp AUC']} | |")
    return lines


def draw(runs: List[Tuple[int, Dict[str, Any]]], title: str, path: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(runs), 3.4))
    axes = fig.subplots(1, len(runs), squeeze=False)[0]
    colours = {"shared": "tab:red", "recomputed": "tab:blue"}
    for ax, (seed, c) in zip(axes, runs):
        for setting in ("shared", "recomputed"):
            recs = c[setting]
            ep = [r["epoch"] for r in recs]
            ax.plot(ep, [r["valid_metric"] for r in recs], color=colours[setting], lw=1.2,
                    label=f"{setting}: valid acc")
            ax.plot(ep, [r["valid_interp_auc"] for r in recs], color=colours[setting],
                    lw=1.2, ls="--", label=f"{setting}: valid interp AUC")
            best = select(recs, c["selector"])
            ax.axvline(best["epoch"], color=colours[setting], lw=0.6, ls=":")
        ax.set_title(f"{title}, seed {seed}")
        ax.set_xlabel("epoch")
        ax.set_ylim(0.3, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="RUN_DIR:SEED:RECOMPUTED_CSV")
    p.add_argument("--title", required=True)
    p.add_argument("--picture")
    args = p.parse_args(argv)
    runs = []
    for spec in args.runs:
        run_dir, seed, path = spec.rsplit(":", 2)
        runs.append((int(seed), read_curves(run_dir, int(seed), path)))
    print("\n".join(summary_rows(runs)))
    if args.picture:
        draw(runs, args.title, args.picture)


if __name__ == "__main__":
    main()
