r"""Graphs of one's own saved with PyTorch Geometric (``pyg:PATH``), read without running
code from the files.

``PATH`` is a file holding a list of :class:`~torch_geometric.data.Data`
(:func:`torch.save`), or the folder of a PyG :class:`~torch_geometric.data.InMemoryDataset`
(its ``processed/*.pt``). Graphs carry :obj:`x`, :obj:`edge_index`, :obj:`y` and optionally
:obj:`edge_attr` and :obj:`edge_label` (0/1 per edge, ground truth for scoring explanations).
Files are read with :obj:`torch.load(weights_only=True)`, allowing only PyG's and NumPy's
data classes. The task is inferred from :obj:`y` and logged. Molecules from a CSV of SMILES
(``csv:PATH``) are read by :mod:`gsat.data.molecules`.
"""
from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any, List, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data

from gsat.core.task import Task
from gsat.data.base import SPLIT_FRACTIONS, GraphDataset, random_split
from gsat.errors import DataMissingError, GraphInputError
from gsat.metrics.prediction import default_metric

log = logging.getLogger(__name__)

PathLike = Union[str, Path]


def _pyg_safe_loading() -> Any:
    from gsat.data.ogb import _safe_loading

    return _safe_loading()


def _load_safely(path: Path, what: str) -> Any:
    """:func:`torch.load` with :obj:`weights_only=True`, PyG's data classes allowed."""
    try:
        with _pyg_safe_loading():
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        from gsat.io.checkpoint import foreign_globals

        foreign = foreign_globals(path)
        if foreign:
            raise GraphInputError(
                f"refused to load {what} {path}: reading it needs arbitrary unpickling, which "
                f"can run any code (it refers to {', '.join(foreign[:3])}); save plain "
                "torch_geometric.data.Data objects (torch.save(list_of_data, path)). Nothing "
                "in the file was executed") from None
        raise GraphInputError(f"{what} {path} is damaged or not a torch.save file "
                              f"({' '.join(str(exc).split())[:120]})") from None
    except Exception as exc:  # noqa: BLE001 - every reader failure of a damaged file
        raise GraphInputError(f"{what} {path} cannot be read as a torch.save file "
                              f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
                              ) from None


def _from_collated(obj: tuple, path: Path) -> List[Data]:
    """Graphs of an :class:`InMemoryDataset` file: :obj:`(data, slices[, data_cls])`."""
    from torch_geometric.data import InMemoryDataset

    data, slices = obj[0], obj[1]
    if isinstance(data, dict):
        data = Data.from_dict(data)
    if not isinstance(data, Data) or not isinstance(slices, dict):
        raise GraphInputError(f"{path}: expected a collated PyG dataset (data, slices), got "
                              f"({type(data).__name__}, {type(slices).__name__})")

    class _Collated(InMemoryDataset):
        def __init__(self) -> None:
            super().__init__(None, log=False)
            self.data, self.slices = data, slices

    ds = _Collated()
    return [ds.get(i) for i in range(len(ds))]


