"""Use a trained run: gsat.load_run and gsat explain (PyG graphs and SMILES)."""
import csv
import json

import pytest
import torch

import gsat
from gsat.io.checkpoint import load_checkpoint
from gsat.app.cli import main
from gsat.data.ba_2motifs import generate_ba_2motifs
from gsat.errors import CheckpointError, ConfigError
from gsat.app.inference import explain_file
from gsat.training.driver import RunSpec, run


@pytest.fixture(scope="module")
def graph_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    torch.save(generate_ba_2motifs(num_graphs=40, base_nodes=8), root / "graphs.pt")
    run(RunSpec(dataset=f"pyg:{root / 'graphs.pt'}", epochs=2, out=str(root / "run"),
                data_dir=str(root / "data"), progress=False, seeds=[0, 1]))
    return root


def test_load_run_returns_selected_weights_in_eval_mode(graph_run):
    loaded = gsat.load_run(graph_run / "run")
    results = json.loads((graph_run / "run" / "results.json").read_text())
    best_seed = max(results["runs"], key=lambda r: (r["valid_metric"], -r["seed"]))["seed"]
    assert loaded.seed == best_seed and not loaded.model.training
    best = load_checkpoint(graph_run / "run" / f"seed{best_seed}" / "best.pt", kind="best")
    assert loaded.epoch == best["epoch"] == results["runs"][best_seed]["best_epoch"]
    state = loaded.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in best["model"].items())
    assert loaded.dataset["task"] == "binary" and loaded.dataset["num_features"] == 10
    assert gsat.load_run(graph_run / "run", seed=1).seed == 1
    with pytest.raises(CheckpointError, match="no model for seed 7; seeds with a best.pt: 0, 1"):
        gsat.load_run(graph_run / "run", seed=7)
    with pytest.raises(ConfigError, match="no such run folder"):
        gsat.load_run(graph_run / "missing")


def test_explain_pyg_graphs_skips_invalid_ones(graph_run, tmp_path, caplog):
    new = generate_ba_2motifs(num_graphs=4, base_nodes=8, seed=3)
    new[2].edge_index = new[2].edge_index.clone()
    new[2].edge_index[0, 0] = 99
    new[3].x = new[3].x[:, :4]
    torch.save(new, tmp_path / "new.pt")
    summary = explain_file(graph_run / "run", tmp_path / "new.pt", tmp_path / "out",
                           progress=False)
    assert (summary["graphs"], summary["explained"]) == (4, 2)
    assert [s["id"] for s in summary["skipped"]] == ["2", "3"]
    assert "refers to node 99" in summary["skipped"][0]["reason"]
    assert "graph 3 skipped: node features 'x' must have shape [num_nodes, 10]" in caplog.text
    lines = [json.loads(line) for line in (tmp_path / "out" / "explanations.jsonl").open()]
    assert [r["id"] for r in lines] == ["0", "1"]
    loaded = gsat.load_run(graph_run / "run")
    for r, g in zip(lines, new[:2]):
        assert len(r["edges"]) == g.edge_index.size(1)
        att = loaded.model.explain(g)
        assert [e["attention"] for e in r["edges"]] == pytest.approx(att.tolist())
        assert (r["edges"][0]["source"], r["edges"][0]["target"]) == tuple(
            g.edge_index[:, 0].tolist())
        assert r["prediction"] == int(r["probability"] > 0.5)
        assert (tmp_path / "out" / r["picture"]).stat().st_size > 1000
    assert (tmp_path / "out" / "summary.md").read_text().count("\n| ") == 3  # header + 2 rows
    with pytest.raises(ConfigError, match="SMILES need a run trained on molecules"):
        explain_file(graph_run / "run", tmp_path / "x.csv", tmp_path / "o2", progress=False)


