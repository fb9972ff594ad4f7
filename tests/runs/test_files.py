"""Files: every malformed checkpoint is a CheckpointError (fuzzed), atomic writes leave no
partial file and turn a full disk into one DiskWriteError, stale temporaries are cleaned, a run
folder lock refuses a second process, SIGTERM takes the Ctrl-C path, and the exit codes."""
import errno
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from torch_geometric.data import Data

from gsat import GIN, GSAT
from gsat.io.checkpoint import (CHECKPOINT_SCHEMAS, load_checkpoint, rng_state, save_checkpoint,
                                  validate_checkpoint)
from gsat.runs.lock import RunLock
from gsat.io.files import atomic_write, remove_stale_temporaries
from gsat.io.signals import sigterm_as_interrupt
from gsat.data.base import load_graphs, save_graphs
from gsat.errors import (EXIT_CODES, CheckpointError, ConfigError, DiskWriteError,
                         GraphInputError, RunFolderLostError, RunInUseError, Terminated,
                         TrainingDivergedError, exit_code)


def _last_state():
    """A small but real training state with the layout of ``last.pt``."""
    torch.manual_seed(0)
    model = GSAT(GIN(3, 1, hidden_channels=4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(Data(x=torch.randn(4, 3), edge_index=torch.tensor([[0, 1], [1, 2]]))).logits.sum() \
        .backward()
    opt.step()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rec = {"epoch": 0, "train_loss": 0.5}
    return {"format": 1, "model": state, "optimizer": opt.state_dict(), "scheduler": None,
            "epoch": 0, "seed": 0, "config": {"train": {"lr": 1e-3}}, "method": "GSAT",
            "dataset": "toy", "history": [rec], "train_seconds": [0.1],
            "best_qual": None, "best_any": dict(rec, state=state),
            "rng": rng_state(torch.Generator().manual_seed(0))}


@pytest.fixture(scope="module")
def last_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "last.pt"
    save_checkpoint(_last_state(), path)
    return path.read_bytes()


def test_a_real_training_state_passes_validation(tmp_path, last_bytes):
    path = tmp_path / "last.pt"
    path.write_bytes(last_bytes)
    obj = load_checkpoint(path, kind="last")
    assert obj["epoch"] == 0 and set(CHECKPOINT_SCHEMAS["last"]) <= set(obj)


def test_fuzzed_checkpoints_raise_only_checkpoint_error(tmp_path, last_bytes):
    rng = random.Random(0)
    path = tmp_path / "last.pt"
    cases = []
    for i in range(40):  # random bytes, some with a plausible header
        head = rng.choice([b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x04"])
        cases.append(head + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 400))))
    for i in range(60):  # truncations
        cases.append(last_bytes[:rng.randint(0, len(last_bytes) - 1)])
    for i in range(100):  # flipped bytes
        data = bytearray(last_bytes)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        cases.append(bytes(data))
    refused = []
    for i, data in enumerate(cases):
        path.write_bytes(data)
        for kind in (None, "last"):
            try:
                obj = load_checkpoint(path, kind=kind)
            except CheckpointError as exc:
                assert "\n" not in str(exc) and str(path) in str(exc)
                refused.append(i)
            else:  # a flip inside tensor data or padding can leave a loadable file
                assert i >= 100 and isinstance(obj, dict)
                if kind == "last":
                    assert obj["epoch"] == 0 and len(obj["history"]) == 1
    assert sum(i < 100 for i in refused) == 200  # every random file and truncation, twice


@pytest.mark.parametrize("content,match", [
    (b"", r"is empty \(0 bytes\): truncated, not a gsat checkpoint"),
    (b"hello\n", r"is not a gsat checkpoint \(not a file written by torch.save; it starts "
                 r"with b'hell'\)"),
    (b"\x80\x04garbage", r"truncated or not a checkpoint: its content is damaged"),
    (b"PK\x03\x04" + b"\0" * 50, r"truncated or not a checkpoint: its zip archive has no end "
                                 r"record"),
])
def test_plain_garbage_is_not_called_dangerous(tmp_path, content, match):
    path = tmp_path / "last.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as exc:
        load_checkpoint(path)
    assert "arbitrary unpickling" not in str(exc.value)


def test_truncated_training_state_says_truncated(tmp_path, last_bytes):
    path = tmp_path / "last.pt"
    path.write_bytes(last_bytes[: len(last_bytes) // 2])
    with pytest.raises(CheckpointError, match="is truncated or not a checkpoint: its zip archive "
                                              r"has no end record \(the write was cut short\?\)"):
        load_checkpoint(path)


def test_folder_and_unreadable_file(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)
    if os.geteuid() != 0:
        path = tmp_path / "c.pt"
        save_checkpoint({"a": 1}, path)
        path.chmod(0)
        with pytest.raises(CheckpointError, match="cannot be read"):
            load_checkpoint(path)


def _without(obj, key):
    return {k: v for k, v in obj.items() if k != key}


@pytest.mark.parametrize("edit,match", [
    (lambda o: _without(o, "rng"), r"missing key 'rng'"),
    (lambda o: _without(o, "model"), r"missing key 'model'"),
    (lambda o: dict(o, epoch="3"), r"key 'epoch' must hold int, got str"),
    (lambda o: dict(o, epoch=True), r"key 'epoch' must hold int, got bool"),
    (lambda o: dict(o, epoch=-1), r"'epoch' must be >= 0"),
    (lambda o: dict(o, epoch=5), r"'history' has 1 entries, expected one per complete epoch"),
    (lambda o: dict(o, model={"w": 1}), r"'model' must hold a state dict"),
    (lambda o: dict(o, history=["x"]), r"'history' must hold one dict per epoch"),
    (lambda o: dict(o, best_any={"epoch": 0}), r"best_any: not a gsat checkpoint of this "
                                               r"kind: missing key 'state'"),
    (lambda o: dict(o, rng=_without(o["rng"], "numpy")), r"rng: .*missing key 'numpy'"),
    (lambda o: dict(o, rng=dict(o["rng"], python=dict(o["rng"]["python"], state=[1, 2]))),
     r"rng.python.state must hold 625 integers"),
    (lambda o: dict(o, optimizer={"state": {}}), r"optimizer: .*missing key 'param_groups'"),
])
def test_structure_of_a_training_state_is_checked(tmp_path, edit, match):
    path = tmp_path / "last.pt"
    save_checkpoint(edit(_last_state()), path)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)  # a dict with "format" is checked as a training state
    with pytest.raises(CheckpointError, match=match):
        validate_checkpoint(torch.load(path, weights_only=True), "last", str(path))


def test_other_kinds_and_unknown_kind():
    state = {"w": torch.zeros(2)}
    validate_checkpoint({"model": state, "epoch": 3, "config": {}, "method": "GSAT",
                         "dataset": "d"}, "best")
    validate_checkpoint({"backbone": state, "epoch": 3}, "pretrained")
    with pytest.raises(CheckpointError, match="missing key 'backbone'"):
        validate_checkpoint({"model": state, "epoch": 3}, "pretrained")
    with pytest.raises(CheckpointError, match="holds a list"):
        validate_checkpoint([1], "best")
    with pytest.raises(ValueError, match="unknown checkpoint kind 'lats'"):
        validate_checkpoint({}, "lats")


def test_atomic_write_of_text_bytes_and_callables(tmp_path):
    path = tmp_path / "sub" / "metrics.csv"
    atomic_write(path, "a,b\n1,2\n")
    assert path.read_text() == "a,b\n1,2\n"
    atomic_write(path, b"x")
    atomic_write(path, lambda f: f.write(b"from a writer"))
    assert path.read_bytes() == b"from a writer"
    assert sorted(p.name for p in path.parent.iterdir()) == ["metrics.csv"]


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _torch_wrapped_enospc(f):
    try:
        _enospc()
    except OSError:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter "
                           "failed writing file data/0: file write failed")


@pytest.mark.parametrize("how", ["fsync", "writer", "torch-wrapped"])
def test_full_disk_is_one_disk_write_error_and_leaves_the_old_file(tmp_path, monkeypatch, how):
    path = tmp_path / "metrics.csv"
    atomic_write(path, "old\n")
    data = "new content\n" * 10
    if how == "fsync":
        monkeypatch.setattr("gsat.io.files.os.fsync", _enospc)
    else:
        data = _enospc if how == "writer" else _torch_wrapped_enospc
    with pytest.raises(DiskWriteError) as exc:
        atomic_write(path, data)
    msg = str(exc.value)
    assert msg.startswith(f"could not write metrics.csv in {tmp_path}: No space left on device")
    assert "\n" not in msg and exc.value.errno == errno.ENOSPC
    assert exc.value.folder == str(tmp_path) and isinstance(exc.value, OSError)
    if how == "fsync":
        assert exc.value.needed == len(data) and f"needs {len(data):,} bytes" in msg
        assert "bytes are free" in msg
    assert exit_code(exc.value) == 1
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]


