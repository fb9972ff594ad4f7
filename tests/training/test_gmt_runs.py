"""GMT's estimators through every entry point: ``gsat train --method``, resume across the two
stages of GMT-sam, :func:`gsat.fit`, the benchmark, ``gsat explain``, and one-line errors."""
import json
from pathlib import Path

import pytest
import torch
import yaml
from torch_geometric.loader import DataLoader

import gsat
from gsat import GSAT
from gsat.app.cli import main
from gsat.benchmark.pipeline import run_benchmark
from gsat.benchmark.spec import BenchmarkSpec
from gsat.core.config import check_gmt, configs_dir, load_config
from gsat.core.gmt import GMTEstimator
from gsat.data.ba_2motifs import generate_ba_2motifs
from gsat.errors import ConfigError
from gsat.io.checkpoint import load_checkpoint
from gsat.nn import GIN
from gsat.training.driver import RunSpec, TrainingInterrupted, run
from conftest import ring

NUM_GRAPHS = 40
GMT_CONFIGS = sorted(p.name for p in (configs_dir() / "gmt").glob("*.yml"))


@pytest.fixture(autouse=True)
def _single_thread(single_thread):
    yield


def _tiny(base: str, path: Path, **gmt) -> Path:
    cfg = yaml.safe_load((configs_dir() / base).read_text())
    cfg["model"]["hidden_size"] = 16
    cfg["gsat"].update(decay_r=0.2, decay_interval=1)
    cfg["train"].update(epochs=5, batch_size=8, min_select_epoch=0, num_viz=0)
    if gmt:
        cfg["gmt"] = gmt
    elif "gmt" in cfg:
        cfg["gmt"].update(samples=2, stage2_epochs=2)
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def sam(tmp_path_factory):
    """A 5-epoch GMT-sam run (K = 2; epochs 3 and 4 are the second stage) as reference."""
    base = tmp_path_factory.mktemp("gmt")
    path = _tiny("gmt/GIN-ba_2motifs-gmt_sam.yml", base / "sam.yml")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = run(RunSpec(dataset="ba_2motifs", config=str(path), out=str(base / "ref"),
                          data_dir=str(base / "data"), progress=False,
                          dataset_options={"num_graphs": NUM_GRAPHS}))
    finally:
        torch.set_num_threads(old)
    return {"config": path, "data": base / "data", "ref": base / "ref", "results": res}


def _runs(folder):
    res = json.loads((Path(folder) / "results.json").read_text())
    return [{k: v for k, v in r.items() if k != "seconds_per_epoch"} for r in res["runs"]]


@pytest.mark.parametrize("name", GMT_CONFIGS)
def test_every_shipped_gmt_config_loads_with_its_method(name):
    cfg = load_config(configs_dir() / "gmt" / name)
    method = next(m for m in ("gmt_lin", "gsat", "gmt_sam") if f"-{m}" in name)
    assert cfg.gsat.method == method
    if method != "gmt_lin":  # GMT-sam, and GSAT followed by a second stage
        assert cfg.gmt.samples >= 1 and 0 < cfg.gmt.stage2_epochs < cfg.train.epochs


def test_a_gmt_sam_run_selects_a_second_stage_epoch(sam):
    res = sam["results"]
    assert res["method"] == "GMT-sam"
    (rec,) = res["runs"]
    assert rec["best_epoch"] >= 3  # the final model is the stage-2 classifier
    best = load_checkpoint(sam["ref"] / "seed0" / "best.pt", kind="best")
    assert int(best["model"]["estimator.stage"]) == 2
    cfg = yaml.safe_load((sam["ref"] / "config.yml").read_text())
    assert cfg["gsat"]["method"] == "gmt_sam" and cfg["gmt"]["stage2_epochs"] == 2


