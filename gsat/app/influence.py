r"""Training-graph influence: which training graphs pushed a model toward its prediction on a
test graph, by TracIn (`Pruthi, Liu, Kale & Sundararajan, NeurIPS 2020
<https://arxiv.org/abs/2002.08484>`_) through Captum's
:class:`~captum.influence.TracInCPFast`.

.. math::
    \mathrm{TracIn}(z, z') = \sum_{c} \eta_c \,
    \nabla_{W} \ell(z; \theta_c) \cdot \nabla_{W} \ell(z'; \theta_c)

summed over the checkpoints :math:`\theta_c` kept during training (config key
``train.keep_checkpoints_every``) with their learning rates :math:`\eta_c`, where :math:`W` is
the model's final linear layer (the graph-level head), so that each gradient is the outer
product of the loss gradient at the logits and the pooled graph embedding. Positive scores
are *proponents* (training on :math:`z'` lowered the loss on :math:`z`), negative ones
*opponents*.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from gsat.io.checkpoint import load_checkpoint, load_state_checked
from gsat.errors import ConfigError, DataMissingError
from gsat.io.files import write_json
from gsat.runs.layout import RunFolder, SeedFolder

log = logging.getLogger(__name__)

__all__ = ["final_linear_layer", "tracin_influence", "influence", "checkpoint_files",
           "draw_influence"]


class _Logits(nn.Module):
    r"""The call convention of Captum, :obj:`model(x, edge_index, batch[, edge_attr])`
    returning graph logits, around a :class:`~gsat.GSAT` or :class:`~gsat.core.model.ERM` model."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        data = Data(x=x, edge_index=edge_index, batch=batch, edge_attr=edge_attr)
        return self.model(data).logits


def final_linear_layer(model: nn.Module) -> nn.Linear:
    r"""The linear layer that outputs the graph logits of :obj:`model`: :obj:`head` of its
    backbone (or of :obj:`model`), or the last :class:`torch.nn.Linear` of that head.

    Raises:
        gsat.errors.ConfigError: the model has no such layer.
    """
    backbone = getattr(model, "backbone", model)
    head = getattr(backbone, "head", None)
    if isinstance(head, nn.Linear):
        return head
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)] if head is not None else []
    if not linears:
        raise ConfigError(f"TracIn needs a graph-level head ending in torch.nn.Linear "
                          f"(backbone.head); {type(backbone).__name__} has none")
    return linears[-1]


def _tuples(graphs: Sequence[Data], task: str) -> tuple:
    """One Captum batch :obj:`(x, edge_index, batch[, edge_attr], y)` of :obj:`graphs`."""
    b = Batch.from_data_list(list(graphs))
    y = b.y.reshape(b.num_graphs, -1).float() if task == "binary" else b.y.reshape(-1).long()
    parts = [b.x, b.edge_index, b.batch]
    if getattr(b, "edge_attr", None) is not None:
        parts.append(b.edge_attr)
    return tuple(parts) + (y,)


def _graph_loader(graphs: Sequence[Data], task: str,
                  batch_size: int) -> torch.utils.data.DataLoader:
    """A torch DataLoader of Captum batches over :obj:`graphs`, in order."""
    return torch.utils.data.DataLoader(list(graphs), batch_size=batch_size, shuffle=False,
                                       collate_fn=lambda gs: _tuples(gs, task))


def checkpoint_files(folder: SeedFolder) -> List[Path]:
    r"""The checkpoints kept by ``train.keep_checkpoints_every`` in the seed folder
    :obj:`folder`, in epoch order.

    Raises:
        gsat.errors.DataMissingError: there are none.
    """
    files = folder.kept_checkpoints()
    if not files:
        raise DataMissingError(f"no kept checkpoints in {folder.checkpoints}: train with the "
                               "config key train.keep_checkpoints_every: N (e.g. 10) to keep "
                               "them")
    return files


