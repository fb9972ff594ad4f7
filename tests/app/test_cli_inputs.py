"""Inputs of the command line checked once, the same way from every source: a flag, a
config, a resumed run's run.json, a dataset option; every mistake one line and exit 2."""
import json

import pytest

from gsat.app.cli import build_parser, given_flags, main
from gsat.benchmark.spec import BenchmarkSpec, check_spec
from gsat.core.config import config_from_dict
from gsat.errors import ConfigError
from gsat.training.driver import RunSpec, resume_spec, run


def _fails(capsys, argv):
    """Run the command line; return its exit code and the one line it printed on stderr."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return exc.value.code, err


@pytest.mark.parametrize("option", ["num_graphs=1", "num_graphs=-5", "source=bogus"])
def test_a_builders_own_argument_error_is_an_input_error(tmp_path, capsys, option):
    code, err = _fails(capsys, ["train", "--dataset", "ba_2motifs", "--dataset-option", option,
                                "--epochs", "1", "--data-dir", str(tmp_path)])
    assert code == 2 and err.startswith("gsat: error: dataset 'ba_2motifs': ")
    assert ("num_graphs must be >= 2" in err) or ("unknown BA-2Motifs source" in err)


@pytest.mark.parametrize("argv,flag", [
    (["train", "--dataset", "ba_2motifs", "--out", ""], "--out"),
    (["train", "--dataset", "ba_2motifs", "--data-dir", ""], "--data-dir"),
    (["train", "--dataset", "ba_2motifs", "--data-dir", "  "], "--data-dir"),
    (["benchmark", "--dataset", "ba_2motifs", "--out", ""], "--out"),
    (["benchmark", "--dataset", "ba_2motifs", "--data-dir", ""], "--data-dir"),
    (["train", "--resume", ""], "--resume"),
    (["explain", "", "--input", "x.csv"], "RUN_DIR"),
])
def test_an_empty_path_is_refused(tmp_path, monkeypatch, capsys, argv, flag):
    monkeypatch.chdir(tmp_path)
    code, err = _fails(capsys, argv)
    assert code == 2 and f"argument {flag}" in err and "must name a file or folder" in err
    assert list(tmp_path.iterdir()) == []  # nothing written into the current folder


def test_empty_paths_are_refused_from_python_too(tmp_path):
    with pytest.raises(ConfigError, match="--data-dir must name a file or folder"):
        run(RunSpec(dataset="ba_2motifs", data_dir="", progress=False))
    with pytest.raises(ConfigError, match="--out must name a file or folder"):
        check_spec(BenchmarkSpec(dataset="ba_2motifs", explainers=["saliency"], out=""))


@pytest.mark.parametrize("value", ["0", "-1", "100001", "99999999999999999999999"])
def test_one_rule_for_epochs_on_the_command_line_and_in_a_config(capsys, value):
    for argv in (["train", "--dataset", "ba_2motifs", "--epochs", value],
                 ["benchmark", "--dataset", "ba_2motifs", "--explainers", "gsat", "saliency",
                  "--explainer-epochs", value]):
        code, err = _fails(capsys, argv)
        assert code == 2 and "must be >= 1 and <= 100000" in err, err
    with pytest.raises(ConfigError, match=r"train\.epochs must be >= 1 and <= 100000"):
        config_from_dict({"train": {"epochs": int(value)}})
    with pytest.raises(ConfigError, match="--explainer-epochs must be >= 1 and <= 100000"):
        check_spec(BenchmarkSpec(dataset="ba_2motifs", explainers=["saliency"],
                                 explainer_epochs=int(value)))


def test_the_largest_number_of_epochs_passes_everywhere():
    args = build_parser().parse_args(["train", "--epochs", "100000"])
    assert args.epochs == 100000
    assert config_from_dict({"train": {"epochs": 100000}}).train.epochs == 100000


def test_flags_given_with_resume_are_found_by_presence_not_value(tmp_path, capsys):
    # 0, GIN and cpu are the defaults: a comparison of values would miss them
    assert given_flags(["--resume", "r", "--seeds", "0", "--backbone", "GIN",
                        "--device", "cpu", "--no-progress"]) == \
        ["backbone", "device", "no_progress", "resume", "seeds"]
    code, err = _fails(capsys, ["train", "--resume", str(tmp_path), "--seeds", "0"])
    assert code == 2 and "drop --seeds" in err
    code, err = _fails(capsys, ["train", "--resume", str(tmp_path), "--data-dir", "data"])
    assert code == 2 and "drop --data-dir" in err


def _run_folder(tmp_path, **changes):
    """A run folder whose run.json holds valid arguments, with :obj:`changes`."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    fields = {"dataset": "ba_2motifs", "backbone": "GIN", "config": None, "epochs": 1,
              "seeds": [0], "device": "cpu", "out": str(folder), "data_dir": str(data),
              "method": "gsat", "dataset_options": {"num_graphs": 20}, "tensorboard": False,
              "devices": None, **changes}
    (folder / "run.json").write_text(json.dumps(fields))
    return folder