def test_an_interrupted_second_stage_resumes_there(sam, tmp_path, monkeypatch):
    out = tmp_path / "run"
    loss = GMTEstimator.loss

    def stop_in_epoch_4(self, model, o, y, epoch):
        if epoch == 4:
            raise KeyboardInterrupt
        return loss(self, model, o, y, epoch)

    monkeypatch.setattr(GMTEstimator, "loss", stop_in_epoch_4)
    with pytest.raises(TrainingInterrupted):
        run(RunSpec(dataset="ba_2motifs", config=str(sam["config"]), out=str(out),
                    data_dir=str(sam["data"]), progress=False,
                    dataset_options={"num_graphs": NUM_GRAPHS}))
    last = load_checkpoint(out / "seed0" / "last.pt", kind="last")
    assert last["epoch"] == 3 and int(last["model"]["estimator.stage"]) == 2
    monkeypatch.setattr(GMTEstimator, "loss", loss)
    run(RunSpec(dataset="", resume=str(out), progress=False))
    assert _runs(out) == _runs(sam["ref"])
    ref_last = load_checkpoint(sam["ref"] / "seed0" / "last.pt", kind="last")
    now = load_checkpoint(out / "seed0" / "last.pt", kind="last")
    assert all(torch.equal(now["model"][k], v) for k, v in ref_last["model"].items())


def test_gsat_explain_and_load_run_use_the_stage2_model(sam, tmp_path, capsys):
    loaded = gsat.load_run(sam["ref"])
    assert isinstance(loaded.model.estimator, GMTEstimator)
    assert int(loaded.model.estimator.stage) == 2
    graphs = generate_ba_2motifs(num_graphs=3, base_nodes=8, seed=4)
    torch.save(graphs, tmp_path / "new.pt")
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(sam["ref"]), "--input", str(tmp_path / "new.pt"), "--out",
              str(tmp_path / "ex"), "--no-progress", "--max-pictures", "0"])
    assert exc.value.code == 0
    rows = [json.loads(line) for line in (tmp_path / "ex" / "explanations.jsonl").open()]
    assert len(rows) == 3
    for g, row in zip(graphs, rows):
        att = loaded.model.explain(g)
        assert [e["attention"] for e in row["edges"]] == pytest.approx(att.tolist(), abs=1e-5)
        with torch.no_grad():  # the stage-2 model's prediction
            p = float(torch.sigmoid(loaded.model(g).logits).view(-1)[0])
        assert row["prediction"] == int(p > 0.5)
        assert row["probability"] == pytest.approx(p, abs=1e-5)


def test_train_method_flag_sets_the_estimator(sam, tmp_path):
    path = _tiny("GIN-ba_2motifs.yml", tmp_path / "gsat.yml")
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "ba_2motifs", "--config", str(path), "--method", "gmt_lin",
              "--epochs", "3", "--out", str(tmp_path / "lin"), "--data-dir", str(sam["data"]),
              "--no-progress", "--dataset-option", f"num_graphs={NUM_GRAPHS}"])
    assert exc.value.code == 0
    res = json.loads((tmp_path / "lin" / "results.json").read_text())
    assert res["method"] == "GMT-lin"
    assert load_config(tmp_path / "lin" / "config.yml").gsat.method == "gmt_lin"
    best = load_checkpoint(tmp_path / "lin" / "seed0" / "best.pt", kind="best")
    assert not any(k.startswith("estimator.classifier.") for k in best["model"])  # no stage 2


def test_the_progress_bar_names_the_configs_estimator(sam, tmp_path, capsys):
    path = _tiny("gmt/GIN-ba_2motifs-gmt_lin.yml", tmp_path / "lin.yml")
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "ba_2motifs", "--config", str(path), "--epochs", "1",
              "--out", str(tmp_path / "lin"), "--data-dir", str(sam["data"]),
              "--dataset-option", f"num_graphs={NUM_GRAPHS}"])
    assert exc.value.code == 0
    err = capsys.readouterr().err
    assert "ba_2motifs GIN gmt_lin seed 0" in err
    assert "GIN gsat seed" not in err


