"""Data-parallel training (gsat.training.distributed): two CPU processes with gloo under torchrun.

One torchrun launch (tests/training/distributed_worker.py) takes a DDP step, trains run ``a`` and
trains run ``b`` with a stop after epoch 1 and a resume; this module checks what it
reported and the files it wrote, and evaluates the saved models in this single process.
"""
import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from gsat.training.build import build_model
from gsat.app.cli import main
from gsat.core.config import load_config
from gsat.data import load_dataset
from gsat.training.distributed import DistContext, launch_env, launched, rank_seed
from gsat.errors import ConfigError
from gsat.training.engine import PRECISION_K, evaluate, make_loader

ROOT = Path(__file__).resolve().parents[2]
NUM_GRAPHS = 120
BATCH = 4  # evaluation splits of 12 graphs: 3 batches over 2 ranks
EPOCHS = 3


# --------------------------------------------------------------------------- no processes


def test_launch_env():
    assert launch_env({}) is None
    assert launch_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == (1, 2, 1)
    with pytest.raises(ConfigError, match="LOCAL_RANK"):
        launch_env({"RANK": "0", "WORLD_SIZE": "2"})
    with pytest.raises(ConfigError, match="do not fit"):
        launch_env({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})
    with pytest.raises(ConfigError, match="whole numbers"):
        launch_env({"RANK": "a", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})


def test_rank_seed_streams_are_distinct():
    assert rank_seed(5, 0) == 5
    seeds = {rank_seed(s, r) for s in range(20) for r in range(1, 9)}
    assert len(seeds) == 20 * 8 and not seeds & set(range(20))


def test_batch_size_must_split_over_processes():
    ctx = DistContext(rank=0, world_size=3, local_rank=0, device=torch.device("cpu"))
    assert ctx.per_rank_batch_size(129) == 43
    with pytest.raises(ConfigError, match="128 cannot be split over 3 processes.*126 or 129"):
        ctx.per_rank_batch_size(128)


