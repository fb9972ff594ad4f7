"""gsat benchmark without ground truth: a csv: file of molecules compared by fidelity, and
the fidelity columns beside the interpretation AUC where there is ground truth."""
import csv
import json

import pytest
from benchmark_cases import small_ba_2motifs

from gsat.app.cli import main
from gsat.benchmark import BenchmarkSpec, run_benchmark
from gsat.benchmark.report import format_markdown
from gsat.benchmark.scoring import FIDELITY_FIELDS

pytestmark = pytest.mark.usefixtures("undrawn_pictures")

SMILES = ["CCO", "CCN", "c1ccccc1", "c1ccccc1N", "c1ccccc1O", "CC(=O)O", "CC(=O)N",
          "c1ccncc1", "C1CCCCC1", "C1CCCCC1N", "CCCC", "CCCN", "OCCO", "NCCN", "C1CCNCC1",
          "C1CCOCC1", "c1ccoc1", "c1cc[nH]c1", "CC(C)O", "CC(C)N", "CCCCO", "CCCCN",
          "Oc1ccccc1O", "Nc1ccccc1N"]


def _smiles_csv(path, column, value):
    """A csv of SMILES with one label column, :obj:`value(smiles)` for each molecule."""
    pytest.importorskip("rdkit")
    pytest.importorskip("ogb")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["smiles", column])
        w.writerows([[s, value(s)] for s in SMILES])
    return path


@pytest.fixture
def mol_csv(tmp_path):
    return _smiles_csv(tmp_path / "mols.csv", "active", lambda s: int("N" in s or "n" in s))


def test_a_csv_dataset_is_compared_by_fidelity(tmp_path, mol_csv, capsys):
    out = tmp_path / "bench"
    argv = ["benchmark", "--dataset", f"csv:{mol_csv}", "--label-col", "active", "--split",
            "random", "--explainers", "gsat", "gnnexplainer", "saliency", "--epochs", "1",
            "--explainer-epochs", "2", "--out", str(out), "--data-dir",
            str(tmp_path / "data"), "--no-progress"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    res = json.loads((out / "benchmark.json").read_text())
    assert res["has_ground_truth"] is False
    assert res["fidelity"]["higher_is_better"]["deletion_auc"] is False
    assert [r["method"] for r in res["records"]] == ["gsat", "gnnexplainer", "saliency"]
    for r in res["records"]:
        assert r["test_interp_auc"] is None and r["num_graphs"] >= 1
        for field in FIDELITY_FIELDS:
            assert r[field] is not None, field
        assert 0 <= r["test_fid_plus"] <= 1 and 0 <= r["test_deletion_auc"] <= 1
        curves = r["fidelity_curves"]
        assert curves["shares"][0] == 0 and curves["shares"][-1] == 1
        assert len(curves["deletion"]) == len(curves["insertion"]) == 11
        # both curves meet at the graph with every edge and at the graph with none
        assert curves["deletion"][0] == pytest.approx(curves["insertion"][-1])
        assert curves["deletion"][-1] == pytest.approx(curves["insertion"][0])
    md = (out / "benchmark.md").read_text()
    assert "has no ground-truth edges" in md and "**Fidelity without ground truth.**" in md
    assert "\n#" not in md.split("\n", 1)[1]  # one heading: it embeds into other reports
    assert "| method | explains | P(predicted class) | fid+ ↑ | fid- ↓ | characterization ↑" \
        " | unfaithfulness ↓ | deletion AUC ↓ | insertion AUC ↑ |" in md
    assert "interp AUC" not in md.split("**Fidelity")[0]  # no column needing ground truth
    assert "| gnnexplainer | erm |" in md
    assert "**Fidelity without ground truth.**" in capsys.readouterr().out

    with pytest.raises(SystemExit) as exc:  # tuning needs ground truth: one line, code 2
        main(argv + ["--tune"])
    assert exc.value.code == 2
    assert "drop --tune" in capsys.readouterr().err


def test_ground_truth_datasets_get_fidelity_beside_the_auc(tmp_path, monkeypatch):
    small_ba_2motifs(monkeypatch)
    res = run_benchmark(BenchmarkSpec(dataset="ba_2motifs", explainers=["gsat", "saliency"],
                                      epochs=1, out=str(tmp_path / "b"), max_graphs=4,
                                      data_dir=str(tmp_path / "data"), progress=False))
    assert res["has_ground_truth"] is True
    for r in res["records"]:
        assert r["test_interp_auc"] is not None and r["test_fid_minus"] is not None
    md = format_markdown(res)
    assert "| method | explains | interp AUC ↑ | P(predicted class) | fid+ ↑ |" in md
    assert "Published values" in md and "Published values" not in format_markdown(
        {**res, "has_ground_truth": False})
    # the attention row is named after the estimator trained, with that estimator's
    # published AUC beside it: GSAT's paper value, or GMT's for a gmt_sam benchmark
    assert res["gsat_method"] == "gsat" and res["settings"]["gsat"]["explains"] == "gsat"
    rows = [ln for ln in md.splitlines() if ln.startswith("| gsat | gsat | 1 |")]
    assert len(rows) == 1 and "| 98.74 ± 0.55 |" in rows[0]
    gmt = format_markdown({**res, "gsat_method": "gmt_sam"})
    rows = [ln for ln in gmt.splitlines() if ln.startswith("| gmt_sam |")]
    assert len(rows) == 2 and "| 99.62 |" in rows[0]  # the AUC table, then fidelity
    assert not any(ln.startswith("| gsat |") for ln in gmt.splitlines())
    # an earlier record without fidelity is not reused: it is made again with it
    saved = json.loads((tmp_path / "b" / "benchmark.json").read_text())
    for r in saved["records"]:
        for field in FIDELITY_FIELDS:
            del r[field]
    (tmp_path / "b" / "benchmark.json").write_text(json.dumps(saved))
    again = run_benchmark(BenchmarkSpec(dataset="ba_2motifs", explainers=["gsat", "saliency"],
                                        epochs=1, out=str(tmp_path / "b"), max_graphs=4,
                                        data_dir=str(tmp_path / "data"), progress=False))
    assert all(r["test_deletion_auc"] is not None for r in again["records"])


def test_what_a_dataset_without_ground_truth_cannot_give_is_refused(tmp_path, capsys):
    from types import SimpleNamespace

    from gsat.benchmark.pipeline import _check_without_truth
    from gsat.errors import ConfigError, DataMissingError

    spec = BenchmarkSpec(dataset="planetoid:Cora")
    with pytest.raises(DataMissingError, match="computed for graph classification"):
        _check_without_truth(spec, SimpleNamespace(task="multiclass"), "node")
    spec = BenchmarkSpec(dataset="ogbg_molesol")
    with pytest.raises(ConfigError, match="is a regression task"):
        _check_without_truth(spec, SimpleNamespace(task="regression"), "graph")
    _check_without_truth(BenchmarkSpec(dataset="x"), SimpleNamespace(task="binary"), "graph")

    path = _smiles_csv(tmp_path / "sol.csv", "logs", lambda s: f"{0.5 * len(s):.2f}")
    with pytest.raises(SystemExit) as exc:
        main(["benchmark", "--dataset", f"csv:{path}", "--label-col", "logs", "--split",
              "random", "--dataset-option", "task=regression", "--epochs", "1", "--out",
              str(tmp_path / "b"), "--data-dir", str(tmp_path / "data"), "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "is a regression task" in err and "Traceback" not in err
    assert not (tmp_path / "b" / "erm").exists()  # refused before any training