@pytest.mark.parametrize("edit, flags, expected", [
    ({"gmt": {"samples": 0}}, [], "gmt.samples must be >= 1"),
    ({"gmt": {"samples": 4}}, [], "gmt.samples (4) applies to gsat.method gmt_sam only"),
    ({"gsat": {"method": "gmt_sam"}, "gmt": {"stage2_epochs": 5}}, [],
     "gmt.stage2_epochs (5) must be fewer than train.epochs (5)"),
    ({"gmt": {"stage2_input": "hard"}}, [], "gmt.stage2_input: expected one of soft, top"),
    ({"gsat": {"method": "gmt_sam"}, "gmt": {"samples": 3}}, ["--method", "gmt_lin"],
     "with --method gmt_lin: gmt.samples (3) applies to gsat.method gmt_sam only"),
    ({}, ["--method", "gmt"], "argument --method: invalid choice: 'gmt'"),
    ({"gsat": {"method": "gmt_sam"}, "gmt": {"stage1_pick": "best"}}, [],
     "gmt.stage1_pick (best) chooses the first-stage weights a second stage freezes"),
    ({"gmt": {"stage1_pick": "first"}}, [], "gmt.stage1_pick: expected one of last, best"),
    ({"gmt": {"warmup_epochs": 3}}, [],
     "gmt.warmup_epochs (3) applies to gsat.method gmt_sam only"),
    ({"gsat": {"method": "gmt_sam"}, "gmt": {"stage2_frozen_mode": "train"}}, [],
     "gmt.stage2_frozen_mode (train) sets how the frozen parts run in a second stage"),
])
def test_bad_gmt_settings_are_one_line_with_exit_code_2(tmp_path, capsys, edit, flags,
                                                        expected):
    cfg = {"train": {"epochs": 5}}
    for section, values in edit.items():
        cfg.setdefault(section, {}).update(values)
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "ba_2motifs", "--config", str(tmp_path / "bad.yml"),
              "--data-dir", str(tmp_path / "data"), *flags])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and expected in err
    assert len([line for line in err.strip().splitlines()
                if not line.startswith("usage:") and not line.startswith(" ")]) == 1, err


def test_check_gmt_is_silent_for_a_consistent_config():
    cfg = load_config(configs_dir() / "gmt" / "GIN-ba_2motifs-gmt_sam.yml")
    check_gmt(cfg)
    cfg.gmt.stage2_epochs = cfg.train.epochs
    with pytest.raises(ConfigError, match="stage2_epochs"):
        check_gmt(cfg)


@pytest.mark.parametrize("method, extra", [("gmt_sam", {"samples": 2}), ("gsat", {})])
def test_fit_trains_both_stages_and_selects_the_second(method, extra):
    graphs = [ring(5 + i % 4, seed=i) for i in range(16)]
    torch.manual_seed(0)
    model = GSAT(GIN(3, 1, 16))
    hist = gsat.fit(model, DataLoader(graphs, batch_size=4, shuffle=True),
                    DataLoader(graphs[:6], batch_size=6), epochs=4, r_schedule=0.5,
                    progress=False, method=method, stage2_epochs=2, min_select_epoch=0,
                    **extra)
    assert len(hist) == 4 and model.estimator.samples == extra.get("samples", 1)
    assert [r["train_info"] == 0.0 for r in hist] == [False, False, True, True]
    assert [r["epoch"] for r in hist if r.get("selected")] == [3]
    assert model.estimator.method == method and int(model.estimator.stage) == 2


def test_fit_with_gmt_lin_attaches_its_estimator():
    lin = GSAT(GIN(3, 1, 16))
    gsat.fit(lin, DataLoader([ring(5 + i % 4, seed=i) for i in range(16)], batch_size=4),
             epochs=1, progress=False, method="gmt_lin")
    assert lin.estimator.method == "gmt_lin"


