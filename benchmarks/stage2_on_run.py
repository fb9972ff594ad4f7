r"""GMT's second stage on a trained GSAT run: freeze the attention of each seed's selected
model and train a fresh classifier on the attended graphs (the second stage of GMT-sam,
Chen et al., ICML 2024), then score it as ``gsat train`` would.

The first stage is the run as trained (its ``best.pt``, with its batch-norm setting), so the
attention, and with it the interpretation ROC AUC, is that of the run's selected epoch; only
the classifier that predicts from the attended graphs is new. The second stage uses the
run's learning rate, weight decay, batch size and model selection (the best validation
metric among its epochs after ``train.min_select_epoch``), through :func:`gsat.fit` with
:func:`gsat.core.gmt.use_estimator` with the run's own estimator and a second stage (the
first stage is never trained here): the protocol of ``gmt.stage2_epochs`` with
``gmt.stage1_pick: best`` and ``gmt.stage2_init: fresh``, on a run trained without it.

    python benchmarks/stage2_on_run.py RUN_DIR --seeds 0 1 2 --epochs 50 --out DIR
        [--input top --top-ratio 0.8] [--data-dir DATA] [--threads 1]

writes ``DIR/seed<S>/metrics.csv`` (one row per second-stage epoch, the selected one marked)
and ``DIR/results.json`` (the fields ``benchmarks/gmt_table.py`` reads; per seed: selected epoch, validation and test accuracy, test
interpretation ROC AUC and precision@5, seconds per epoch, and the same scores of the
run's own model as ``stage1_*``).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gsat  # noqa: E402
from gsat.core.gmt import estimator_name, use_estimator  # noqa: E402
from gsat.data import load_dataset  # noqa: E402
from gsat.runs.layout import RunFolder  # noqa: E402
from gsat.runs.records import read_run_json  # noqa: E402
from gsat.training.build import task_dataset  # noqa: E402
from gsat.training.engine import PRECISION_K, evaluate, make_loader, set_seed  # noqa: E402
from gsat.training.reader import run_config  # noqa: E402


def one_seed(run_dir: str, seed: int, args) -> dict:
    folder = RunFolder(run_dir)
    cfg = run_config(folder)
    fields = read_run_json(folder)
    data_dir = args.data_dir or fields.get("data_dir", "data")
    ds = task_dataset(load_dataset(fields["dataset"], data_dir, seed=seed,
                                   **fields.get("dataset_options", {})), cfg)
    model = gsat.load_run(run_dir, seed=seed).model
    before = scores(model, ds, cfg.train.batch_size)
    if model.bn_stats == "recomputed":
        # the frozen backbone's re-estimated statistics cannot change (same weights, same
        # graphs in stored order), so skip the per-epoch re-estimation; both sets are kept
        model.bn_stats = "separate"
    first = cfg.train.epochs  # the second stage's epochs are numbered after the run's
    set_seed(seed)
    use_estimator(model, estimator_name(model), 1, first, args.input, args.top_ratio, "fresh")
    t = cfg.train
    train = make_loader(ds.train, t.batch_size, shuffle=True)
    valid = make_loader(ds.valid, t.batch_size)
    start = time.perf_counter()
    history = gsat.fit(model, train, valid, epochs=args.epochs, start_epoch=first,
                       lr=t.lr, weight_decay=t.weight_decay,
                       min_select_epoch=t.min_select_epoch, progress=not args.no_progress)
    seconds = (time.perf_counter() - start) / args.epochs
    out = Path(args.out) / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "metrics.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=sorted({k for h in history for k in h}))
        w.writeheader()
        w.writerows(history)
    picked = [h for h in history if h.get("selected")]
    after = scores(model, ds, t.batch_size)
    return {"seed": seed, "best_epoch": picked[0]["epoch"] if picked else None,
            "valid_metric": picked[0]["valid_metric"] if picked else None,
            **after, "seconds_per_epoch": seconds,
            **{f"stage1_{k}": v for k, v in before.items()}}


def scores(model, ds, batch_size: int) -> dict:
    """Test metric, and interpretation ROC AUC and precision@5 on the graphs with ground
    truth (as ``gsat train`` scores them)."""
    dev = torch.device("cpu")
    test = evaluate(model, make_loader(ds.test, batch_size), ds.evaluator, dev, k=PRECISION_K)
    interp = test if ds.interp_test is None else evaluate(
        model, make_loader(ds.interp_test, batch_size), ds.evaluator, dev, k=PRECISION_K)
    return {"test_metric": test.metric, "test_interp_auc": interp.interp_auc,
            f"test_precision_at_{PRECISION_K}": interp.precision_at_k}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, default=50, help="second-stage epochs")
    p.add_argument("--input", choices=("soft", "top"), default="top",
                   help="what the new classifier reads (gmt.stage2_input)")
    p.add_argument("--top-ratio", type=float, default=0.8,
                   help="share of each graph's edges 'top' keeps (gmt.stage2_top_ratio)")
    p.add_argument("--data-dir", help="data root (default: the run's)")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs = [one_seed(args.run_dir, s, args) for s in args.seeds]
    own = json.loads((Path(args.run_dir) / "results.json").read_text())
    res = {"run": str(args.run_dir), "method": f"{own['method']}, then a second stage",
           "backbone": own["backbone"], "dataset": own["dataset"], "epochs": args.epochs,
           "stage2_input": args.input, "stage2_top_ratio": args.top_ratio, "runs": runs}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(res, indent=2))
    for r in runs:
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in r.items()))


if __name__ == "__main__":
    main()
