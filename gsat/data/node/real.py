r"""Real node classification datasets, without ground-truth explanations, read from the files
PyG publishes them as (and downloaded from PyG's addresses when missing):

* **Planetoid** ``planetoid:Cora``, ``planetoid:CiteSeer``, ``planetoid:PubMed`` (Yang, Cohen
  & Salakhutdinov, ICML 2016): citation graphs, bag-of-words features as published (not
  normalised), the public split (20 training nodes per class, 500 validation, 1000 test).
  Files: ``<data_dir>/planetoid/<Name>/raw/ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}``,
  the layout of :class:`torch_geometric.datasets.Planetoid` with
  :obj:`root="<data_dir>/planetoid"`; they are Python pickles, read by PyG's
  :func:`~torch_geometric.io.read_planetoid_data` only after a scan of their opcodes
  (which runs nothing) shows that they build nothing but NumPy arrays, SciPy CSR matrices,
  lists and a :class:`collections.defaultdict` (:data:`PLANETOID_GLOBALS`).
* **Twitch** ``twitch:DE``, ``twitch:EN``, ... (Rozemberczki, Allen & Sarkar, *Multi-scale
  Attributed Node Embedding*, Journal of Complex Networks 2021): whether a streamer uses
  explicit language, a binary task on a graph of mutual follows, with a random 80/10/10 node
  split by the seed. File: ``<data_dir>/twitch/<NAME>/raw/<NAME>.npz`` (the layout of
  :class:`torch_geometric.datasets.Twitch` with :obj:`root="<data_dir>/twitch"`), read with
  :obj:`numpy.load(allow_pickle=False)`; self-loops are dropped and the graph made undirected.

Downloads time out after :data:`DOWNLOAD_TIMEOUT` seconds per network operation, so nothing
hangs without network; a dataset that is missing and cannot be downloaded (or with
:obj:`download=False`) raises :class:`gsat.errors.DataMissingError` naming the files, the
folder and the address. Nothing is cached beyond the raw files: reading them takes about a
second at most.

Without ground truth, the explained nodes are :obj:`num_explain` test nodes (default 100)
drawn with a generator seeded by the split seed (:func:`~gsat.data.node.base.sample_nodes`).
"""
from __future__ import annotations

import os
import pickletools
import shutil
import urllib.request
from pathlib import Path
from typing import List, Sequence

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from gsat.data.node.base import NUM_EXPLAIN, NodeDataset, sample_nodes, split_masks
from gsat.errors import DataMissingError, GraphInputError

#: seconds a network operation of a download may stall before it counts as failed
DOWNLOAD_TIMEOUT = 30.0
#: the Planetoid datasets, as PyG names them
PLANETOID_NAMES = ("Cora", "CiteSeer", "PubMed")
#: the Twitch datasets (the language of the streamers)
TWITCH_NAMES = ("DE", "EN", "ES", "FR", "PT", "RU")
#: the parts of a Planetoid dataset, files ``ind.<name>.<part>``
PLANETOID_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
#: the only objects a Planetoid pickle may build (module, name), as its opcodes spell them
PLANETOID_GLOBALS = frozenset(
    {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "defaultdict"),
     ("__builtin__", "list"), ("builtins", "list"),
     ("_codecs", "encode")}  # text to bytes: how Python 3 writes array bytes in protocol 2
    | {(f"numpy.{core}.multiarray", "_reconstruct") for core in ("core", "_core")}
    | {(f"scipy.sparse.{m}", "csr_matrix") for m in ("csr", "_csr")})