def test_gsat_train_with_a_gsat_second_stage(sam, tmp_path):
    path = _tiny("GIN-ba_2motifs.yml", tmp_path / "gsat2.yml", stage2_epochs=2,
                 stage2_input="top", stage2_top_ratio=0.8)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "ba_2motifs", "--config", str(path), "--out",
              str(tmp_path / "two"), "--data-dir", str(sam["data"]), "--no-progress",
              "--dataset-option", f"num_graphs={NUM_GRAPHS}"])
    assert exc.value.code == 0
    res = json.loads((tmp_path / "two" / "results.json").read_text())
    assert res["method"] == "GSAT" and res["runs"][0]["best_epoch"] >= 3  # a stage-2 epoch
    best = load_checkpoint(tmp_path / "two" / "seed0" / "best.pt", kind="best")
    assert any(k.startswith("estimator.classifier.") for k in best["model"])
    assert int(best["model"]["estimator.stage"]) == 2
    rows = [line.split(",") for line in
            (tmp_path / "two" / "seed0" / "metrics.csv").read_text().splitlines()]
    info = rows[0].index("train_info")
    assert [float(r[info]) == 0.0 for r in rows[1:]] == [False] * 3 + [True] * 2
    loaded = gsat.load_run(tmp_path / "two")
    assert loaded.model.estimator.method == "gsat" and loaded.model.estimator.in_stage2


def test_fit_with_stage1_pick_best_freezes_the_rules_first_stage_epoch():
    from gsat.core.selection import Selection, Selector

    graphs = [ring(5 + i % 4, seed=i) for i in range(16)]
    torch.manual_seed(0)
    model = GSAT(GIN(3, 1, 16))
    hist = gsat.fit(model, DataLoader(graphs, batch_size=4, shuffle=True),
                    DataLoader(graphs[6:12], batch_size=6), epochs=8,
                    r_schedule=dict(init_r=0.9, final_r=0.5, decay_r=0.2, decay_interval=1),
                    progress=False, method="gmt_sam", samples=2, stage2_epochs=3,
                    min_select_epoch=1, stage1_pick="best")
    rule = Selection(Selector(1, 0.5))
    for rec in hist[:5]:
        qual, any_ = rule.candidate(rec)
        rule.best_qual = rec if qual else rule.best_qual
        rule.best_any = rec if any_ else rule.best_any
    assert int(model.estimator.kept_epoch) == rule.chosen()[0]["epoch"]
    assert [r["epoch"] for r in hist if r.get("selected")] == [7]
    assert int(model.estimator.stage) == 2
    with pytest.raises(ConfigError, match="give a val_loader"):
        gsat.fit(GSAT(GIN(3, 1, 8)), DataLoader(graphs, batch_size=4), epochs=3,
                 progress=False, method="gmt_sam", stage2_epochs=1, stage1_pick="best")


def test_stage1_pick_best_resumes_from_the_first_stage_with_its_kept_epoch(sam, tmp_path,
                                                                          monkeypatch):
    cfg = yaml.safe_load(Path(sam["config"]).read_text())
    cfg["gmt"]["stage1_pick"] = "best"
    path = tmp_path / "best.yml"
    path.write_text(yaml.safe_dump(cfg))
    spec = dict(dataset="ba_2motifs", config=str(path), data_dir=str(sam["data"]),
                progress=False, dataset_options={"num_graphs": NUM_GRAPHS})
    run(RunSpec(out=str(tmp_path / "ref"), **spec))
    ref = load_checkpoint(tmp_path / "ref" / "seed0" / "last.pt", kind="last")
    assert 0 <= int(ref["model"]["estimator.kept_epoch"]) <= 2
    out = tmp_path / "run"
    loss = GSAT.loss

    def stop_in_epoch_2(self, o, y, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return loss(self, o, y, epoch)

    monkeypatch.setattr(GSAT, "loss", stop_in_epoch_2)
    with pytest.raises(TrainingInterrupted):
        run(RunSpec(out=str(out), **spec))
    monkeypatch.setattr(GSAT, "loss", loss)
    run(RunSpec(dataset="", resume=str(out), progress=False))
    assert _runs(out) == _runs(tmp_path / "ref")
    now = load_checkpoint(out / "seed0" / "last.pt", kind="last")
    assert all(torch.equal(now["model"][k], v) for k, v in ref["model"].items())


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="gmt"), "method must be one of gsat, gmt_lin, gmt_sam"),
    (dict(method="gmt_sam", stage2_epochs=2), r"stage2_epochs must be a whole number from 0 "
                                              r"to epochs - 1 \(1\)"),
    (dict(method="gmt_sam", samples=0), "samples"),
    (dict(method="gsat", samples=3), "belong to method='gmt_sam'"),
    (dict(method="gsat", warmup_epochs=1), "belong to method='gmt_sam'"),
    (dict(method="gmt_sam", warmup_epochs=-2), "warmup_epochs must be"),
    (dict(method="gmt_sam", stage2_frozen_mode="train"), "set stage2_epochs too"),
])
def test_fit_refuses_bad_gmt_settings(kwargs, match):
    model = GSAT(GIN(3, 1, 8))
    with pytest.raises(ConfigError, match=match):
        gsat.fit(model, DataLoader([ring(5)], batch_size=1), epochs=2, progress=False,
                 **kwargs)


