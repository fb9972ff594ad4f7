"""Interrupted runs: SIGKILL + --resume, Ctrl-C, NaN losses, and command-line errors.

Bitwise-equal results need the same floating-point operation order in both runs, so torch
runs single-threaded here (multi-threaded BLAS may split sums differently from run to run).
"""
import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from gsat.app.cli import main
from gsat.errors import CheckpointError
from gsat.training.driver import RunSpec, run

ROOT = Path(__file__).resolve().parents[2]
NUM_GRAPHS = 40

# Runs the command line in a child process; pauses (marker file + long sleep) at the batch
# given by PAUSE_AT = [seed, epoch, batch], where the test kills or interrupts it.
DRIVER = r"""
import json, os, signal, sys, time
import gsat.core.model, gsat.training.driver
from gsat.app.cli import main

# Ctrl-C as in a terminal: a child inherits an ignored SIGINT from its parent (as some test
# runners' workers leave it), and Python then installs no handler of its own
signal.signal(signal.SIGINT, signal.default_int_handler)

pause_at, marker = json.loads(os.environ["PAUSE_AT"]), os.environ["MARKER"]
current, calls = {}, {}
train_one_seed, loss = gsat.training.driver.train_one_seed, gsat.core.model.GSAT.loss

def tracked_train_one_seed(cfg, ds, seed, *args, **kwargs):
    current["seed"] = seed
    return train_one_seed(cfg, ds, seed, *args, **kwargs)

def pausing_loss(self, out, y, epoch):
    key = (current["seed"], epoch)
    calls[key] = calls.get(key, -1) + 1
    if [current["seed"], epoch, calls[key]] == pause_at:
        open(marker, "w").close()
        time.sleep(300)
    return loss(self, out, y, epoch)

gsat.training.driver.train_one_seed = tracked_train_one_seed
gsat.core.model.GSAT.loss = pausing_loss
main(sys.argv[1:])
"""


