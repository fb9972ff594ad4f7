import importlib.util
import json
from pathlib import Path

import pytest

from gsat.benchmark import PUBLISHED, PUBLISHED_PREDICTION

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reproduce():
    spec = importlib.util.spec_from_file_location("reproduce", ROOT / "benchmarks" / "reproduce.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_run(folder: Path, dataset: str, backbone: str, seed: int, auc: float, acc: float,
              method: str = "GSAT") -> None:
    folder.mkdir(parents=True)
    rec = {"seed": seed, "best_epoch": 50, "selection": "final_r", "valid_metric": acc,
           "test_metric": acc, "test_interp_auc": auc, "test_precision_at_5": auc / 2,
           "seconds_per_epoch": 2.0 + seed, "epochs": 100}
    (folder / "results.json").write_text(json.dumps(
        {"dataset": dataset, "backbone": backbone, "method": method, "metric_name": "acc",
         "epochs": 100, "runs": [rec]}))
    (folder / "reproduce.json").write_text(json.dumps({"data_dir": "/d"}))


def test_published_tables_cover_the_matrix(reproduce):
    for ds in reproduce.DATASETS:
        for bb in reproduce.BACKBONES:
            assert len(PUBLISHED[ds][f"gsat:{bb}"]) == 2
    assert PUBLISHED_PREDICTION["spmotif_0.9"] == {"gsat:GIN": 44.22, "gsat:PNA": 57.01}
    assert PUBLISHED["spmotif_0.7"]["gsat:PNA"] == (86.94, 4.05)


def test_report_aggregates_seeds(reproduce, tmp_path):
    runs = tmp_path / "runs"
    _fake_run(runs / "spmotif_0.5-GIN-seed0", "spmotif_0.5", "GIN", 0, 0.80, 0.50)
    _fake_run(runs / "spmotif_0.5-GIN-seed1", "spmotif_0.5", "GIN", 1, 0.70, 0.40)
    _fake_run(runs / "spmotif_0.5-GIN-seed2", "spmotif_0.5", "GIN", 2, 0.1, 0.1, method="ERM")
    _fake_run(runs / "other" / "x-seed3", "spmotif_0.5", "GIN", 3, 0.1, 0.1)  # not a cell run
    assert reproduce.finished(runs / "spmotif_0.5-GIN-seed0", 0)
    assert not reproduce.finished(runs / "spmotif_0.5-GIN-seed0", 1)
    text = reproduce.report(runs)
    (row,) = [r for r in text.splitlines() if r.startswith("| GIN | spmotif_0.5 |")]
    cols = [c.strip() for c in row.strip("|").split("|")]
    assert cols[2] == "75.00 ± 5.00"  # interp AUC: mean and population std of 80, 70
    assert cols[3] == "78.45 ± 3.12" and cols[4] == "-3.45"  # paper, ours - paper
    assert cols[5] == "37.50 ± 2.50"  # precision@5
    assert cols[6] == "45.00 ± 5.00" and cols[7] == "52.74" and cols[8] == "-7.74"
    assert cols[9] == "2 (0 1)" and cols[10] == "100" and cols[11] == "2.5 ± 0.5"
    assert "--seeds 0 1" in cols[12] and "--data-dir /d" in cols[12]
    assert f"--runs-dir {runs}" in cols[12]
    _fake_run(runs / "mutag-PNA-seed4", "mutag", "PNA", 4, 0.9, 0.8)
    text = reproduce.report(runs)
    (row,) = [r for r in text.splitlines() if r.startswith("| PNA | mutag |")]
    cols = [c.strip() for c in row.strip("|").split("|")]
    assert cols[2] == "90.00" and cols[3] == "99.07 ± 0.50" and cols[9] == "1 (4)"  # no spread
    assert "PNA mutag" not in text.split("Cells without a finished run")[1]
    assert "PNA spmotif_0.9" in text.split("Cells without a finished run")[1]
    notes = tmp_path / "notes.md"
    notes.write_text("## Remarks\n\nhand-written\n")
    assert reproduce.report(runs, notes=notes).endswith("## Remarks\n\nhand-written\n")
    assert "hand-written" not in reproduce.report(runs, notes=tmp_path / "absent.md")


def test_run_skips_finished_seeds(reproduce, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    _fake_run(runs / "mutag-GIN-seed0", "mutag", "GIN", 0, 0.9, 0.9)
    calls = []
    monkeypatch.setattr(reproduce, "run", lambda spec: calls.append(spec) or
                        Path(spec.out).mkdir(parents=True))
    written = reproduce.run_cells(["GIN"], ["mutag"], [0, 1], runs, "data", "cpu")
    assert [c.seeds for c in calls] == [[1]] and calls[0].dataset == "mutag"
    assert written == [runs / "mutag-GIN-seed1"]
    assert "--seeds 1" in json.loads((written[0] / "reproduce.json").read_text())["command"]


def test_published_value_without_spread_is_shown_alone(reproduce):
    assert reproduce._published("mnist_75sp", "PNA") == ("84.68", "n/a")
    assert reproduce._published("mnist_75sp", "GIN") == ("83.36 ± 1.02", "96.24")
