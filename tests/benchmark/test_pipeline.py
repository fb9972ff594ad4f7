"""The benchmark run (gsat.benchmark.pipeline): the command, its files, reuse of finished
pieces, interruptions, and the graphs it explains."""
import functools
import json

import pytest
from benchmark_cases import Oracle, oracle_key, small_ba_2motifs

from gsat.app.cli import SUBCOMMANDS, main
from gsat.benchmark import BenchmarkSpec, run_benchmark, throughput_ratio
from gsat.data import DATASETS, load_dataset
from gsat.data.ba_2motifs import load_ba_2motifs
from gsat.errors import UnknownNameError

pytestmark = pytest.mark.usefixtures("undrawn_pictures")

RECORD_KEYS = {"method", "seed", "test_interp_auc", "test_precision_at_5", "explain_seconds",
               "graphs_per_second", "test_metric", "settings"}


def test_benchmark_command_writes_both_files_and_reuses_models(tmp_path, monkeypatch, capsys):
    assert "benchmark" in SUBCOMMANDS
    small_ba_2motifs(monkeypatch)
    out = tmp_path / "bench"
    argv = ["benchmark", "--dataset", "ba_2motifs", "--backbone", "GIN", "--explainers",
            "gsat", "gnnexplainer", "graphmask", "ig", "pgexplainer", "--seeds", "0", "1",
            "--epochs", "1", "--explainer-epochs", "2", "--max-graphs", "3", "--out", str(out),
            "--data-dir", str(tmp_path / "data"), "--no-progress"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    res = json.loads((out / "benchmark.json").read_text())
    recs = res["records"]
    assert [(r["method"], r["seed"]) for r in recs] == [
        (m, s) for s in (0, 1) for m in ("gsat", "gnnexplainer", "graphmask", "ig",
                                          "pgexplainer")]
    for r in recs:
        assert RECORD_KEYS <= set(r)
        assert r["num_graphs"] == 3 and r["explain_seconds"] > 0
        assert r["graphs_per_second"] == pytest.approx(3 / r["explain_seconds"])
        # every BA-2Motifs graph has motif and base edges: the AUC is always defined
        assert r["test_interp_auc"] is not None and 0 <= r["test_interp_auc"] <= 1
        assert r["model"] == ("gsat" if r["method"] == "gsat" else "erm")
    assert res["settings"]["gnnexplainer"]["epochs"] == 2
    assert res["settings"]["ig"]["n_steps"] == 50
    aucs = [r["test_interp_auc"] for r in recs if r["method"] == "gsat"]
    assert res["summary"]["gsat"]["mean"]["test_interp_auc"] == pytest.approx(sum(aucs) / 2)
    assert throughput_ratio(res) == pytest.approx(
        res["summary"]["gsat"]["mean"]["graphs_per_second"]
        / res["summary"]["gnnexplainer"]["mean"]["graphs_per_second"])
    md = (out / "benchmark.md").read_text()
    assert "| gnnexplainer | erm | 2 |" in md and "67.35 ± 3.29" in md and "98.74" in md
    assert "| method |" in capsys.readouterr().out
    assert (out / "gsat" / "seed1" / "best.pt").exists()
    assert (out / "erm" / "seed0" / "best.pt").exists()

    # a second run in the same folder reuses the trained models and reproduces GSAT's scores
    run_benchmark(BenchmarkSpec(dataset="ba_2motifs", explainers=["gsat"], seeds=[1],
                                epochs=1, out=str(out), data_dir=str(tmp_path / "data"),
                                max_graphs=3, progress=False, threads=res["spec"]["threads"]))
    saved = json.loads((out / "benchmark.json").read_text())["records"]
    (rec,) = [r for r in saved if (r["method"], r["seed"]) == ("gsat", 1)]
    assert rec["model_reused"] is True
    # ... and keeps the records of the methods and seeds it did not run
    assert sorted((r["method"], r["seed"]) for r in saved) == sorted(
        (r["method"], r["seed"]) for r in recs)
    first = [r for r in recs if (r["method"], r["seed"]) == ("gsat", 1)][0]
    for key in ("test_interp_auc", "test_precision_at_5", "test_metric", "model_best_epoch"):
        assert rec[key] == first[key], key


def test_unknown_explainer_is_a_user_error(tmp_path):
    with pytest.raises(UnknownNameError, match="choose one of"):
        run_benchmark(BenchmarkSpec(dataset="ba_2motifs", explainers=["shap"],
                                    out=str(tmp_path / "b"), progress=False))
    with pytest.raises(SystemExit) as exc:
        main(["benchmark", "--dataset", "ba_2motifs", "--explainers", "shap"])
    assert exc.value.code == 2


def test_a_run_of_some_explainers_keeps_the_other_records(tmp_path, monkeypatch):
    from gsat.explain import registry

    small_ba_2motifs(monkeypatch)
    monkeypatch.setitem(registry.EXPLAINERS, "oracle", Oracle.make)
    monkeypatch.setitem(registry.EXPLAINERS, "other", Oracle.make)
    data = str(tmp_path / "data")
    # the oracles are right on validation graphs with good_on="valid" (tuning picks it)
    Oracle.valid_keys = {oracle_key(g) for g in load_dataset("ba_2motifs", data, seed=0).valid}
    grid = [{"good_on": "test"}, {"good_on": "valid"}]
    spec = BenchmarkSpec(dataset="ba_2motifs", explainers=["oracle", "other"], seeds=[0],
                         epochs=1, out=str(tmp_path / "b"), data_dir=data, progress=False,
                         tune=True, tuning_grids={"oracle": grid, "other": grid})
    first = run_benchmark(spec)
    assert [r["method"] for r in first["records"]] == [
        "oracle", "other", "oracle+tuned", "other+tuned"]
    # a second run of one explainer with another grid: the other explainer's rows stay,
    # this one's are made again with the new grid
    spec.explainers = ["oracle"]
    spec.tuning_grids = {"oracle": grid[:1]}
    Oracle.calls = 0
    second = run_benchmark(spec)
    assert Oracle.calls > 0
    assert [r["method"] for r in second["records"]] == [
        "oracle", "other", "oracle+tuned", "other+tuned"]
    tuned = {r["method"]: r for r in second["records"]}
    assert tuned["oracle+tuned"]["chosen"] == {"good_on": "test"}
    assert tuned["other+tuned"]["chosen"] == {"good_on": "valid"}
    assert second["explainers"] == ["oracle", "other"]
    assert second["tuning"]["grids"] == {"other": grid, "oracle": grid[:1]}
    assert second["settings"]["other+tuned"]["chosen_per_seed"] == {"0": {"good_on": "valid"}}
    # a run of another seed with the first grid again: seed 0's oracle+tuned row was tuned
    # on the other grid, so it is dropped rather than mixed into the same table row
    spec.seeds = [1]
    spec.tuning_grids = {"oracle": grid}
    third = run_benchmark(spec)
    pairs = [(r["method"], r["seed"]) for r in third["records"]]
    assert ("oracle+tuned", 0) not in pairs and ("oracle+tuned", 1) in pairs
    assert ("other+tuned", 0) in pairs and ("oracle", 0) in pairs
    assert third["seeds"] == [0, 1]


def test_an_interrupted_run_keeps_the_records_it_had_not_reached(tmp_path, monkeypatch):
    from gsat.explain import registry
    from gsat.explain.base import EdgeExplainer

    class Boom(EdgeExplainer):  # explains; fails when tuned (its only grid setting)
        def __init__(self, fail=False):
            super().__init__(fail=fail)

        def explain_graph(self, model, data, task):
            if self.settings["fail"]:
                raise KeyboardInterrupt
            return data.edge_label.float()

    small_ba_2motifs(monkeypatch)
    monkeypatch.setitem(registry.EXPLAINERS, "oracle", Oracle.make)
    monkeypatch.setitem(registry.EXPLAINERS, "boom", Boom)
    grid = [{"good_on": "test"}, {"good_on": "valid"}]
    spec = BenchmarkSpec(dataset="ba_2motifs", explainers=["oracle"], seeds=[0, 1],
                         epochs=1, out=str(tmp_path / "b"), data_dir=str(tmp_path / "data"),
                         progress=False, tune=True, tuning_grids={"oracle": grid})
    first = run_benchmark(spec)
    before = sorted((r["method"], r["seed"]) for r in first["records"])
    assert len(before) == 4
    # boom runs first and writes benchmark.json; its tuned piece is interrupted before any
    # oracle piece of seed 0 was reached again
    spec.explainers = ["boom", "oracle"]
    spec.tuning_grids = {"oracle": grid, "boom": [{"fail": True}]}
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(spec)
    saved = json.loads((tmp_path / "b" / "benchmark.json").read_text())
    pairs = sorted((r["method"], r["seed"]) for r in saved["records"])
    assert pairs == sorted(before + [("boom", 0)])


def test_graphs_tuned_on_are_also_scored_apart_when_they_are_reported(tmp_path, monkeypatch):
    """Mutag reports all mutagens with ground truth, validation graphs included: tuned and
    default rows then also carry the score on the reported graphs not tuned on."""
    from gsat.data.base import GraphDataset
    from gsat.explain import registry

    def overlapping(*args, **kwargs):
        ds = load_ba_2motifs(*args, num_graphs=40, **kwargs)
        # the reported set holds the validation graphs and the test graphs
        return GraphDataset(**{**ds.__dict__, "interp_test": list(ds.valid) + list(ds.test)})

    monkeypatch.setitem(DATASETS, "ba_2motifs", overlapping)
    monkeypatch.setitem(registry.EXPLAINERS, "oracle", Oracle.make)
    data = str(tmp_path / "data")
    ds = load_dataset("ba_2motifs", data, seed=0)
    Oracle.valid_keys = {oracle_key(g) for g in ds.valid}
    res = run_benchmark(BenchmarkSpec(
        dataset="ba_2motifs", explainers=["oracle"], seeds=[0], epochs=1,
        out=str(tmp_path / "b"), data_dir=data, progress=False, tune=True,
        tuning_grids={"oracle": [{"good_on": "test"}, {"good_on": "valid"}]}))
    default, tuned = res["records"]
    n_valid, n_test = len(ds.valid), len(ds.test)
    assert tuned["num_graphs"] == n_valid + n_test and tuned["num_graphs_unseen"] == n_test
    # chosen on validation (right there), so right on the validation half of the reported
    # set and wrong on the rest; on the graphs not tuned on it scores 0
    assert tuned["chosen"] == {"good_on": "valid"}
    assert tuned["test_interp_auc_unseen"] == 0.0 < tuned["test_interp_auc"] < 1.0
    assert default["test_interp_auc_unseen"] == 1.0
    assert "interp AUC, graphs not tuned on" in (tmp_path / "b" / "benchmark.md").read_text()


def _sorted_by_class(**kwargs):
    """BA-2Motifs with its validation and test graphs stored class by class."""
    ds = load_ba_2motifs(**kwargs)
    ds.valid = sorted(ds.valid, key=lambda g: int(g.y))
    ds.test = sorted(ds.test, key=lambda g: int(g.y))
    return ds


def test_a_sample_missing_a_class_is_flagged_and_records_follow_the_graphs(
        tmp_path, monkeypatch, caplog):
    from gsat.explain import registry

    monkeypatch.setitem(DATASETS, "ba_2motifs", functools.partial(_sorted_by_class,
                                                                  num_graphs=60))
    monkeypatch.setitem(registry.EXPLAINERS, "oracle", Oracle.make)
    spec = BenchmarkSpec(dataset="ba_2motifs", explainers=["oracle"], seeds=[0], epochs=1,
                         out=str(tmp_path / "b"), data_dir=str(tmp_path / "data"),
                         progress=False, tune=True, tune_graphs=3, max_graphs=3,
                         tuning_grids={"oracle": [{"good_on": "test"}]})
    with caplog.at_level("WARNING", logger="gsat.benchmark.graphs"):
        first = run_benchmark(spec)
    warned = [r.getMessage() for r in caplog.records if "miss class" in r.getMessage()]
    assert len(warned) == 2 and "explained test" in warned[0] and "tuning" in warned[1]
    assert "[1]" in warned[0]  # the first three graphs are all of class 0
    assert all(len(r["graphs_digest"]) == 16 for r in first["records"])
    # the same graphs again: both records are reused
    Oracle.calls = 0
    run_benchmark(spec)
    assert Oracle.calls == 0
    # the same split in another order gives other first graphs: nothing is reused, and the
    # first three graphs of the split as generated hold both classes
    monkeypatch.setitem(DATASETS, "ba_2motifs", functools.partial(load_ba_2motifs,
                                                                  num_graphs=60))
    caplog.clear()
    with caplog.at_level("WARNING", logger="gsat.benchmark.graphs"):
        second = run_benchmark(spec)
    assert Oracle.calls > 0
    assert not [r for r in caplog.records if "miss class" in r.getMessage()]
    assert [r["graphs_digest"] for r in second["records"]] != [
        r["graphs_digest"] for r in first["records"]]
