r"""How the ERM models the post-hoc explainers explain answer soft edge masks.

For each seed of a baseline benchmark run folder (``benchmarks/baselines.py``), loads the ERM
model it explained (``erm/seed<S>/best.pt``, never trains one) and measures on the explained
test graphs, per class the model predicts:

- with every edge's mask at one level (1, 0.9, 0.73, 0.5; 0.5 is where GNNExplainer's masks
  start), the probability of that class, how often the prediction stays, and the share of
  ground-truth edges whose mask gradient points up (:func:`gsat.explain.sensitivity.mask_level_response`);
- the share of predictions that change when the ground-truth edges are removed, against as
  many other edges (:func:`gsat.explain.sensitivity.edge_removal_effect`);
- with ``--explainers``, the interpretation AUC of those explainers (default settings) on
  the graphs of each predicted class apart.

Writes ``mask_sensitivity.json`` into the run folder and a markdown report.

    python benchmarks/mask_sensitivity.py --dataset ba_2motifs --seeds 0 1 2 \
        --runs RUNS --data-dir DATA
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's gsat, not another installed copy

from gsat.training.build import build_model  # noqa: E402
from gsat.io.files import atomic_write  # noqa: E402
from gsat.io.checkpoint import load_checkpoint, load_state_checked  # noqa: E402
from gsat.core.config import load_config  # noqa: E402
from gsat.data import load_dataset  # noqa: E402
from gsat.errors import DataMissingError  # noqa: E402
from gsat.explain.registry import make_explainer  # noqa: E402
from gsat.metrics.interpretation import score_explanations  # noqa: E402
from gsat.metrics.summary import markdown_table, with_section  # noqa: E402
from gsat.explain.sensitivity import (DEFAULT_LEVELS, predicted_classes,  # noqa: E402
                                      edge_removal_effect, mask_level_response)


def erm_model(run_dir: Path, ds, seed: int):
    r"""The ERM model the benchmark in :obj:`run_dir` explained for :obj:`seed`."""
    ckpt = run_dir / "erm" / f"seed{seed}" / "best.pt"
    if not ckpt.exists():
        raise DataMissingError(f"{ckpt} does not exist: run benchmarks/baselines.py for this "
                               "dataset and seed first")
    model = build_model(load_config(run_dir / "config.yml"), ds, "erm")
    load_state_checked(model, load_checkpoint(ckpt, kind="best")["model"], str(ckpt))
    return model.eval()


def auc_by_class(name: str, model, ds, graphs, seed: int = 0) -> dict:
    r"""Interp AUC x100 of explainer :obj:`name` (default settings, torch seeded with
    :obj:`seed`) on all :obj:`graphs` and on the graphs of each class the model predicts."""
    torch.manual_seed(seed)
    exp = make_explainer(name)
    if exp.needs_fit:
        exp.fit(model, ds.train, ds.task)
    scores = exp.explain(model, graphs, ds.task)
    pred = predicted_classes(model, graphs, ds.task).tolist()

    def auc(idx):  # None where the graphs hold one edge class only (no AUC)
        v = score_explanations([scores[i] for i in idx], [graphs[i] for i in idx]).interp_auc
        return None if math.isnan(v) else 100 * v

    out = {"all": auc(range(len(graphs)))}
    for c in sorted(set(pred)):
        out[str(c)] = auc([i for i, p in enumerate(pred) if p == c])
    return out


def measure(run_dir: Path, dataset: str, seed: int, data_dir: str, max_graphs, levels,
            explainers=()):
    ds = load_dataset(dataset, data_dir, seed=seed)
    split = list(ds.interp_test if ds.interp_test is not None else ds.test)
    graphs = split[:max_graphs] if max_graphs is not None else split
    graphs = [g for g in graphs if getattr(g, "edge_label", None) is not None]
    model = erm_model(run_dir, ds, seed)
    return {"seed": seed, "num_graphs": len(graphs),
            "mask_levels": mask_level_response(model, graphs, ds.task, levels),
            "edge_removal": edge_removal_effect(model, graphs, ds.task, seed=seed),
            "auc_by_class": {n: auc_by_class(n, model, ds, graphs, seed) for n in explainers}}


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def to_markdown(dataset: str, backbone: str, result: dict, command: str) -> str:
    levels = result["levels"]
    lines = [f"## {dataset} ({backbone}, ERM model of the baseline benchmark)", "",
             f"`{command}`", "",
             "Per seed and class the model predicts on the whole graph: the probability of "
             "that class (%) with every edge's mask at the level, the share of graphs still "
             "predicted so (%), and the share of ground-truth edges whose mask gradient of "
             "log p(class) is positive (%).", ""]
    head = ["seed", "class", "graphs"] + [f"mask {v}: p / same / truth grad > 0"
                                          for v in levels]
    lines.append(markdown_table(head, [
        [r["seed"], c, row["graphs"]] + [
            f"{_pct(row[str(v)]['p_class'])} / {_pct(row[str(v)]['same_prediction'])}"
            f" / {_pct(row[str(v)]['truth_grad_positive'])}" for v in levels]
        for r in result["seeds"] for c, row in r["mask_levels"]["by_class"].items()]))
    lines += ["", "Predictions changed (%) when the ground-truth edges are removed, and when "
              "as many other edges are removed:", ""]
    lines.append(markdown_table(
        ["seed", "class", "graphs", "without ground-truth edges", "without as many others"],
        [[r["seed"], c, row["graphs"], _pct(row["changed_without_truth"]),
          _pct(row["changed_without_others"])]
         for r in result["seeds"] for c, row in r["edge_removal"]["by_class"].items()]))
    rows = [(r["seed"], n, a) for r in result["seeds"]
            for n, a in r.get("auc_by_class", {}).items()]
    if rows:
        classes = sorted({c for _, _, a in rows for c in a if c != "all"})
        lines += ["", "Interp AUC (x100) of explainers at their default settings, on all "
                  "explained graphs and on the graphs of each predicted class:", ""]
        lines.append(markdown_table(
            ["seed", "explainer", "all"] + [f"class {c}" for c in classes],
            [[seed, n] + ["–" if a.get(c) is None else f"{a[c]:.2f}" for c in ["all"] + classes]
             for seed, n, a in rows]))
    return "\n".join(lines) + "\n"


HEADER = ("# How the explained ERM models answer soft edge masks\n\n"
          "Written by `benchmarks/mask_sensitivity.py`, one section per dataset (see its "
          "docstring for what is measured). Classes: BA-2Motifs 0 house, 1 5-cycle; Mutag "
          "0 mutagen, 1 non-mutagen; Spurious-Motif 0 cycle, 1 house, 2 crane motif.\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="ba_2motifs")
    p.add_argument("--backbone", default="GIN")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-graphs", type=int, default=None,
                   help="the first N explained test graphs (as the benchmark's --max-graphs)")
    p.add_argument("--levels", type=float, nargs="+", default=list(DEFAULT_LEVELS))
    p.add_argument("--runs", default=str(ROOT / "runs"))
    p.add_argument("--data-dir", default=str(ROOT / "data"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--explainers", nargs="*", default=[],
                   help="also score these explainers (default settings) per predicted class")
    p.add_argument("--report", default=None,
                   help="markdown file (default: mask_sensitivity.md in the run folder)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    run_dir = Path(args.runs) / f"benchmark-{args.dataset}-{args.backbone}"
    seeds = [measure(run_dir, args.dataset, s, args.data_dir, args.max_graphs, args.levels,
                     args.explainers) for s in args.seeds]
    result = {"dataset": args.dataset, "backbone": args.backbone, "levels": args.levels,
              "max_graphs": args.max_graphs, "seeds": seeds}
    command = "python benchmarks/mask_sensitivity.py " + " ".join(argv or sys.argv[1:])
    atomic_write(run_dir / "mask_sensitivity.json", json.dumps(result, indent=2))
    report = Path(args.report) if args.report else run_dir / "mask_sensitivity.md"
    section = to_markdown(args.dataset, args.backbone, result, command)
    old = report.read_text() if report.exists() else HEADER
    atomic_write(report, with_section(old, section))
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