def tracin_influence(model: nn.Module, train_graphs: Sequence[Data], test_graph: Data,
                     checkpoints: Sequence[str | Path], task: str, top: int = 5,
                     batch_size: int = 64) -> Dict[str, Any]:
    r"""TracIn scores of every training graph on :obj:`test_graph` (its label is the target;
    the model's prediction when it has none), over :obj:`checkpoints`, with Captum's
    :class:`~captum.influence.TracInCPFast` (gradients of the final linear layer,
    :func:`final_linear_layer`).

    Args:
        model (torch.nn.Module): a :class:`~gsat.GSAT` or :class:`~gsat.core.model.ERM` model; its
            weights are replaced by each checkpoint's in turn (use a copy if needed).
        train_graphs (list of Data): the training graphs, in the order their indices refer to.
        test_graph (Data): the graph explained.
        checkpoints (list of path): files holding :obj:`{"model": state_dict, "lr": float}`
            (as :class:`gsat.training.hooks.KeepCheckpointsHook` writes).
        task (str): :obj:`"binary"` or :obj:`"multiclass"`.
        top (int, optional): proponents and opponents returned. (default: :obj:`5`)
        batch_size (int, optional): training graphs per Captum batch. (default: :obj:`64`)

    Returns:
        dict: :obj:`scores` (one per training graph, list), :obj:`proponents` and
        :obj:`opponents` (lists of :obj:`{"index", "score", "label"}`, strongest first),
        :obj:`checkpoints` (file names), :obj:`target`.
    """
    from captum.influence import TracInCPFast

    if task not in ("binary", "multiclass"):
        raise ConfigError(f"training-graph influence supports binary and multiclass tasks, "
                          f"not {task!r}")
    if top < 1:
        raise ConfigError(f"--top must be >= 1, got {top}")
    if not train_graphs:
        raise DataMissingError("no training graphs to score")
    top = min(top, len(train_graphs))
    ckpts = [str(c) for c in checkpoints]
    if not ckpts:
        raise DataMissingError("no checkpoints given")
    model.eval()
    test = test_graph.clone()
    if getattr(test, "y", None) is None:
        with torch.no_grad():
            state = load_checkpoint(ckpts[-1], kind=None)["model"]
            load_state_checked(model, state, ckpts[-1])
            logits = model(Batch.from_data_list([test])).logits
        test.y = ((logits > 0).float() if task == "binary" else logits.argmax(-1)).reshape(-1)

    def load(m: nn.Module, path: str) -> float:
        ckpt = load_checkpoint(path, kind=None)
        load_state_checked(m.model, ckpt["model"], path)
        m.eval()
        return float(ckpt.get("lr", 1.0))

    loss = (nn.BCEWithLogitsLoss(reduction="sum") if task == "binary"
            else nn.CrossEntropyLoss(reduction="sum"))
    wrapped = _Logits(model)
    tracin = TracInCPFast(wrapped, final_linear_layer(model),
                          _graph_loader(train_graphs, task, batch_size), ckpts,
                          checkpoints_load_func=load, loss_fn=loss, batch_size=batch_size)
    test_batch = _tuples([test], task)
    scores = tracin.influence(test_batch, show_progress=False).reshape(-1)
    order = torch.argsort(scores, descending=True)

    def entry(i: int) -> Dict[str, Any]:
        y = train_graphs[i].y
        return {"index": i, "score": float(scores[i]),
                "label": y.reshape(-1).tolist() if y is not None else None}

    return {"scores": scores.tolist(),
            "proponents": [entry(int(i)) for i in order[:top]],
            "opponents": [entry(int(i)) for i in order.flip(0)[:top]],
            "checkpoints": [Path(c).name for c in ckpts],
            "target": test.y.reshape(-1).tolist()}


