"""Own data: molecules from a CSV of SMILES (csv:PATH)."""
import csv
import logging

import pytest
import torch

from gsat.data import load_dataset
from gsat.data.molecules import murcko_scaffold, scaffold_split, smiles_to_graph
from gsat.errors import ConfigError

pytest.importorskip("rdkit")
pytest.importorskip("ogb")

SMILES = ["CCO", "CCN", "c1ccccc1", "c1ccccc1N", "c1ccccc1O", "CC(=O)O", "CC(=O)N", "c1ccncc1",
          "C1CCCCC1", "C1CCCCC1N", "CCCC", "CCCN", "c1ccc2ccccc2c1", "Nc1ccc2ccccc2c1", "OCCO",
          "NCCN", "C1CCNCC1", "C1CCOCC1", "c1ccoc1", "c1cc[nH]c1"]


def write_csv(path, rows, header=("smiles", "active", "tox")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def mol_csv(tmp_path):
    rows = [[s, int("N" in s or "n" in s), "" if i % 4 == 0 else i % 2]
            for i, s in enumerate(SMILES)]
    rows.insert(5, ["C1CC(", 1, 0])          # unparseable
    rows.insert(9, ["", 0, 0])                # empty
    return write_csv(tmp_path / "mols.csv", rows)


def test_smiles_to_graph_is_ogb_featurisation():
    from ogb.utils import smiles2graph

    g = smiles_to_graph("c1ccccc1O")
    ref = smiles2graph("c1ccccc1O")
    assert g.x.tolist() == ref["node_feat"].tolist() and g.num_nodes == 7
    assert g.edge_index.size(1) == 14 and g.edge_attr.shape == (14, 3)
    assert g.node_type.tolist() == [5] * 6 + [7]  # C, O: atomic number - 1
    assert smiles_to_graph("C1CC(") is None and smiles_to_graph("") is None


def test_csv_molecules_binary_and_unparseable_listed(mol_csv, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        ds = load_dataset(f"csv:{mol_csv}", tmp_path / "data", label_cols=["active"])
    assert (ds.task, ds.num_outputs, ds.metric, ds.config_name) == ("binary", 1, "rocauc",
                                                                     "ogbg_mol")
    assert len(ds.train) + len(ds.valid) + len(ds.test) == len(SMILES)
    assert "2 of 22 SMILES could not be parsed" in caplog.text and "row 6: 'C1CC('" in caplog.text
    assert ds.train[0].y.shape == (1, 1) and ds.edge_dim == 3 and ds.num_features == 9
    caplog.clear()
    with caplog.at_level(logging.INFO):  # second load: from the cache, same graphs
        again = load_dataset(f"csv:{mol_csv}", tmp_path / "data", label_cols=["active"])
    assert "from the cache" in caplog.text
    assert [g.x.tolist() for g in again.train] == [g.x.tolist() for g in ds.train]


def test_csv_multilabel_missing_labels_and_scaffold_split(mol_csv, tmp_path):
    ds = load_dataset(f"csv:{mol_csv}", tmp_path / "data", label_cols=["active", "tox"])
    assert (ds.task, ds.num_outputs) == ("multilabel", 2)
    ys = torch.cat([g.y for g in ds.train + ds.valid + ds.test])
    assert ys.shape == (len(SMILES), 2) and int(torch.isnan(ys[:, 1]).sum()) == 5
    parts = scaffold_split(SMILES)
    seen = [{murcko_scaffold(SMILES[i]) for i in p} for p in parts]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sorted(sum(parts, [])) == list(range(len(SMILES)))
    rnd = load_dataset(f"csv:{mol_csv}", tmp_path / "data", label_cols=["active"],
                       split="random", seed=1)
    assert (len(rnd.train), len(rnd.valid), len(rnd.test)) == (16, 2, 2)


@pytest.mark.parametrize("kwargs,match", [
    (dict(label_cols=["nope"]), r"no column 'nope'; the header has: smiles, active, tox"),
    (dict(smiles_col="smi", label_cols=["active"]), r"no column 'smi'"),
    (dict(label_cols=["active"], split="cluster"), r"split must be 'scaffold' or 'random'"),
])
def test_csv_mistakes_are_one_line(mol_csv, tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match) as exc:
        load_dataset(f"csv:{mol_csv}", tmp_path / "data", **kwargs)
    assert "\n" not in str(exc.value)


def test_csv_labels_must_be_binary(tmp_path):
    path = write_csv(tmp_path / "m.csv", [["CCO", 2.5, 0]])
    with pytest.raises(ConfigError, match=r"row 1, column 'active': labels must be 0 or 1"):
        load_dataset(f"csv:{path}", tmp_path / "data", label_cols=["active"])


def test_a_truncated_metadata_file_beside_the_cache_is_made_again(mol_csv, tmp_path, caplog):
    ds = load_dataset(f"csv:{mol_csv}", tmp_path / "data", label_cols=["active"])
    (meta,) = (tmp_path / "data").glob("csv-*/molecules.json")
    meta.write_text(meta.read_text()[:30])  # cut short by a kill or a full disk
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = load_dataset(f"csv:{mol_csv}", tmp_path / "data", label_cols=["active"])
    assert "molecules.json is unreadable" in caplog.text and "from the cache" not in caplog.text
    assert [g.x.tolist() for g in again.train] == [g.x.tolist() for g in ds.train]
    assert meta.read_text().startswith("{") and meta.read_text().rstrip().endswith("}")


def test_csv_with_a_numeric_label_is_a_regression_scored_by_rmse(tmp_path, capsys):
    import json

    from gsat.app.cli import main

    rows = [[s, f"{0.5 * len(s) - 3.25:.2f}", ""] for s in SMILES]  # e.g. a log solubility
    path = write_csv(tmp_path / "sol.csv", rows)
    with pytest.raises(ConfigError, match="use --dataset-option task=regression"):
        load_dataset(f"csv:{path}", tmp_path / "data", label_cols=["active"])
    ds = load_dataset(f"csv:{path}", tmp_path / "data", label_cols=["active"],
                      task="regression", split="random")
    assert (ds.task, ds.metric, ds.num_outputs) == ("regression", "rmse", 1)
    values = sorted(float(g.y) for g in [*ds.train, *ds.valid, *ds.test])
    assert values == pytest.approx(sorted(0.5 * len(s) - 3.25 for s in SMILES), abs=1e-5)
    with pytest.raises(ConfigError, match="task must be 'classification' or 'regression'"):
        load_dataset(f"csv:{path}", tmp_path / "data", label_cols=["active"], task="ranking")
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", f"csv:{path}", "--label-col", "active", "--split",
              "random", "--dataset-option", "task=regression", "--epochs", "2", "--out",
              str(tmp_path / "run"), "--data-dir", str(tmp_path / "data"), "--no-progress"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "test RMSE (lower is better)" in out and "RMSE and MAE in the target's unit" in out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["metric_name"], results["metric_label"], results["higher_is_better"]) == \
        ("rmse", "RMSE", False)
    (rec,) = results["runs"]
    assert rec["test_metric"] > 0
    assert f"{rec['test_metric']:.3f}" in out  # unscaled, in the target's unit
