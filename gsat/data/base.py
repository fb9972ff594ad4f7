r"""What every dataset builder returns, and a safe on-disk cache for lists of graphs."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Literal, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.data import Data

from gsat.core.task import Task
from gsat.core.validation import check_graphs
from gsat.errors import ConfigError
from gsat.metrics.prediction import Evaluator

log = logging.getLogger(__name__)


@dataclass
class GraphDataset:
    r"""A dataset split into train / valid / test lists of graphs, plus the facts the trainer
    and model need about it (never the dataset's name).

    Args:
        name (str): registry name.
        train, valid, test (list of Data): the splits; graphs carry :obj:`x`,
            :obj:`edge_index`, :obj:`y` and, when ground truth exists, :obj:`edge_label`.
        num_features (int): node feature width.
        num_outputs (int): logits of the classifier (1 for binary).
        task (str or Task): :obj:`"binary"`, :obj:`"multiclass"`, :obj:`"multilabel"` or
            :obj:`"regression"`; stored as a :class:`~gsat.core.task.Task`.
        metric (str): :obj:`"acc"` or :obj:`"rocauc"`; :obj:`"rmse"` or :obj:`"mae"` for
            regression.
        edge_dim (int, optional): edge feature width, :obj:`None` without edge features.
        has_ground_truth (bool): graphs carry :obj:`edge_label`.
        undirected (bool): every edge comes with its reverse.
        node_names (list of str, optional): names for categorical node types (e.g. atoms),
            used by pictures; a graph's :obj:`node_type` indexes it.
        config_name (str): config stem, :obj:`gsat/configs/<BACKBONE>-<config_name>.yml`.
        interp_test (list of Data, optional): graphs used for interpretation scores if not
            the whole test split.
        evaluator (gsat.metrics.prediction.Evaluator, optional): scores the predictions of
            a whole split (:obj:`evaluator(logits, y) -> float`), e.g. OGB's own
            (:class:`~gsat.metrics.prediction.OGBEvaluator`); its task and metric must be
            those of the dataset. (default: the built-in :class:`Evaluator` of :obj:`task`
            and :obj:`metric`)

    Raises:
        gsat.errors.ConfigError: an unknown task or metric, or an :obj:`evaluator` of
            another task or metric.
    """

    name: str
    train: List[Data]
    valid: List[Data]
    test: List[Data]
    num_features: int
    num_outputs: int
    task: Task
    metric: Literal["acc", "rocauc", "rmse", "mae"]
    edge_dim: Optional[int] = None
    has_ground_truth: bool = True
    undirected: bool = True
    node_names: Optional[List[str]] = None
    config_name: str = ""
    interp_test: Optional[List[Data]] = None
    extra: Dict[str, object] = field(default_factory=dict)
    evaluator: Optional[Evaluator] = None

    def __post_init__(self) -> None:
        self.task = Task.parse(self.task, f"dataset {self.name}", ConfigError)
        if self.evaluator is None:
            self.evaluator = Evaluator(self.task, self.metric)
        elif (self.evaluator.task, self.evaluator.metric) != (self.task, self.metric):
            raise ConfigError(f"dataset {self.name}: its evaluator scores {self.evaluator.metric} "
                              f"of a {self.evaluator.task} task, the dataset declares "
                              f"{self.metric} of a {self.task} task")

    #: tells a graph dataset from a :class:`~gsat.data.node.base.NodeDataset` (:obj:`"node"`)
    level: ClassVar[str] = "graph"


#: per-graph attributes a cache keeps (besides the counts): tensors, and the words of a
#: sentence graph (:obj:`tokens`, a list of str); :obj:`sp_map` is a superpixel graph's
#: pixel-to-node map
_LIST_KEYS = ("x", "edge_index", "y", "edge_label", "edge_attr", "node_label", "node_type",
              "base_type", "sp_map", "tokens")


#: the key of a cache file holding its digest and the parameters it was made with
_CACHE_KEY = "cache"


def _params_text(params: Optional[Mapping[str, Any]]) -> str:
    return json.dumps(dict(params or {}), sort_keys=True, default=str)


def cache_digest(blob: Mapping[str, Any]) -> str:
    r"""SHA-256 of the graphs of a cache (every key but the digest itself, in sorted order,
    each tensor by its dtype, shape and bytes, a list of words by its text), so that any change of a value, e.g. a
    flipped label or an edited :obj:`edge_label`, changes the digest."""
    h = hashlib.sha256()
    for key in sorted(k for k in blob if k != _CACHE_KEY):
        value = blob[key]
        tensors = value if isinstance(value, list) else [value]
        h.update(f"{key}:{len(tensors)};".encode())
        for t in tensors:
            if isinstance(t, (list, tuple)) and all(isinstance(w, str) for w in t):
                h.update(f"words{json.dumps(list(t))};".encode())  # a sentence's tokens
                continue
            if not isinstance(t, torch.Tensor):
                raise ValueError(f"{key} holds a {type(t).__name__}, not a tensor")
            t = t.detach().cpu().contiguous()
            h.update(f"{t.dtype}{list(t.shape)};".encode())
            h.update(t.numpy().tobytes())
    return h.hexdigest()


def split_edges_by_graph(edge_index: Tensor, graph_of_node: Tensor, num_graphs: int,
                         mixed: Exception) -> Tuple[Tensor, List[int], Tuple[Tensor, ...]]:
    r"""Cut one edge list over the nodes of many graphs (numbered graph after graph, as in
    the TU format) into one :obj:`edge_index` per graph in that graph's own numbering.

    Returns:
        :obj:`(order, edges_per_graph, parts)`: the permutation that groups the edges by
        graph (for edge attributes), the number of edges of each graph and the per-graph
        edge indices.

    Raises:
        :obj:`mixed`: an edge joins nodes of two graphs.
    """
    graph_of_edge = graph_of_node[edge_index[0]]
    if not torch.equal(graph_of_edge, graph_of_node[edge_index[1]]):
        raise mixed
    nodes_per_graph = torch.bincount(graph_of_node, minlength=num_graphs)
    first_node = torch.cumsum(nodes_per_graph, 0) - nodes_per_graph
    order = torch.argsort(graph_of_edge, stable=True)
    counts = torch.bincount(graph_of_edge, minlength=num_graphs).tolist()
    parts = (edge_index[:, order] - first_node[graph_of_edge[order]]).split(counts, 1)
    return order, counts, parts


def save_graphs(graphs: Sequence[Data], path: Path,
                params: Optional[Mapping[str, Any]] = None) -> None:
    r"""Store graphs as plain tensors (loadable with :obj:`weights_only=True`), atomically
    (:func:`gsat.io.checkpoint.save_checkpoint`: on failure no temporary file is left behind),
    with the digest of its content (:func:`cache_digest`) and the parameters that made it
    (e.g. the generator's), which :func:`load_graphs` checks.

    Raises:
        gsat.errors.DiskWriteError: the cache could not be written (e.g. disk full).
    """
    keys = [k for k in _LIST_KEYS if getattr(graphs[0], k, None) is not None]
    blob: Dict[str, object] = {"num_nodes": torch.tensor([g.num_nodes for g in graphs]),
                               "num_edges": torch.tensor([g.edge_index.size(1) for g in graphs])}
    for k in keys:
        blob[k] = [getattr(g, k) for g in graphs]
    blob[_CACHE_KEY] = {"digest": cache_digest(blob), "params": _params_text(params)}
    from gsat.io.checkpoint import save_checkpoint

    save_checkpoint(blob, path)


def _cache_problem(blob: Mapping[str, Any], params: Optional[Mapping[str, Any]]
                   ) -> Optional[str]:
    """Why a cache read back cannot be used as it is, or :obj:`None`."""
    stamp = blob.get(_CACHE_KEY)
    if not isinstance(stamp, dict) or not isinstance(stamp.get("digest"), str):
        return "it has no digest (written by an older version)"
    if stamp["digest"] != cache_digest(blob):
        return "its content does not match its digest: it was changed after it was written"
    if params is not None and stamp.get("params") != _params_text(params):
        return (f"it was made with {stamp.get('params')}, not {_params_text(params)}")
    return None


def load_graphs(path: Path, params: Optional[Mapping[str, Any]] = None
                ) -> Optional[List[Data]]:
    r"""Read graphs written by :func:`save_graphs`; :obj:`None` (with a log line) if the file
    is missing, truncated or otherwise unreadable, if its content does not match the digest
    kept with it (tampered or damaged), or if it was made with other :obj:`params` than
    these (when given), so the caller rebuilds it. Temporary files of writers that were
    killed (``<name>.tmp<PID>`` of a process no longer running) are removed first."""
    from gsat.io.files import remove_stale_temporaries
    from gsat.io.checkpoint import validate_checkpoint

    remove_stale_temporaries(path.parent, only_dead=True)  # left by killed writers
    if not path.exists():
        return None
    try:
        blob = validate_checkpoint(torch.load(path, weights_only=True), "graphs", str(path))
        n = len(blob["num_nodes"])
        keys = [k for k in _LIST_KEYS if k in blob]
        graphs = []
        for i in range(n):
            g = Data(**{k: blob[k][i] for k in keys})
            g.num_nodes = int(blob["num_nodes"][i])
            if int(blob["num_edges"][i]) != g.edge_index.size(1):
                raise ValueError(f"graph {i} has {g.edge_index.size(1)} edges, the index "
                                 f"says {int(blob['num_edges'][i])}")
            graphs.append(g)
        check_graphs(graphs, str(path))
        problem = _cache_problem(blob, params)
    except Exception as exc:  # a corrupt cache must never stop the user: rebuild it
        log.warning("cache %s is unreadable (%s: %s); rebuilding it", path,
                    type(exc).__name__, exc)
        return None
    if problem is not None:
        log.warning("cache %s is not used: %s; rebuilding it", path, problem)
        return None
    return graphs


#: fractions of the train / valid / test splits of data without a split of its own
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def random_split(n: int, fractions: Sequence[float], seed: int) -> List[torch.Tensor]:
    r"""Random index split of :obj:`range(n)` by :obj:`fractions` (the last part takes the
    rest), reproducible for a :obj:`seed`."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    parts, start = [], 0
    for i, frac in enumerate(fractions):
        end = n if i == len(fractions) - 1 else start + int(round(frac * n))
        parts.append(perm[start:end])
        start = end
    return parts


#: the facts of a :class:`GraphDataset` a trained model needs, stored in a run folder
INFO_FIELDS = ("name", "num_features", "num_outputs", "task", "metric", "edge_dim",
               "has_ground_truth", "undirected", "node_names", "config_name")


def dataset_info(ds: GraphDataset) -> Dict[str, object]:
    r"""The metadata of :obj:`ds` (:data:`INFO_FIELDS`, plus the JSON-safe scalars and lists
    of :obj:`ds.extra`), written to ``dataset.json`` of a run folder so that
    :func:`gsat.load_run` can rebuild the model without the data."""
    info: Dict[str, object] = {k: getattr(ds, k) for k in INFO_FIELDS}
    info["extra"] = {k: v for k, v in ds.extra.items()
                     if isinstance(v, (str, int, float, bool, list)) or v is None}
    return info
