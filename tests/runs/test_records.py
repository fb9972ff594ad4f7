"""run.json and results.json are read back with a schema."""
import dataclasses
import json
import math

import pytest

from gsat.errors import ConfigError
from gsat.runs.layout import RunFolder
from gsat.runs.records import (RUN_FIELDS, read_results, read_run_json, record_problem,
                               write_results, write_run_json)
from gsat.training.driver import _NOT_STORED, RunSpec


def test_run_json_holds_every_stored_field_of_a_run_spec():
    stored = {f.name for f in dataclasses.fields(RunSpec)} - set(_NOT_STORED)
    assert set(RUN_FIELDS) == stored


def test_run_json_round_trip_and_type_checks(tmp_path):
    folder = RunFolder(tmp_path)
    spec = dataclasses.asdict(RunSpec(dataset="ba_2motifs", seeds=[0, 1]))
    write_run_json(folder, spec)
    assert read_run_json(folder)["seeds"] == [0, 1]
    for field, value in [("dataset", 5), ("seeds", "0"), ("tensorboard", 1),
                         ("epochs", True), ("dataset_options", [])]:
        folder.run_json.write_text(json.dumps({**spec, field: value}))
        with pytest.raises(ConfigError, match=f"field '{field}' must be"):
            read_run_json(folder)
    folder.run_json.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected the arguments of a run"):
        read_run_json(folder)
    with pytest.raises(ConfigError, match="no such run folder"):
        read_run_json(RunFolder(tmp_path / "absent"))


def test_results_records_that_cannot_be_results_are_dropped(tmp_path, caplog):
    folder = RunFolder(tmp_path)
    good = {"seed": 0, "best_epoch": 3, "valid_metric": 0.9, "test_interp_auc": math.nan}
    bad = {"seed": 1, "best_epoch": 3, "valid_metric": 1.5}
    write_results(folder, {"runs": [good, bad]})
    assert json.loads(folder.results.read_text())["runs"][0]["test_interp_auc"] is None
    assert set(read_results(folder)) == {0, 1}
    assert set(read_results(folder, epochs=10)) == {0}
    assert "valid_metric = 1.5 is not a score" in caplog.text
    assert record_problem({"seed": 0, "best_epoch": 10}, 10) == "best_epoch 10 outside 0..9"
    folder.results.write_text("{broken")
    assert read_results(folder, epochs=10) == {}
