r"""Node classification on one large graph (the whole-graph design, ``model.readout: node``):
GSAT against the same backbone trained without attention (ERM), full-graph and in
mini-batches of random node parts (``train.node_batches``) or of sampled neighbourhoods
(``train.num_neighbors``).

The task: one Barabasi-Albert graph (:func:`scale.ba_edge_index`: 2 links per new node, both
directions stored, so ``E`` directed edges and about ``E / 4`` nodes), 8 random node
features, label 1 where a node's degree exceeds the median degree (learnable from structure
alone: a sum-aggregating GIN counts neighbours), a random 80/10/10 node split. GIN, 3
layers, hidden 64, dropout 0, readout node; GSAT with the shipped defaults (symmetric
attention, r from 0.9 down to 0.5). Every case is one run of
:func:`gsat.training.seed.train_one_seed` (the ``gsat train`` path: a training pass and the
validation and test passes every epoch, model selection, ``last.pt``) in a process of its own,
so ``ru_maxrss`` is the case's own peak resident memory.

    OMP_NUM_THREADS=1 python benchmarks/node_scale.py --threads 1 \
        --case 1e6 gsat 0 0 3 --case 1e6 erm 0 0 3 --case 1e7 gsat 4 4 1

(each ``--case EDGES METHOD PARTS EVAL_PARTS EPOCHS``; ``PARTS`` is ``train.node_batches``,
or ``nbK1,K2,K3:B`` for neighbour-sampled batches of ``B`` training nodes
(``train.num_neighbors: [K1, K2, K3]``, ``train.batch_size: B``), ``EVAL_PARTS``
``train.eval_node_batches``, 0 the whole graph) prints one JSON line per case
and the markdown table of ``benchmarks/results/node_scale.md``. For graphs whose epoch
takes too long to measure, ``--steps-case EDGES METHOD PARTS STEPS`` times ``STEPS`` parts
of one epoch (cut, training step, evaluation) and extrapolates the epoch from them.
Target (issue "node classification at scale"): a 1e6-edge graph trained full-graph under
24 GB.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from scale import ba_edge_index  # noqa: E402  (benchmarks/scale.py)


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


def node_task(num_edges: int, seed: int = 0):
    r"""The benchmark's :class:`~gsat.data.node.base.NodeDataset`: a Barabasi-Albert graph of
    about :obj:`num_edges` directed edges, 8 random features, label 1 above the median
    degree, a random 80/10/10 split."""
    from torch_geometric.data import Data
    from torch_geometric.utils import degree

    from gsat.data.node.base import NodeDataset, split_masks

    ei = ba_edge_index(num_edges, seed=seed)
    n = int(ei.max()) + 1
    deg = degree(ei[1], n)
    gen = torch.Generator().manual_seed(seed)
    data = Data(x=torch.rand(n, 8, generator=gen), edge_index=ei,
                y=(deg > deg.median()).long(), num_nodes=n, **split_masks(n, seed))
    return NodeDataset(name=f"ba_nodes_{num_edges:.0e}", data=data, num_features=8,
                       num_outputs=1, task="binary", has_ground_truth=False,
                       extra={"generator": "benchmarks/scale.py: ba_edge_index, m=2"})



def _setup(num_edges: int, threads: int) -> tuple:
    """The node task of :obj:`num_edges` edges, the config of a whole-graph GIN (3 layers,
    width 64, no dropout), the seconds and peak memory of building the task."""
    from gsat.core.config import Config

    torch.set_num_threads(threads)
    start = time.perf_counter()
    ds = node_task(num_edges)
    build_s, data_gb = time.perf_counter() - start, _peak_gb()
    cfg = Config()
    cfg.model.readout, cfg.model.n_layers, cfg.model.hidden_size = "node", 3, 64
    cfg.model.dropout_p = 0.0
    return ds, cfg, build_s, data_gb

def training(parts: str) -> tuple:
    """:obj:`(node_batches, num_neighbors, batch_size)` of a case's ``PARTS``: a number of
    random node parts, or ``nbK1,K2,...:B`` (neighbour sampling)."""
    if parts.startswith("nb"):
        counts, _, batch = parts[2:].partition(":")
        return 0, [int(k) for k in counts.split(",")], int(batch or 1024)
    return int(parts), [], 64


def one_case(num_edges: int, method: str, parts: str, eval_parts: int, epochs: int,
             threads: int) -> Dict:
    """Train one model on one graph (run in a child process)."""
    from gsat.training.build import task_dataset
    from gsat.training.seed import train_one_seed

    ds, cfg, build_s, data_gb = _setup(num_edges, threads)
    t = cfg.train
    t.epochs, t.num_viz, t.min_select_epoch = epochs, 0, 0
    t.node_batches, t.num_neighbors, t.batch_size = training(parts)
    t.eval_node_batches = eval_parts
    graphs = task_dataset(ds, cfg)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as out:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        rec = train_one_seed(cfg, graphs, 0, Path(out), method=method, progress=False)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        lines = next(Path(out).rglob("metrics.csv")).read_text().splitlines()
    head = lines[0].split(",")
    train_s = [float(row.split(",")[head.index("seconds")]) for row in lines[1:]]
    return {"edges": ds.num_edges, "nodes": ds.num_nodes, "method": method, "parts": parts,
            "eval_parts": eval_parts, "epochs": epochs, "threads": threads,
            "build_s": build_s, "data_gb": data_gb, "train_s": float(np.median(train_s)),
            "epoch_s": wall / epochs, "cpu_epoch_s": cpu / epochs, "peak_gb": _peak_gb(),
            "load": (load + os.getloadavg()[0]) / 2,
            "valid_acc": rec["valid_metric"], "test_acc": rec["test_metric"]}


def some_parts(num_edges: int, method: str, parts: int, steps: int, threads: int) -> Dict:
    r"""Time :obj:`steps` training steps on parts of a :obj:`parts`-part epoch
    (:class:`~gsat.data.node.batches.NodeBatches`), each step and each cut of a part on its
    own, then the evaluation of as many parts of a fixed :obj:`parts`-part partition of the
    validation graph, for graphs whose whole epoch takes too long to measure (run in a
    child process)."""
    from gsat.training.build import build_model, task_dataset
    from gsat.data.node.batches import NodeBatches
    from gsat.training.engine import predict_batches, set_seed, train_epoch

    ds, cfg, build_s, data_gb = _setup(num_edges, threads)
    cfg.train.node_batches = cfg.train.eval_node_batches = parts
    graphs = task_dataset(ds, cfg)
    set_seed(0)
    model = build_model(cfg, graphs, method)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    load = os.getloadavg()[0]
    cut, step, wall = [], [], []
    batches = iter(NodeBatches(graphs.train[0], parts))
    for _ in range(steps):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        batch = next(batches)
        cpu1 = time.process_time()
        train_epoch(model, [batch], opt, 0, "cpu", graphs.evaluator)
        cut.append(cpu1 - cpu0)
        step.append(time.process_time() - cpu1)
        wall.append(time.perf_counter() - wall0)
    cpu0 = time.process_time()
    predict_batches(model, itertools.islice(NodeBatches(graphs.valid[0], parts,
                                                        shuffle=False), steps), "cpu")
    eval_cpu = time.process_time() - cpu0
    return {"edges": ds.num_edges, "nodes": ds.num_nodes, "method": method, "parts": parts,
            "eval_parts": parts, "steps": steps, "threads": threads, "build_s": build_s,
            "data_gb": data_gb, "cut_cpu_s": float(np.median(cut)),
            "step_cpu_s": float(np.median(step)), "step_cpu_all": step,
            "part_wall_s": float(np.median(wall)), "eval_part_cpu_s": eval_cpu / steps,
            "load": (load + os.getloadavg()[0]) / 2, "peak_gb": _peak_gb()}


def run_child(case: List[str], threads: int, timeout: float) -> Dict:
    if len(case) == 4:  # EDGES METHOD PARTS STEPS: some steps of one epoch
        edges, method, parts, steps = case
        what = {"edges_asked": float(edges), "method": method, "parts": int(parts),
                "steps": int(steps)}
        flag = "--child-steps"
    else:
        edges, method, parts, eval_parts, epochs = case
        what = {"edges_asked": float(edges), "method": method, "parts": parts,
                "eval_parts": int(eval_parts), "epochs": int(epochs)}
        flag = "--child"
    cmd = [sys.executable, __file__, flag, *case, "--threads", str(threads)]
    env = dict(os.environ, THP_MEM_ALLOC_ENABLE="1", OMP_NUM_THREADS=str(threads))
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {**what, "error": f"did not finish in {timeout:.0f} s"}
    if res.returncode < 0:  # e.g. SIGKILL from the kernel's out-of-memory killer
        return {**what, "error": f"killed by signal {-res.returncode} (out of memory?)"}
    if res.returncode != 0:
        return {**what, "error": (res.stderr.strip().splitlines() or ["?"])[-1]}
    return {**what, **json.loads(res.stdout.strip().splitlines()[-1])}


def _parts(p) -> str:
    if str(p).startswith("nb"):
        _, counts, batch = training(str(p))
        return f"neighbours {counts}, {batch} nodes a batch"
    return "whole graph" if int(p) == 0 else f"{p} parts"


def markdown(rows: List[Dict], argv: List[str], threads: int) -> str:
    lines, partial = [], []
    for r in rows:
        if "steps" in r:
            partial.append(_partial_line(r))
            continue
        label = (f"| {r['edges_asked']:.0e} | {r['method'].upper()} | {_parts(r['parts'])} | "
                 f"{_parts(r['eval_parts'])} | {r['epochs']} |")
        if "error" in r:
            lines.append(f"{label} {r['error']} | | | | | | | |")
            continue
        lines.append(f"{label} {r['edges']:,} / {r['nodes']:,} | {r['train_s']:.1f} | "
                     f"{r['epoch_s']:.1f} | {r['cpu_epoch_s']:.1f} | {r['load']:.1f} | "
                     f"{r['data_gb']:.2f} | "
                     f"{r['peak_gb']:.2f} | {100 * r['valid_acc']:.1f} / "
                     f"{100 * r['test_acc']:.1f} |")
    text = ""
    if lines:
        text += f"""| edges | method | training | evaluation | epochs | edges / nodes | training pass (wall s, median) | epoch incl. evaluation (wall s) | CPU s per epoch | load average | RSS after building the graph (GB) | peak RSS (GB) | valid / test acc (%) |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(lines)}