def read_graph_file(path: PathLike) -> List[Data]:
    r"""Graphs from :obj:`path`: a :func:`torch.save` file of a list (or tuple) of
    :class:`~torch_geometric.data.Data`, a single :class:`Data`, or a collated
    :class:`~torch_geometric.data.InMemoryDataset` file; or the folder of an
    :class:`InMemoryDataset` (its one ``processed/*.pt`` file other than ``pre_*.pt``).
    Read with :obj:`torch.load(weights_only=True)`: a file that needs any other class is
    refused and nothing in it is executed. The graphs are not validated here
    (:func:`gsat.core.validation.check_graph` does that).

    Raises:
        gsat.errors.DataMissingError: :obj:`path` does not exist.
        gsat.errors.GraphInputError: the file is unsafe, damaged or holds something else.
    """
    path = Path(path)
    if not path.exists():
        raise DataMissingError(f"{path}: no such file or folder")
    if path.is_dir():
        folder = path / "processed" if (path / "processed").is_dir() else path
        files = sorted(p for p in folder.glob("*.pt") if not p.name.startswith("pre_"))
        if len(files) != 1:
            raise GraphInputError(
                f"{path}: expected an InMemoryDataset folder with one processed/*.pt file, "
                f"found {len(files)}{': ' + ', '.join(p.name for p in files) if files else ''}"
                "; give the file itself")
        path = files[0]
    obj = _load_safely(path, "graph file")
    if isinstance(obj, Data):
        return [obj]
    if isinstance(obj, tuple) and len(obj) in (2, 3) and isinstance(obj[1], dict):
        return _from_collated(obj, path)
    if isinstance(obj, (list, tuple)):
        bad = [i for i, g in enumerate(obj) if not isinstance(g, Data)]
        if bad:
            raise GraphInputError(f"{path}: item {bad[0]} is a {type(obj[bad[0]]).__name__}, "
                                  "expected torch_geometric.data.Data")
        if not obj:
            raise GraphInputError(f"{path}: the list of graphs is empty")
        return list(obj)
    raise GraphInputError(f"{path}: holds a {type(obj).__name__}; expected a list of "
                          "torch_geometric.data.Data (torch.save(graphs, path))")


def infer_task(ys: Sequence[Tensor], source: str = "dataset") -> Tuple[Task, int]:
    r"""The task and number of outputs implied by the graph labels :obj:`ys`: one label per
    graph with values 0/1 is :obj:`"binary"` (1 output); integer labels :math:`0..C-1` with
    :math:`C > 2` are :obj:`"multiclass"` (:math:`C` outputs); several 0/1 (or NaN, missing)
    labels per graph, as :obj:`y` of shape :obj:`[1, T]`, are :obj:`"multilabel"`
    (:math:`T` outputs).

    Raises:
        gsat.errors.GraphInputError: labels are missing, of different widths, negative,
            fractional (regression is not supported) or not 0/1 where several are given.
    """
    if any(y is None for y in ys):
        i = next(i for i, y in enumerate(ys) if y is None)
        raise GraphInputError(f"{source}: graph {i} has no label y; every graph needs one")
    widths = {int(y.numel()) for y in ys}
    if len(widths) != 1:
        raise GraphInputError(f"{source}: graphs have labels of different sizes "
                              f"{sorted(widths)}; give every graph the same y shape")
    (width,) = widths
    values = torch.cat([y.reshape(-1).double() for y in ys])
    known = values[~torch.isnan(values)]
    if known.numel() == 0:
        raise GraphInputError(f"{source}: every label is missing (NaN)")
    if bool((known != known.round()).any()) or bool((known < 0).any()):
        raise GraphInputError(f"{source}: labels must be class indices 0, 1, ... or 0/1 per "
                              f"task (regression is not supported), got e.g. "
                              f"{float(known[(known != known.round()) | (known < 0)][0])}")
    if width > 1:
        if bool((known > 1).any()):
            raise GraphInputError(f"{source}: with {width} labels per graph every label must "
                                  "be 0, 1 or NaN (multi-label); a class index is one number")
        return Task.MULTILABEL, width
    if bool(torch.isnan(values).any()):
        raise GraphInputError(f"{source}: a graph has a missing (NaN) label; only multi-label "
                              "data (y of shape [1, T]) may have missing labels")
    num_classes = int(known.max()) + 1
    return (Task.BINARY, 1) if num_classes <= 2 else (Task.MULTICLASS, num_classes)