def test_unwritable_folder_is_a_disk_write_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DiskWriteError, match=f"could not write c.pt in {blocker}"):
        save_checkpoint({"a": 1}, blocker / "c.pt")


def _graphs():
    return [Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]]),
                 y=torch.tensor([i % 2])) for i in range(5)]


def test_data_cache_write_failure_leaves_no_temporary(tmp_path, monkeypatch):
    monkeypatch.setattr("gsat.io.files.os.fsync", _enospc)
    with pytest.raises(DiskWriteError, match=r"could not write graphs.pt .* needs [\d,]+ bytes"):
        save_graphs(_graphs(), tmp_path / "graphs.pt")
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_killed_writers_are_cleaned_at_load(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"graphs.pt.tmp{dead.pid}"
    live = tmp_path / f"graphs.pt.tmp{os.getppid()}"  # a running process may still write
    stale.write_bytes(b"x" * 1000)
    live.write_bytes(b"y")
    save_graphs(_graphs(), tmp_path / "graphs.pt")
    graphs = load_graphs(tmp_path / "graphs.pt")
    assert len(graphs) == 5 and not stale.exists() and live.exists()
    assert remove_stale_temporaries(tmp_path) == [live]


def test_damaged_data_cache_is_rebuilt_not_fatal(tmp_path, caplog):
    path = tmp_path / "graphs.pt"
    save_checkpoint({"num_nodes": torch.tensor([3]), "num_edges": torch.tensor([2]),
                     "x": [torch.randn(3, 2)]}, path)
    assert load_graphs(path) is None
    assert "missing key 'edge_index'" in caplog.text


def test_run_lock_refuses_a_second_holder_and_is_released(tmp_path):
    run = tmp_path / "run"
    with RunLock(run) as lock:
        assert lock.locked and (run / ".lock").read_text().strip() == str(os.getpid())
        with pytest.raises(RunInUseError, match=rf"run folder {run} is in use by process "
                                                rf"{os.getpid()}; wait for it"):
            RunLock(run).acquire()
    assert not lock.locked
    with RunLock(run):  # free again
        pass


def test_run_lock_held_by_another_process_and_released_when_it_dies(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(tmp_path / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "os.write(fd, str(os.getpid()).encode())\n"
         "print('locked', flush=True)\n"
         "time.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInUseError, match=f"in use by process {holder.pid};"):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path) as lock:  # the killed holder's lock is gone with it
        assert lock.locked


def test_sigterm_takes_the_ctrl_c_path_and_the_handler_is_restored():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
    try:
        with pytest.raises(KeyboardInterrupt) as exc:
            with sigterm_as_interrupt():
                signal.raise_signal(signal.SIGTERM)
                time.sleep(1)
        assert isinstance(exc.value, Terminated) and exit_code(exc.value) == 143
        signal.raise_signal(signal.SIGTERM)  # the previous handler is back
        time.sleep(0.05)
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_during_a_write_lets_the_write_finish(tmp_path):
    path = tmp_path / "last.pt"

    def slow_writer(f):
        signal.raise_signal(signal.SIGTERM)
        f.write(b"complete")

    with pytest.raises(Terminated):
        with sigterm_as_interrupt():
            atomic_write(path, slow_writer)
    assert path.read_bytes() == b"complete"
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None) or not getattr(
        signal.getsignal(signal.SIGTERM), "_gsat_sigterm", False)


def test_exit_code_table():
    assert set(EXIT_CODES) == {0, 1, 2, 130, 143}
    assert exit_code(KeyboardInterrupt()) == 130
    assert exit_code(Terminated()) == 143
    assert exit_code(TrainingDivergedError("nan")) == 1
    assert exit_code(FloatingPointError("nan")) == 1
    assert exit_code(OSError(errno.EIO, "I/O error")) == 1
    assert exit_code(DiskWriteError("full", errno.ENOSPC)) == 1
    for exc in (ConfigError("x"), GraphInputError("x"), CheckpointError("x"),
                RunInUseError("x")):
        assert exit_code(exc) == 2


def test_full_disk_message_measures_free_space_after_the_temporary_is_removed(
        tmp_path, monkeypatch):
    import collections
    import shutil

    path = tmp_path / "results.json"
    temporaries_seen = []
    usage = collections.namedtuple("usage", "total used free")

    def disk_usage(folder):  # what the message reports is measured here
        temporaries_seen.extend(p.name for p in tmp_path.iterdir() if ".tmp" in p.name)
        return usage(10 ** 9, 10 ** 9 - 12345, 12345)

    monkeypatch.setattr("gsat.io.files.os.fsync", _enospc)  # the temporary is written
    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    with pytest.raises(DiskWriteError, match="12,345 bytes are free"):
        atomic_write(path, b"x" * 100_000)
    assert temporaries_seen == []  # its 100 kB were counted as free again
    assert list(tmp_path.iterdir()) == []


def test_run_lock_check_finds_a_deleted_or_replaced_folder(tmp_path):
    import shutil

    run = tmp_path / "run"
    with RunLock(run) as lock:
        lock.check()  # in place: nothing happens
        shutil.rmtree(run)
        run.mkdir()  # recreated empty, as a later write would
        with pytest.raises(RunFolderLostError, match=rf"the run folder {run} was deleted, "
                                                     r"moved or replaced .*\(\.lock is gone\)"):
            lock.check()
        (run / ".lock").write_text("another\n")  # a new lock file is another file
        with pytest.raises(RunFolderLostError):
            lock.check()
    assert exit_code(RunFolderLostError("x")) == 1
    RunLock(run).check()  # a lock not held checks nothing


def test_read_json_of_a_truncated_file_is_none_with_a_warning(tmp_path, caplog):
    from gsat.io.files import read_json, write_json

    path = tmp_path / "counts.json"
    write_json({"num_kept": 3}, path)
    assert read_json(path) == {"num_kept": 3}
    path.write_text('{"num_kept": ')  # cut short by a kill or a full disk
    assert read_json(path) is None and "counts.json is unreadable" in caplog.text
    assert read_json(tmp_path / "absent.json") is None