"""
    if partial:
        text += f"""| edges | method | parts | parts timed | edges / nodes | cut of a part (CPU s, median) | training step of a part (CPU s, median) | cut + step (wall s, median) | evaluation of a part (CPU s) | training pass, extrapolated (CPU s) | epoch incl. evaluation, extrapolated (CPU s) | load average | RSS after building the graph (GB) | peak RSS (GB) |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(partial)}

"""
    return text + f"""Command: `OMP_NUM_THREADS={threads} python benchmarks/node_scale.py {' '.join(argv)}`
(machine: {platform.machine()}, CPU, torch {torch.__version__}, {threads} torch thread(s))
"""


def _partial_line(r: Dict) -> str:
    label = f"| {r['edges_asked']:.0e} | {r['method'].upper()} | {r['parts']} | {r['steps']} |"
    if "error" in r:
        return f"{label} {r['error']} | | | | | | | |"
    train = (r["cut_cpu_s"] + r["step_cpu_s"]) * r["parts"]
    epoch = train + 2 * r["eval_part_cpu_s"] * r["parts"]  # validation and test
    return (f"{label} {r['edges']:,} / {r['nodes']:,} | {r['cut_cpu_s']:.1f} | "
            f"{r['step_cpu_s']:.1f} | {r['part_wall_s']:.1f} | {r['eval_part_cpu_s']:.1f} | "
            f"{train:.0f} | {epoch:.0f} | {r['load']:.1f} | {r['data_gb']:.2f} | "
            f"{r['peak_gb']:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", nargs=5, action="append", default=[], metavar=(
        "EDGES", "METHOD", "PARTS", "EVAL_PARTS", "EPOCHS"),
        help="one measured run; METHOD gsat or erm; PARTS / EVAL_PARTS 0 for the whole graph")
    p.add_argument("--steps-case", nargs=4, action="append", default=[], metavar=(
        "EDGES", "METHOD", "PARTS", "STEPS"),
        help="STEPS training steps of a PARTS-part epoch and as many evaluated parts, "
             "timed per part (for graphs whose whole epoch takes too long)")
    p.add_argument("--threads", type=int, default=1, help="torch threads of every case")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--out", help="also write the table to this file")
    p.add_argument("--child", nargs=5)
    p.add_argument("--child-steps", nargs=4)
    args = p.parse_args()
    if args.child:
        edges, method, parts, eval_parts, epochs = args.child
        print(json.dumps(one_case(int(float(edges)), method, parts, int(eval_parts),
                                  int(epochs), args.threads)))
        return
    if args.child_steps:
        edges, method, parts, steps = args.child_steps
        print(json.dumps(some_parts(int(float(edges)), method, int(parts), int(steps),
                                    args.threads)))
        return
    cases = args.case + args.steps_case
    rows = []
    for case in cases or [["1e6", "gsat", "0", "0", "3"], ["1e6", "erm", "0", "0", "3"]]:
        r = run_child(case, args.threads, args.timeout)
        print(json.dumps(r), flush=True)
        rows.append(r)
    text = markdown(rows, sys.argv[1:], args.threads)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
