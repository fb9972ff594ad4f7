"""Node datasets read from files, offline: Planetoid and Twitch (refusals without network, and
small files in the published formats) and a user's own graph (pyg:PATH)."""
import io
import os
import pickle
import time
import urllib.error
import urllib.request
from collections import defaultdict

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from gsat.data import load_dataset
from gsat.data.node import real
from gsat.data.node.base import NUM_EXPLAIN, NodeDataset
from gsat.errors import DataMissingError, GraphInputError

sp = pytest.importorskip("scipy.sparse")  # Planetoid's published files hold SciPy matrices


@pytest.fixture(autouse=True)
def calls(monkeypatch):
    """Downloads fail at once (as on a machine without network); the calls are recorded."""
    seen = []

    def fail(url, *args, **kwargs):
        seen.append((url, kwargs))
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", fail)
    return seen


@pytest.mark.parametrize("name, files", [
    ("planetoid:Cora", ["ind.cora.x", "ind.cora.graph", "ind.cora.test.index"]),
    ("twitch:EN", ["EN.npz"]),
])
def test_offline_without_files_refuses_quickly(tmp_path, calls, name, files):
    root = tmp_path / "data"
    start = time.perf_counter()
    with pytest.raises(DataMissingError) as exc:
        load_dataset(name, root)
    assert time.perf_counter() - start < 5
    msg = str(exc.value)
    prefix, _, sub = name.partition(":")
    assert str(root / prefix / sub / "raw") in msg and "no network in tests" in msg
    assert all(f in msg for f in files) and "\n" not in msg
    assert calls and all(0 < kw["timeout"] <= real.DOWNLOAD_TIMEOUT for _, kw in calls)
    assert calls[0][0].startswith(("https://github.com/kimiyoung/planetoid",
                                   "https://graphmining.ai/"))
    assert not root.exists()  # nothing half-made left behind
    calls.clear()
    with pytest.raises(DataMissingError, match="download=False"):
        load_dataset(name, root, download=False)
    assert not calls  # no network touched


def _twitch_npz(path, n=40, obj=False):
    rng = np.random.default_rng(0)
    edges = [(i, (i + 1) % n) for i in range(n)] + [(i, i) for i in range(5)]
    features = rng.normal(size=(n, 4))
    np.savez(path, features=features.astype(object) if obj else features,
             target=np.arange(n) % 2, edges=np.array(edges))
    return path


def test_twitch_download_and_read(tmp_path, monkeypatch, calls):
    blob = io.BytesIO()
    _twitch_npz(blob)

    def serve(url, timeout=None, **_):
        calls.append((url, {"timeout": timeout}))
        return io.BytesIO(blob.getvalue())

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    ds = load_dataset("twitch:EN", tmp_path, seed=1, num_explain=3)
    assert calls == [("https://graphmining.ai/datasets/ptg/twitch/EN.npz",
                      {"timeout": real.DOWNLOAD_TIMEOUT})]
    assert (tmp_path / "twitch" / "EN" / "raw" / "EN.npz").is_file()
    assert not [p for p in (tmp_path / "twitch" / "EN" / "raw").iterdir() if ".tmp" in p.name]
    assert isinstance(ds, NodeDataset) and (ds.task, ds.num_outputs) == ("binary", 1)
    data = ds.data
    assert (ds.num_nodes, ds.num_edges, ds.num_features) == (40, 80, 4)  # no self-loops
    assert ds.undirected and not ds.has_ground_truth
    assert [int(data[m].sum()) for m in ("train_mask", "val_mask", "test_mask")] == [32, 4, 4]
    assert ds.explain_nodes.numel() == 3 and bool(data.test_mask[ds.explain_nodes].all())
    again = load_dataset("twitch:EN", tmp_path, seed=1, num_explain=3)
    assert len(calls) == 1  # read from the file
    assert torch.equal(again.explain_nodes, ds.explain_nodes)
    assert not torch.equal(load_dataset("twitch:EN", tmp_path, seed=2).data.test_mask,
                           data.test_mask)


def test_twitch_file_with_pickled_objects_is_refused(tmp_path):
    raw = tmp_path / "twitch" / "DE" / "raw"
    raw.mkdir(parents=True)
    _twitch_npz(raw / "DE.npz", obj=True)
    with pytest.raises(GraphInputError, match="not a Twitch file"):
        load_dataset("twitch:DE", tmp_path)


def _planetoid_files(raw, prefix="cora", n_train=3, n_other=502, n_test=2, classes=3):
    """Files in the published Planetoid layout (pickles of protocol 2, a text index)."""
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n_all = n_train + n_other
    onehot = np.eye(classes, dtype=np.int64)
    labels = rng.integers(0, classes, size=n_all + n_test)
    feats = sp.csr_matrix((rng.random((n_all + n_test, 4)) > 0.5).astype(np.float32))
    graph = defaultdict(list)
    for i in range(n_all + n_test):
        graph[i].append((i + 1) % (n_all + n_test))
        graph[(i + 1) % (n_all + n_test)].append(i)
    parts = {"x": feats[:n_train], "allx": feats[:n_all], "tx": feats[n_all:],
             "y": onehot[labels[:n_train]], "ally": onehot[labels[:n_all]],
             "ty": onehot[labels[n_all:]], "graph": graph}
    for part, obj in parts.items():
        (raw / f"ind.{prefix}.{part}").write_bytes(pickle.dumps(obj, protocol=2))
    (raw / f"ind.{prefix}.test.index").write_text(
        "\n".join(str(n_all + i) for i in range(n_test)) + "\n")
    return n_all + n_test