def load_pyg_graphs(path: PathLike, data_dir: PathLike = "data", seed: int = 0,
                    **_: object) -> Any:
    r"""Graphs saved with PyG (:func:`read_graph_file`) as a :class:`~gsat.data.base.GraphDataset`
    with a random 80/10/10 split by :obj:`seed`. Task and outputs are inferred from :obj:`y`
    (:func:`infer_task`) and logged; :obj:`edge_label` on every graph makes the dataset
    carry explanation ground truth; integer node features are converted to float. Metric:
    accuracy (binary, multi-class), ROC AUC (multi-label). A file of one graph with node
    masks or a label per node is a node task instead, returned as a
    :class:`~gsat.data.node.base.NodeDataset` (:func:`gsat.data.node.files.node_dataset`).

    Args:
        path (str or Path): a file or an InMemoryDataset folder.
        data_dir (str or Path, optional): unused (nothing is cached). (default: :obj:`"data"`)
        seed (int, optional): seed of the split. (default: :obj:`0`)
    """
    path = Path(path)
    graphs = read_graph_file(path)
    from gsat.data.node.files import is_node_task, node_dataset

    if is_node_task(graphs):  # one graph with a label per node
        return node_dataset(graphs[0], path, seed)
    from torch_geometric.utils import is_undirected

    from gsat.core.validation import check_graphs

    out: List[Data] = []
    for i, g in enumerate(graphs):
        if getattr(g, "x", None) is None:
            raise GraphInputError(f"pyg:{path}: graph {i} has no node features x")
        g = g.clone()
        if not g.x.is_floating_point():
            g.x = g.x.float()
        if g.y is not None and g.y.numel() > 1:
            g.y = g.y.reshape(1, -1).float()
        out.append(g)
    task, num_outputs = infer_task([g.y for g in out], f"pyg:{path}")
    for g in out:
        if task == Task.MULTILABEL:
            g.y = g.y.float()
        else:
            g.y = g.y.reshape(1).long() if task == Task.MULTICLASS else g.y.reshape(1).float()
    check_graphs(out, f"pyg:{path}")
    widths = {g.x.size(1) for g in out}
    if len(widths) != 1:
        raise GraphInputError(f"pyg:{path}: graphs have node features of different widths "
                              f"{sorted(widths)}")
    has_attr = [getattr(g, "edge_attr", None) is not None for g in out]
    if any(has_attr) and not all(has_attr):
        raise GraphInputError(f"pyg:{path}: graph {has_attr.index(False)} has no edge_attr "
                              "while others have; give all graphs edge_attr or none")
    for g in out:
        if g.edge_attr is not None and not g.edge_attr.is_floating_point():
            g.edge_attr = g.edge_attr.float()
        if g.edge_attr is not None and g.edge_attr.dim() == 1:
            g.edge_attr = g.edge_attr.view(-1, 1)
    gt = all(getattr(g, "edge_label", None) is not None for g in out)
    undirected = all(is_undirected(g.edge_index, num_nodes=g.num_nodes) for g in out)
    parts = random_split(len(out), SPLIT_FRACTIONS, seed)
    train, valid, test = ([out[int(i)] for i in p] for p in parts)
    if not valid or not test:
        raise GraphInputError(f"pyg:{path}: {len(out)} graphs are too few for an 80/10/10 "
                              "split; give at least 10")
    metric = default_metric(task)
    log.info("pyg:%s: %d graphs (%d train / %d valid / %d test, random split by seed %d); "
             "inferred task: %s with %d output(s) from y; metric %s; %d node features, %s; "
             "%s; %s", path, len(out), len(train), len(valid), len(test), seed, task,
             num_outputs, metric, widths.pop(),
             f"{out[0].edge_attr.size(1)} edge features" if all(has_attr) else "no edge features",
             "undirected" if undirected else "directed edges",
             "edge_label present: explanations are scored" if gt else "no edge_label")
    return GraphDataset(
        name=f"pyg_{path.stem}", train=train, valid=valid, test=test,
        num_features=out[0].x.size(1), num_outputs=num_outputs, task=task, metric=metric,
        edge_dim=out[0].edge_attr.size(1) if all(has_attr) else None, has_ground_truth=gt,
        undirected=undirected, config_name="graphs", extra={"source": str(path.resolve())})
