r"""Datasets of one's own: molecules from a CSV of SMILES (``csv:PATH``) and graphs saved
with PyTorch Geometric (``pyg:PATH``), both read without running code from the files.

* ``csv:PATH`` -- one molecule per row: a SMILES column and one or more 0/1 label columns
  (an empty cell or ``nan`` is a missing label). Molecules are featurised with ogb's
  :func:`ogb.utils.smiles2graph` (9 atom and 3 bond features, the featurisation of the OGB
  molecular datasets), so the shipped ``gsat/configs/*-ogbg_mol.yml`` configs and ogb's
  ``AtomEncoder`` apply. Split: Bemis-Murcko scaffolds (RDKit, largest scaffold groups
  into the training split, as ogb's scaffold splits) or random. SMILES that RDKit cannot
  parse are counted, listed in the log and skipped. The featurised graphs are cached in
  ``<data_dir>/csv-<stem>-<hash>/``.
* ``pyg:PATH`` -- a file holding a list of :class:`~torch_geometric.data.Data`
  (:func:`torch.save`), or the folder of a PyG :class:`~torch_geometric.data.InMemoryDataset`
  (its ``processed/*.pt``). Graphs carry :obj:`x`, :obj:`edge_index`, :obj:`y` and optionally
  :obj:`edge_attr` and :obj:`edge_label` (0/1 per edge, ground truth for scoring
  explanations). Files are read with :obj:`torch.load(weights_only=True)`, allowing only
  PyG's and NumPy's data classes. The task is inferred from :obj:`y` and logged.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import pickle
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data

from gsat.data.base import GraphDataset, load_graphs, random_split, save_graphs
from gsat.errors import ConfigError, DataMissingError, GraphInputError

log = logging.getLogger(__name__)

PathLike = Union[str, Path]
Split = Literal["scaffold", "random"]

#: fractions of the train / valid / test splits of data without a split of its own
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

#: version of the CSV cache layout; part of the cache folder's name
CSV_CACHE_VERSION = 1


# ----------------------------------------------------------------------------- molecules
def _rdkit() -> Any:
    try:
        from rdkit import Chem, RDLogger
    except ImportError as exc:
        raise DataMissingError("molecules from SMILES need RDKit and ogb: "
                               "pip install rdkit \"ogb>=1.3.6\"") from exc
    RDLogger.DisableLog("rdApp.*")  # parse failures are reported by us, one line each
    return Chem


def smiles_to_graph(smiles: str) -> Optional[Data]:
    r"""One molecule as a PyG :class:`~torch_geometric.data.Data` with ogb's featurisation
    (:func:`ogb.utils.smiles2graph`): :obj:`x` of shape :obj:`[num_atoms, 9]` (long, the
    first column is the atomic number - 1, also stored as :obj:`node_type`), both directions
    of every bond in :obj:`edge_index` and :obj:`edge_attr` of shape :obj:`[2 * num_bonds,
    3]`. Atoms are numbered as in :obj:`rdkit.Chem.MolFromSmiles(smiles)`.

    Returns:
        Data or None: :obj:`None` when RDKit cannot parse :obj:`smiles` or it has no atom.
    """
    Chem = _rdkit()
    from ogb.utils import smiles2graph

    if not isinstance(smiles, str) or not smiles.strip():
        return None
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    g = smiles2graph(smiles)
    x = torch.as_tensor(g["node_feat"], dtype=torch.long)
    return Data(x=x, edge_index=torch.as_tensor(g["edge_index"], dtype=torch.long),
                edge_attr=torch.as_tensor(g["edge_feat"], dtype=torch.long),
                node_type=x[:, 0].clone(), num_nodes=int(g["num_nodes"]))


def murcko_scaffold(smiles: str) -> str:
    r"""The Bemis-Murcko scaffold of a molecule as canonical SMILES (RDKit's
    :func:`~rdkit.Chem.Scaffolds.MurckoScaffold.MurckoScaffoldSmiles`, chirality kept);
    :obj:`""` for acyclic molecules."""
    _rdkit()
    from rdkit.Chem.Scaffolds import MurckoScaffold

    return MurckoScaffold.MurckoScaffoldSmiles(smiles=smiles, includeChirality=True)


def scaffold_split(smiles: Sequence[str], fractions: Sequence[float] = SPLIT_FRACTIONS
                   ) -> List[List[int]]:
    r"""Deterministic scaffold split: molecules are grouped by :func:`murcko_scaffold`, the
    groups are ordered by size (largest first; ties by first occurrence) and filled into
    train, then valid, then test, so that no scaffold spans two splits (the procedure of the
    scaffold splits of MoleculeNet / OGB).

    Returns:
        list of list of int: train, valid and test indices into :obj:`smiles`.
    """
    groups: Dict[str, List[int]] = defaultdict(list)
    for i, s in enumerate(smiles):
        groups[murcko_scaffold(s)].append(i)
    ordered = sorted(groups.values(), key=lambda idx: (-len(idx), idx[0]))
    n = len(smiles)
    cut_train, cut_valid = fractions[0] * n, (fractions[0] + fractions[1]) * n
    parts: List[List[int]] = [[], [], []]
    for idx in ordered:
        if len(parts[0]) + len(idx) <= cut_train:
            parts[0] += idx
        elif len(parts[0]) + len(parts[1]) + len(idx) <= cut_valid:
            parts[1] += idx
        else:
            parts[2] += idx
    return [sorted(p) for p in parts]


def read_csv_rows(path: Path, columns: Sequence[str], label: str, hint: str
                  ) -> List[Dict[str, str]]:
    r"""The data rows of a UTF-8 CSV file as dicts, after checking that the header names
    every one of :obj:`columns`. Errors start with :obj:`label` (how the user named the
    file) and a missing column is followed by :obj:`hint` (the option that picks it).

    Raises:
        gsat.errors.DataMissingError: the file does not exist.
        gsat.errors.ConfigError: a column is missing or the file is not UTF-8 CSV text.
    """
    if not path.is_file():
        raise DataMissingError(f"{label}: no such file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            if missing:
                raise ConfigError(f"{label}: no column {', '.join(map(repr, missing))}; the "
                                  f"header has: {', '.join(header) or '(nothing)'} ({hint})")
            return list(reader)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                          ) from None
    except csv.Error as exc:
        raise ConfigError(f"{label}: not a readable CSV file ({exc})") from None


def _read_csv(path: Path, smiles_col: str, label_cols: Sequence[str]
              ) -> Tuple[List[str], List[List[float]], List[int]]:
    """SMILES, labels (NaN for missing) and 1-based data row numbers of a CSV file."""
    table = read_csv_rows(path, [smiles_col, *label_cols], f"csv:{path}",
                          "choose with --smiles-col / --label-col")
    smiles, labels, rows = [], [], []
    for row_no, row in enumerate(table, start=1):
        ys = []
        for c in label_cols:
            cell = (row.get(c) or "").strip()
            try:
                value = float(cell) if cell else math.nan
            except ValueError:
                raise ConfigError(f"csv:{path}: row {row_no}, column {c!r}: expected "
                                  f"0, 1 or empty, got {cell[:20]!r}") from None
            if not math.isnan(value) and value not in (0.0, 1.0):
                raise ConfigError(f"csv:{path}: row {row_no}, column {c!r}: labels "
                                  f"must be 0 or 1 (or empty if missing), got {cell!r}")
            ys.append(value)
        smiles.append((row.get(smiles_col) or "").strip())
        labels.append(ys)
        rows.append(row_no)
    if not smiles:
        raise ConfigError(f"csv:{path}: the file has a header but no rows")
    return smiles, labels, rows


def load_csv_molecules(path: PathLike, data_dir: PathLike = "data", seed: int = 0,
                       smiles_col: str = "smiles", label_cols: Union[str, Sequence[str]] = "y",
                       split: Split = "scaffold", **_: object) -> GraphDataset:
    r"""Molecules from a CSV file as a :class:`~gsat.data.GraphDataset` (see the module
    docstring): binary with one label column, multi-label (missing labels allowed) with
    several; the metric is ROC AUC per task over the labelled molecules.

    Args:
        path (str or Path): the CSV file (a header row, then one molecule per row).
        data_dir (str or Path, optional): cache root. (default: :obj:`"data"`)
        seed (int, optional): seed of a random split; the scaffold split does not depend on
            it. (default: :obj:`0`)
        smiles_col (str, optional): column of the SMILES. (default: :obj:`"smiles"`)
        label_cols (str or list of str, optional): label column(s). (default: :obj:`"y"`)
        split (str, optional): :obj:`"scaffold"` or :obj:`"random"` (80/10/10).
            (default: :obj:`"scaffold"`)

    Raises:
        gsat.errors.DataMissingError: the file is missing, or RDKit / ogb are not installed.
        gsat.errors.ConfigError: a column is missing, a label is not 0/1/empty, no SMILES
            could be parsed, or :obj:`split` is unknown.
    """
    path = Path(path)
    label_cols = [label_cols] if isinstance(label_cols, str) else list(label_cols)
    if not label_cols:
        raise ConfigError(f"csv:{path}: give at least one --label-col")
    if split not in ("scaffold", "random"):
        raise ConfigError(f"csv:{path}: split must be 'scaffold' or 'random', got {split!r}")
    _rdkit()
    key = hashlib.sha256()
    if path.is_file():
        key.update(path.read_bytes())
    key.update(json.dumps([smiles_col, label_cols, CSV_CACHE_VERSION]).encode())
    cache = Path(data_dir) / f"csv-{path.stem}-{key.hexdigest()[:12]}"
    graphs = load_graphs(cache / "graphs.pt")
    meta: Optional[Dict[str, Any]] = None
    if graphs is not None and (cache / "molecules.json").is_file():
        try:
            meta = json.loads((cache / "molecules.json").read_text())
        except ValueError:
            meta = None
    if graphs is None or meta is None or len(meta.get("smiles", [])) != len(graphs):
        smiles, labels, rows = _read_csv(path, smiles_col, label_cols)
        graphs, kept, failed = [], [], []
        from tqdm.auto import tqdm

        for s, ys, row in zip(tqdm(smiles, desc=f"featurising {path.name}", leave=False,
                                   disable=len(smiles) < 1000), labels, rows):
            g = smiles_to_graph(s)
            if g is None:
                failed.append({"row": row, "smiles": s})
                continue
            g.y = torch.tensor([ys], dtype=torch.float)
            graphs.append(g)
            kept.append(s)
        if not graphs:
            raise ConfigError(f"csv:{path}: none of the {len(smiles)} SMILES could be parsed "
                              f"(column {smiles_col!r})")
        meta = {"source": str(path.resolve()), "smiles_col": smiles_col,
                "label_cols": label_cols, "smiles": kept, "unparseable": failed}
        save_graphs(graphs, cache / "graphs.pt")
        (cache / "molecules.json").write_text(json.dumps(meta))
    else:
        log.info("csv:%s: read %d featurised molecules from the cache %s", path, len(graphs),
                 cache)
    failed = meta["unparseable"]
    if failed:
        shown = "; ".join(f"row {f['row']}: {f['smiles'][:40]!r}" for f in failed[:10])
        log.warning("csv:%s: %d of %d SMILES could not be parsed and are skipped (%s%s)",
                    path, len(failed), len(failed) + len(graphs), shown,
                    "; ..." if len(failed) > 10 else "")
    for g in graphs:  # the cache stores float labels; categorical atom features stay long
        g.y = g.y.float()
    smiles = meta["smiles"]
    if split == "scaffold":
        parts = scaffold_split(smiles)
    else:
        parts = [p.tolist() for p in random_split(len(graphs), SPLIT_FRACTIONS, seed)]
    train, valid, test = ([graphs[i] for i in p] for p in parts)
    for name, part in (("train", train), ("valid", valid), ("test", test)):
        if not part:
            raise ConfigError(f"csv:{path}: the {split} split leaves the {name} split empty "
                              f"({len(graphs)} molecules); give more molecules or --split "
                              "random")
    num_tasks = len(label_cols)
    task = "binary" if num_tasks == 1 else "multilabel"
    log.info("csv:%s: %d molecules (%d train / %d valid / %d test, %s split), %s task%s "
             "(%s), metric ROC AUC", path, len(graphs), len(train), len(valid), len(test),
             split, task, "" if num_tasks == 1 else f" with {num_tasks} labels",
             ", ".join(label_cols))
    from gsat.data.ogb import ELEMENT_SYMBOLS

    return GraphDataset(
        name=f"csv_{path.stem}", train=train, valid=valid, test=test,
        num_features=graphs[0].x.size(1), num_outputs=num_tasks, task=task, metric="rocauc",
        edge_dim=graphs[0].edge_attr.size(1), has_ground_truth=False, undirected=True,
        node_names=list(ELEMENT_SYMBOLS), config_name="ogbg_mol",
        extra={"featurisation": "ogb_smiles2graph", "source": str(path.resolve()),
               "smiles_col": smiles_col, "label_cols": label_cols, "split": split,
               "unparseable": len(failed), "cache": str(cache)})


# ----------------------------------------------------------------------------- PyG graphs
def _pyg_safe_loading() -> Any:
    from gsat.data.ogb import _safe_loading

    return _safe_loading()


def _load_safely(path: Path, what: str) -> Any:
    """:func:`torch.load` with :obj:`weights_only=True`, PyG's data classes allowed."""
    try:
        with _pyg_safe_loading():
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        from gsat.runs.checkpoint import _foreign_globals

        foreign = _foreign_globals(path)
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