def test_explain_cli_on_molecules(tmp_path, capsys):
    pytest.importorskip("rdkit")
    pytest.importorskip("ogb")
    smiles = ["CCO", "CCN", "c1ccccc1", "c1ccccc1N", "c1ccccc1O", "CC(=O)O", "CC(=O)N",
              "c1ccncc1", "C1CCCCC1", "C1CCCCC1N", "CCCC", "CCCN", "OCCO", "NCCN",
              "C1CCNCC1", "C1CCOCC1", "c1ccoc1", "c1cc[nH]c1", "CC(C)O", "CC(C)N"]
    with open(tmp_path / "mols.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["smiles", "active"])
        w.writerows([[s, int("N" in s or "n" in s)] for s in smiles])
    with open(tmp_path / "new.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerows([["id", "smiles"], ["aspirin", "CC(=O)Oc1ccccc1C(=O)O"], ["broken", "C1CC("]])
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", f"csv:{tmp_path / 'mols.csv'}", "--label-col", "active",
              "--epochs", "1", "--out", str(tmp_path / "run"), "--data-dir",
              str(tmp_path / "data"), "--no-progress"])
    assert exc.value.code == 0
    assert json.loads((tmp_path / "run" / "dataset.json").read_text())["extra"][
        "featurisation"] == "ogb_smiles2graph"
    # the training run's pictures are RDKit depictions (its canvas), not networkx drawings
    import matplotlib.image
    shot = matplotlib.image.imread(tmp_path / "run" / "seed0" / "explanations" / "graph_000.png")
    assert shot.shape[:2] == (440, 520)
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(tmp_path / "run"), "--input", str(tmp_path / "new.csv"), "--out",
              str(tmp_path / "ex"), "--no-progress", "--html"])
    assert exc.value.code == 0
    page = (tmp_path / "ex" / "explanations.html").read_text()
    assert page.count("<tr><td") == 1 and "CC(=O)Oc1ccccc1C(=O)O" in page
    assert page.count('src="data:image/svg+xml;base64,') == 1 and 'id="legend"' in page
    assert "true label" not in page  # new.csv has no label column
    assert (tmp_path / "ex" / "substructures.md").read_text().startswith(
        "# Substructures by attention")
    (rec,) = [json.loads(line) for line in (tmp_path / "ex" / "explanations.jsonl").open()]
    assert rec["id"] == "aspirin" and rec["smiles"] == "CC(=O)Oc1ccccc1C(=O)O"
    assert len(rec["edges"]) == 2 * 13  # 13 bonds, both directions
    assert {e["bond_index"] for e in rec["edges"]} == set(range(13))
    first = rec["edges"][0]
    assert (first["source"], first["target"], first["atoms"]) == (0, 1, ["C", "C"])
    assert 0 < first["attention"] < 1 and (tmp_path / "ex" / "graph_aspirin.png").is_file()
    summary = json.loads((tmp_path / "ex" / "summary.json").read_text())
    assert summary["skipped"] == [{"id": "broken",
                                   "reason": "RDKit cannot parse SMILES 'C1CC('"}]
    out = capsys.readouterr().out
    assert "1 of 2 graphs explained (1 skipped)" in out and "explanations.html" in out
    # molecules too (atom and bond encoders): the bonds' features go with the kept bonds
    fid = json.loads((tmp_path / "ex" / "fidelity.json").read_text())
    assert fid["graphs"] == 1 and fid["per_graph"][0]["id"] == "aspirin"
    assert fid["per_graph"][0]["edges"] == 26 and fid["per_graph"][0]["kept_edges"] == 6
    # the training CSV has the run's label column: its labels are the true labels
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(tmp_path / "run"), "--input", str(tmp_path / "mols.csv"),
              "--out", str(tmp_path / "ex2"), "--no-progress", "--max-pictures", "2",
              "--no-substructures", "--scale", "rank", "--top-k", "3"])
    assert exc.value.code == 0
    recs = [json.loads(line) for line in (tmp_path / "ex2" / "explanations.jsonl").open()]
    assert [r["label"] for r in recs] == [int("N" in s or "n" in s) for s in smiles]
    assert not (tmp_path / "ex2" / "substructures.md").exists()
    assert not (tmp_path / "ex2" / "explanations.html").exists()


