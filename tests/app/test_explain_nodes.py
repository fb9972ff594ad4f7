"""Node classification through the command line: train on BA-Shapes in both designs, then
`gsat explain RUN --node V` writes the node's explanation; bad nodes and mismatched runs are
one line and exit code 2."""
import json

import pytest
import torch
import yaml

from gsat.app.cli import main
from gsat.core.config import configs_dir

#: BA-Shapes with 80 base nodes and 20 houses (nodes 80-179) keeps the tests short
SMALL = ["--dataset-option", "base_nodes=80", "--dataset-option", "num_motifs=20"]
HOUSE, BASE = 82, 10


def _train(tmp_path, readout, epochs=3):
    cfg = yaml.safe_load((configs_dir() / "GIN-ba_shapes.yml").read_text())
    cfg["model"]["readout"] = readout
    cfg["model"]["n_layers"] = 2
    cfg["train"]["epochs"] = epochs
    cfg["train"]["num_viz"] = 2
    path = tmp_path / f"{readout}.yml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / f"run-{readout}"
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "ba_shapes", "--config", str(path), "--out", str(out),
              "--data-dir", str(tmp_path / "data"), "--no-progress", *SMALL])
    assert exc.value.code == 0
    return out


@pytest.mark.parametrize("readout", ["node", "center"])
def test_train_then_explain_a_node(tmp_path, readout, capsys, monkeypatch):
    import gsat.viz

    out = _train(tmp_path, readout)
    titles = []
    draw = gsat.viz.draw_explanation
    monkeypatch.setattr(gsat.viz, "draw_explanation",
                        lambda *a, **kw: titles.append(kw["title"]) or draw(*a, **kw))
    res = json.loads((out / "results.json").read_text())
    (r,) = res["runs"]
    assert 0.0 <= r["test_interp_auc"] <= 1.0 and 0.0 <= r["test_metric"] <= 1.0
    pictures = sorted((out / "seed0" / "explanations").glob("node_*.png"))
    assert len(pictures) == 2
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(out), "--node", str(HOUSE), str(BASE)])
    assert exc.value.code == 0
    rec = json.loads((out / "explain-nodes" / f"node_{HOUSE}.json").read_text())
    assert rec["node"] == HOUSE and rec["label"] > 0 and rec["num_hops"] == 2
    # titles name the predicted and the true class of BA-Shapes
    names = ["base", "house middle", "house floor", "house roof"]
    assert titles[0].startswith(f"ba_shapes node {HOUSE}: predicted {names[rec['prediction']]}"
                                f", P = {rec['probability']:.2f}; true: "
                                f"{names[rec['label']]}")
    assert (out / "explain-nodes" / rec["picture"]).is_file()
    edges = rec["edges"]
    assert edges and all(0.0 <= e["attention"] <= 1.0 for e in edges)
    # a house node: its house edges (6, both directions) are ground truth
    assert sum(e.get("ground_truth", 0) for e in edges) >= 6
    base = json.loads((out / "explain-nodes" / f"node_{BASE}.json").read_text())
    assert all("ground_truth" not in e for e in base["edges"])  # a base node has none
    assert set(rec["fidelity"]) >= {"fid_plus", "fid_minus", "prob_explanation"}
    summary = json.loads((out / "explain-nodes" / "fidelity.json").read_text())
    assert summary["nodes"] == 2 and summary["fid_plus"] == (
        rec["fidelity"]["fid_plus"] + base["fidelity"]["fid_plus"]) / 2
    printed = capsys.readouterr().out
    assert f"node {HOUSE}" in printed and "fid+" in printed


def test_explaining_nodes_is_refused_clearly(tmp_path, capsys):
    out = _train(tmp_path, "node", epochs=1)
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(out), "--node", "180"])
    assert exc.value.code == 2
    assert "--node 180: the graph of ba_shapes has 180 nodes (0 to 179)" in \
        capsys.readouterr().err
    # a node dataset with a graph-level config
    cfg = yaml.safe_load((configs_dir() / "GIN-ba_2motifs.yml").read_text())
    (tmp_path / "graph.yml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "ba_shapes", "--config", str(tmp_path / "graph.yml"),
              "--out", str(tmp_path / "bad"), "--data-dir", str(tmp_path / "data"),
              "--no-progress", "--epochs", "1", *SMALL])
    assert exc.value.code == 2
    assert "is a node classification dataset" in capsys.readouterr().err


def test_a_node_explanation_as_a_pyg_explanation(tmp_path):
    from gsat.data import load_dataset
    from gsat.explain.nodes import explain_node, to_pyg
    from gsat.training.reader import load_run

    out = _train(tmp_path, "node", epochs=1)
    run = load_run(out)
    ds = load_dataset("ba_shapes", str(tmp_path / "data"), seed=0, base_nodes=80,
                      num_motifs=20)
    exp = explain_node(run.model, ds, HOUSE, "node", 2)
    pyg = to_pyg(exp, ds)
    assert pyg.index == HOUSE and pyg.edge_mask.shape == (ds.num_edges,)
    inside = torch.zeros(ds.num_edges, dtype=torch.bool)
    inside[exp.edge_ids] = True
    assert bool((pyg.edge_mask[~inside] == 0).all())
    assert torch.allclose(pyg.edge_mask[exp.edge_ids], exp.edge_att.float())
