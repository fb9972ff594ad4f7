r"""Why GSAT's final model predicts badly: the batch-norm running statistics of its two
backbone passes, measured on the checkpoints of one run.

GSAT runs its backbone twice per training step, ungated (for the extractor) and gated by the
attention (for the prediction). This script takes a run trained with
``train.keep_checkpoints_every: 1`` and scores every kept epoch (validation and test accuracy,
validation and test interpretation ROC AUC) with the weights of that epoch and the batch-norm
statistics of each of these modes:

``shared``
    the running statistics as trained (one set, updated by both passes; the paper's code);
``recomputed``
    both passes' statistics re-estimated on the training graphs in stored order, without
    dropout, the gated pass with the evaluation-time attention
    (:meth:`gsat.GSAT.recompute_bn_stats`): what ``gsat.bn_stats: recomputed`` holds after
    that epoch. The statistics are not used in training and their re-estimation draws no
    random numbers, so such a run trains the same weights until its model selection
    evaluates the test split at another epoch (every evaluation pass draws the loader's base
    seed from torch's random stream, which moves the dropout masks of later epochs);
``gated_only``
    the ungated pass keeps the shared statistics; the gated pass's are re-estimated with the
    attention those give;
``ungated_only``
    the ungated pass's statistics are re-estimated; the gated pass keeps the shared ones;
``batch``
    no running statistics: batch norm in training mode during evaluation (each validation
    batch normalised by itself, dropout off).

    python benchmarks/stable_eval.py RUN_DIR --seed 0 --out modes.csv [--every N]
        [--epochs E ...] [--modes MODE ...] [--by-class]

writes one row per (epoch, mode).
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Dict

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gsat.core.model import GSAT, edge_mask  # noqa: E402
from gsat.core.passes import batch_norms, cumulative_statistics  # noqa: E402
from gsat.runs.layout import RunFolder  # noqa: E402
from gsat.runs.records import read_run_json  # noqa: E402
from gsat.training.build import build_model, task_dataset  # noqa: E402
from gsat.training.engine import evaluate, make_loader  # noqa: E402
from gsat.training.reader import run_config  # noqa: E402

MODES = ("shared", "recomputed", "gated_only", "ungated_only", "batch")


def _train_mode(module: torch.nn.Module, _inputs) -> None:
    module.train()


def scores(model, loaders, evaluator, batch_stats: bool = False) -> Dict[str, float]:
    out = {}
    norms = batch_norms(model.backbone)
    for split, loader in loaders.items():
        if batch_stats:  # evaluate() switches to eval mode; put batch norm back per batch
            hooks = [m.register_forward_pre_hook(_train_mode) for m in norms]
        try:
            res = evaluate(model, loader, evaluator, torch.device("cpu"))
        finally:
            if batch_stats:
                for h in hooks:
                    h.remove()
        out[f"{split}_acc"], out[f"{split}_interp_auc"] = res.metric, res.interp_auc
        out[f"{split}_loss"] = res.loss
    return out


def set_statistics(model: GSAT, state: Dict[str, torch.Tensor], mode: str, train) -> None:
    """The weights of :obj:`state` with the batch-norm statistics of :obj:`mode`."""
    model.load_state_dict(state, strict=False)
    norms = batch_norms(model.backbone)
    for i, bn in enumerate(norms):  # the gated set starts as the trained (shared) one
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            getattr(model.gated_stats, f"{name}_{i}").copy_(getattr(bn, name))
    if mode == "shared" or mode == "batch":
        return
    if mode == "gated_only":
        _gated_only(model, train)
        return
    kept = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("gated_stats.")}
    model.recompute_bn_stats(train)
    if mode == "ungated_only":  # the gated pass keeps the shared statistics
        model.load_state_dict(kept, strict=False)


@torch.no_grad()
def _gated_only(model: GSAT, train) -> None:
    model.eval()
    norms = batch_norms(model.backbone)
    with model._gated():
        for m in norms:
            m.reset_running_stats()
    for data in train:
        x, ei, b, ea = model._inputs(data, check=False)
        _, _, edge_att = model._attention(x, ei, b, ea)
        with edge_mask(model.backbone, edge_att, ei), model._gated(), \
                cumulative_statistics(norms, reset=False):
            model.backbone.get_emb(x, ei, b, ea)


@torch.no_grad()
def by_class(model: GSAT, loader) -> Dict[str, float]:
    """Per class of the graphs of :obj:`loader`: the mean attention on ground-truth and on
    other edges, and the interpretation ROC AUC over that class's edges."""
    from sklearn.metrics import roc_auc_score

    model.eval()
    att, lab, cls = [], [], []
    for data in loader:
        out = model(data)
        att.append(out.edge_att)
        lab.append(data.edge_label.view(-1))
        cls.append(data.y.view(-1)[data.batch[data.edge_index[0]]])
    att, lab, cls = torch.cat(att), torch.cat(lab), torch.cat(cls)
    res = {}
    for c in sorted(set(cls.tolist())):
        m = cls == c
        res[f"class{c}_truth_att"] = float(att[m & (lab == 1)].mean())
        res[f"class{c}_other_att"] = float(att[m & (lab == 0)].mean())
        res[f"class{c}_interp_auc"] = float(roc_auc_score(lab[m].numpy(), att[m].numpy()))
    return res


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--every", type=int, default=1, help="score every N-th kept epoch")
    p.add_argument("--epochs", type=int, nargs="+", help="score these kept epochs only")
    p.add_argument("--by-class", action="store_true",
                   help="add, per class of the test graphs, the mean attention on ground-truth "
                        "and other edges and the interpretation ROC AUC")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    folder = RunFolder(args.run_dir)
    cfg = run_config(folder)
    fields = read_run_json(folder)
    from gsat.data import load_dataset
    ds = task_dataset(load_dataset(fields["dataset"], fields.get("data_dir", "data"),
                                   seed=args.seed, **fields.get("dataset_options", {})), cfg)
    cfg.gsat.bn_stats = "recomputed"  # a second set of statistics to re-estimate
    model = build_model(cfg, ds)
    bs = cfg.train.batch_size
    train = make_loader(ds.train, bs)  # in stored order, as the Engine re-estimates
    loaders = {"valid": make_loader(ds.valid, bs), "test": make_loader(ds.test, bs)}
    paths = sorted(folder.seed(args.seed).kept_checkpoints())[args.every - 1::args.every]
    if args.epochs:
        paths = [folder.seed(args.seed).kept_checkpoint(e) for e in args.epochs]
    with open(args.out, "w", newline="") as fh:
        w = None
        for path in paths:
            ck = torch.load(path, weights_only=True)
            state = {k: v for k, v in ck["model"].items() if not k.startswith("gated_stats.")}
            for mode in args.modes:
                set_statistics(model, state, mode, train)
                sc = scores(model, loaders, ds.evaluator, batch_stats=mode == "batch")
                row = {"epoch": ck["epoch"], "mode": mode, **sc}
                if args.by_class and mode != "batch":
                    row.update(by_class(model, loaders["test"]))
                if w is None:
                    w = csv.DictWriter(fh, fieldnames=list(row))
                    w.writeheader()
                w.writerow(row)
                fh.flush()
                print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