def test_explain_page_of_pyg_graphs_with_their_labels(graph_run, tmp_path):
    from html.parser import HTMLParser

    new = generate_ba_2motifs(num_graphs=4, base_nodes=8, seed=9)
    torch.save(new, tmp_path / "new.pt")
    summary = explain_file(graph_run / "run", tmp_path / "new.pt", tmp_path / "out",
                           progress=False, html=True, max_pictures=3)
    assert summary["files"]["html"] == "explanations.html"
    lines = [json.loads(line) for line in (tmp_path / "out" / "explanations.jsonl").open()]
    assert [r["label"] for r in lines] == [int(g.y) for g in new]

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.heads, self.rows, self.imgs, self.cell = [], [], 0, None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            if tag in ("td", "th"):
                self.cell = ""
            if tag == "img":
                self.imgs += 1

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

        def handle_endtag(self, tag):
            if tag in ("td", "th"):
                self.rows[-1].append(self.cell)
                self.cell = None

    p = Cells()
    p.feed((tmp_path / "out" / "explanations.html").read_text())
    header, *rows = p.rows
    assert header[:5] == ["id", "input", "prediction", "probability", "true label"]
    assert [r[0] for r in rows] == ["0", "1", "2", "3"] and p.imgs == 3
    assert [r[4] for r in rows] == [f"class {int(g.y)}" for g in new]
    assert rows[0][1] == f"{new[0].num_nodes} nodes, {new[0].edge_index.size(1)} edges"
    assert rows[3][5] == "(not drawn)"


def test_explain_caps_pictures_and_prints_a_short_summary(graph_run, tmp_path, capsys):
    torch.save(generate_ba_2motifs(num_graphs=12, base_nodes=8, seed=5), tmp_path / "new.pt")
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(graph_run / "run"), "--input", str(tmp_path / "new.pt"), "--out",
              str(tmp_path / "ex"), "--no-progress", "--max-pictures", "3"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert len(sorted((tmp_path / "ex").glob("graph_*.png"))) == 3
    assert len(out.strip().splitlines()) <= 8 and "| 11 |" not in out  # no per-graph table
    assert "12 of 12 graphs explained" in out and str(tmp_path / "ex" / "summary.md") in out
    assert "pictures: 3 in" in out and "9 not drawn: raise --max-pictures" in out
    assert (tmp_path / "ex" / "summary.md").read_text().count("\n| ") == 13  # the table
    assert json.loads((tmp_path / "ex" / "summary.json").read_text())["pictures"] == 3
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(graph_run / "run"), "--input", str(tmp_path / "new.pt"), "--out",
              str(tmp_path / "np"), "--no-progress", "--no-pictures"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert not list((tmp_path / "np").glob("*.png")) and "png" not in out
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(graph_run / "run"), "--input", str(tmp_path / "new.pt"),
              "--max-pictures", "-1"])
    assert exc.value.code == 2 and "must be 0 or more" in capsys.readouterr().err


def test_explain_refuses_erm_runs_and_bad_flags(graph_run, tmp_path, capsys):
    run(RunSpec(dataset=f"pyg:{graph_run / 'graphs.pt'}", epochs=1, out=str(tmp_path / "erm"),
                data_dir=str(tmp_path), progress=False, method="erm"))
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(tmp_path / "erm"), "--input", str(graph_run / "graphs.pt")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "trained with --method erm" in err
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "ba_2motifs", "--label-col", "y"])
    assert exc.value.code == 2
    assert "--label-col only apply to --dataset csv:PATH" in capsys.readouterr().err


def test_benchmark_on_own_graphs(graph_run, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["benchmark", "--dataset", f"pyg:{graph_run / 'graphs.pt'}", "--explainers",
              "gsat", "--epochs", "1", "--out", str(tmp_path / "b"), "--no-progress"])
    assert exc.value.code == 0
    records = json.loads((tmp_path / "b" / "benchmark.json").read_text())["records"]
    assert [r["method"] for r in records] == ["gsat"]
    assert 0.0 <= records[0]["test_interp_auc"] <= 1.0
    # the page of pictures: the first test graphs, one column per method
    masks = records[0]["example_masks"]
    assert 1 <= len(masks) <= 6 and all(len(m) > 0 for m in masks)
    page = (tmp_path / "b" / "benchmark.html").read_text()
    assert "<th>gsat</th>" in page
    assert page.count('src="data:image/png;base64,') == len(masks) == page.count("<tr><td")