def infer_task(ys: Sequence[Tensor], source: str = "dataset"
               ) -> Tuple[Literal["binary", "multiclass", "multilabel"], int]:
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
        return "multilabel", width
    if bool(torch.isnan(values).any()):
        raise GraphInputError(f"{source}: a graph has a missing (NaN) label; only multi-label "
                              "data (y of shape [1, T]) may have missing labels")
    num_classes = int(known.max()) + 1
    return ("binary", 1) if num_classes <= 2 else ("multiclass", num_classes)


def load_pyg_graphs(path: PathLike, data_dir: PathLike = "data", seed: int = 0,
                    **_: object) -> Any:
    r"""Graphs saved with PyG (:func:`read_graph_file`) as a :class:`~gsat.data.GraphDataset`
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
        if task == "multilabel":
            g.y = g.y.float()
        else:
            g.y = g.y.reshape(1).long() if task == "multiclass" else g.y.reshape(1).float()
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
    metric = "rocauc" if task == "multilabel" else "acc"
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


#: prefixes of dataset names that read the user's own files: ``csv:PATH``, ``pyg:PATH``
FILE_PREFIXES = {"csv": load_csv_molecules, "pyg": load_pyg_graphs}


def split_file_dataset(name: str) -> Optional[Tuple[str, str]]:
    r"""``("csv", PATH)`` for :obj:`"csv:PATH"` (likewise ``pyg:``), else :obj:`None`."""
    prefix, sep, rest = name.partition(":")
    if sep and prefix in FILE_PREFIXES:
        if not rest:
            raise ConfigError(f"--dataset {name}: give a path after '{prefix}:'")
        return prefix, rest
    return None


def dataset_label(name: str) -> str:
    r"""A folder-safe label of a dataset name: :obj:`name` itself for registered datasets,
    :obj:`"<prefix>_<file stem>"` for ``csv:PATH`` / ``pyg:PATH``."""
    file_dataset = split_file_dataset(name)
    if file_dataset is None:
        return name
    prefix, path = file_dataset
    return f"{prefix}_{Path(path.rstrip('/')).stem or 'data'}"
