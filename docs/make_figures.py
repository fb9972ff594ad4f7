r"""Regenerate the pictures of explained graphs shown in the README.

Trains GSAT (GIN backbone) on BA-2Motifs exactly as ``gsat train`` does (the paper's settings
from ``gsat/configs/GIN-ba_2motifs.yml`` and its model selection, see
:func:`gsat.training.seed.train_one_seed`), reloads the selected epoch, then draws

* ``docs/ba_2motifs_house.png`` and ``docs/ba_2motifs_cycle.png``: one test graph of each class,
  edges coloured by GSAT's attention (relative to the graph's range), the motif laid out in
  its own shape and outlined in blue, titled with the prediction and the true class;
* ``docs/ba_2motifs_attention.png``: histogram of the attention on motif vs. base edges of
  all test graphs;

and writes ``docs/figures.json`` with the settings and the measured test scores.

Usage (from the repository root)::

    python docs/make_figures.py                 # 100 epochs (the paper's), seed 0
    python docs/make_figures.py --epochs 30 --decay-interval 3   # shorter
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import gsat  # noqa: E402
from gsat.metrics.interpretation import score_explanations  # noqa: E402
from gsat.explain import GSATExplainer  # noqa: E402
from gsat.core.config import default_config_path, load_config  # noqa: E402
from gsat.training.build import build_model
from gsat.training.seed import train_one_seed  # noqa: E402
from gsat.core.task import prediction_record  # noqa: E402
from gsat.viz import draw_explanation, prediction_title  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=100, help="training epochs (default: 100)")
    p.add_argument("--decay-interval", type=int, default=None,
                   help="epochs between decrements of r (default: the config's, 10)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--data-dir", default="data", help="data root (default: data)")
    p.add_argument("--out", default=str(HERE), help="output folder (default: docs/)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    ds = gsat.load_dataset("ba_2motifs", args.data_dir, seed=args.seed)
    cfg = load_config(default_config_path("GIN", ds.config_name))
    cfg.train.epochs, cfg.train.num_viz = args.epochs, 0
    if args.decay_interval is not None:
        cfg.gsat.decay_interval = args.decay_interval
    with tempfile.TemporaryDirectory() as run_dir:
        record = train_one_seed(cfg, ds, args.seed, Path(run_dir))
        model = build_model(cfg, ds)
        model.load_state_dict(torch.load(Path(run_dir) / "best.pt", weights_only=True)["model"])
    model.eval()
    scores = GSATExplainer().explain(model, ds.test, ds.task)
    res = score_explanations(scores, ds.test)
    caption = f"GSAT (GIN), {args.epochs} epochs (epoch {record['best_epoch']} selected)"
    names = ds.extra["class_names"]
    for label, motif in ((0, "house"), (1, "cycle")):
        i = next(j for j, g in enumerate(ds.test) if int(g.y) == label)
        g = ds.test[i]
        with torch.no_grad():
            pred = prediction_record(model(g).logits, str(ds.task))
        title = prediction_title(pred["prediction"], pred["probability"], str(ds.task), names,
                                 int(g.y), f"BA-2Motifs test graph {i}")
        draw_explanation(g.edge_index, scores[i], g.num_nodes, out / f"ba_2motifs_{motif}.png",
                         edge_label=g.edge_label, node_label=g.node_label,
                         title=f"{title}\n{caption}")

    att = torch.cat(scores)
    gt = torch.cat([g.edge_label for g in ds.test]).bool()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    bins = torch.linspace(0, 1, 41).tolist()
    ax.hist(att[~gt].numpy(), bins=bins, alpha=0.6, density=True,
            label=f"base edges ({int((~gt).sum())})")
    ax.hist(att[gt].numpy(), bins=bins, alpha=0.6, density=True,
            label=f"motif edges ({int(gt.sum())})")
    ax.set_xlabel("attention")
    ax.set_ylabel("density")
    ax.set_title(f"BA-2Motifs test set, {caption}\ninterpretation ROC AUC "
                 f"{res.interp_auc:.3f}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "ba_2motifs_attention.png", dpi=100)
    plt.close(fig)

    extra = "" if args.decay_interval is None else f" --decay-interval {args.decay_interval}"
    meta = {"command": f"python docs/make_figures.py --epochs {args.epochs} --seed {args.seed}"
                       + extra,
            "dataset": "ba_2motifs", "backbone": "GIN", "epochs": args.epochs,
            "seed": args.seed, "decay_interval": cfg.gsat.decay_interval,
            "selected_epoch": record["best_epoch"], "selection": record["selection"],
            "test_accuracy": record["test_metric"],
            "test_interp_auc": res.interp_auc, "test_precision_at_5": res.precision_at_k,
            "torch_version": torch.__version__}
    (out / "figures.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