def test_read_smiles_csv_ids_and_errors(tmp_path):
    from gsat.errors import ConfigError, DataMissingError
    from gsat.app.inference import read_smiles_csv

    f = tmp_path / "in.csv"
    f.write_text("name,smiles\nwater,O \nethanol,CCO\n")
    assert read_smiles_csv(f) == [("1", "O"), ("2", "CCO")]
    assert read_smiles_csv(f, id_col="name") == [("water", "O"), ("ethanol", "CCO")]
    assert read_smiles_csv(f, id_col="nope") == [("1", "O"), ("2", "CCO")]
    with pytest.raises(ConfigError, match=r"--input .*in.csv: no column 'smi'; the header "
                                          r"has: name, smiles \(choose with --smiles-col\)"):
        read_smiles_csv(f, smiles_col="smi")
    with pytest.raises(DataMissingError, match="no such file"):
        read_smiles_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"smiles\n\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        read_smiles_csv(bad)


def test_explain_writes_fidelity_of_the_attention(graph_run, tmp_path, capsys):
    import csv as csv_module

    from gsat.explain.fidelity import graph_fidelity

    new = generate_ba_2motifs(num_graphs=5, base_nodes=8, seed=4)
    for g in new:  # inputs without labels: the predicted class is followed
        del g.y
        del g.edge_label
    torch.save(new, tmp_path / "new.pt")
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(graph_run / "run"), "--input", str(tmp_path / "new.pt"), "--out",
              str(tmp_path / "ex"), "--no-progress", "--no-pictures"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "fidelity (top 20% of each graph's edges kept or removed): fid+" in out
    assert str(tmp_path / "ex" / "fidelity.json") in out and "insertion AUC" in out
    fid = json.loads((tmp_path / "ex" / "fidelity.json").read_text())
    loaded = gsat.load_run(graph_run / "run")
    direct = graph_fidelity(loaded.model, new, [loaded.model.explain(g) for g in new],
                            "binary").summary()
    for key in ("fid_plus", "fid_minus", "unfaithfulness", "deletion_auc", "insertion_auc"):
        assert fid[key] == pytest.approx(direct[key], abs=1e-9), key
    assert fid["higher_is_better"] == {"fid_plus": True, "fid_minus": False,
                                       "characterization_score": True, "unfaithfulness": False,
                                       "deletion_auc": False, "insertion_auc": True}
    assert [r["id"] for r in fid["per_graph"]] == ["0", "1", "2", "3", "4"]
    rows = list(csv_module.reader((tmp_path / "ex" / "fidelity_curves.csv").open()))
    assert rows[0] == ["graph", "share", "deletion", "insertion"]
    assert len(rows) == 1 + 6 * 11  # 5 graphs and the mean, 11 shares each
    assert rows[-1][0] == "mean" and float(rows[-1][1]) == 1.0
    assert float(rows[-1][2]) == pytest.approx(fid["deletion_curve"][-1])
    summary = json.loads((tmp_path / "ex" / "summary.json").read_text())
    assert summary["fidelity"]["file"] == "fidelity.json"

    with pytest.raises(SystemExit) as exc:
        main(["explain", str(graph_run / "run"), "--input", str(tmp_path / "new.pt"), "--out",
              str(tmp_path / "ex2"), "--no-progress", "--no-pictures", "--no-fidelity"])
    assert exc.value.code == 0
    assert not (tmp_path / "ex2" / "fidelity.json").exists()
    assert "fid+" not in capsys.readouterr().out


def test_explain_of_a_regression_run_says_why_there_is_no_fidelity(tmp_path, capsys):
    pytest.importorskip("rdkit")
    pytest.importorskip("ogb")
    smiles = ["CCO", "CCN", "c1ccccc1", "c1ccccc1N", "c1ccccc1O", "CC(=O)O", "CC(=O)N",
              "c1ccncc1", "C1CCCCC1", "C1CCCCC1N", "CCCC", "CCCN", "OCCO", "NCCN"]
    with open(tmp_path / "sol.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["smiles", "logs"])
        w.writerows([[s, f"{0.5 * len(s) - 3.25:.2f}"] for s in smiles])
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", f"csv:{tmp_path / 'sol.csv'}", "--label-col", "logs",
              "--split", "random", "--dataset-option", "task=regression", "--epochs", "1",
              "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "data"),
              "--no-progress"])
    assert exc.value.code == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(tmp_path / "run"), "--input", str(tmp_path / "sol.csv"), "--out",
              str(tmp_path / "ex"), "--no-progress", "--no-pictures"])
    assert exc.value.code == 0
    assert "fidelity: not computed: a regression model has no predicted class" in \
        capsys.readouterr().out
    assert not (tmp_path / "ex" / "fidelity.json").exists()
