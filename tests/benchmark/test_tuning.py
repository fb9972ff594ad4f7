"""Tuning post-hoc explainers on validation graphs (gsat.benchmark.tuning): the choice, reuse
of the default row's fit, and continuing an interrupted tuning."""
import json

import pytest
import torch
from benchmark_cases import Oracle, learner, oracle_key, small_ba_2motifs

from gsat.benchmark import BenchmarkSpec, run_benchmark

pytestmark = pytest.mark.usefixtures("undrawn_pictures")


def test_tuning_selects_on_validation_and_records_the_choice(tmp_path, monkeypatch):
    from gsat.data import load_dataset
    from gsat.explain import registry

    small_ba_2motifs(monkeypatch)
    monkeypatch.setitem(registry.EXPLAINERS, "oracle", Oracle.make)
    data = str(tmp_path / "data")
    ds = load_dataset("ba_2motifs", data, seed=0)
    Oracle.valid_keys = {oracle_key(g) for g in ds.valid}
    assert not Oracle.valid_keys & {oracle_key(g) for g in ds.test}
    grid = [{"good_on": "test"}, {"good_on": "valid"}]
    spec = BenchmarkSpec(dataset="ba_2motifs", explainers=["oracle"], seeds=[0], epochs=1,
                         out=str(tmp_path / "b"), data_dir=data, progress=False, tune=True,
                         tuning_grids={"oracle": grid})
    res = run_benchmark(spec)
    default, tuned = res["records"]
    assert (default["method"], tuned["method"]) == ("oracle", "oracle+tuned")
    assert default["test_interp_auc"] == 1.0  # good_on="test" is right on test graphs ...
    # ... but selection sees only validation graphs, where good_on="valid" is right
    assert [t["valid_interp_auc"] for t in tuned["tuning"]] == [0.0, 1.0]
    assert tuned["settings"] == {"good_on": "valid"} and tuned["chosen"] == {"good_on": "valid"}
    assert tuned["test_interp_auc"] == 0.0 and tuned["valid_interp_auc"] == 1.0
    assert tuned["tuning_graphs"] == len(ds.valid)
    saved = json.loads((tmp_path / "b" / "benchmark.json").read_text())
    assert saved["settings"]["oracle+tuned"]["chosen_per_seed"] == {"0": {"good_on": "valid"}}
    assert saved["tuning"]["selected_on"] == "validation" and saved["tuning"]["grids"] == {
        "oracle": grid}
    md = (tmp_path / "b" / "benchmark.md").read_text()
    assert "| oracle+tuned | erm | 1 | 0.00 ± 0.00 |" in md
    assert "- oracle+tuned: seed 0: good_on=valid" in md

    # a second run in the folder reuses both finished pieces without explaining anything
    Oracle.calls = 0
    again = run_benchmark(spec)
    assert Oracle.calls == 0
    assert [r["test_interp_auc"] for r in again["records"]] == [1.0, 0.0]
    # ... but not when the grid changed
    spec.tuning_grids = {"oracle": grid[::-1]}
    run_benchmark(spec)
    assert Oracle.calls > 0


def test_tuning_reuses_the_fitted_default_explainer(tmp_path, monkeypatch):
    from gsat.explain import registry

    fits = []
    Learner = learner(fits, lambda k, y: y * k)  # right on every graph once fitted

    small_ba_2motifs(monkeypatch)
    monkeypatch.setitem(registry.EXPLAINERS, "learner", Learner)
    spec = BenchmarkSpec(dataset="ba_2motifs", explainers=["learner"], seeds=[0], epochs=1,
                         out=str(tmp_path / "b"), data_dir=str(tmp_path / "data"),
                         progress=False, tune=True,
                         tuning_grids={"learner": [{"k": 2}, {"k": 1}]})
    res = run_benchmark(spec)
    assert fits == [1, 2]  # the default row's fit (k=1) served its grid setting too
    tuned = res["records"][1]
    assert [t["fit_reused"] for t in tuned["tuning"]] == [False, True]
    assert tuned["tuning"][1]["valid_interp_auc"] == 1.0


