import pytest
import torch
from torch_geometric.utils import is_undirected

from gsat.data import load_dataset
from gsat.data.ba_2motifs import generate_ba_2motifs


def test_generator_structure():
    graphs = generate_ba_2motifs(num_graphs=20, seed=3)
    assert len(graphs) == 20
    assert sorted(int(g.y) for g in graphs) == [0] * 10 + [1] * 10
    for g in graphs:
        assert g.num_nodes == 25 and g.x.shape == (25, 10) and bool((g.x == 0.1).all())
        assert is_undirected(g.edge_index)
        # BA base with one edge per new node: 19 edges; motif (house 6 / cycle 5) + 1 link
        motif_edges = 6 if int(g.y) == 0 else 5
        assert g.edge_index.size(1) == 2 * (19 + motif_edges + 1)
        assert int(g.edge_label.sum()) == 2 * motif_edges
        # ground-truth edges are exactly the edges among motif nodes
        motif_nodes = g.node_label.bool()
        inside = motif_nodes[g.edge_index[0]] & motif_nodes[g.edge_index[1]]
        assert torch.equal(inside.long(), g.edge_label)
        assert int(g.edge_index.max()) < 25 and int(g.edge_index.min()) >= 0


def test_generator_deterministic():
    a = generate_ba_2motifs(num_graphs=6, seed=1)
    b = generate_ba_2motifs(num_graphs=6, seed=1)
    c = generate_ba_2motifs(num_graphs=6, seed=2)
    assert all(torch.equal(x.edge_index, y.edge_index) for x, y in zip(a, b))
    assert not all(torch.equal(x.edge_index, y.edge_index) for x, y in zip(a, c))


def test_load_dataset_split_and_cache(tmp_path):
    ds = load_dataset("ba_2motifs", tmp_path, seed=0, num_graphs=40)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (32, 4, 4)
    assert ds.task == "binary" and ds.metric == "acc" and ds.num_outputs == 1
    cache = tmp_path / "ba_2motifs" / "graphs_n40.pt"
    assert cache.exists()
    again = load_dataset("ba_2motifs", tmp_path, seed=0, num_graphs=40)
    assert all(torch.equal(a.edge_index, b.edge_index) for a, b in zip(ds.test, again.test))
    other = load_dataset("ba_2motifs", tmp_path, seed=1, num_graphs=40)
    assert [g.edge_index.tolist() for g in other.test] != [g.edge_index.tolist() for g in ds.test]


