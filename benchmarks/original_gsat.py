r"""Seconds of one training pass of the original GSAT code (Miao, Liu & Li, ICML 2022; the
``src/`` folder of its public repository) on BA-2Motifs, the counterpart of
``benchmarks/train_pass.py`` for timing the two codes as whole processes, A and B
interleaved.

The original is read from a checkout the user gives (``--source PATH``, its ``src/``
folder); nothing of it is part of this project. It imports ``torch_scatter`` and
``torch_sparse``, which this project does not need; where they are not installed, small
stand-ins built on PyTorch Geometric are put in their place (``install_shims``):
``torch_scatter.scatter`` as :func:`torch_geometric.utils.scatter` and
``torch_sparse.transpose`` as the swap of the two rows of the edge index (with
:func:`torch_geometric.utils.coalesce` when asked to coalesce), and a no-op TensorBoard
writer where ``tensorboard`` is missing (the original imports it at module level). PyG 2.5
and later compile a layer's ``propagate`` from the ``propagate_type`` comment in its
``forward``, which in the original's layers omits the attention argument, so those layers
get PyG's generic ``MessagePassing.propagate`` back (``generic_propagate``).

A training pass is what the original's ``GSAT.train_one_batch`` does for every batch
(forward pass, loss, backward pass, Adam step; ``--method erm``: ``pretrain_clf``'s
``train_one_batch``, the backbone alone), over the training graphs of this project's
BA-2Motifs (the same graphs ``train_pass.py`` uses, labels as a column as the original
stores them) in shuffled batches of the original config's size. The original's per-batch
logging (precision@k, ROC AUC of the batch) is not timed.

    OMP_NUM_THREADS=1 python benchmarks/original_gsat.py --source ~/GSAT/src --backbone GIN
"""
from __future__ import annotations

import argparse
import os
import sys
import types
from pathlib import Path

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # as for train_pass.py

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _missing(name: str) -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


def install_shims() -> list:
    """Put stand-ins for the original's optional imports into :obj:`sys.modules` where the
    real packages are missing; returns the names that were replaced."""
    from torch_geometric.utils import coalesce, scatter as pyg_scatter

    replaced = []
    if _missing("torch_scatter"):
        mod = types.ModuleType("torch_scatter")

        def scatter(src, index, dim=-1, out=None, dim_size=None, reduce="sum"):
            if out is not None:
                raise NotImplementedError("the stand-in for torch_scatter takes no out=")
            return pyg_scatter(src, index, dim, dim_size, reduce)

        mod.scatter = scatter
        sys.modules["torch_scatter"] = mod
        replaced.append("torch_scatter")
    if _missing("torch_sparse"):
        mod = types.ModuleType("torch_sparse")

        def transpose(index, value, m, n, coalesced=True):
            index = torch.stack([index[1], index[0]], 0)
            if coalesced:
                index, value = coalesce(index, value, max(m or 0, n or 0) or None)
            return index, value

        mod.transpose = transpose
        sys.modules["torch_sparse"] = mod
        replaced.append("torch_sparse")
    if _missing("tensorboard"):
        tb = types.ModuleType("torch.utils.tensorboard")
        summary = types.ModuleType("torch.utils.tensorboard.summary")

        class SummaryWriter:
            def __init__(self, *args, **kwargs):
                pass

            def __getattr__(self, name):
                return lambda *args, **kwargs: None

        tb.SummaryWriter = SummaryWriter
        summary.hparams = lambda *args, **kwargs: (None, None, None)
        tb.summary = summary
        sys.modules["torch.utils.tensorboard"] = tb
        sys.modules["torch.utils.tensorboard.summary"] = summary
        replaced.append("tensorboard")
    return replaced


def generic_propagate(model: torch.nn.Module) -> None:
    """Give every message-passing layer of :obj:`model` PyG's generic ``propagate``, which
    passes any keyword its ``message`` takes."""
    from torch_geometric.nn import MessagePassing

    for m in model.modules():
        if isinstance(m, MessagePassing):
            m.propagate = types.MethodType(MessagePassing.propagate, m)


def original_graphs(data_dir: str):
    """This project's BA-2Motifs training graphs as the original stores them (float labels
    of shape ``[1, 1]``)."""
    from gsat.data import load_dataset

    ds = load_dataset("ba_2motifs", data_dir, seed=0)
    graphs = []
    for g in ds.train:
        g = g.clone()
        g.y = g.y.view(-1, 1).float()
        graphs.append(g)
    return graphs


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from train_pass import pass_arguments, timed_epochs, timing_text

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True,
                   help="the src/ folder of a checkout of the original GSAT code")
    pass_arguments(p)
    args = p.parse_args()
    src = Path(args.source).expanduser()
    if not (src / "run_gsat.py").is_file():
        print(f"error: {src} has no run_gsat.py; give the src/ folder of the original code",
              file=sys.stderr)
        sys.exit(2)
    torch.set_num_threads(args.threads)
    replaced = install_shims()
    sys.path.insert(0, str(src))
    import yaml
    from torch_geometric.loader import DataLoader
    from torch_geometric.utils import degree

    import pretrain_clf
    import run_gsat
    from utils import Criterion, get_model, process_data, set_seed

    cfg = yaml.safe_load((src / "configs" / f"{args.backbone}-ba_2motifs.yml").read_text())
    model_cfg, shared = cfg["model_config"], cfg["shared_config"]
    method_cfg = cfg["GSAT_config"]
    graphs = original_graphs(args.data_dir)
    set_seed(0)
    loader = DataLoader(graphs, batch_size=cfg["data_config"]["batch_size"], shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    whole = next(iter(DataLoader(graphs, batch_size=len(graphs))))
    d = degree(whole.edge_index[1], num_nodes=whole.num_nodes, dtype=torch.long)
    model_cfg["deg"] = torch.bincount(d, minlength=10)   # as the original's data loaders
    x_dim = graphs[0].x.size(1)
    model = get_model(x_dim, 0, 2, False, model_cfg, "cpu")
    generic_propagate(model)
    use_edge_attr = model_cfg.get("use_edge_attr", True)
    lr, wd = method_cfg["lr"], method_cfg.get("weight_decay", 0)
    if args.method == "gsat":
        extractor = run_gsat.ExtractorMLP(model_cfg["hidden_size"], shared)
        opt = torch.optim.Adam(list(extractor.parameters()) + list(model.parameters()), lr=lr,
                               weight_decay=wd)
        gsat = run_gsat.GSAT(model, extractor, opt, None, None, "cpu", None, "ba_2motifs", 2,
                             False, 0, method_cfg, shared)
        step = lambda data, epoch: gsat.train_one_batch(data, epoch)  # noqa: E731
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
        criterion = Criterion(2, False)
        step = lambda data, epoch: pretrain_clf.train_one_batch(  # noqa: E731
            data, model, criterion, opt)
    def run_epoch(epoch: int) -> None:
        for data in loader:
            step(process_data(data, use_edge_attr), epoch)

    times, cpu = timed_epochs(run_epoch, args.epochs)
    shims = f"; stand-ins for {', '.join(replaced)}" if replaced else ""
    print(f"original {args.backbone} {args.method}: {timing_text(times, cpu)} ({args.epochs} "
          f"epochs, {len(graphs)} graphs{shims})")


if __name__ == "__main__":
    main()