def test_an_intact_run_json_is_accepted(tmp_path):
    spec = resume_spec(_run_folder(tmp_path))
    assert (spec.backbone, spec.seeds, spec.dataset_options) == ("GIN", [0], {"num_graphs": 20})


@pytest.mark.parametrize("field,value,message", [
    ("dataset", 5, "field 'dataset' must be a string"),
    ("dataset", "", "field 'dataset' must be a dataset name"),
    ("backbone", "bogus", "field 'backbone': unknown backbone 'bogus'; choose one of: GIN, PNA"),
    ("method", "nope", "field 'method': unknown method 'nope'"),
    ("epochs", -3, "field 'epochs' must be >= 1 and <= 100000"),
    ("epochs", 10 ** 23, "field 'epochs' must be >= 1 and <= 100000"),
    ("seeds", [0, 0], "field 'seeds': seed 0 is given twice"),
    ("seeds", [-1], "field 'seeds': a seed must be a whole number"),
    ("device", "tpu", "field 'device': unknown device 'tpu'"),
    ("devices", ["tpu"], "field 'devices': unknown device 'tpu'"),
    ("devices", [], "field 'devices' must list at least one device"),
    ("out", "", "field 'out' must name a file or folder"),
    ("data_dir", "", "field 'data_dir' must name a file or folder"),
    ("data_dir", "{tmp}/elsewhere", "field 'data_dir': the run's data root"),
    ("dataset_options", {"1x": 2}, "field 'dataset_options' must map option names"),
])
def test_every_run_json_field_is_checked_as_its_flag(tmp_path, capsys, field, value, message):
    value = value.replace("{tmp}", str(tmp_path)) if isinstance(value, str) else value
    folder = _run_folder(tmp_path, **{field: value})
    with pytest.raises(ConfigError, match="run.json: " + message.replace("(", r"\(")):
        resume_spec(folder)
    code, err = _fails(capsys, ["train", "--resume", str(folder)])
    assert code == 2 and message in err
    assert not (tmp_path / "elsewhere").exists()  # no data written where run.json pointed


def test_a_resumed_runs_dataset_options_are_checked_by_its_builder(tmp_path, capsys):
    folder = _run_folder(tmp_path, dataset_options={"num_graphs": 1})
    code, err = _fails(capsys, ["train", "--resume", str(folder)])
    assert code == 2 and "dataset 'ba_2motifs': num_graphs must be >= 2, got 1" in err


def test_a_duplicate_key_in_a_dataset_option_is_refused(capsys):
    code, err = _fails(capsys, ["train", "--dataset", "ba_2motifs", "--dataset-option",
                                "a={x: 1, x: 2}"])
    assert code == 2 and "found the key 'x' a second time" in err


def test_a_released_file_that_needs_foreign_code_is_an_input_error(tmp_path, capsys):
    import os
    import pickle

    from gsat.data.ba_2motifs import RELEASED_FILE

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    path = tmp_path / RELEASED_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps((Evil(),)))
    code, err = _fails(capsys, ["train", "--dataset", "ba_2motifs", "--data-dir", str(tmp_path)])
    assert code == 2 and "refusing to load the global" in err
    assert not (tmp_path / "pwned").exists()