def test_an_interrupted_tuning_continues_at_its_next_setting(tmp_path, monkeypatch):
    from gsat.explain import registry

    fits = []
    interrupt = {"on": True}

    def score(k, y):  # k=2 is right on every graph, k=3 wrong, k=4 uninformed
        if k == 3 and interrupt["on"]:
            raise KeyboardInterrupt
        return {2: y, 3: 1 - y}.get(k, torch.full_like(y, 0.5))

    Learner = learner(fits, score)

    small_ba_2motifs(monkeypatch)
    monkeypatch.setitem(registry.EXPLAINERS, "learner", Learner)
    grid = [{"k": 2}, {"k": 3}, {"k": 4}]

    def spec(folder):
        return BenchmarkSpec(dataset="ba_2motifs", explainers=["learner"], seeds=[0],
                             epochs=1, out=str(tmp_path / folder),
                             data_dir=str(tmp_path / "data"), progress=False, tune=True,
                             tuning_grids={"learner": grid})

    with pytest.raises(KeyboardInterrupt):
        run_benchmark(spec("b"))
    assert fits == [1, 2, 3]  # the default row, the first trial, then the interrupted one
    saved = tmp_path / "b" / "erm" / "seed0" / "tuning-learner.json"
    assert [t["settings"] for t in json.loads(saved.read_text())["value"]] == [{"k": 2}]

    interrupt["on"] = False
    fits.clear()
    res = run_benchmark(spec("b"))
    # the finished trial is not run again; chosen, it is fitted once more for the test graphs
    assert fits == [3, 4, 2]
    tuned = res["records"][1]
    assert [t.get("resumed", False) for t in tuned["tuning"]] == [True, False, False]
    assert tuned["chosen"] == {"k": 2} and tuned["test_interp_auc"] == 1.0
    assert not saved.exists()  # removed once the record is written

    fits.clear()  # the same tuning without interruption gives the same trials
    whole = run_benchmark(spec("c"))["records"][1]
    assert fits == [1, 2, 3, 4]
    assert [t["valid_interp_auc"] for t in whole["tuning"]] == [
        t["valid_interp_auc"] for t in tuned["tuning"]] == [1.0, 0.0, 0.5]
    assert whole["chosen"] == tuned["chosen"]
    assert whole["test_interp_auc"] == tuned["test_interp_auc"]

    # trials saved for another grid are not taken
    saved.write_text(json.dumps({"stamp": {"piece_key": {"other": 1}, "model_best_epoch": 0},
                                 "value": [{"settings": {"k": 3}, "valid_interp_auc": 1.0}]}))
    from gsat.benchmark.tuning import earlier_trials
    assert earlier_trials(saved, {"piece_key": {"grid": grid}, "model_best_epoch": 0}) == []
    assert earlier_trials(saved, {"piece_key": {"other": 1}, "model_best_epoch": 0}) == [
        {"settings": {"k": 3}, "valid_interp_auc": 1.0}]


def test_a_tuning_after_an_interruption_loads_the_saved_default_fit(tmp_path, monkeypatch):
    from gsat.explain import registry

    fits, loads = [], []
    interrupt = {"on": True}

    def score(k, y):  # the default k=1 is right on every graph, k=3 wrong
        if k == 3 and interrupt["on"]:
            raise KeyboardInterrupt
        return y if k == 1 else 1 - y

    class Learner(learner(fits, score)):  # ... and says what it learned
        def __init__(self, k=1):
            super().__init__(k=k)
            self.learned = None

        def fit(self, model, graphs, task, device="cpu", progress=False):
            super().fit(model, graphs, task, device, progress)
            self.learned = torch.tensor(float(self.settings["k"]))

        def fitted_state(self):
            return None if self.learned is None else {"learned": self.learned}

        def load_fitted(self, model, task, state, device="cpu"):
            loads.append(self.settings["k"])
            self.learned = state["learned"]

        def explain_graph(self, model, data, task):
            assert self.learned is not None, "explained before being fitted"
            return super().explain_graph(model, data, task)

    small_ba_2motifs(monkeypatch)
    monkeypatch.setitem(registry.EXPLAINERS, "learner", Learner)
    spec = BenchmarkSpec(dataset="ba_2motifs", explainers=["learner"], seeds=[0], epochs=1,
                         out=str(tmp_path / "b"), data_dir=str(tmp_path / "data"),
                         progress=False, tune=True,
                         tuning_grids={"learner": [{"k": 1}, {"k": 3}]})
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(spec)
    saved = tmp_path / "b" / "erm" / "seed0" / "fitted-learner.pt"
    assert fits == [1, 3] and saved.exists()

    interrupt["on"] = False
    fits.clear()
    res = run_benchmark(spec)
    # the default setting, chosen, is explained with the saved fit instead of a new one
    assert fits == [3] and loads == [1]
    tuned = res["records"][1]
    assert tuned["chosen"] == {"k": 1} and tuned["test_interp_auc"] == 1.0
    assert not saved.exists()

    # a fit saved for another model or other settings is not loaded
    from gsat.benchmark.tuning import load_fit, save_fit
    fitted = Learner()
    fitted.fit(None, [], "binary")
    save_fit(saved, {"piece_key": "a"}, fitted, 1.0)
    assert load_fit(saved, {"piece_key": "b"}, Learner(), None, "binary", "cpu") is None
    got = load_fit(saved, {"piece_key": "a"}, Learner(), None, "binary", "cpu")
    assert got[1] == 1.0 and got[0].learned == 1.0
    saved.write_bytes(b"not a checkpoint")  # damaged: fitted again rather than failing
    assert load_fit(saved, {"piece_key": "a"}, Learner(), None, "binary", "cpu") is None
