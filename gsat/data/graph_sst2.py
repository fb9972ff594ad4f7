r"""Graph-SST2 (Yuan et al., *Explainability in Graph Neural Networks: A Taxonomic Survey*,
2020; distributed with DIG's ``SentiGraphDataset``): each sentence of the Stanford Sentiment
Treebank as the graph of its dependency parse, words as nodes with BERT embeddings, labelled
positive or negative. It has no explanation ground truth; GSAT (Miao, Liu & Li, ICML 2022,
`arXiv:2201.12987 <https://arxiv.org/abs/2201.12987>`_) reports prediction accuracy on a
degree-biased out-of-distribution split.

**Files.** ``<data_dir>/Graph-SST2/raw/`` (where GSAT's README puts the unzipped
``Graph-SST2.zip`` that DIG provides), read as the released GSAT code reads them
(Graph-COM/GSAT, commit 6812f5c, ``src/datasets/graph_sst2.py``, ``read_sentigraph_data``,
lines 51-80, and ``SentiGraphDataset``, lines 204-241):

* ``Graph-SST2_node_features.pkl``: a pickle of one NumPy array, a row per node of all
  sentences (read here without running code, :func:`gsat.io.pickles.load_array_pickle`);
* ``Graph-SST2_edge_index.txt``: an edge per line, two whitespace-separated node numbers
  counted from 0 over all sentences;
* ``Graph-SST2_node_indicator.txt``: the sentence of each node, counted from 1;
* ``Graph-SST2_graph_labels.txt``: the label (0 or 1) of each sentence;
* ``Graph-SST2_sentence_tokens.json``: an object whose values, in file order, are the words
  of each sentence (one per node).

Each sentence's edges are made undirected by putting the reversed edges in front of the
edges as read (``undirected_graph``, lines 20-23, the dataset's ``pre_transform``), and every
edge gets the one-dimensional feature 1 (``SentiGraphTransform``, lines 406-416).

**Split** (``get_dataloader`` with ``degree_bias=True``, lines 436-448, called from
``src/utils/get_data_loaders.py`` lines 37-42): sentences with at most 2 (directed) edges are
left out; with :math:`d = |E| / |V|` counted over both directions, sentences with
:math:`d \ge 1.76785714` form the training part and those with :math:`d \le 1.57142857` the
test part, the ones in between are unused. The first tenth (:math:`\lfloor 0.1 n \rfloor`,
in file order) of the training part validates and the rest trains. The split does not
depend on the seed. Attention is learned per edge (``learn_edge_att: true`` in the released
configs).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch
from torch_geometric.data import Data

from gsat.data.base import (GraphDataset, load_graphs, save_graphs,
                            split_edges_by_graph)
from gsat.errors import DataMissingError, GraphInputError

log = logging.getLogger(__name__)

NAME = "Graph-SST2"
#: the raw files, without the ``Graph-SST2_`` prefix
PARTS = ("node_features.pkl", "edge_index.txt", "node_indicator.txt", "graph_labels.txt",
         "sentence_tokens.json")
#: average degrees (directed edges per node) of the degree-biased split
TRAIN_MIN_DEGREE = 1.76785714
TEST_MAX_DEGREE = 1.57142857
#: sentences with at most this many directed edges are left out of every split
MIN_EDGES = 2
VALID_FRACTION = 0.1
URL = "https://github.com/divelab/DIG"
CACHE_VERSION = 1


def required_files(prefix: str = NAME) -> List[str]:
    """Names of the raw files the loader reads."""
    return [f"{prefix}_{p}" for p in PARTS]


def _missing(raw: Path, reason: str = "no such files") -> DataMissingError:
    return DataMissingError(
        f"Graph-SST2 data not found in {raw} ({reason}): download Graph-SST2.zip (DIG's "
        f"SentiGraph data, {URL}; the Google Drive folder linked from the README of "
        f"github.com/Graph-COM/GSAT), unzip it and put {', '.join(required_files())} into "
        f"{raw}")


def _read_ints(path: Path) -> np.ndarray:
    try:
        text = path.read_text().replace(",", " ")
        return np.array(text.split(), dtype=np.int64)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphInputError(f"{path}: expected whole numbers ({exc})") from None


def read_sentigraph(raw: str | Path, prefix: str = NAME) -> List[Data]:
    r"""The sentences of a SentiGraph folder :obj:`raw` (see the module docstring) as graphs
    with :obj:`x` (float32), :obj:`edge_index` (reversed edges first, then the edges as
    read), :obj:`edge_attr` (:obj:`[E, 1]` ones), :obj:`y` (:obj:`[1]`) and :obj:`tokens`
    (the words, one per node), in file order.

    Raises:
        gsat.errors.DataMissingError: a file is absent.
        gsat.errors.GraphInputError: the files disagree (counts, node numbers, an edge
            joining two sentences) or one is unsafe or damaged.
    """
    from gsat.io.pickles import UnsafePickleError, load_array_pickle

    raw = Path(raw)
    paths = {p: raw / f"{prefix}_{p}" for p in PARTS}
    absent = [p.name for p in paths.values() if not p.is_file()]
    if absent:
        raise _missing(raw, f"missing {', '.join(absent)}")
    try:
        x = load_array_pickle(paths["node_features.pkl"],
                              hint="Use the Graph-SST2 files distributed with DIG")
    except UnsafePickleError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure of a damaged file
        raise GraphInputError(f"{paths['node_features.pkl']} cannot be read "
                              f"({type(exc).__name__}: {exc})") from None
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.dtype.kind not in "fiu":
        raise GraphInputError(f"{paths['node_features.pkl']}: expected a 2-D numeric NumPy "
                              f"array, got {type(x).__name__}")
    edges = _read_ints(paths["edge_index.txt"])
    if edges.size % 2:
        raise GraphInputError(f"{paths['edge_index.txt']}: expected two node numbers per line")
    edges = edges.reshape(-1, 2)
    indicator = _read_ints(paths["node_indicator.txt"]) - 1
    labels = _read_ints(paths["graph_labels.txt"])
    try:
        tokens = list(json.loads(paths["sentence_tokens.json"].read_text()).values())
    except (ValueError, AttributeError) as exc:
        raise GraphInputError(f"{paths['sentence_tokens.json']}: expected a JSON object of "
                              f"word lists ({exc})") from None
    num_nodes, num_graphs = len(indicator), len(labels)
    if x.shape[0] != num_nodes:
        raise GraphInputError(f"{raw}: {x.shape[0]} rows of node features but {num_nodes} "
                              "lines in the node indicator")
    if num_nodes and (indicator.min() < 0 or indicator.max() >= num_graphs
                      or np.any(np.diff(indicator) < 0)):
        raise GraphInputError(f"{paths['node_indicator.txt']}: sentence numbers must run "
                              f"from 1 to {num_graphs} (the labels' count) in order")
    if len(tokens) != num_graphs:
        raise GraphInputError(f"{raw}: {len(tokens)} sentences of words but {num_graphs} "
                              "labels")
    if edges.size and (edges.min() < 0 or edges.max() >= num_nodes):
        raise GraphInputError(f"{paths['edge_index.txt']}: node numbers must lie in "
                              f"0..{num_nodes - 1}")
    graph_of_node = torch.from_numpy(indicator)
    _, _, parts = split_edges_by_graph(
        torch.from_numpy(edges).t(), graph_of_node, num_graphs,
        GraphInputError(f"{paths['edge_index.txt']}: an edge joins two sentences"))
    nodes_per = torch.bincount(graph_of_node, minlength=num_graphs)
    feats = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).split(
        nodes_per.tolist())
    graphs: List[Data] = []
    for i in range(num_graphs):
        n = int(nodes_per[i])
        words = [str(t) for t in tokens[i]] if isinstance(tokens[i], list) else None
        if words is None or len(words) != n:
            raise GraphInputError(f"{paths['sentence_tokens.json']}: sentence {i} has "
                                  f"{'no word list' if words is None else len(words)} "
                                  f"{'' if words is None else 'words '}for its {n} nodes")
        e = parts[i]
        e = torch.cat([e.flip(0), e], 1)
        graphs.append(Data(x=feats[i], edge_index=e, edge_attr=torch.ones(e.size(1), 1),
                           y=torch.tensor([int(labels[i])]), tokens=words, num_nodes=n))
    return graphs


def degree_biased_split(graphs: List[Data]) -> Tuple[List[int], List[int], List[int]]:
    r"""Indices of the training, validation and test sentences of GSAT's degree-biased split
    (see the module docstring)."""
    train, test = [], []
    for i, g in enumerate(graphs):
        num_edges = g.edge_index.size(1)
        if num_edges <= MIN_EDGES:
            continue
        degree = float(num_edges) / g.num_nodes
        if degree >= TRAIN_MIN_DEGREE:
            train.append(i)
        elif degree <= TEST_MAX_DEGREE:
            test.append(i)
    n_valid = int(len(train) * VALID_FRACTION)
    return train[n_valid:], train[:n_valid], test


def load_graph_sst2(data_dir: str | Path = "data", seed: int = 0, **_: object
                    ) -> GraphDataset:
    r"""Graph-SST2 from ``<data_dir>/Graph-SST2/raw/`` with GSAT's degree-biased split (see the
    module docstring), cached under ``<data_dir>/Graph-SST2/processed/``.

    Args:
        data_dir (str or Path, optional): data root. (default: :obj:`"data"`)
        seed (int, optional): the run seed (unused: the split is fixed). (default: :obj:`0`)

    Raises:
        gsat.errors.DataMissingError: the files are absent (one line naming them, where to
            get them and where to put them).
    """
    root = Path(data_dir) / NAME
    raw = root / "raw"
    cache = root / "processed" / f"graphs_v{CACHE_VERSION}.pt"
    graphs = load_graphs(cache)
    if graphs is None:
        graphs = read_sentigraph(raw)
        save_graphs(graphs, cache)
    train, valid, test = degree_biased_split(graphs)
    counts: Dict[str, object] = {"num_read": len(graphs), "num_train": len(train),
                                 "num_valid": len(valid), "num_test": len(test)}
    log.info("Graph-SST2: %d sentences, degree-biased split %d / %d / %d", len(graphs),
             len(train), len(valid), len(test))
    return GraphDataset(name="graph_sst2", train=[graphs[i] for i in train],
                        valid=[graphs[i] for i in valid], test=[graphs[i] for i in test],
                        num_features=graphs[0].x.size(1), num_outputs=1, task="binary",
                        metric="acc", edge_dim=1, has_ground_truth=False,
                        config_name="graph_sst2", extra=counts)