def draw_influence(test_graph: Data, train_graphs: Sequence[Data], result: Dict[str, Any],
                   path: str | Path, title: str = "") -> Path:
    r"""A PNG of :obj:`test_graph` beside its top proponents (upper row) and opponents
    (lower row) in :obj:`result` (as :func:`tracin_influence` returns), each titled with its
    training index, label and score; ground-truth edges (if any) in blue."""
    import networkx as nx
    from matplotlib.figure import Figure

    k = max(len(result["proponents"]), len(result["opponents"]), 1)
    fig = Figure(figsize=(2.6 * (k + 1), 5.4))
    axes = fig.subplots(2, k + 1, squeeze=False)

    def draw(ax, g: Data, text: str, colour: str) -> None:
        nxg = nx.Graph()
        nxg.add_nodes_from(range(g.num_nodes))
        ei = g.edge_index.tolist()
        lab = getattr(g, "edge_label", None)
        gt = set()
        for e, (u, v) in enumerate(zip(*ei)):
            nxg.add_edge(u, v)
            if lab is not None and int(lab.reshape(-1)[e]) == 1:
                gt.add((min(u, v), max(u, v)))
        pos = nx.spring_layout(nxg, seed=0)
        colours = ["tab:blue" if (min(u, v), max(u, v)) in gt else "0.6" for u, v in nxg.edges]
        nx.draw_networkx(nxg, pos, ax=ax, node_size=40, with_labels=False, node_color=colour,
                         edge_color=colours, width=1.5)
        ax.set_title(text, fontsize=8)
        ax.set_axis_off()

    draw(axes[0][0], test_graph, f"{title}\ntarget {result['target']}", "tab:orange")
    axes[1][0].set_axis_off()
    for row, key, colour in ((0, "proponents", "tab:green"), (1, "opponents", "tab:red")):
        for j in range(k):
            ax = axes[row][j + 1]
            if j >= len(result[key]):
                ax.set_axis_off()
                continue
            e = result[key][j]
            draw(ax, train_graphs[e["index"]],
                 f"{key[:-1]} {j + 1}: train #{e['index']}\nlabel {e['label']} "
                 f"score {e['score']:.3g}", colour)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def influence(run_dir: str | Path, graph: int, top: int = 5, seed: Optional[int] = None,
              split: Literal["test", "valid", "train"] = "test",
              out: Optional[str | Path] = None, batch_size: int = 64) -> Dict[str, Any]:
    r"""TracIn proponents and opponents among the training graphs of the run in
    :obj:`run_dir` (a ``gsat train`` folder trained with ``train.keep_checkpoints_every``)
    for graph :obj:`graph` of split :obj:`split`; writes ``influence-<split><graph>.json``
    and ``.png`` into :obj:`out` (default: the seed's folder).

    Args:
        run_dir (str or Path): the run folder (``run.json``, ``config.yml``,
            ``seed<N>/checkpoints/``).
        graph (int): index of the explained graph in its split.
        top (int, optional): proponents and opponents listed. (default: :obj:`5`)
        seed (int, optional): which seed's model; the run's first seed if :obj:`None`.
        split (str, optional): split of :obj:`graph`. (default: :obj:`"test"`)
        out (str or Path, optional): folder of the output files.
        batch_size (int, optional): training graphs per batch. (default: :obj:`64`)

    Returns:
        dict: the result of :func:`tracin_influence` (without the full score list) plus
        :obj:`run_dir`, :obj:`seed`, :obj:`split`, :obj:`graph`, :obj:`json` and
        :obj:`png` (the files written).

    Raises:
        gsat.errors.ConfigError: not a run folder, an unknown seed or split, a graph index
            out of range.
        gsat.errors.DataMissingError: the run kept no checkpoints.
    """
    from gsat.training.build import build_model, task_dataset
    from gsat.data import load_dataset
    from gsat.training.reader import run_config
    from gsat.runs.records import read_run_json, seeds_of

    folder = RunFolder(run_dir)
    spec = read_run_json(folder, what="run folder")
    seeds = seeds_of(spec)
    seed = seeds[0] if seed is None else seed
    if seed not in seeds:
        raise ConfigError(f"--seed {seed}: the run in {folder.path} has seeds {seeds}")
    if split not in ("test", "valid", "train"):
        raise ConfigError(f"--graph-split must be test, valid or train, got {split!r}")
    cfg = run_config(folder)
    ds = task_dataset(load_dataset(spec["dataset"], spec.get("data_dir", "data"), seed=seed,
                                   **spec.get("dataset_options", {})), cfg)
    graphs = getattr(ds, split)
    if not 0 <= graph < len(graphs):
        raise ConfigError(f"--graph {graph}: the {split} split of {spec['dataset']} has "
                          f"{len(graphs)} graphs (0 to {len(graphs) - 1})")
    seed_folder = folder.seed(seed)
    ckpts = checkpoint_files(seed_folder)
    model = build_model(cfg, ds, spec.get("method", "gsat"))
    test_graph = graphs[graph]
    res = tracin_influence(model, ds.train, test_graph, ckpts, ds.task, top, batch_size)
    out_dir = Path(out) if out is not None else seed_folder.path
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"influence-{split}{graph}"
    png = draw_influence(test_graph, ds.train, res, stem.with_suffix(".png"),
                         title=f"{spec['dataset']} {split} #{graph}")
    record = {"run_dir": str(folder.path), "dataset": spec["dataset"],
              "method": spec.get("method", "gsat"),
              "seed": seed, "split": split, "graph": graph, "top": top,
              "method_reference": "TracIn (Pruthi et al., NeurIPS 2020), captum TracInCPFast "
                                  "over the final linear layer",
              **{k: v for k, v in res.items() if k != "scores"},
              "json": str(stem.with_suffix(".json")), "png": str(png)}
    write_json(record, stem.with_suffix(".json"))
    return record
