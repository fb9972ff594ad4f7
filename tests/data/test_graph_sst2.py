"""Graph-SST2: DIG's SentiGraph files read as GSAT reads them, the degree-biased split, the
message when the files are absent, and ``gsat explain`` drawing sentences as words."""
import json
import os
import pickle

import numpy as np
import pytest
import torch

from gsat.app.cli import main
from gsat.data import load_dataset
from gsat.data.graph_sst2 import degree_biased_split, read_sentigraph, required_files
from gsat.errors import DataMissingError
from gsat.io.pickles import UnsafePickleError

WIDTH = 6


def _sentence(kind, n, rng):
    """Edges (one direction) of a sentence of n words: a path (a tree, average degree
    2 (n - 1) / n over both directions), plus closing edges for "dense" sentences."""
    edges = [(i, i + 1) for i in range(n - 1)]
    if kind == "dense":
        edges += [(0, n - 1), (0, n - 2)]
    return [edges[i] for i in rng.permutation(len(edges))]


#: kinds of the sentences in file order: "dense" has degree >= 2 (training part), "path4"
#: 1.5 (test part), "path6" 1.67 (neither) and "tiny" at most 2 directed edges (left out)
KINDS = ["dense"] * 12 + ["path4"] * 3 + ["path6", "tiny"]
SIZES = {"dense": 5, "path4": 4, "path6": 6, "tiny": 2}


def write_sentigraph(raw, kinds=KINDS, protocol=4):
    """A small folder in DIG's SentiGraph layout (see gsat.data.graph_sst2)."""
    rng = np.random.default_rng(0)
    raw.mkdir(parents=True, exist_ok=True)
    edges, indicator, labels, tokens, start = [], [], [], {}, 0
    for i, kind in enumerate(kinds):
        n = SIZES[kind]
        edges += [(start + u, start + v) for u, v in _sentence(kind, n, rng)]
        indicator += [i + 1] * n
        labels.append(i % 2)
        tokens[str(i)] = [f"w{i}_{k}" for k in range(n)]
        start += n
    x = rng.random((start, WIDTH)).astype(np.float32)
    with open(raw / "Graph-SST2_node_features.pkl", "wb") as f:
        pickle.dump(x, f, protocol=protocol)
    (raw / "Graph-SST2_edge_index.txt").write_text("".join(f"{u} {v}\n" for u, v in edges))
    (raw / "Graph-SST2_node_indicator.txt").write_text("".join(f"{g}\n" for g in indicator))
    (raw / "Graph-SST2_graph_labels.txt").write_text("".join(f"{y}\n" for y in labels))
    (raw / "Graph-SST2_sentence_tokens.json").write_text(json.dumps(tokens))
    return x, edges, labels, tokens


def test_files_are_read_as_gsat_reads_them(tmp_path):
    raw = tmp_path / "Graph-SST2" / "raw"
    x, edges, labels, tokens = write_sentigraph(raw)
    graphs = read_sentigraph(raw)
    assert len(graphs) == len(KINDS)
    start = 0
    for i, g in enumerate(graphs):
        n = SIZES[KINDS[i]]
        own = torch.tensor([(u - start, v - start) for u, v in edges
                            if start <= u < start + n]).t()
        # reversed edges first, then the edges as read (GSAT's undirected_graph)
        assert torch.equal(g.edge_index, torch.cat([own.flip(0), own], 1))
        assert torch.equal(g.x, torch.from_numpy(x[start:start + n]))
        assert torch.equal(g.edge_attr, torch.ones(2 * own.size(1), 1))
        assert int(g.y) == labels[i] and g.tokens == tokens[str(i)]
        start += n


def test_degree_biased_split_and_dataset(tmp_path):
    write_sentigraph(tmp_path / "Graph-SST2" / "raw")
    ds = load_dataset("graph_sst2", tmp_path)
    train_part = [i for i, k in enumerate(KINDS) if k == "dense"]  # degree 2.0 >= 1.768
    test_part = [i for i, k in enumerate(KINDS) if k == "path4"]  # degree 1.5 <= 1.571
    # the first tenth of the training part (file order) validates
    assert degree_biased_split(read_sentigraph(tmp_path / "Graph-SST2" / "raw")) == \
        (train_part[1:], train_part[:1], test_part)
    assert [g.tokens[0] for g in ds.train] == [f"w{i}_0" for i in train_part[1:]]
    assert [g.tokens[0] for g in ds.valid] == ["w0_0"]
    assert [g.tokens[0] for g in ds.test] == [f"w{i}_0" for i in test_part]
    assert (ds.task, ds.metric, ds.num_outputs, ds.num_features, ds.edge_dim) == \
        ("binary", "acc", 1, WIDTH, 1)
    assert not ds.has_ground_truth and ds.config_name == "graph_sst2"
    # the cache keeps the words
    assert (tmp_path / "Graph-SST2" / "processed" / "graphs_v1.pt").is_file()
    again = load_dataset("graph_sst2", tmp_path, seed=5)  # the split does not use the seed
    assert [g.tokens for g in again.test] == [g.tokens for g in ds.test]


