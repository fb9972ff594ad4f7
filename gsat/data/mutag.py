r"""Mutagenicity (Kazius et al., J. Med. Chem. 2005; TU Dortmund graph collection) with the
explanation ground truth released with PGExplainer (Luo et al., NeurIPS 2020): edges inside
NO2 and NH2 groups, the known toxicophores of mutagens.

How GSAT (Miao, Liu & Li, ICML 2022, `arXiv:2201.12987 <https://arxiv.org/abs/2201.12987>`_)
uses it, and what this loader follows (checked against the released code,
``src/datasets/mutag.py`` and ``src/utils/get_data_loaders.py`` of ``Graph-COM/GSAT``):

- node features: one-hot atom type (14 types: C O Cl H N F Br S P I Na K Li Ca);
  graph label 0 = mutagen, 1 = nonmutagen (binary task, one logit);
- ground-truth edges are kept only for mutagen graphs; nonmutagen graphs get
  :obj:`edge_label` all 0;
- mutagen graphs without any NO2/NH2 edge are dropped (4,337 graphs read, 2,951 kept);
- a random 80/20 train/validation split by seed (the released config sets
  ``mutag_x: true``, which splits 80/20 and no test part);
- the test set is every kept mutagen graph (all have ground truth), taken from the **whole**
  dataset, so it overlaps the training split, exactly as the released code does. It is the
  interpretation test set (:attr:`GraphDataset.interp_test`) and also the
  :attr:`GraphDataset.test` split, so the reported prediction accuracy is the accuracy on
  those mutagen graphs;
- the attention is node-level, lifted to edges (``extractor.learn_edge_att: false`` in
  ``gsat/configs/*-mutag.yml``).
"""
from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from gsat.io.files import read_json, write_json
from gsat.data.base import (GraphDataset, load_graphs, random_split, save_graphs,
                            split_edges_by_graph)
from gsat.errors import DataMissingError

log = logging.getLogger(__name__)

URL = "https://github.com/flyingdoog/PGExplainer/raw/master/dataset/Mutagenicity.zip"
ZIP_NAME = "Mutagenicity.zip"
ZIP_SHA256 = "20c0134bad28fa23a1dd928c6cf5afa6b6f1db10758d8622cfac7245207a95ca"
PREFIX = "Mutagenicity_"
#: the files read, without the prefix
PARTS = ("A", "edge_gt", "graph_indicator", "graph_labels", "node_labels")
#: atom symbols of the node labels 0..13 (Mutagenicity_label_readme.txt)
ATOMS = ["C", "O", "Cl", "H", "N", "F", "Br", "S", "P", "I", "Na", "K", "Li", "Ca"]
MUTAGEN = 0


def required_files() -> List[str]:
    """Names of the TU-format files the loader reads."""
    return [f"{PREFIX}{p}.txt" for p in PARTS]


def _missing_error(raw: Path, reason: str) -> DataMissingError:
    files = ", ".join(required_files())
    return DataMissingError(
        f"Mutagenicity data not found in {raw} ({reason}). Put either {ZIP_NAME} (from {URL}) "
        f"or its extracted files {files} into {raw}, or pass another --data-dir whose "
        "mutag/raw/ folder holds them.")


def _read_array(raw: Path, part: str) -> np.ndarray:
    name = f"{PREFIX}{part}.txt"
    path = raw / name
    if path.is_file():
        return np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=1)
    with zipfile.ZipFile(raw / ZIP_NAME) as zf:
        members = {Path(m).name: m for m in zf.namelist()}
        if name not in members:
            raise _missing_error(raw, f"{ZIP_NAME} has no {name}")
        with zf.open(members[name]) as f:
            return np.loadtxt(io.TextIOWrapper(f), delimiter=",", dtype=np.int64, ndmin=1)


def _have_files(raw: Path) -> bool:
    return (raw / ZIP_NAME).is_file() or all((raw / f).is_file() for f in required_files())


def download_mutagenicity(raw: Path) -> Path:
    r"""Download :data:`URL` into :obj:`raw` and check its sha256.

    Raises:
        gsat.errors.DataMissingError: the download failed or the file differs from the
            published one; the message lists the files needed and the folder.
    """
    from torch_geometric.data import download_url

    raw.mkdir(parents=True, exist_ok=True)
    try:
        path = Path(download_url(URL, str(raw), log=False, filename=ZIP_NAME))
    except Exception as exc:  # no network, HTTP error, ...
        raise _missing_error(raw, f"download from {URL} failed: {type(exc).__name__}: {exc}") \
            from exc
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != ZIP_SHA256:
        path.unlink()
        raise _missing_error(raw, f"the downloaded file has sha256 {digest}, expected "
                                  f"{ZIP_SHA256}")
    return path


