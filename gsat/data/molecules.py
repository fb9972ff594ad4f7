r"""Molecules of one's own from a CSV of SMILES (``csv:PATH``), read without running code
from the file.

One molecule per row: a SMILES column and one or more 0/1 label columns (an empty cell or
``nan`` is a missing label). Molecules are featurised with ogb's
:func:`ogb.utils.smiles2graph` (9 atom and 3 bond features, the featurisation of the OGB
molecular datasets), so the shipped ``gsat/configs/*-ogbg_mol.yml`` configs and ogb's
``AtomEncoder`` apply. Split: Bemis-Murcko scaffolds (RDKit, largest scaffold groups into the
training split, as ogb's scaffold splits) or random. SMILES that RDKit cannot parse are
counted, listed in the log and skipped. The featurised graphs are cached in
``<data_dir>/csv-<stem>-<hash>/``. Graphs saved with PyG (``pyg:PATH``) are read by
:mod:`gsat.data.files`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import torch
from torch_geometric.data import Data

from gsat.core.task import Task
from gsat.io.files import read_json, write_json
from gsat.data.base import SPLIT_FRACTIONS, GraphDataset, load_graphs, random_split, save_graphs
from gsat.errors import ConfigError, DataMissingError

log = logging.getLogger(__name__)

PathLike = Union[str, Path]
Split = Literal["scaffold", "random"]

#: version of the CSV cache layout; part of the cache folder's name
CSV_CACHE_VERSION = 1


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


def _read_csv(path: Path, smiles_col: str, label_cols: Sequence[str],
              regression: bool = False) -> Tuple[List[str], List[List[float]], List[int]]:
    """SMILES, labels (NaN for missing; 0/1, or any finite number for :obj:`regression`)
    and 1-based data row numbers of a CSV file."""
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
                expected = "a number or empty" if regression else "0, 1 or empty"
                raise ConfigError(f"csv:{path}: row {row_no}, column {c!r}: expected "
                                  f"{expected}, got {cell[:20]!r}") from None
            if regression and math.isinf(value):
                raise ConfigError(f"csv:{path}: row {row_no}, column {c!r}: expected a "
                                  f"finite number or empty, got {cell!r}")
            if not regression and not math.isnan(value) and value not in (0.0, 1.0):
                raise ConfigError(f"csv:{path}: row {row_no}, column {c!r}: labels "
                                  f"must be 0 or 1 (or empty if missing), got {cell!r}; for "
                                  "a numeric target use --dataset-option task=regression")
            ys.append(value)
        smiles.append((row.get(smiles_col) or "").strip())
        labels.append(ys)
        rows.append(row_no)
    if not smiles:
        raise ConfigError(f"csv:{path}: the file has a header but no rows")
    return smiles, labels, rows


def _featurised(path: Path, data_dir: PathLike, smiles_col: str, label_cols: List[str],
                regression: bool = False) -> Tuple[List[Data], Dict[str, Any], Path]:
    r"""The featurised molecules of a CSV file, their metadata (kept SMILES, unparseable
    rows) and the cache folder: read from the cache, or featurised and cached."""
    key = hashlib.sha256()
    if path.is_file():
        key.update(path.read_bytes())
    key.update(json.dumps([smiles_col, label_cols, CSV_CACHE_VERSION]
                          + (["regression"] if regression else [])).encode())
    cache = Path(data_dir) / f"csv-{path.stem}-{key.hexdigest()[:12]}"
    params = {"csv": key.hexdigest()}
    graphs = load_graphs(cache / "graphs.pt", params)
    meta: Optional[Dict[str, Any]] = None
    if graphs is not None:
        meta = read_json(cache / "molecules.json")
    if graphs is None or not isinstance(meta, dict) or \
            len(meta.get("smiles", [])) != len(graphs):
        smiles, labels, rows = _read_csv(path, smiles_col, label_cols, regression)
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
        save_graphs(graphs, cache / "graphs.pt", params)
        write_json(meta, cache / "molecules.json")
    else:
        log.info("csv:%s: read %d featurised molecules from the cache %s", path, len(graphs),
                 cache)
    return graphs, meta, cache


def class_names(label_cols: Sequence[str], task: str = "classification") -> List[str]:
    r"""Names of what a model of a CSV of molecules predicts, for titles: with one 0/1 label
    column ``active``, the classes ``not active`` and ``active``; with several, the label
    columns (one name per label); for regression the columns."""
    cols = [str(c) for c in label_cols]
    if task == "classification" and len(cols) == 1:
        return [f"not {cols[0]}", cols[0]]
    return cols


def load_csv_molecules(path: PathLike, data_dir: PathLike = "data", seed: int = 0,
                       smiles_col: str = "smiles", label_cols: Union[str, Sequence[str]] = "y",
                       split: Split = "scaffold", task: str = "classification",
                       **_: object) -> GraphDataset:
    r"""Molecules from a CSV file as a :class:`~gsat.data.base.GraphDataset` (see the module
    docstring): binary with one label column, multi-label (missing labels allowed) with
    several; the metric is ROC AUC per task over the labelled molecules. With
    :obj:`task="regression"` the label columns hold numbers (empty: missing), the model
    predicts each, and the metric is RMSE (lower is better).

    Args:
        path (str or Path): the CSV file (a header row, then one molecule per row).
        data_dir (str or Path, optional): cache root. (default: :obj:`"data"`)
        seed (int, optional): seed of a random split; the scaffold split does not depend on
            it. (default: :obj:`0`)
        smiles_col (str, optional): column of the SMILES. (default: :obj:`"smiles"`)
        label_cols (str or list of str, optional): label column(s). (default: :obj:`"y"`)
        split (str, optional): :obj:`"scaffold"` or :obj:`"random"` (80/10/10).
            (default: :obj:`"scaffold"`)
        task (str, optional): :obj:`"classification"` (0/1 labels) or :obj:`"regression"`
            (numeric labels; ``--dataset-option task=regression``).
            (default: :obj:`"classification"`)

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
    if task not in ("classification", "regression"):
        raise ConfigError(f"csv:{path}: task must be 'classification' or 'regression', got "
                          f"{task!r}")
    regression = task == "regression"
    _rdkit()
    graphs, meta, cache = _featurised(path, data_dir, smiles_col, label_cols, regression)
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
    kind = (Task.REGRESSION if regression else Task.BINARY if num_tasks == 1
            else Task.MULTILABEL)
    metric = "rmse" if regression else "rocauc"
    log.info("csv:%s: %d molecules (%d train / %d valid / %d test, %s split), %s task%s "
             "(%s), metric %s", path, len(graphs), len(train), len(valid), len(test),
             split, kind, "" if num_tasks == 1 else f" with {num_tasks} labels",
             ", ".join(label_cols), "RMSE" if regression else "ROC AUC")
    from gsat.data.ogb import ELEMENT_SYMBOLS

    return GraphDataset(
        name=f"csv_{path.stem}", train=train, valid=valid, test=test,
        num_features=graphs[0].x.size(1), num_outputs=num_tasks, task=kind, metric=metric,
        edge_dim=graphs[0].edge_attr.size(1), has_ground_truth=False, undirected=True,
        node_names=list(ELEMENT_SYMBOLS), config_name="ogbg_mol",
        extra={"featurisation": "ogb_smiles2graph", "source": str(path.resolve()),
               "smiles_col": smiles_col, "label_cols": label_cols, "split": split,
               "task": task, "class_names": class_names(label_cols, task),
               "unparseable": len(failed), "cache": str(cache)})
