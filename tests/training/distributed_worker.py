"""One process of the data-parallel test (tests/training/test_distributed.py), started by torchrun.

Usage: torchrun --nproc-per-node 2 tests/training/distributed_worker.py CONFIG DATA_DIR OUT_DIR

In one process group it
1. takes one DDP step and reports the initial weights, the weights after the step, the
   rank's own gradient and the averaged gradient of every rank;
2. trains run ``a`` (uninterrupted), gathering every rank's weights and epoch record after
   every epoch;
3. trains run ``b`` stopped after epoch 1 by a KeyboardInterrupt raised on every rank (the
   path of Ctrl-C and SIGTERM), then resumes it to the end;
4. on a node task (a small BA-Shapes, whole-graph design, NODE_CONFIG next to CONFIG):
   reports each rank's share of the training nodes and the DDP-averaged gradient of one step
   beside the gradient of one process over all training nodes, then trains run ``nodes``;
5. trains a GMT-sam run with a second stage (GMT_CONFIG next to CONFIG) through ``gsat train``
   in run ``gmt``: each stage leaves parameters of the other unused, which DDP must be told.
Rank 0 writes what it saw to OUT_DIR/report.json; the test checks it.
"""
import json
import sys
from pathlib import Path

import torch

import gsat.training.engine
from gsat.app.cli import main as cli_main
from gsat.training.build import build_model, task_dataset
from gsat.core.config import load_config
from gsat.data import load_dataset
from gsat.training.distributed import distributed_loader, launched
from gsat.training.driver import RunSpec, TrainingInterrupted, run
from gsat.training.engine import targets

NUM_GRAPHS = 120
#: a small BA-Shapes (the options of ``gsat train --dataset-option``)
NODE_OPTIONS = {"base_nodes": 80, "num_motifs": 20}
GMT_NUM_GRAPHS = 40


def flat(module):
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def same(obj):
    """A text that is equal for equal records (NaN included)."""
    return json.dumps(obj, sort_keys=True, default=str)


def max_rank_diff(dist, tensor):
    """Largest difference of `tensor` between any rank and rank 0."""
    parts = dist.all_gather_object(tensor.cpu())
    return max(float((p - parts[0]).abs().max()) for p in parts)


def one_step(dist, cfg, ds, report):
    gsat.training.engine.set_seed(0)
    model = build_model(cfg, ds, "gsat")
    dist.seed_rank(0)
    report["init_rank_diff"] = max_rank_diff(dist, flat(model))
    ddp = dist.wrap(model, find_unused=False)  # graphs with edges: none unused
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    loader = distributed_loader(ds.train, cfg.train.batch_size, dist, seed=0)
    loader.sampler.set_epoch(0)
    data = next(iter(loader))
    report["first_batches"] = dist.all_gather_object(list(loader.sampler)[:data.num_graphs])
    model.train()
    rng = torch.get_rng_state()
    with ddp.no_sync():  # this rank's own gradient, not averaged
        out = ddp(data)
        ddp.loss(out, data.y, 0)[0].backward()
    local = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    opt.zero_grad()
    torch.set_rng_state(rng)  # the same attention noise again
    before = flat(model).clone()
    out = ddp(data)
    ddp.loss(out, data.y, 0)[0].backward()
    averaged = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    opt.step()
    locals_ = dist.all_gather_object(local)
    report["local_grad_rank_diff"] = max(float((g - locals_[0]).abs().max()) for g in locals_)
    report["avg_grad_error"] = float((averaged - torch.stack(locals_).mean(0)).abs().max())
    report["step_change"] = float((flat(model) - before).abs().max())
    report["step_rank_diff"] = max_rank_diff(dist, flat(model))
    del ddp


