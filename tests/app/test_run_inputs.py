"""Run arguments that cannot give a meaningful result stop with one line and exit code 2,
in the library (one check per kind of input) and on the command line."""
import json

import pytest

from gsat.app.cli import main
from gsat.errors import ConfigError
from gsat.core.validation import check_device, check_seeds


@pytest.mark.parametrize("seeds,match", [
    ([0, 0], "given twice"), ([-1], r"\[0, 4294967295\]"), ([2 ** 32], r"\[0, 4294967295\]"),
    ([], "non-empty"), ("ab", "non-empty"), ([1.5], "whole number"), ([True], "whole number"),
])
def test_bad_seeds(seeds, match):
    with pytest.raises(ConfigError, match=match):
        check_seeds(seeds)


def test_good_seeds_pass_unchanged():
    assert check_seeds([0, 1, 4294967295]) == [0, 1, 4294967295]


@pytest.mark.parametrize("device", ["gpu", "CPU", "", "mps", "cpu:0", "cuda:x", None, 3])
def test_unknown_devices(device):
    with pytest.raises(ConfigError, match="unknown device"):
        check_device(device)


def test_cpu_is_a_device():
    assert check_device("cpu") == "cpu"


@pytest.mark.parametrize("args,match", [
    (["--seeds", "0", "0"], "seed 0 is given twice"),
    (["--seeds", "-1"], "seed must be a whole number"),
    (["--device", "gpu"], "unknown device 'gpu'"),
    (["--dataset-option", "foo=1"], "unknown option 'foo' of dataset 'ba_2motifs'; its options: "
                                    "attach, num_graphs, source"),
    (["--dataset-option", "num_graphs=abc"], "num_graphs of 'ba_2motifs' must be a whole number"),
    (["--dataset-option", "num_graphs=3"], "empty valid split"),
])
def test_cli_refuses_in_one_line(tmp_path, capsys, args, match):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "ba_2motifs", "--epochs", "1", "--no-progress",
              "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("gsat: error: ")
    assert match in err


def test_resume_rebuilds_a_tampered_record(tmp_path, caplog):
    run_dir = tmp_path / "run"
    base = ["train", "--dataset", "ba_2motifs", "--epochs", "2", "--no-progress", "--data-dir",
            str(tmp_path / "data"), "--dataset-option", "num_graphs=40", "--out", str(run_dir)]
    with pytest.raises(SystemExit):
        main(base)
    path = run_dir / "results.json"
    res = json.loads(path.read_text())
    true_metric = res["runs"][0]["test_metric"]
    res["runs"][0]["test_metric"] = 123
    path.write_text(json.dumps(res))
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(run_dir), "--no-progress"])
    assert exc.value.code == 0
    assert "not a score in [0, 1]" in caplog.text
    assert json.loads(path.read_text())["runs"][0]["test_metric"] == true_metric
