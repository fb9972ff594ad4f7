import torch
from torch_geometric.utils import is_undirected

from gsat.data import generate_ba_2motifs, load_dataset


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