def grads(model):
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def node_step(dist, cfg, ds, report):
    """One DDP step on the whole graph of a node task, the same attention noise and dropout on
    every rank, beside one process's step over all training nodes."""
    gsat.training.engine.set_seed(0)
    # in float64, so that the two summation orders (two half means averaged, one whole mean)
    # agree far below the size of any real difference
    model = build_model(cfg, ds, "gsat").double()
    reference = build_model(cfg, ds, "gsat").double()
    reference.load_state_dict(model.state_dict())
    ddp = dist.wrap(model, find_unused=False)  # graphs with edges: none unused
    data = next(iter(distributed_loader(ds.train, cfg.train.batch_size, dist, seed=0)))
    report["node_shares"] = dist.all_gather_object(data.target_mask.nonzero().view(-1).tolist())
    report["node_train"] = ds.train[0].target_mask.nonzero().view(-1).tolist()
    model.train()
    reference.train()
    torch.manual_seed(1)
    out, y = targets(ddp(data), data)
    ddp.loss(out, y, 0)[0].backward()
    whole = ds.train[0]
    torch.manual_seed(1)
    out, y = targets(reference(whole), whole)
    reference.loss(out, y, 0)[0].backward()
    report["node_grad_norm"] = float(grads(reference).abs().max())
    report["node_grad_error"] = float((grads(model) - grads(reference)).abs().max())
    del ddp


def main():
    config, data_dir, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    report = {"epochs": []}
    with launched("cpu") as dist:
        assert dist is not None, "not started by torchrun"
        report["world_size"] = dist.world_size
        cfg = load_config(config)
        with dist.main_first():
            ds = load_dataset("ba_2motifs", data_dir, seed=0, num_graphs=NUM_GRAPHS)
        one_step(dist, cfg, ds, report)

        # every epoch: the weights and the record of every rank
        save = gsat.training.hooks.RunFilesHook.on_epoch_end
        stop_after = {"epoch": None}

        def watching(self, engine, epoch, rec, val):
            save(self, engine, epoch, rec, val)
            records = dist.all_gather_object(same({k: v for k, v in rec.items()
                                                   if k != "seconds"}))
            report["epochs"].append({
                "run": run_name["name"], "epoch": epoch,
                "weight_rank_diff": max_rank_diff(dist, flat(engine.model)),
                "buffer_rank_diff": max_rank_diff(dist, torch.cat(
                    [b.double().reshape(-1) for b in engine.model.buffers()])),
                "records_equal": all(r == records[0] for r in records)})
            if stop_after["epoch"] == epoch:
                raise KeyboardInterrupt

        gsat.training.hooks.RunFilesHook.on_epoch_end = watching
        run_name = {"name": "a"}

        def spec(name, **kw):
            return RunSpec(dataset="ba_2motifs", config=config, out=str(out / name),
                           data_dir=data_dir, progress=False,
                           dataset_options={"num_graphs": NUM_GRAPHS}, **kw)

        results = run(spec("a"))
        every = dist.all_gather_object(same(results))
        report["results_equal_on_ranks"] = all(r == every[0] for r in every)

        run_name["name"] = "b"
        stop_after["epoch"] = 1
        try:
            run(spec("b"))
            report["interrupted"] = False
        except TrainingInterrupted as exc:
            report["interrupted"] = str(exc)
        stop_after["epoch"] = None
        dist.barrier()
        run(RunSpec(dataset="", resume=str(out / "b"), progress=False))

        node_config = str(Path(config).with_name("node.yml"))
        cfg = load_config(node_config)
        with dist.main_first():
            ds = task_dataset(load_dataset("ba_shapes", data_dir, seed=0, **NODE_OPTIONS), cfg)
        node_step(dist, cfg, ds, report)
        run_name["name"] = "nodes"
        results = run(RunSpec(dataset="ba_shapes", config=node_config, out=str(out / "nodes"),
                              data_dir=data_dir, progress=False, dataset_options=NODE_OPTIONS))
        every = dist.all_gather_object(same(results))
        report["node_results_equal_on_ranks"] = all(r == every[0] for r in every)

        run_name["name"] = "gmt"
        try:
            cli_main(["train", "--dataset", "ba_2motifs", "--config",
                      str(Path(config).with_name("gmt.yml")), "--out", str(out / "gmt"),
                      "--data-dir", data_dir, "--no-progress", "--dataset-option",
                      f"num_graphs={GMT_NUM_GRAPHS}"])
            report["gmt_exit_code"] = None
        except SystemExit as exc:
            report["gmt_exit_code"] = exc.code
        if dist.is_main:
            (out / "report.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