def test_partial_launch_environment_is_an_input_error(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "ba_2motifs", "--epochs", "1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "torchrun" in err[0]


def test_one_process_commands_refuse_torchrun(monkeypatch, capsys):
    for key, value in (("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exc:
        main(["benchmark", "--dataset", "ba_2motifs"])
    assert exc.value.code == 2 and "without torchrun" in capsys.readouterr().err


def test_cuda_index_under_torchrun_is_refused(monkeypatch):
    for key, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match="pass --device cuda"):
        with launched("cuda:1"):
            pass


# --------------------------------------------------------------------------- two processes


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    """Two gloo processes under torchrun (see tests/training/distributed_worker.py)."""
    base = tmp_path_factory.mktemp("ddp")
    cfg = yaml.safe_load((ROOT / "gsat" / "configs" / "GIN-ba_2motifs.yml").read_text())
    cfg["model"]["hidden_size"] = 16
    cfg["gsat"].update(decay_r=0.2, decay_interval=1)  # r is final at epoch 2
    cfg["train"].update(epochs=EPOCHS, batch_size=BATCH, min_select_epoch=1, num_viz=0)
    config = base / "tiny.yml"
    config.write_text(yaml.safe_dump(cfg))
    node = yaml.safe_load((ROOT / "gsat" / "configs" / "GIN-ba_shapes.yml").read_text())
    node["model"].update(hidden_size=16, n_layers=2)
    node["gsat"].update(decay_r=0.2, decay_interval=1)
    node["train"].update(epochs=EPOCHS, min_select_epoch=1, num_viz=0)
    (base / "node.yml").write_text(yaml.safe_dump(node))
    gmt_config = ROOT / "gsat" / "configs" / "gmt" / "GIN-ba_2motifs-gmt_sam.yml"
    gmt = yaml.safe_load(gmt_config.read_text())
    gmt["model"]["hidden_size"] = 16
    gmt["gsat"].update(decay_r=0.2, decay_interval=1)
    gmt["train"].update(epochs=5, batch_size=8, min_select_epoch=0, num_viz=0)
    # epochs 3 and 4 are the second stage, which freezes the best of epochs 0-2
    gmt["gmt"].update(samples=2, stage2_epochs=2, stage1_pick="best")
    (base / "gmt.yml").write_text(yaml.safe_dump(gmt))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node",
           "2", "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
           str(ROOT / "tests" / "training" / "distributed_worker.py"), str(config), str(base / "data"),
           str(base)]
    proc = subprocess.Popen(cmd, cwd=base, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:  # a hung process group must not hang the suite
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the two-process run did not finish in 240 s")
    assert proc.returncode == 0, stderr[-3000:]
    return {"base": base, "config": config, "report": json.loads((base / "report.json").read_text()),
            "stderr": stderr}


def test_no_warning_about_unused_parameters(ddp):
    """find_unused_parameters is on for batches without edges; DDP's warning that a step
    found none unused is not shown to the user."""
    assert "find_unused_parameters=True was specified" not in ddp["stderr"]


def test_same_initial_weights_and_one_averaged_step(ddp):
    rep = ddp["report"]
    assert rep["world_size"] == 2
    a, b = rep["first_batches"]
    assert len(a) == len(b) == BATCH // 2 and not set(a) & set(b)  # global batch split
    assert rep["init_rank_diff"] == 0.0
    assert rep["local_grad_rank_diff"] > 1e-4  # the ranks' own gradients differ ...
    assert rep["avg_grad_error"] < 1e-6  # ... DDP applies their mean ...
    assert rep["step_change"] > 0 and rep["step_rank_diff"] == 0.0  # ... identically


def test_ranks_stay_identical_every_epoch(ddp):
    epochs = [e for e in ddp["report"]["epochs"] if e["run"] in ("a", "b")]
    # run a: 3 epochs; run b: epochs 0-1, stop, then 2 after the resume
    assert [(e["run"], e["epoch"]) for e in epochs] == [("a", 0), ("a", 1), ("a", 2),
                                                         ("b", 0), ("b", 1), ("b", 2)]
    for e in epochs:
        assert e["weight_rank_diff"] == 0.0 and e["buffer_rank_diff"] == 0.0, e
        assert e["records_equal"], e
    assert ddp["report"]["results_equal_on_ranks"]


def _rows(path):
    with open(path) as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_one_writer(ddp):
    base = ddp["base"]
    assert sorted(p.relative_to(base).as_posix() for p in base.rglob("results.json")) == [
        "a/results.json", "b/results.json", "gmt/results.json", "nodes/results.json"]
    assert not (base / "runs").exists()
    res = json.loads((base / "a" / "results.json").read_text())
    assert res["world_size"] == 2 and len(res["runs"]) == 1
    assert len(_rows(base / "a" / "seed0" / "metrics.csv")) == EPOCHS


def test_gathered_scores_equal_single_process_evaluation(ddp):
    base = ddp["base"]
    cfg = load_config(ddp["config"])
    ds = load_dataset("ba_2motifs", base / "data", seed=0, num_graphs=NUM_GRAPHS)
    torch.set_num_threads(1)
    model = build_model(cfg, ds, "gsat")

    def scores(graphs, evaluator=ds.evaluator):
        return evaluate(model, make_loader(graphs, BATCH), evaluator, torch.device("cpu"),
                        PRECISION_K)

    # the last epoch's validation scores, from the final weights in last.pt
    last = torch.load(base / "a" / "seed0" / "last.pt", weights_only=True)
    model.load_state_dict(last["model"])
    row = last["history"][-1]
    val = scores(ds.valid)
    assert (val.loss, val.metric, val.interp_auc, val.precision_at_k) == (
        row["valid_loss"], row["valid_metric"], row["valid_interp_auc"],
        row["valid_precision_at_k"])
    # the selected epoch's scores in results.json, from best.pt
    run = json.loads((base / "a" / "results.json").read_text())["runs"][0]
    best = torch.load(base / "a" / "seed0" / "best.pt", weights_only=True)
    assert best["epoch"] == run["best_epoch"] and run["selection"] == "final_r"
    model.load_state_dict(best["model"])
    val, test = scores(ds.valid), scores(ds.test)
    if ds.interp_test is not None:
        it = scores(ds.interp_test, None)
        test.interp_auc, test.precision_at_k = it.interp_auc, it.precision_at_k
    assert val.metric == run["valid_metric"] and val.interp_auc == run["valid_interp_auc"]
    assert test.metric == run["test_metric"]
    assert test.interp_auc == run["test_interp_auc"]
    assert test.precision_at_k == run["test_precision_at_5"]


def test_stop_and_resume_of_a_ddp_run_matches_the_uninterrupted_one(ddp):
    base, rep = ddp["base"], ddp["report"]
    assert rep["interrupted"] and "--resume" in rep["interrupted"]
    assert _rows(base / "b" / "seed0" / "metrics.csv") == _rows(base / "a" / "seed0" / "metrics.csv")
    a = torch.load(base / "a" / "seed0" / "last.pt", weights_only=True)
    b = torch.load(base / "b" / "seed0" / "last.pt", weights_only=True)
    assert a["world_size"] == b["world_size"] == 2 and len(b["rng_ranks"]) == 2
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    ra = json.loads((base / "a" / "results.json").read_text())["runs"]
    rb = json.loads((base / "b" / "results.json").read_text())["runs"]
    drop = ("seconds_per_epoch",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in ra] == \
        [{k: v for k, v in r.items() if k not in drop} for r in rb]


def test_node_task_splits_the_training_nodes_and_averages_to_the_whole_gradient(ddp):
    rep = ddp["report"]
    shares, train = rep["node_shares"], rep["node_train"]
    assert len(shares) == 2 and not set(shares[0]) & set(shares[1])
    assert sorted(shares[0] + shares[1]) == train  # every training node, once
    assert abs(len(shares[0]) - len(shares[1])) <= 1
    assert rep["node_grad_norm"] > 1e-3
    if len(train) % 2 == 0:  # equal shares: DDP's average is the whole mean's gradient
        assert rep["node_grad_error"] < 1e-10 * max(1.0, rep["node_grad_norm"])  # float64
    else:  # shares of n and n + 1 nodes weigh their nodes slightly differently
        assert rep["node_grad_error"] < 0.05 * rep["node_grad_norm"]


def test_node_task_trains_in_two_processes(ddp):
    base = ddp["base"]
    assert ddp["report"]["node_results_equal_on_ranks"]
    res = json.loads((base / "nodes" / "results.json").read_text())
    assert res["world_size"] == 2 and len(res["runs"]) == 1
    assert len(_rows(base / "nodes" / "seed0" / "metrics.csv")) == EPOCHS
    for e in ddp["report"]["epochs"]:
        if e["run"] == "nodes":
            assert e["weight_rank_diff"] == 0.0 and e["records_equal"], e


def test_every_graph_has_edges_reads_lists_and_datasets():
    from torch_geometric.data import Data, InMemoryDataset

    from gsat.training.distributed import every_graph_has_edges

    two = Data(x=torch.ones(2, 1), edge_index=torch.tensor([[0, 1], [1, 0]]))
    alone = Data(x=torch.ones(1, 1), edge_index=torch.zeros(2, 0, dtype=torch.long))
    assert every_graph_has_edges([two, two]) and not every_graph_has_edges([two, alone])

    class Graphs(InMemoryDataset):
        def __init__(self, graphs):
            super().__init__()
            self.data, self.slices = self.collate(graphs)

    assert every_graph_has_edges(Graphs([two, two]))
    assert not every_graph_has_edges(Graphs([two, alone, two]))
    assert not every_graph_has_edges(Graphs([two, alone, two])[1:2])  # a subset


def test_gmt_sam_with_a_second_stage_trains_under_torchrun(ddp):
    """Through ``gsat train``: each GMT-sam stage leaves parameters of the other unused, which
    DDP must be told about."""
    assert ddp["report"]["gmt_exit_code"] == 0
    (rec,) = json.loads((ddp["base"] / "gmt" / "results.json").read_text())["runs"]
    assert rec["best_epoch"] >= 3  # selected in the second stage
    from gsat.io.checkpoint import load_checkpoint

    state = load_checkpoint(ddp["base"] / "gmt" / "seed0" / "last.pt", kind="last")["model"]
    assert 0 <= int(state["estimator.kept_epoch"]) <= 2
    kept = {k[len("estimator.kept__"):].replace("__", "."): v for k, v in state.items()
            if k.startswith("estimator.kept__")}
    assert kept and all(torch.equal(state[k], v) for k, v in kept.items())  # frozen in stage 2
