import json
from collections import Counter

import networkx as nx
import pytest
import torch
from torch_geometric.utils import coalesce, is_undirected

from gsat.benchmark.graphs import graph_key
from gsat.data import load_dataset
from gsat.data.spmotif import (BASES, CACHE_VERSION, CRANE_EDGES, LARGE_BASES,
                               RELEASED_HOUSE_EDGES, SMALL_BASES, VARIANTS, generate_spmotif,
                               generate_split, motif_structures)
from gsat.training.driver import RunSpec, run

#: undirected edges of cycle, house, crane
MOTIF_EDGES = [5, 6, 6]


def _graph(ei: torch.Tensor, nodes=None) -> nx.Graph:
    g = nx.Graph()
    if nodes is not None:
        g.add_nodes_from(nodes)
    g.add_edges_from(ei.t().tolist())
    return g


def _base_nodes(g) -> int:
    return int((g.node_label == 0).sum())


def _structure_matches_base(g) -> bool:
    """Does the base part of g have the shape its base_type claims (ignoring noise edges)?"""
    nb = _base_nodes(g)
    base = _graph(g.edge_index[:, (g.edge_index < nb).all(0)], range(nb))
    kind = BASES[int(g.base_type)]
    if kind == "wheel":  # hub 0 joined to every rim node, rim is a cycle
        return all(base.has_edge(0, v) for v in range(1, nb)) and \
            all(base.has_edge(v, v % (nb - 1) + 1) for v in range(1, nb))
    if kind == "ladder":  # two rails 0..w-1 and w..2w-1 with rungs (i, i + w)
        w = nb // 2
        return nb % 2 == 0 and all(base.has_edge(i, i + w) for i in range(w)) and \
            all(base.has_edge(i, i + 1) and base.has_edge(w + i, w + i + 1) for i in range(w - 1))
    # balanced tree with r children per node: node i's children are r*i + 1 .. r*i + r
    r = 2 if nb in (3, 7, 15, 31, 63) else 3
    return all(base.has_edge(i, r * i + c) for i in range(nb) for c in range(1, r + 1)
               if r * i + c < nb)


@pytest.mark.parametrize("variant", VARIANTS)
def test_motifs_are_the_three_distinct_shapes(variant):
    cyc, house, crane = (_graph(m.edge_index) for m in motif_structures(variant))
    assert nx.is_isomorphic(cyc, nx.cycle_graph(5))
    assert nx.is_isomorphic(house, nx.house_graph())
    assert nx.is_isomorphic(crane, nx.Graph(list(CRANE_EDGES)))
    assert nx.is_isomorphic(crane, nx.complete_bipartite_graph(2, 3))
    assert not nx.is_isomorphic(crane, house)


@pytest.mark.parametrize("variant", VARIANTS)
def test_split_sizes_balance_and_graph_format(variant):
    splits = generate_spmotif(0.7, seed=0, num_train=30, num_valid=9, num_test=10,
                              variant=variant)
    assert {k: len(v) for k, v in splits.items()} == {"train": 30, "valid": 9, "test": 10}
    assert Counter(int(g.y) for g in splits["train"]) == {0: 10, 1: 10, 2: 10}
    assert Counter(int(g.y) for g in splits["test"]) == {0: 4, 1: 3, 2: 3}
    for g in splits["train"] + splits["valid"] + splits["test"]:
        n, e = g.num_nodes, g.edge_index.size(1)
        assert g.x.shape == (n, 4) and g.x.dtype == torch.float32
        assert bool((g.x >= 0).all() and (g.x < 1).all()) and g.x.std() > 0.1
        assert g.edge_attr.shape == (e, 1) and bool((g.edge_attr == 1).all())
        assert int(g.edge_index.min()) >= 0 and int(g.edge_index.max()) < n
        assert bool((g.edge_index[0] != g.edge_index[1]).all())
        assert coalesce(g.edge_index, num_nodes=n).size(1) == e  # no duplicates
        if variant == "undirected":
            assert is_undirected(g.edge_index, num_nodes=n)
        else:  # every edge once, from the smaller id to the larger, as networkx lists it
            assert bool((g.edge_index[0] < g.edge_index[1]).all())
        assert _graph(g.edge_index, range(n)).number_of_nodes() == n
        assert nx.is_connected(_graph(g.edge_index, range(n)))
        assert _structure_matches_base(g), (BASES[int(g.base_type)], _base_nodes(g))