def fetch(urls: Sequence[str], folder: Path) -> None:
    r"""Download each of :obj:`urls` into :obj:`folder` (named by the address's last part),
    with :data:`DOWNLOAD_TIMEOUT` seconds per network operation; each file appears whole or
    not at all.

    Raises:
        OSError: a download failed (:class:`urllib.error.URLError` and the like).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for url in urls:
        target = folder / url.rpartition("/")[2]
        tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp, \
                    open(tmp, "wb") as f:
                shutil.copyfileobj(resp, f, length=2 ** 20)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


def _obtain(what: str, raw: Path, files: List[str], base_url: str, pyg_call: str,
            download: bool) -> None:
    """Download the missing :obj:`files` of :obj:`what` into :obj:`raw` from :obj:`base_url`,
    or raise a :class:`DataMissingError` saying what to put where (:obj:`pyg_call` makes the
    folder with PyG). Folders made for a failed download are removed again."""
    missing = [f for f in files if not (raw / f).is_file()]
    if not missing:
        return
    folder = raw.parent
    hint = (f"put {', '.join(files)} (from {base_url}/) into {raw}, or run {pyg_call} on a "
            f"machine with network and copy the folder {folder} it makes")
    if not download:
        raise DataMissingError(f"{what} is not in {raw} (missing {', '.join(missing)}; "
                               f"download=False): {hint}")
    created = None  # the outermost folder the download makes
    for parent in (raw, *raw.parents):
        if parent.exists():
            break
        created = parent
    try:
        fetch([f"{base_url}/{f}" for f in missing], raw)
    except (OSError, ValueError) as exc:  # URLError, timeouts, HTTP errors, bad addresses
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise DataMissingError(f"{what} is not in {raw} and could not be downloaded "
                               f"({reason}): {hint}") from None


def pickle_globals(path: Path) -> List[tuple]:
    r"""The (module, name) pairs the pickle in :obj:`path` refers to, read with
    :func:`pickletools.genops`, which executes nothing.

    Raises:
        gsat.errors.GraphInputError: the file is not a readable pickle.
    """
    found, strings = [], []
    try:
        for op, arg, _ in pickletools.genops(path.read_bytes()):
            if op.name in ("GLOBAL", "INST"):
                found.append(tuple(str(arg).split(" ", 1)))
            elif op.name == "STACK_GLOBAL":
                found.append(tuple(strings[-2:]) if len(strings) >= 2 else ("?", "?"))
            elif op.name in ("EXT1", "EXT2", "EXT4", "OBJ"):
                found.append(("?", op.name))
            if isinstance(arg, str):
                strings.append(arg)
    except Exception as exc:  # noqa: BLE001 - any decoding failure of a damaged file
        raise GraphInputError(f"{path} is not a readable pickle ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:100]})") from None
    return found


def _check_planetoid_files(raw: Path, files: List[str]) -> None:
    for f in files:
        if f.endswith("test.index"):  # plain text
            continue
        foreign = [g for g in pickle_globals(raw / f) if g not in PLANETOID_GLOBALS]
        if foreign:
            names = ", ".join(".".join(g) for g in foreign[:3])
            raise GraphInputError(f"refused to read {raw / f}: it would build {names}, not "
                                  "only arrays, sparse matrices and lists as the published "
                                  "Planetoid files; replace it with the published file. "
                                  "Nothing in it was executed")


def load_planetoid(name: str = "Cora", data_dir: str | Path = "data", seed: int = 0,
                   download: bool = True, num_explain: int = NUM_EXPLAIN,
                   **_: object) -> NodeDataset:
    r"""A Planetoid citation graph with its public split (see the module docstring).

    Args:
        name (str): :obj:`"Cora"`, :obj:`"CiteSeer"` or :obj:`"PubMed"`.
        data_dir (str or Path, optional): data root. (default: :obj:`"data"`)
        seed (int, optional): seed of the sample of explained test nodes (the split is the
            public one). (default: :obj:`0`)
        download (bool, optional): fetch missing files. (default: :obj:`True`)
        num_explain (int, optional): test nodes to explain. (default: :obj:`100`)

    Raises:
        gsat.errors.DataMissingError: files missing and not downloadable.
        gsat.errors.GraphInputError: a file holds more than the published data.
    """
    from torch_geometric.datasets import Planetoid
    from torch_geometric.io import read_planetoid_data

    if name not in PLANETOID_NAMES:
        raise ValueError(f"unknown Planetoid dataset {name!r}; choose one of: "
                         f"{', '.join(PLANETOID_NAMES)}")
    raw = Path(data_dir) / "planetoid" / name / "raw"
    files = [f"ind.{name.lower()}.{part}" for part in PLANETOID_PARTS]
    root = raw.parent.parent
    _obtain(f"Planetoid {name}", raw, files, Planetoid.url,
            f"torch_geometric.datasets.Planetoid(root='{root}', name='{name}')", download)
    _check_planetoid_files(raw, files)
    data = read_planetoid_data(str(raw), name)
    graph = Data(x=data.x.float(), edge_index=coalesce(data.edge_index, num_nodes=data.num_nodes),
                 y=data.y.long(), train_mask=data.train_mask, val_mask=data.val_mask,
                 test_mask=data.test_mask, num_nodes=data.num_nodes)
    num_classes = int(graph.y.max()) + 1
    return NodeDataset(
        name=f"planetoid:{name}", data=graph, num_features=graph.x.size(1),
        num_outputs=num_classes, task="multiclass", metric="acc",
        explain_nodes=sample_nodes(graph.test_mask, num_explain, seed),
        has_ground_truth=False, undirected=True, config_name="planetoid",
        extra={"source": str(raw), "split": "public", "num_classes": num_classes})


def read_twitch(path: Path) -> Data:
    r"""The graph of a Twitch ``.npz`` file (arrays :obj:`features`, :obj:`target`,
    :obj:`edges`), read without unpickling; self-loops dropped, edges made undirected.

    Raises:
        gsat.errors.GraphInputError: the file is damaged or lacks an array.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            x, y, edges = (np.asarray(z[k]) for k in ("features", "target", "edges"))
    except (KeyError, ValueError, OSError) as exc:
        raise GraphInputError(f"{path} is not a Twitch file with the arrays features, "
                              f"target and edges ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:100]})") from None
    n = x.shape[0]
    edge_index = torch.from_numpy(edges.astype(np.int64)).t().reshape(2, -1)
    edge_index = to_undirected(remove_self_loops(edge_index)[0], num_nodes=n)
    return Data(x=torch.from_numpy(x).float(), edge_index=edge_index,
                y=torch.from_numpy(y.astype(np.int64)).view(-1), num_nodes=n)