def test_benchmark_trains_its_attention_model_with_the_method(sam, tmp_path, capsys):
    out = tmp_path / "b"
    res = run_benchmark(BenchmarkSpec(dataset="ba_2motifs", explainers=["gsat"], seeds=[0],
                                      epochs=2, out=str(out), data_dir=str(sam["data"]),
                                      max_graphs=3, progress=False, method="gmt_lin",
                                      dataset_options={"num_graphs": NUM_GRAPHS}))
    (rec,) = res["records"]
    assert rec["method"] == "gsat" and 0 <= rec["test_interp_auc"] <= 1
    best = load_checkpoint(out / "gsat" / "seed0" / "best.pt", kind="best")
    assert best["config"]["gsat"]["method"] == "gmt_lin"
    with pytest.raises(SystemExit) as exc:
        main(["benchmark", "--dataset", "ba_2motifs", "--method", "gmt"])
    assert exc.value.code == 2


def test_fewer_epochs_scale_the_second_stage_with_the_r_schedule():
    from gsat.core.config import fit_schedule_to_epochs

    cfg = load_config(configs_dir() / "gmt" / "GIN-ba_2motifs-gmt_sam.yml")  # 200, 100
    fit_schedule_to_epochs(cfg, 20)
    assert cfg.gmt.stage2_epochs == 10 and cfg.gsat.decay_interval == 1
    assert any("gmt.stage2_epochs 100 -> 10" in note for note in cfg.notes)
    check_gmt(cfg)


def test_fewer_epochs_scale_the_warmup_with_the_r_schedule():
    from gsat.core.config import fit_schedule_to_epochs

    cfg = load_config(configs_dir() / "gmt" / "GIN-ba_2motifs-gmt_sam.yml")  # 200, 100
    cfg.gmt.warmup_epochs = 10
    fit_schedule_to_epochs(cfg, 40)
    assert cfg.gmt.warmup_epochs == 2 and cfg.gsat.decay_interval == 2
    assert any("gmt.warmup_epochs 10 -> 2" in note for note in cfg.notes)


def test_fit_with_a_gmt_sam_warmup_weighs_the_info_loss_in_its_first_epochs():
    graphs = [ring(5 + i % 4, seed=i) for i in range(16)]
    torch.manual_seed(0)
    model = GSAT(GIN(3, 1, 16), info_loss_coef=0.5)
    hist = gsat.fit(model, DataLoader(graphs, batch_size=4, shuffle=True), epochs=3,
                    r_schedule=0.5, progress=False, method="gmt_sam", samples=2,
                    warmup_epochs=2, warmup_info_factor=3.0)
    assert model.estimator.warmup_epochs == 2
    for rec, factor in zip(hist, (3.0, 3.0, 1.0)):
        want = rec["train_pred"] + factor * 0.5 * rec["train_info"]
        assert rec["train_loss"] == pytest.approx(want, rel=1e-5), rec["epoch"]