@pytest.mark.parametrize("variant", VARIANTS)
def test_ground_truth_is_exactly_the_motif(variant):
    copies = 2 if variant == "undirected" else 1  # directions stored per edge
    for g in generate_split(30, b=0.5, large=False, seed=4, variant=variant, training=True):
        label = int(g.y)
        motif = g.node_label.bool()
        assert int(motif.sum()) == 5 and bool(motif[-5:].all())  # motif nodes come last
        inside = motif[g.edge_index[0]] & motif[g.edge_index[1]]
        assert torch.equal(inside.long(), g.edge_label)
        assert int(g.edge_label.sum()) == copies * MOTIF_EDGES[label]
        gt = _graph(g.edge_index[:, g.edge_label.bool()])
        expected = _graph(motif_structures(variant)[label].edge_index)
        assert nx.is_isomorphic(gt, expected)
        # the motif hangs on the base by one edge, plus noise edges that touch base nodes
        across = (motif[g.edge_index[0]] != motif[g.edge_index[1]]).sum() // copies
        assert int(across) >= 1
        assert int(across) <= 1 + int(0.05 * g.edge_index.size(1) / copies)


@pytest.mark.parametrize("b", [0.5, 0.9])
def test_bias_is_realised(b):
    graphs = generate_split(600, b=b, large=False, seed=11)
    own = [int(g.base_type) == int(g.y) for g in graphs]
    # 600 draws: the standard error of the share is at most 0.021; allow ~3 of them
    assert abs(sum(own) / len(own) - b) < 0.06
    for c in range(3):
        others = Counter(int(g.base_type) for g in graphs if int(g.y) == c and
                         int(g.base_type) != c)
        assert set(others) <= {0, 1, 2} - {c}
        # the two other bases are about equally likely
        a, d = (others.get(k, 0) for k in sorted({0, 1, 2} - {c}))
        assert abs(a - d) <= 0.5 * max(a + d, 10)


def test_unbiased_splits_and_larger_test_bases():
    splits = generate_spmotif(0.9, seed=2, num_train=0, num_valid=300, num_test=90)
    own = sum(int(g.base_type) == int(g.y) for g in splits["valid"]) / 300
    assert abs(own - 1 / 3) < 0.09  # uniform bases, not the training bias 0.9
    small_max = {k: v[1] for k, v in SMALL_BASES.items()}
    for g in splits["valid"]:
        kind = BASES[int(g.base_type)]
        nb = _base_nodes(g)
        assert nb in {"tree": (15, 40), "ladder": tuple(range(16, 23, 2)),
                      "wheel": tuple(range(15, 20))}[kind]
    test_sizes = Counter()
    for g in splits["test"]:
        kind = BASES[int(g.base_type)]
        nb = _base_nodes(g)
        lo, hi = LARGE_BASES[kind]
        if kind == "ladder":
            assert 2 * lo <= nb <= 2 * hi and nb > 2 * small_max["ladder"]
        elif kind == "wheel":
            assert lo <= nb <= hi and nb > small_max["wheel"]
        else:
            assert nb in (15, 31, 63, 40, 121, 364)
        test_sizes[kind] += 1
    assert set(test_sizes) == set(BASES)
    assert sum(g.num_nodes for g in splits["test"]) / 90 > \
        2 * sum(g.num_nodes for g in splits["valid"]) / 300


def test_deterministic_per_seed():
    a = generate_spmotif(0.7, seed=5, num_train=9, num_valid=3, num_test=3)
    b = generate_spmotif(0.7, seed=5, num_train=9, num_valid=3, num_test=3)
    c = generate_spmotif(0.7, seed=6, num_train=9, num_valid=3, num_test=3)
    for k in a:
        for x, y in zip(a[k], b[k]):
            assert torch.equal(x.edge_index, y.edge_index) and torch.equal(x.x, y.x)
    assert any(not torch.equal(x.x, y.x) for x, y in zip(a["train"], c["train"]))