@pytest.fixture(autouse=True)
def _single_thread(single_thread):
    yield


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A 4-epoch config (r reaches its final value at epoch 2, so model selection has epochs
    to choose from) and an uninterrupted reference run over seeds 0 and 1."""
    base = tmp_path_factory.mktemp("resume")
    cfg = yaml.safe_load((ROOT / "gsat" / "configs" / "GIN-ba_2motifs.yml").read_text())
    cfg["model"]["hidden_size"] = 16
    cfg["gsat"].update(decay_r=0.2, decay_interval=1)
    cfg["train"].update(epochs=4, batch_size=8, min_select_epoch=1, num_viz=0)
    path = base / "tiny.yml"
    path.write_text(yaml.safe_dump(cfg))
    data = base / "data"
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run(RunSpec(dataset="ba_2motifs", config=str(path), seeds=[0, 1], out=str(base / "ref"),
                    data_dir=str(data), progress=False,
                    dataset_options={"num_graphs": NUM_GRAPHS}))
    finally:
        torch.set_num_threads(old)
    return {"config": path, "data": data, "ref": base / "ref"}


def _cli_args(setup, out, seeds):
    return ["train", "--dataset", "ba_2motifs", "--config", str(setup["config"]), "--seeds",
            *map(str, seeds), "--out", str(out), "--data-dir", str(setup["data"]),
            "--no-progress", "--dataset-option", f"num_graphs={NUM_GRAPHS}"]


def _start_paused(tmp_path, args, pause_at):
    marker = tmp_path / "paused"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PAUSE_AT=json.dumps(pause_at),
               MARKER=str(marker))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before pausing: {proc.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run did not reach the pause point in time")
        time.sleep(0.1)
    return proc


def _runs(folder):
    res = json.loads((Path(folder) / "results.json").read_text())
    return [{k: v for k, v in r.items() if k != "seconds_per_epoch"} for r in res["runs"]]


def _rows(path):
    with open(path) as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def _epoch_of(path):
    return torch.load(path, weights_only=True)["epoch"]


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(setup, tmp_path, caplog):
    out = tmp_path / "run"
    proc = _start_paused(tmp_path, _cli_args(setup, out, [0, 1]), pause_at=[1, 2, 1])
    # paused inside epoch 2 of seed 1: seed 0 is finished, seed 1 has epochs 0 and 1 on disk
    assert _epoch_of(out / "seed1" / "last.pt") == 1
    assert [r["seed"] for r in _runs(out)] == [0]
    proc.kill()  # SIGKILL: no chance to clean up
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    seed0_stamp = (out / "seed0" / "last.pt").stat().st_mtime_ns

    caplog.set_level("INFO")
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(out), "--no-progress"])
    assert exc.value.code == 0
    assert "seed 0 of" in caplog.text and "already finished" in caplog.text
    assert "after epoch 1" in caplog.text
    assert (out / "seed0" / "last.pt").stat().st_mtime_ns == seed0_stamp  # not retrained
    assert _runs(out) == _runs(setup["ref"])
    for seed in (0, 1):
        assert _rows(out / f"seed{seed}" / "metrics.csv") == \
            _rows(setup["ref"] / f"seed{seed}" / "metrics.csv")
    assert not list(out.rglob("*.tmp*"))


def test_ctrl_c_stops_cleanly_and_the_run_resumes(setup, tmp_path):
    out = tmp_path / "run"
    proc = _start_paused(tmp_path, _cli_args(setup, out, [0]), pause_at=[0, 1, 0])
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"no exit 120 s after Ctrl-C: {proc.communicate()[1][-2000:]}")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("gsat:")]
    # epochs counted as the progress bar counts them: epoch 0 is the first of 4
    assert lines == [f"gsat: interrupted during seed 0; {out / 'seed0' / 'last.pt'} holds 1 "
                     f"complete epoch (of 4). Resume with: gsat train --resume {out}"]
    assert _epoch_of(out / "seed0" / "last.pt") == 0
    assert len(_rows(out / "seed0" / "metrics.csv")) == 1
    assert not (out / "results.json").exists()
    assert json.loads((out / "run.json").read_text())["seeds"] == [0]

    res = run(RunSpec(dataset="", resume=str(out), progress=False))
    assert res["out_dir"] == str(out)
    assert _runs(out) == _runs(setup["ref"])[:1]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_loss_stops_with_one_line_and_keeps_last_checkpoint(
        setup, tmp_path, monkeypatch, capsys, bad):
    import gsat.core.model

    out = tmp_path / "run"
    loss, calls, seen = gsat.core.model.GSAT.loss, {}, {}

    def loss_turning_bad(self, o, y, epoch):
        calls[epoch] = calls.get(epoch, -1) + 1
        value, parts = loss(self, o, y, epoch)
        if epoch == 1 and calls[epoch] == 0:
            seen["hash"] = hashlib.sha256((out / "seed0" / "last.pt").read_bytes()).hexdigest()
        if epoch == 1 and calls[epoch] == 1:
            value = value * bad
        return value, parts

    monkeypatch.setattr(gsat.core.model.GSAT, "loss", loss_turning_bad)
    with pytest.raises(SystemExit) as exc:
        main(_cli_args(setup, out, [0]))
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("gsat:")]
    assert line.startswith(f"gsat: error: the training loss became {bad} at epoch 1, batch 1 "
                           f"(seed 0); training stopped and {out / 'seed0' / 'last.pt'} holds "
                           "1 complete epoch (of 4)")
    last = out / "seed0" / "last.pt"
    assert hashlib.sha256(last.read_bytes()).hexdigest() == seen["hash"]
    assert _epoch_of(last) == 0
    assert len(_rows(out / "seed0" / "metrics.csv")) == 1
    assert not (out / "results.json").exists()


def test_resume_of_a_finished_run_and_of_a_changed_config(setup, tmp_path):
    out = tmp_path / "run"
    spec = RunSpec(dataset="ba_2motifs", config=str(setup["config"]), epochs=2, out=str(out),
                   data_dir=str(setup["data"]), progress=False,
                   dataset_options={"num_graphs": NUM_GRAPHS})
    first = run(spec)
    again = run(RunSpec(dataset="", resume=str(out), progress=False))
    assert again["runs"] == first["runs"]  # nothing left to do: the finished seed is kept
    # a run that died after its last epoch but before results.json, whose config was edited
    (out / "results.json").unlink()
    cfg = yaml.safe_load((out / "config.yml").read_text())
    # a GIN run ignores PNA's aggregators, so a changed PNA default does not refuse it
    cfg["model"]["aggregators"] = ["mean", "max"]
    (out / "config.yml").write_text(yaml.safe_dump(cfg))
    assert run(RunSpec(dataset="", resume=str(out), progress=False))["runs"] == first["runs"]
    (out / "results.json").unlink()
    cfg["train"]["lr"] = 0.5
    (out / "config.yml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(CheckpointError, match=r"another config: train\.lr \(checkpoint 0\.001, "
                                              r"now 0\.5\)"):
        run(RunSpec(dataset="", resume=str(out), progress=False))


@pytest.mark.parametrize("args,expected", [
    (["--dataset", "ba2motif"], "unknown dataset 'ba2motif' (did you mean 'ba_2motifs'?); choose "
                                   "one of: ba_2motifs"),
    (["--dataset", "ba_2motifs", "--epochs", "0"],
     "argument --epochs: the number of epochs must be >= 1 and <= 100000, got 0"),
    (["--dataset", "ba_2motifs", "--epochs", "ten"],
     "argument --epochs: expected a whole number, got 'ten'"),
    (["--dataset", "ba_2motifs", "--backbone", "GAT"],
     "argument --backbone: unknown backbone 'GAT'; choose one of: GIN, PNA"),
    (["--resume", "{tmp}/nowhere"], "--resume {tmp}/nowhere: no such run folder"),
    (["--resume", "{tmp}"], "the folder holds no run.json"),
    (["--resume", "{tmp}", "--epochs", "3"], "drop --epochs"),
    ([], "--dataset is required (or --resume RUN_DIR"),
    (["--dataset", "ba_2motifs", "--config", "{tmp}/bad.yml"],
     "{tmp}/bad.yml: train: unknown key(s) 'epochz'; valid keys:"),
])
def test_command_line_errors_are_one_line_with_exit_code_2(tmp_path, capsys, args, expected):
    (tmp_path / "bad.yml").write_text("train:\n  epochz: 3\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    with pytest.raises(SystemExit) as exc:
        main(["train", *args] + (["--data-dir", str(tmp_path / "data")]
                                 if "--dataset" in args else []))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and err.startswith("gsat")
    assert expected.replace("{tmp}", str(tmp_path)) in err