def test_absent_files_one_line_and_unsafe_features_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as cli:
        main(["train", "--dataset", "graph_sst2", "--data-dir", str(tmp_path / "d"),
              "--out", str(tmp_path / "run"), "--no-progress"])
    assert cli.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Graph-SST2.zip" in err
    assert str(tmp_path / "d" / "Graph-SST2" / "raw") in err
    assert all(name in err for name in required_files())

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    raw = tmp_path / "e" / "Graph-SST2" / "raw"
    write_sentigraph(raw)
    (raw / "Graph-SST2_node_features.pkl").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(UnsafePickleError, match="refusing to load the global"):
        load_dataset("graph_sst2", tmp_path / "e")
    assert not os.path.exists("pwned")
    (raw / "Graph-SST2_graph_labels.txt").unlink()
    with pytest.raises(DataMissingError, match="missing Graph-SST2_graph_labels.txt"):
        load_dataset("graph_sst2", tmp_path / "e")


def test_gsat_explain_draws_the_sentence_as_words(tmp_path):
    from gsat.app.inference import explain_file
    from gsat.training.driver import RunSpec, run

    write_sentigraph(tmp_path / "data" / "Graph-SST2" / "raw")
    run(RunSpec(dataset="graph_sst2", epochs=1, out=str(tmp_path / "run"),
                data_dir=str(tmp_path / "data"), progress=False))
    assert (tmp_path / "run" / "seed0" / "explanations" / "graph_000.png").is_file()
    ds = load_dataset("graph_sst2", tmp_path / "data")
    torch.save(ds.test[:2], tmp_path / "sentences.pt")
    summary = explain_file(tmp_path / "run", tmp_path / "sentences.pt", tmp_path / "out",
                           progress=False)
    assert summary["explained"] == 2
    lines = [json.loads(line) for line in (tmp_path / "out" / "explanations.jsonl").open()]
    for rec, g in zip(lines, ds.test[:2]):
        assert [t["token"] for t in rec["tokens"]] == g.tokens
        # a word's attention is the largest attention of its edges
        for k, t in enumerate(rec["tokens"]):
            mine = [e["attention"] for e in rec["edges"] if k in (e["source"], e["target"])]
            assert t["attention"] == pytest.approx(max(mine))
        assert (tmp_path / "out" / rec["picture"]).stat().st_size > 3000


@pytest.mark.parametrize("stem,backbone,expected", [
    # src/configs/{GIN,PNA}-mnist.yml and -Graph-SST2.yml of Graph-COM/GSAT
    ("mnist_75sp", "GIN", (False, 256, 200, 1e-3, 0.0, 30, 0.7, 64, 2)),
    ("mnist_75sp", "PNA", (False, 256, 200, 1e-3, 3e-6, 30, 0.7, 80, 4)),
    ("graph_sst2", "GIN", (True, 128, 100, 1e-3, 0.0, 10, 0.7, 64, 2)),
    ("graph_sst2", "PNA", (True, 128, 200, 3e-3, 3e-6, 20, 0.7, 80, 4)),
])
def test_shipped_configs_follow_the_released_ones(stem, backbone, expected):
    from gsat.core.config import default_config_path, load_config

    c = load_config(default_config_path(backbone, stem))
    assert (c.extractor.learn_edge_att, c.train.batch_size, c.train.epochs, c.train.lr,
            c.train.weight_decay, c.gsat.decay_interval, c.gsat.final_r, c.model.hidden_size,
            c.model.n_layers) == expected
    assert (c.gsat.init_r, c.gsat.decay_r, c.model.dropout_p, c.extractor.dropout_p) == \
        (0.9, 0.1, 0.3, 0.5)
    if backbone == "PNA":
        assert c.model.aggregators == ["mean", "min", "max", "std", "sum"]
        assert not c.model.scalers
