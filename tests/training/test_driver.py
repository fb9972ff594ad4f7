import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from gsat.app.cli import main
from gsat.training.driver import RunSpec, run

ROOT = Path(__file__).resolve().parents[2]
RUN_FIELDS = {"seed", "best_epoch", "valid_metric", "test_metric", "test_interp_auc",
              "test_precision_at_5", "seconds_per_epoch"}


def _short_config(tmp_path, epochs=14, decay_interval=2, backbone="GIN"):
    cfg = yaml.safe_load((ROOT / "gsat" / "configs" / f"{backbone}-ba_2motifs.yml").read_text())
    cfg["train"]["epochs"] = epochs
    cfg["gsat"]["decay_interval"] = decay_interval
    cfg["train"]["num_viz"] = 2
    path = tmp_path / "short.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_end_to_end_ba_2motifs_learns_the_motif(tmp_path, capsys):
    """A short GSAT run on BA-2Motifs through the command line: the attention already
    separates motif edges from base edges well above chance. 600 of the 1,000 graphs keep it
    short (with 400, validation accuracy stayed at 0.6 for the 14 epochs)."""
    out = tmp_path / "run"
    cfg = _short_config(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["--dataset", "ba_2motifs", "--backbone", "GIN", "--config", str(cfg),
              "--out", str(out), "--data-dir", str(tmp_path / "data"), "--no-progress",
              "--dataset-option", "num_graphs=600"])
    assert exc.value.code == 0
    res = json.loads((out / "results.json").read_text())
    assert (res["dataset"], res["backbone"], res["method"], res["metric_name"]) == \
        ("ba_2motifs", "GIN", "GSAT", "acc")
    (r,) = res["runs"]
    assert RUN_FIELDS <= set(r)
    # r reaches 0.5 at epoch 8 (decay every 2 epochs); epochs 11..13 qualify
    assert r["selection"] == "final_r" and r["best_epoch"] > 10
    assert r["test_interp_auc"] > 0.75, r
    assert r["test_precision_at_5"] > 0.5, r
    # Prediction: validation accuracy rises well above chance (it reaches 0.93-0.98 by epoch
    # 8). The accuracy of the selected epoch is not asserted: with batch-norm statistics
    # shared by the two backbone passes (the paper's setting), the eval-mode accuracy of
    # epochs 11-13 of this shortened schedule swings between chance and 0.8 under
    # floating-point-level changes of the computation (0.72 or 0.59 test accuracy for two
    # implementations whose losses and gradients agree to 1e-7), so a threshold there
    # tests luck; the full 100-epoch schedule reaches 99.7 % (benchmarks/results).
    import csv
    with open(out / "seed0" / "metrics.csv") as f:
        valid = [float(row["valid_metric"]) for row in csv.DictReader(f)]
    assert max(valid) > 0.9, valid
    assert 0.0 <= r["test_metric"] <= 1.0
    assert set(res["mean"]) >= RUN_FIELDS - {"seed"}
    assert (out / "config.yml").exists() and (out / "seed0" / "best.pt").exists()
    assert len(list((out / "seed0" / "explanations").glob("*.png"))) == 2
    assert "test interp AUC" in capsys.readouterr().out
    ckpt = torch.load(out / "seed0" / "best.pt", weights_only=True)
    assert ckpt["epoch"] == r["best_epoch"]