def test_corrupt_cache_is_rebuilt(tmp_path, caplog):
    ds = load_dataset("ba_2motifs", tmp_path, seed=0, num_graphs=10)
    cache = tmp_path / "ba_2motifs" / "graphs_n10.pt"
    data = cache.read_bytes()
    cache.write_bytes(data[: len(data) // 2])
    again = load_dataset("ba_2motifs", tmp_path, seed=0, num_graphs=10)
    assert "rebuilding" in caplog.text
    assert all(torch.equal(a.edge_index, b.edge_index) for a, b in zip(ds.train, again.train))


def _write_released(path, num_graphs=10, protocol=2):
    """A small file in the released layout: 20-node path base + house (label 0) or 5-cycle
    (label 1) on nodes 20-24, joined by edge (0, 20); features 0.1, one-hot labels."""
    import pickle

    import numpy as np

    adj = np.zeros((num_graphs, 25, 25), dtype=np.float64)
    labels = np.zeros((num_graphs, 2), dtype=np.float64)
    house = [(20, 21), (21, 22), (22, 23), (23, 20), (20, 24), (21, 24)]
    cycle = [(20, 21), (21, 22), (22, 23), (23, 24), (24, 20)]
    for i in range(num_graphs):
        y = i % 2
        for u, v in [(k, k + 1) for k in range(19)] + [(i % 20, 20)] + (house if y == 0 else cycle):
            adj[i, u, v] = adj[i, v, u] = 1
        labels[i, y] = 1
    feat = np.full((num_graphs, 25, 10), 0.1, dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump((adj, feat, labels), f, protocol=protocol)
    return adj, labels


@pytest.mark.parametrize("protocol", [2, 5])
def test_released_file_is_read_and_split_like_gsat(tmp_path, protocol):
    import numpy as np

    from gsat.data.ba_2motifs import RELEASED_FILE, released_split

    adj, labels = _write_released(tmp_path / RELEASED_FILE, num_graphs=20, protocol=protocol)
    ds = load_dataset("ba_2motifs", tmp_path, seed=3)
    assert ds.extra["source"] == "released"
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (16, 2, 2)
    # GSAT: np.random.seed(seed); np.random.shuffle(arange(n)); 80 % / 10 % / rest
    rs = np.random.RandomState(3)
    idx = np.arange(20)
    rs.shuffle(idx)
    assert [list(p) for p in released_split(20, 3)] == [list(idx[:16]), list(idx[16:18]),
                                                         list(idx[18:])]
    by_index = {int(i): g for i, g in zip(idx, ds.train + ds.valid + ds.test)}
    for i, g in by_index.items():
        assert int(g.y) == int(labels[i].argmax())
        assert g.x.shape == (25, 10) and torch.allclose(g.x, torch.full((25, 10), 0.1))
        assert g.edge_index.size(1) == int(adj[i].sum())  # both directions of every edge
        assert is_undirected(g.edge_index)
        inside = (g.edge_index >= 20).all(0)
        assert torch.equal(inside.long(), g.edge_label)
        assert int(g.edge_label.sum()) == 2 * (6 if int(g.y) == 0 else 5)
        assert torch.equal(g.node_label, (torch.arange(25) >= 20).long())
    # the generator is still there when asked for, and the default without the file
    gen = load_dataset("ba_2motifs", tmp_path, num_graphs=20, source="generated")
    assert gen.extra["source"] == "generated"
    assert load_dataset("ba_2motifs", tmp_path / "empty", num_graphs=20).extra["source"] == \
        "generated"


def test_released_source_needs_the_file_and_refuses_foreign_pickles(tmp_path):
    import os
    import pickle

    from gsat.data.ba_2motifs import RELEASED_FILE

    with pytest.raises(ValueError, match="BA_2Motifs.pkl"):
        load_dataset("ba_2motifs", tmp_path, source="released")
    with pytest.raises(ValueError, match="choose one of: auto, released, generated"):
        load_dataset("ba_2motifs", tmp_path, source="pgexplainer")

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    path = tmp_path / RELEASED_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps((Evil(),)))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load the global"):
        load_dataset("ba_2motifs", tmp_path)
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")
    path.write_bytes(pickle.dumps([1, 2, 3]))  # builtins only, but not the layout
    with pytest.raises(ValueError, match="tuple"):
        load_dataset("ba_2motifs", tmp_path)


def _joining_motif_nodes(g):
    """The motif node (0..4, in motif numbering) at the motif end of the joining edge."""
    motif = g.node_label.bool()
    src, dst = g.edge_index
    join = motif[dst] & ~motif[src]
    return sorted({int(v) - 20 for v in dst[join]})


def test_attach_first_joins_motif_node_zero_as_the_released_recipe():
    first = generate_ba_2motifs(num_graphs=40, seed=0, attach="first")
    assert all(_joining_motif_nodes(g) == [0] for g in first)
    for g in first:  # the structure of test_generator_structure holds as well
        motif_edges = 6 if int(g.y) == 0 else 5
        assert g.edge_index.size(1) == 2 * (19 + motif_edges + 1) and is_undirected(g.edge_index)
        motif = g.node_label.bool()
        inside = motif[g.edge_index[0]] & motif[g.edge_index[1]]
        assert torch.equal(inside.long(), g.edge_label)
        # the house's node 0 is a square corner next to the roof (degree 3 in the motif)
        if int(g.y) == 0:
            deg = torch.bincount(g.edge_index[0][inside], minlength=25)
            assert int(deg[20]) == 3
    # the default joins a random motif node
    joined = {v for g in generate_ba_2motifs(num_graphs=40, seed=0) for v in _joining_motif_nodes(g)}
    assert len(joined) > 1


def test_attach_option_of_the_dataset(tmp_path):
    ds = load_dataset("ba_2motifs", tmp_path, seed=0, num_graphs=20, attach="first",
                      source="generated")
    assert ds.extra == {"source": "generated", "attach": "first",
                        "class_names": ["house", "cycle"]}
    assert all(_joining_motif_nodes(g) == [0] for g in ds.train + ds.valid + ds.test)
    assert (tmp_path / "ba_2motifs" / "graphs_n20_first.pt").exists()
    with pytest.raises(ValueError, match="unknown attach 'middle'; choose one of: random, first"):
        load_dataset("ba_2motifs", tmp_path, num_graphs=20, attach="middle")
