r"""How GSAT's training step scales with the size of one graph, against the same backbone
trained without attention (ERM).

One Barabasi-Albert graph (2 edges per new node, both directions stored, so ``E`` edges are
``E / 2`` undirected links), 8 random node features, a binary label; one training step is a
forward pass, the loss, the backward pass and an Adam step. Every (size, backbone, method)
runs in its own process, so its peak resident memory (``ru_maxrss``) is its own; the step time
is the best of ``--steps`` steps after one warm-up step. GSAT and ERM of one size run one after
the other, so both see about the same machine load.

    OMP_NUM_THREADS=1 python benchmarks/scale.py --edges 1e4 1e5 1e6 3e6 --backbones GIN PNA

writes ``benchmarks/results/scale.md``. Targets (issue "speed and scale"): GSAT / ERM <= 2.5x,
GSAT time per edge within +-25 % from 1e4 to 1e6 edges, GSAT peak memory <= 2x ERM's.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def ba_edge_index(num_edges: int, m: int = 2, seed: int = 0) -> torch.Tensor:
    r"""A Barabasi-Albert graph with about :obj:`num_edges` directed edges (both directions of
    every link), generated in :math:`O(E \log E)` vectorised steps.

    Node :math:`i \ge m` links to :math:`m` nodes drawn uniformly from the list of link
    endpoints so far (preferential attachment; repeated draws give parallel links, kept). The
    list is never materialised node by node: every draw is a pointer to an earlier position
    of the list, and the pointers are resolved by pointer jumping.
    """
    n = max(m + 1, num_edges // (2 * m) + m)
    rng = np.random.default_rng(seed)
    new = np.arange(m, n)                                  # the nodes that attach
    start = m + 2 * m * (new - m)                          # list length when node i attaches
    # list layout: [0..m-1], then per new node i: m drawn targets, then m copies of i
    size = m + 2 * m * (n - m)
    val = np.full(size, -1, dtype=np.int64)
    val[:m] = np.arange(m)
    ptr = np.arange(size, dtype=np.int64)
    draw_pos = (start[:, None] + np.arange(m)).reshape(-1)
    draw_len = np.repeat(start, m)
    ptr[draw_pos] = (rng.random(draw_pos.size) * draw_len).astype(np.int64)
    copy_pos = (start[:, None] + m + np.arange(m)).reshape(-1)
    val[copy_pos] = np.repeat(new, m)
    todo = np.flatnonzero(val < 0)
    while todo.size:
        val[todo] = val[ptr[todo]]
        ptr[todo] = ptr[ptr[todo]]
        todo = todo[val[todo] < 0]
    src = np.repeat(new, m)
    dst = val[draw_pos]
    ei = torch.from_numpy(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])]))
    return ei


def one_case(num_edges: int, backbone: str, method: str, steps: int, hidden: int) -> Dict:
    """Time training steps of one model on one graph (run in a child process)."""
    from torch_geometric.data import Batch, Data

    from gsat.core.model import ERM, GSAT
    from gsat.nn import GIN, PNA, degree_histogram

    torch.manual_seed(0)
    ei = ba_edge_index(num_edges)
    n = int(ei.max()) + 1
    data = Data(x=torch.rand(n, 8), edge_index=ei, y=torch.tensor([[1.0]]))
    batch = Batch.from_data_list([data])
    if backbone == "GIN":
        bb = GIN(8, 1, hidden_channels=hidden, num_layers=2)
    else:
        bb = PNA(8, 1, hidden_channels=hidden, num_layers=4, deg=degree_histogram([data]),
                 aggregators=["mean", "min", "max", "std", "sum"], scalers=["identity"])
    model = GSAT(bb, symmetrize=True) if method == "gsat" else ERM(bb)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    times = []
    for step in range(steps + 1):
        t0 = time.process_time()
        out = model(batch)
        loss, _ = model.loss(out, batch.y, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step > 0:
            times.append(time.process_time() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    # matrix-product FLOPs of one more step (forward + backward), counted, not timed: the
    # arithmetic the architecture asks for, whatever the memory traffic around it
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        out = model(batch)
        loss, _ = model.loss(out, batch.y, steps + 1)
        opt.zero_grad()
        loss.backward()
    return {"edges": int(ei.size(1)), "nodes": n, "backbone": backbone, "method": method,
            "step_seconds": min(times), "peak_gb": rss, "gflop": counter.get_total_flops() / 1e9}


def run_child(num_edges: int, backbone: str, method: str, steps: int, hidden: int,
              timeout: float, thp: bool = True) -> Dict:
    cmd = [sys.executable, __file__, "--child", str(num_edges), backbone, method,
           "--steps", str(steps), "--hidden", str(hidden)]
    try:
        env = dict(os.environ, THP_MEM_ALLOC_ENABLE="1" if thp else "0")
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"edges": num_edges, "backbone": backbone, "method": method, "error":
                f"did not finish in {timeout:.0f} s"}
    if res.returncode < 0:  # e.g. SIGKILL from the kernel's out-of-memory killer
        return {"edges": num_edges, "backbone": backbone, "method": method,
                "error": f"killed by signal {-res.returncode} (out of memory?)"}
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or ["?"])[-1]
        return {"edges": num_edges, "backbone": backbone, "method": method, "error": tail}
    return json.loads(res.stdout.strip().splitlines()[-1])


def _span(values: List[float]) -> str:
    return f"from {min(values):.2f} to {max(values):.2f} ({max(values) / min(values):.2f}x)"


def markdown(rows: List[Dict], argv: List[str], threads: int) -> str:
    lines = []
    by = {(r["edges_asked"], r["backbone"], r["method"]): r for r in rows}
    per_edge = {}
    for (edges, bb, method), r in sorted(by.items()):
        if method != "gsat":
            continue
        e = by.get((edges, bb, "erm"), {})
        if "error" in r or "error" in e:
            msg = r.get("error") or e.get("error")
            lines.append(f"| {bb} | {edges:.0e} | {msg} | | | | | | | |")
            continue
        us = 1e6 * r["step_seconds"] / r["edges"]
        label = bb if r.get("thp") == 1 else f"{bb}, no huge pages"
        per_edge.setdefault(bb, []).append((us, 1e6 * e["step_seconds"] / e["edges"]))
        flops = (f"{r['gflop'] / e['gflop']:.2f}x" if r.get("gflop") and e.get("gflop")
                 else "n/a")
        lines.append(f"| {label} | {r['edges']:,} | {r['step_seconds']:.3f} | {e['step_seconds']:.3f} "
                     f"| {r['step_seconds'] / e['step_seconds']:.2f}x | {flops} | {us:.2f} | "
                     f"{1e6 * e['step_seconds'] / e['edges']:.2f} | "
                     f"{r['peak_gb']:.2f} | {e['peak_gb']:.2f} ({r['peak_gb'] / e['peak_gb']:.2f}x) |")
    spread = "; ".join(f"{bb}: GSAT us/edge {_span([g for g, _ in v])}, ERM's "
                       f"{_span([e for _, e in v])}" for bb, v in per_edge.items())
    return f"""# Scale: one training step on one large graph, GSAT vs. ERM