def test_registry_cache_and_metadata(tmp_path):
    ds = load_dataset("spmotif_0.9", tmp_path, seed=0, num_train=12, num_valid=6, num_test=6)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (12, 6, 6)
    assert (ds.task, ds.metric, ds.num_outputs, ds.num_features, ds.edge_dim) == \
        ("multiclass", "acc", 3, 4, 1)
    assert ds.config_name == "spmotif" and ds.has_ground_truth
    assert not ds.undirected and ds.extra["variant"] == "released"
    files = sorted(p.name for p in (tmp_path / "spmotif_0.9").iterdir())
    v = CACHE_VERSION
    assert files == [f"test_n6_s0_released_v{v}.pt", f"train_n12_s0_released_v{v}.pt",
                     f"valid_n6_s0_released_v{v}.pt"]
    again = load_dataset("spmotif_0.9", tmp_path, seed=1, num_train=12, num_valid=6, num_test=6)
    for x, y in zip(ds.train, again.train):  # read from the cache, same graphs
        assert torch.equal(x.edge_index, y.edge_index) and torch.equal(x.x, y.x)
        assert torch.equal(x.base_type, y.base_type)
    other = load_dataset("spmotif_0.5", tmp_path, num_train=12, num_valid=6, num_test=6)
    assert other.name == "spmotif_0.5"
    assert not all(torch.equal(x.x, y.x) for x, y in zip(ds.train, other.train))


def test_validation_and_test_graphs_are_served_in_a_fixed_random_order(tmp_path):
    gen = generate_spmotif(0.5, seed=0, num_train=12, num_valid=30, num_test=30)
    ds = load_dataset("spmotif_0.5", tmp_path, num_train=12, num_valid=30, num_test=30)
    again = load_dataset("spmotif_0.5", tmp_path, num_train=12, num_valid=30, num_test=30)

    def keys(graphs):
        return [graph_key(g) for g in graphs]
    # the training split keeps the generator's order; the others hold the same graphs in
    # another order, the same at every load
    assert keys(ds.train) == keys(gen["train"])
    for split in ("valid", "test"):
        served, made = keys(getattr(ds, split)), keys(gen[split])
        assert sorted(served) == sorted(made) and served != made
        assert served == keys(getattr(again, split))
        # the generator writes class by class: its first ten graphs are all of class 0,
        # the first ten served hold every class
        assert {int(g.y) for g in gen[split][:10]} == {0}
        assert {int(g.y) for g in getattr(ds, split)[:10]} == {0, 1, 2}
    assert keys(ds.valid) != keys(ds.test)


def test_training_smoke(tmp_path):
    res = run(RunSpec(dataset="spmotif_0.5", epochs=1, out=str(tmp_path / "r"),
                      data_dir=str(tmp_path / "data"), progress=False,
                      dataset_options={"num_train": 30, "num_valid": 9, "num_test": 9}))
    (r,) = res["runs"]
    assert res["metric_name"] == "acc" and 0.0 <= r["test_metric"] <= 1.0
    assert 0.0 <= r["test_interp_auc"] <= 1.0
    saved = json.loads((tmp_path / "r" / "results.json").read_text())
    assert saved["dataset"] == "spmotif_0.5"
    cfg = (tmp_path / "r" / "config.yml").read_text()
    assert "final_r: 0.7" in cfg and "lr: 0.003" in cfg


def _motif_degree_of_anchor(g) -> int:
    """Degree, inside the motif, of motif node 0, the node the generator joins to the base."""
    nb = _base_nodes(g)
    src, dst = g.edge_index
    assert bool(((src == nb) & (dst < nb)).any() | ((dst == nb) & (src < nb)).any())
    inside = (src >= nb) & (dst >= nb)
    pairs = {tuple(sorted(e)) for e in g.edge_index[:, inside].t().tolist()}
    return sum(nb in e for e in pairs)


