import csv
from pathlib import Path

import pytest
import yaml
from torch_geometric.loader import DataLoader

import gsat
import gsat.training.driver as runner_mod
import gsat.training.engine as train_mod
from gsat.app.cli import main
from gsat.data.ba_2motifs import generate_ba_2motifs
from gsat.errors import ConfigError
from gsat.training.driver import RunSpec, run

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCALARS = {"train/loss", "train/pred", "train/info", "train/metric", "r", "valid/loss",
           "valid/metric", "valid/interp_auc"}
HISTOGRAMS = {"attention/ground_truth", "attention/other"}


def _events(folder):
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_cli_flag_reaches_the_run_spec(monkeypatch):
    seen = []

    def fake_run(spec):
        seen.append(spec)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_mod, "run", fake_run)
    for flag, expected in (["--tensorboard"], True), ([], False):
        with pytest.raises(SystemExit):
            main(["--dataset", "ba_2motifs", "--no-progress"] + flag)
        assert seen[-1].tensorboard is expected


def test_run_tensorboard_writes_scalars_and_histograms(tmp_path):
    out = tmp_path / "run"
    cfg = yaml.safe_load((ROOT / "gsat" / "configs" / "GIN-ba_2motifs.yml").read_text())
    cfg["train"]["num_viz"] = 0  # no pictures: keeps the test fast
    (tmp_path / "c.yml").write_text(yaml.safe_dump(cfg))
    run(RunSpec(dataset="ba_2motifs", epochs=2, out=str(out), data_dir=str(tmp_path / "data"),
                config=str(tmp_path / "c.yml"), progress=False, tensorboard=True,
                dataset_options={"num_graphs": 60}))
    folder = out / "seed0" / "tensorboard"
    assert list(folder.glob("events.out.tfevents.*"))
    acc = _events(folder)
    assert SCALARS <= set(acc.Tags()["scalars"])
    assert HISTOGRAMS <= set(acc.Tags()["histograms"])
    assert [e.step for e in acc.Scalars("train/loss")] == [0, 1]
    # --epochs 2 scaled the config's schedule: r decays every epoch
    assert [e.value for e in acc.Scalars("r")] == pytest.approx([0.9, 0.8])
    rows = list(csv.DictReader(open(out / "seed0" / "metrics.csv")))
    # the logged scalars are the numbers in metrics.csv
    assert [e.value for e in acc.Scalars("valid/metric")] == \
        pytest.approx([float(r["valid_metric"]) for r in rows])
    # a BA-2Motifs graph has 12 (house) or 10 (cycle) motif edge directions of 50-52: the
    # ground-truth histogram holds far fewer values than the other one
    gt = acc.Histograms("attention/ground_truth")[-1].histogram_value
    other = acc.Histograms("attention/other")[-1].histogram_value
    assert 0 < gt.num < other.num and 0.0 <= gt.min <= gt.max <= 1.0


def test_no_tensorboard_folder_by_default_and_csv_after_every_epoch(tmp_path, monkeypatch):
    real = train_mod.train_epoch

    def failing(model, loader, opt, epoch, *args, **kwargs):
        if epoch == 2:
            raise KeyboardInterrupt
        return real(model, loader, opt, epoch, *args, **kwargs)

    monkeypatch.setattr(train_mod, "train_epoch", failing)
    with pytest.raises(KeyboardInterrupt):
        run(RunSpec(dataset="ba_2motifs", epochs=4, out=str(tmp_path / "r"),
                    data_dir=str(tmp_path / "data"), progress=False,
                    dataset_options={"num_graphs": 40}))
    rows = list(csv.DictReader(open(tmp_path / "r" / "seed0" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1]  # written before the run was stopped
    assert not (tmp_path / "r" / "seed0" / "tensorboard").exists()


def test_fit_tensorboard(tmp_path):
    graphs = generate_ba_2motifs(num_graphs=20)
    model = gsat.GSAT(gsat.GIN(10, 1, hidden_channels=8))
    gsat.fit(model, DataLoader(graphs[:14], batch_size=7), DataLoader(graphs[14:]), epochs=2,
             progress=False, tensorboard=tmp_path / "tb")
    acc = _events(tmp_path / "tb")
    assert SCALARS <= set(acc.Tags()["scalars"]) and HISTOGRAMS <= set(acc.Tags()["histograms"])


def test_missing_tensorboard_is_a_clear_error(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_tb(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tb)
    from gsat.training.tensorboard import TensorBoardLogger

    with pytest.raises(ConfigError, match=r"pip install -e \"\.\[tensorboard\]\""):
        TensorBoardLogger(tmp_path / "tb")