Command: `OMP_NUM_THREADS={threads} python benchmarks/scale.py {' '.join(argv)}`

Machine: {platform.machine()}, {threads} torch thread(s), CPU, torch {torch.__version__}; a
machine shared with other jobs. One Barabasi-Albert graph (2 links per new node, both
directions stored; "edges" counts directed edges), 8 random features, GIN (hidden 64, 2
layers) or PNA (hidden 64, 4 layers, mean/min/max/std/sum, no scalers); one step = forward,
loss, backward, Adam; CPU seconds of the process (`time.process_time`, less disturbed by other
jobs than wall time), best of the timed steps after a warm-up; peak RSS of the process that
ran the case (its own process per case). GSAT symmetrises attention over both directions.
Large tensors use transparent huge pages (`THP_MEM_ALLOC_ENABLE=1`, as the `gsat` command
sets it) unless a row says otherwise. "matmul FLOPs" is the ratio of the matrix-product FLOPs of one step (forward and backward,
counted by `torch.utils.flop_counter.FlopCounterMode`), the arithmetic floor of the ratio for
a compute-bound step.

| backbone | edges | GSAT step (s) | ERM step (s) | GSAT / ERM | matmul FLOPs GSAT / ERM | GSAT us/edge | ERM us/edge | GSAT peak RSS (GB) | ERM peak RSS (GB) |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(lines)}

{spread}.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--edges", nargs="+", type=float, default=[1e4, 1e5, 1e6])
    p.add_argument("--backbones", nargs="+", default=["GIN"], choices=["GIN", "PNA"])
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--thp", type=int, choices=[0, 1], default=1,
                   help="THP_MEM_ALLOC_ENABLE of the measured processes (1, huge pages for "
                        "large tensors, is what the gsat command line sets)")
    p.add_argument("--out", default=str(HERE / "results" / "scale.md"))
    p.add_argument("--child", nargs=3, metavar=("EDGES", "BACKBONE", "METHOD"))
    p.add_argument("--from-log", metavar="FILE",
                   help="write the table from the JSON lines a previous run printed")
    p.add_argument("--run-args", default="",
                   help="with --from-log: the arguments of the run that printed the log")
    args = p.parse_args()
    if args.child:
        edges, bb, method = args.child
        print(json.dumps(one_case(int(float(edges)), bb, method, args.steps, args.hidden)))
        return
    rows = []
    if args.from_log:
        for line in Path(args.from_log).read_text().splitlines():
            if line.startswith("{"):
                rows.append(json.loads(line))
        text = markdown(rows, args.run_args.split(), 1)
        Path(args.out).write_text(text)
        print(text)
        return
    for bb in args.backbones:
        for edges in args.edges:
            for method in ("gsat", "erm"):
                r = run_child(int(edges), bb, method, args.steps, args.hidden, args.timeout,
                              args.thp == 1)
                r["thp"] = args.thp
                r["edges_asked"] = edges
                print(json.dumps(r), flush=True)
                rows.append(r)
    text = markdown(rows, sys.argv[1:], torch.get_num_threads())
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