def load_twitch(name: str = "EN", data_dir: str | Path = "data", seed: int = 0,
                download: bool = True, num_explain: int = NUM_EXPLAIN,
                **_: object) -> NodeDataset:
    r"""A Twitch graph (see the module docstring), binary, with a random 80/10/10 node split.

    Args:
        name (str): :obj:`"DE"`, :obj:`"EN"`, :obj:`"ES"`, :obj:`"FR"`, :obj:`"PT"` or
            :obj:`"RU"`.
        data_dir (str or Path, optional): data root. (default: :obj:`"data"`)
        seed (int, optional): seed of the split and of the sample of explained test nodes.
            (default: :obj:`0`)
        download (bool, optional): fetch the file when missing. (default: :obj:`True`)
        num_explain (int, optional): test nodes to explain. (default: :obj:`100`)

    Raises:
        gsat.errors.DataMissingError: the file is missing and not downloadable.
        gsat.errors.GraphInputError: the file is damaged.
    """
    from torch_geometric.datasets import Twitch

    if name not in TWITCH_NAMES:
        raise ValueError(f"unknown Twitch dataset {name!r}; choose one of: "
                         f"{', '.join(TWITCH_NAMES)}")
    raw = Path(data_dir) / "twitch" / name / "raw"
    _obtain(f"Twitch {name}", raw, [f"{name}.npz"], Twitch.url,
            f"torch_geometric.datasets.Twitch(root='{raw.parent.parent}', name='{name}')",
            download)
    graph = read_twitch(raw / f"{name}.npz")
    graph.update(split_masks(graph.num_nodes, seed))
    return NodeDataset(
        name=f"twitch:{name}", data=graph, num_features=graph.x.size(1), num_outputs=1,
        task="binary", metric="acc",
        explain_nodes=sample_nodes(graph.test_mask, num_explain, seed),
        has_ground_truth=False, undirected=True, config_name="twitch",
        extra={"source": str(raw), "split": "random 80/10/10"})