def test_short_run_selects_over_all_epochs_and_multi_seed_summary(tmp_path, caplog):
    res = run(RunSpec(dataset="ba_2motifs", epochs=2, seeds=[0, 1], out=str(tmp_path / "r"),
                      data_dir=str(tmp_path / "data"), progress=False,
                      dataset_options={"num_graphs": 60}))
    assert [r["seed"] for r in res["runs"]] == [0, 1]
    assert all(r["selection"] == "all_epochs" for r in res["runs"])
    # --epochs 2 scaled the schedule (decay every epoch, selection after epoch 0); r still
    # reaches 0.5 only at epoch 4, and the warning says how many epochs that takes
    assert "no epoch after epoch 0" in caplog.text and "--epochs 5" in caplog.text
    assert "scaled the r schedule by 2/100" in (tmp_path / "r" / "config.yml").read_text()
    vals = [r["test_interp_auc"] for r in res["runs"]]
    assert res["mean"]["test_interp_auc"] == pytest.approx(sum(vals) / 2)
    assert res["std"]["test_interp_auc"] == pytest.approx(abs(vals[0] - vals[1]) / 2)
    saved = json.loads((tmp_path / "r" / "results.json").read_text())
    assert len(saved["runs"]) == 2 and "std" in saved
    rows = (tmp_path / "r" / "seed1" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("epoch,r,train_loss")


def test_fixed_seed_is_reproducible(tmp_path, single_thread):
    kw = dict(dataset="ba_2motifs", epochs=2, data_dir=str(tmp_path / "data"), progress=False,
              dataset_options={"num_graphs": 40})
    a = run(RunSpec(out=str(tmp_path / "a"), **kw))["runs"][0]
    b = run(RunSpec(out=str(tmp_path / "b"), **kw))["runs"][0]
    for key in ("valid_metric", "test_metric", "test_interp_auc"):
        assert a[key] == b[key] or (math.isnan(a[key]) and math.isnan(b[key]))


@pytest.mark.parametrize("method", ["gsat", "erm"])
def test_pna_and_erm_run(tmp_path, method):
    res = run(RunSpec(dataset="ba_2motifs", backbone="PNA", epochs=1, method=method,
                      out=str(tmp_path / "r"), data_dir=str(tmp_path / "data"), progress=False,
                      dataset_options={"num_graphs": 40}))
    assert res["method"] == ("GSAT" if method == "gsat" else "ERM")
    r = res["runs"][0]
    assert r["seconds_per_epoch"] > 0
    # the selected weights on disk reproduce every reported test figure
    from gsat.training.build import build_model
    from gsat.core.config import load_config
    from gsat.data import load_dataset
    from gsat.training.engine import evaluate, make_loader
    cfg = load_config(tmp_path / "r" / "config.yml")
    ds = load_dataset("ba_2motifs", tmp_path / "data", seed=0, num_graphs=40)
    model = build_model(cfg, ds, method)
    assert type(model).__name__ == res["method"]
    model.load_state_dict(torch.load(tmp_path / "r" / "seed0" / "best.pt")["model"])
    ev = evaluate(model, make_loader(ds.test, 8), ds.evaluator, torch.device("cpu"))
    assert ev.metric == pytest.approx(r["test_metric"], abs=1e-6)
    if method == "erm":
        assert math.isnan(r["test_interp_auc"])
    else:
        assert ev.interp_auc == pytest.approx(r["test_interp_auc"], abs=1e-6)
        att = model.explain(ds.test[0])
        assert att.shape == (ds.test[0].edge_index.size(1),)
        assert ((att > 0) & (att < 1)).all() and att.std() > 0


def test_backbone_must_match_config(tmp_path):
    from gsat.errors import ConfigError
    with pytest.raises(ConfigError, match="model.backbone is GIN"):
        run(RunSpec(dataset="ba_2motifs", backbone="PNA",
                    config=str(ROOT / "gsat" / "configs" / "GIN-ba_2motifs.yml"),
                    data_dir=str(tmp_path / "d"), dataset_options={"num_graphs": 20}))


# ------------------------------------------------------------- faults in every phase

def _fake_seed(cfg, ds, seed, out_dir, *args, **kwargs):
    """train_one_seed without training: a record of the shape a seed returns."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return {"seed": seed, "best_epoch": 0, "valid_metric": 0.5, "test_metric": 0.5,
            "test_interp_auc": 0.5, "test_precision_at_5": 0.5, "seconds_per_epoch": 0.1}


def _main(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return exc.value.code, err


def _train_args(tmp_path, *extra, epochs=1):
    return ["train", "--dataset", "ba_2motifs", "--dataset-option", "num_graphs=20",
            "--epochs", str(epochs), "--out", str(tmp_path / "run"), "--data-dir",
            str(tmp_path / "data"), "--no-progress", *extra]


@pytest.mark.parametrize("signal_kind,code", [("ctrl-c", 130), ("sigterm", 143)])
def test_an_interrupt_while_results_json_is_written_prints_the_resume_line(
        tmp_path, monkeypatch, capsys, signal_kind, code):
    from gsat.errors import Terminated

    def interrupted_write(folder, results):
        raise Terminated("terminated by SIGTERM") if signal_kind == "sigterm" \
            else KeyboardInterrupt

    monkeypatch.setattr("gsat.training.driver.train_one_seed", _fake_seed)
    monkeypatch.setattr("gsat.training.driver.write_results", interrupted_write)
    got, err = _main(capsys, _train_args(tmp_path))
    out = tmp_path / "run"
    assert got == code
    assert err.startswith("gsat: interrupted" if code == 130 else "gsat: terminated (SIGTERM)")
    assert "after seed 0 finished, while results.json was written" in err
    assert err.endswith(f"Resume with: gsat train --resume {out}")


def test_an_interrupt_before_the_run_folder_exists_says_nothing_was_saved(
        tmp_path, monkeypatch, capsys):
    def interrupted_load(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("gsat.training.driver.load_dataset", interrupted_load)
    got, err = _main(capsys, _train_args(tmp_path))
    assert got == 130 and err == ("gsat: interrupted before the run folder was written; "
                                  "nothing was saved, so there is nothing to resume: start "
                                  "the run again")
    assert not (tmp_path / "run").exists()


def test_sigterm_just_after_training_prints_the_resume_line(tmp_path, monkeypatch, capsys):
    """SIGTERM once the run is complete, while its table is printed: the handler in place
    then is gsat's (the default action would kill the process without a word), and its
    delivery ends the command with the resume line."""
    import signal

    def table(results):
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler), handler  # SIG_DFL: the process would just die
        handler(signal.SIGTERM, None)  # the signal arrives now
        return ""

    monkeypatch.setattr("gsat.training.driver.train_one_seed", _fake_seed)
    monkeypatch.setattr("gsat.app.cli.run_table", table)
    got, err = _main(capsys, _train_args(tmp_path))
    out = tmp_path / "run"
    assert got == 143
    assert err == (f"gsat: terminated (SIGTERM) after the run finished; everything is saved "
                   f"in {out}. Resume with: gsat train --resume {out}")
    assert (out / "results.json").is_file()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored on the way out


def test_a_run_folder_deleted_during_training_stops_the_run(tmp_path, monkeypatch, capsys):
    import shutil

    from gsat.training.engine import Engine

    out = tmp_path / "run"
    train_pass = Engine.train_pass

    def deleted_during_second_epoch(self, epoch):
        if epoch == 1:
            shutil.rmtree(out)
        return train_pass(self, epoch)

    monkeypatch.setattr(Engine, "train_pass", deleted_during_second_epoch)
    got, err = _main(capsys, _train_args(tmp_path, epochs=3))
    assert got == 1
    assert err == (f"gsat: error: the run folder {out} was deleted, moved or replaced while "
                   "the run was writing it (.lock is gone); the run stopped and wrote nothing "
                   "more. Start it again")
    assert not out.exists()  # nothing written into a folder without run.json, config.yml