def test_planetoid_public_split_from_published_layout(tmp_path, calls):
    n = _planetoid_files(tmp_path / "planetoid" / "Cora" / "raw")
    ds = load_dataset("planetoid:Cora", tmp_path, num_explain=1)
    assert not calls
    assert (ds.num_nodes, ds.num_edges, ds.num_features, ds.num_outputs) == (n, 2 * n, 4, 3)
    assert [int(ds.data[m].sum()) for m in ("train_mask", "val_mask", "test_mask")] == [3, 500, 2]
    assert ds.task == "multiclass" and not ds.has_ground_truth and ds.name == "planetoid:Cora"
    assert ds.explain_nodes.numel() == 1 and bool(ds.data.test_mask[ds.explain_nodes].all())
    assert load_dataset("planetoid:Cora", tmp_path).explain_nodes.numel() == 2 < NUM_EXPLAIN


class _Touch:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_planetoid_file_that_would_run_code_is_refused(tmp_path):
    raw = tmp_path / "planetoid" / "Cora" / "raw"
    _planetoid_files(raw)
    marker = tmp_path / "ran"
    (raw / "ind.cora.graph").write_bytes(pickle.dumps(_Touch(marker), protocol=2))
    with pytest.raises(GraphInputError, match=r"refused to read .*ind\.cora\.graph.*system"):
        load_dataset("planetoid:Cora", tmp_path)
    assert not marker.exists()


def _node_graph(n=20, **changes):
    ring = [[i, (i + 1) % n] for i in range(n)]
    ei = torch.tensor(ring + [[v, u] for u, v in ring]).t()
    node_label = (torch.arange(n) >= n - 4).long()
    motif = node_label.bool()
    g = Data(x=torch.randn(n, 3), edge_index=ei, y=torch.arange(n) % 3,
             edge_label=(motif[ei[0]] & motif[ei[1]]).long(), node_label=node_label,
             train_mask=torch.arange(n) < 12,
             val_mask=(torch.arange(n) >= 12) & (torch.arange(n) < 15),
             test_mask=torch.arange(n) >= 15)
    for key, value in changes.items():
        if value is None:
            delattr(g, key)
        else:
            g[key] = value
    return g


def test_pyg_file_of_one_graph_is_a_node_task(tmp_path):
    torch.save(_node_graph(), tmp_path / "nodes.pt")
    ds = load_dataset(f"pyg:{tmp_path / 'nodes.pt'}")
    assert isinstance(ds, NodeDataset) and ds.level == "node" and ds.name == "pyg_nodes"
    assert (ds.task, ds.num_outputs, ds.has_ground_truth) == ("multiclass", 3, True)
    assert ds.explain_nodes.tolist() == [16, 17, 18, 19]  # test nodes with node_label
    torch.save(_node_graph(node_label=None), tmp_path / "edges.pt")
    by_edges = load_dataset(f"pyg:{tmp_path / 'edges.pt'}")
    assert by_edges.explain_nodes.tolist() == [16, 17, 18, 19]  # test nodes on a gt edge
    torch.save([_node_graph(y=torch.arange(20) % 2, edge_label=None)], tmp_path / "plain.pt")
    plain = load_dataset(f"pyg:{tmp_path / 'plain.pt'}")
    assert (plain.task, plain.num_outputs, plain.has_ground_truth) == ("binary", 1, False)
    assert plain.explain_nodes.tolist() == [15, 16, 17, 18, 19]  # a sample of the test nodes
    no_masks = _node_graph(train_mask=None, val_mask=None, test_mask=None, node_label=None)
    torch.save(no_masks, tmp_path / "nomask.pt")
    split = load_dataset(f"pyg:{tmp_path / 'nomask.pt'}", seed=3).data
    total = split.train_mask.long() + split.val_mask.long() + split.test_mask.long()
    assert torch.equal(total, torch.ones(20, dtype=torch.long))
    graphs = [_node_graph(y=torch.tensor([i % 2]), train_mask=None, val_mask=None,
                          test_mask=None, edge_label=None, node_label=None) for i in range(10)]
    torch.save(graphs, tmp_path / "graphs.pt")
    assert load_dataset(f"pyg:{tmp_path / 'graphs.pt'}").level == "graph"


@pytest.mark.parametrize("changes, match", [
    (dict(y=torch.zeros(7, dtype=torch.long)), r"y has shape \[7\]; a node task needs one"),
    (dict(val_mask=torch.arange(20) >= 14), "val_mask and test_mask overlap"),
    (dict(val_mask=torch.zeros(20, dtype=torch.bool)), "val_mask selects no node"),
    (dict(val_mask=None, test_mask=None), "has train_mask but no val_mask, test_mask"),
    (dict(train_mask=(torch.arange(20) < 12).long()), "train_mask must be a boolean"),
    (dict(edge_label=torch.ones(3)), r"edge_label must have one entry per edge \(40\)"),
    (dict(y=torch.arange(20) * 0.5), "whole class indices"),
    (dict(x=None), "no node features"),
])
def test_bad_pyg_node_files_are_one_clear_line(tmp_path, changes, match):
    torch.save(_node_graph(**changes), tmp_path / "bad.pt")
    with pytest.raises(GraphInputError, match=match) as exc:
        load_dataset(f"pyg:{tmp_path / 'bad.pt'}")
    assert str(exc.value).startswith(f"pyg:{tmp_path / 'bad.pt'}") and "\n" not in str(exc.value)