def test_released_recipe_statistics():
    splits = generate_spmotif(1 / 3, seed=3, num_train=180, num_valid=60, num_test=0)
    for g in splits["train"] + splits["valid"]:
        pairs = set(map(tuple, g.edge_index.t().tolist()))
        assert all((v, u) not in pairs for u, v in pairs)  # each edge in one direction only
    # training: class-0 trees have depth 3 (15 or 40 nodes), classes 1-2 depth 0-2
    trees = {c: [_base_nodes(g) for g in splits["train"]
                 if int(g.y) == c and BASES[int(g.base_type)] == "tree"] for c in range(3)}
    assert all(len(v) >= 8 for v in trees.values()), trees
    assert set(trees[0]) <= {15, 40}
    assert set(trees[1] + trees[2]) <= {1, 3, 4, 7, 13}
    assert {1, 3, 4} & set(trees[1] + trees[2])  # depths below 2 occur as well
    mean = {c: sum(v) / len(v) for c, v in trees.items()}
    assert mean[0] > 1.5 * max(mean[1], mean[2])
    # validation: depth 3 for every class
    assert {_base_nodes(g) for g in splits["valid"]
            if BASES[int(g.base_type)] == "tree"} <= {15, 40}
    # the house hangs from its roof apex (degree 2 inside the motif)
    houses = [g for g in splits["train"] if int(g.y) == 1]
    assert {_motif_degree_of_anchor(g) for g in houses} == {2}
    apex = _graph(torch.tensor(RELEASED_HOUSE_EDGES).t())
    assert apex.degree(0) == 2 and sorted(apex.neighbors(0)) == [1, 4]


def test_undirected_variant_keeps_the_earlier_recipe():
    splits = generate_spmotif(1 / 3, seed=3, num_train=90, num_valid=0, num_test=0,
                              variant="undirected")
    train = splits["train"]
    assert all(is_undirected(g.edge_index, num_nodes=g.num_nodes) for g in train)
    assert {_base_nodes(g) for g in train if BASES[int(g.base_type)] == "tree"} <= {15, 40}
    # PyG's house is joined at a corner of the square (degree 3 inside the motif)
    assert {_motif_degree_of_anchor(g) for g in train if int(g.y) == 1} == {3}


def test_variant_option_is_validated_and_cached_separately(tmp_path):
    sizes = dict(num_train=6, num_valid=3, num_test=3)
    with pytest.raises(ValueError, match="choose one of: released, undirected"):
        load_dataset("spmotif_0.5", tmp_path, variant="directed", **sizes)
    with pytest.raises(ValueError, match="varient"):
        load_dataset("spmotif_0.5", tmp_path, varient="undirected", **sizes)
    # a cache file written by the earlier generator (no variant/version in its name) with
    # undirected graphs is not picked up by the released default
    old = generate_spmotif(0.5, num_train=6, num_valid=3, num_test=3, variant="undirected")
    from gsat.data.base import save_graphs
    for k, n in (("train", 6), ("valid", 3), ("test", 3)):
        save_graphs(old[k], tmp_path / "spmotif_0.5" / f"{k}_n{n}_s0.pt")
    rel = load_dataset("spmotif_0.5", tmp_path, **sizes)
    und = load_dataset("spmotif_0.5", tmp_path, variant="undirected", **sizes)
    assert not any(is_undirected(g.edge_index) for g in rel.train)
    assert all(is_undirected(g.edge_index) for g in und.train)
    assert (rel.undirected, und.undirected) == (False, True)
    assert und.extra["variant"] == "undirected"


def test_attention_symmetrised_only_for_the_undirected_variant(tmp_path):
    from pathlib import Path

    from gsat.core.config import load_config
    from gsat.training.build import build_model

    cfg = load_config(Path(__file__).resolve().parents[2] / "gsat" / "configs" / "GIN-spmotif.yml")
    sizes = dict(num_train=6, num_valid=3, num_test=3)
    for variant, expected in (("released", False), ("undirected", True)):
        ds = load_dataset("spmotif_0.7", tmp_path, variant=variant, **sizes)
        model = build_model(cfg, ds).eval()
        assert model.symmetrize is expected
        g = ds.train[0]
        edge_att = model(g).edge_att.view(-1)
        pairs = {tuple(e): i for i, e in enumerate(g.edge_index.t().tolist())}
        if variant == "undirected":  # (u, v) and (v, u) share their attention
            for (u, v), i in pairs.items():
                assert torch.isclose(edge_att[i], edge_att[pairs[(v, u)]])
        else:
            assert edge_att.numel() == g.edge_index.size(1)