def read_mutagenicity(raw: str | Path) -> Tuple[List[Data], Dict[str, int]]:
    r"""Read the TU-format Mutagenicity files (from :obj:`raw/Mutagenicity.zip` or the
    extracted files in :obj:`raw`) and apply GSAT's semantics (see the module docstring).

    Returns:
        (list of Data, dict): the kept graphs, each with :obj:`x` (:obj:`[N, 14]` one-hot),
        :obj:`edge_index` (the file's edges, both directions, file order), :obj:`y`
        (:obj:`[1]`), :obj:`edge_label`, :obj:`node_label` (1 on atoms of ground-truth edges)
        and :obj:`node_type` (index into :data:`ATOMS`); and counts: :obj:`num_read`,
        :obj:`num_mutagen`, :obj:`num_nonmutagen`, :obj:`num_dropped`, :obj:`num_kept`.

    Raises:
        gsat.errors.DataMissingError: the files are absent.
        ValueError: the files are inconsistent (an edge joining two graphs, lines missing).
    """
    raw = Path(raw)
    if not _have_files(raw):
        raise _missing_error(raw, "no such files")
    edges, gt, indicator, labels, types = (_read_array(raw, p) for p in PARTS)
    edges = edges.reshape(-1, 2) - 1
    if len(gt) != len(edges):
        raise ValueError(f"{PREFIX}edge_gt.txt has {len(gt)} lines, {PREFIX}A.txt has "
                         f"{len(edges)}; they must match line by line")
    if len(types) != len(indicator):
        raise ValueError(f"{PREFIX}node_labels.txt has {len(types)} lines, "
                         f"{PREFIX}graph_indicator.txt has {len(indicator)}")
    graph_of_node = torch.from_numpy(indicator - 1)
    num_graphs = len(labels)
    order, edges_per_graph, ei_parts = split_edges_by_graph(
        torch.from_numpy(edges).t(), graph_of_node, num_graphs,
        ValueError(f"{PREFIX}A.txt has edges joining nodes of different graphs"))
    nodes_per_graph = torch.bincount(graph_of_node, minlength=num_graphs)
    gt_parts = torch.from_numpy(gt)[order].split(edges_per_graph)
    x_all = F.one_hot(torch.from_numpy(types), len(ATOMS)).float()
    type_parts = torch.from_numpy(types).split(nodes_per_graph.tolist())
    x_parts = x_all.split(nodes_per_graph.tolist())

    graphs: List[Data] = []
    dropped = 0
    for i in range(num_graphs):
        label = int(labels[i])
        edge_label = gt_parts[i].long() if label == MUTAGEN else torch.zeros_like(gt_parts[i])
        if label == MUTAGEN and int(edge_label.sum()) == 0:
            dropped += 1
            continue
        n = int(nodes_per_graph[i])
        node_label = torch.zeros(n, dtype=torch.long)
        node_label[ei_parts[i][:, edge_label.bool()].reshape(-1)] = 1
        graphs.append(Data(x=x_parts[i], edge_index=ei_parts[i].contiguous(),
                           y=torch.tensor([label]), edge_label=edge_label,
                           node_label=node_label, node_type=type_parts[i].long(), num_nodes=n))
    num_mutagen = int((labels == MUTAGEN).sum())
    counts = {"num_read": num_graphs, "num_mutagen": num_mutagen,
              "num_nonmutagen": num_graphs - num_mutagen, "num_dropped": dropped,
              "num_kept": len(graphs)}
    return graphs, counts


def load_mutag(data_dir: str | Path = "data", seed: int = 0, download: bool = True,
               max_graphs: Optional[int] = None, **_: object) -> GraphDataset:
    r"""Mutagenicity as GSAT uses it (see the module docstring), read from
    :obj:`<data_dir>/mutag/raw/` (``Mutagenicity.zip`` or its extracted files), downloaded
    there from :data:`URL` when missing, and cached under :obj:`<data_dir>/mutag/processed/`.

    Args:
        data_dir (str or Path, optional): data root. (default: :obj:`"data"`)
        seed (int, optional): seed of the random 80/20 train/validation split.
            (default: :obj:`0`)
        download (bool, optional): fetch the zip when the files are missing.
            (default: :obj:`True`)
        max_graphs (int, optional): keep only this many of the kept graphs, a random subset
            that is the same for every :obj:`seed` (for quick tests). (default: :obj:`None`)

    Raises:
        gsat.errors.DataMissingError: the files are missing and could not be downloaded; the
            message names the files and the folder.
    """
    root = Path(data_dir) / "mutag"
    raw = root / "raw"
    cache = root / "processed" / "graphs.pt"
    info_path = root / "processed" / "counts.json"
    params = {"reader": "read_mutagenicity", "files": required_files()}
    graphs: Optional[List[Data]] = load_graphs(cache, params)
    counts: Dict[str, int] = {}
    if graphs is not None:
        counts = read_json(info_path) or {}
        if not isinstance(counts, dict) or counts.get("num_kept") != len(graphs):
            graphs = None
    if graphs is None:
        if not _have_files(raw):
            if not download:
                raise _missing_error(raw, "no such files and download=False")
            log.info("downloading %s into %s", URL, raw)
            download_mutagenicity(raw)
        graphs, counts = read_mutagenicity(raw)
        save_graphs(graphs, cache, params)
        write_json(counts, info_path)
    if max_graphs is not None:
        if max_graphs < 2:
            raise ValueError(f"max_graphs must be >= 2, got {max_graphs}")
        keep = torch.randperm(len(graphs), generator=torch.Generator().manual_seed(0))
        graphs = [graphs[int(i)] for i in keep[:max_graphs].sort().values]
    train, valid = random_split(len(graphs), [0.8, 0.2], seed)
    test = [g for g in graphs if int(g.y) == MUTAGEN and int(g.edge_label.sum()) > 0]
    return GraphDataset(name="mutag", train=[graphs[i] for i in train],
                        valid=[graphs[i] for i in valid], test=test,
                        num_features=len(ATOMS), num_outputs=1, task="binary", metric="acc",
                        node_names=list(ATOMS), config_name="mutag", interp_test=test,
                        extra=dict(counts, class_names=["mutagen", "nonmutagen"]))
