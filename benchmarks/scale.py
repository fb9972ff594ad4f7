r"""How GSAT's training step scales with the size of one graph, against the same backbone
trained without attention (ERM).

One Barabasi-Albert graph (2 edges per new node, both directions stored, so ``E`` edges are
``E / 2`` undirected links), 8 random node features, a binary label; one training step is a
forward pass, the loss, the backward pass and an Adam step. Every (size, backbone, method)
runs in its own process, so its peak resident memory (``ru_maxrss``) is its own; the step time
is the best of ``--steps`` steps after one warm-up step. GSAT and ERM of one size run one after
the other, so both see about the same machine load.

    OMP_NUM_THREADS=1 python benchmarks/scale.py --edges 1e4 1e5 1e6 --ba-2motifs \
        --backbones GIN --out benchmarks/results/scale.md

prints the table (and writes it to ``--out`` when given). ``--ba-2motifs`` adds a row for one
BA-2Motifs training batch (128 graphs, the shipped config's backbone width) from
``--data-dir``.

Beside the measured GSAT / ERM ratio the table gives a realistic floor of it: two backbone
passes at ERM's cost plus the extractor's matrix-product FLOPs at this CPU's matmul peak
(``matmul_peak``: a 1024 x 1024 float32 ``torch.mm`` loop on the measured thread count),

.. math::
    \text{floor} = 2 + \frac{F_{\text{GSAT}} - 2 F_{\text{ERM}}}{\text{peak} \cdot
    T_{\text{ERM}}},

with the FLOPs :math:`F` of one step (forward and backward) counted by
``torch.utils.flop_counter.FlopCounterMode`` (``count_flops``: also the in-place
``addmm_``, which the counter's own table leaves at 0) and :math:`T_{\text{ERM}}` ERM's step
time; and the measured ratio over that floor (target: at most 1.3).
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
from typing import Dict, List, Optional

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def ba_2motifs_batch(backbone: str, method: str, data_dir: str):
    """A model of the shipped BA-2Motifs config and its first training batch."""
    from gsat.core.config import default_config_path, load_config
    from gsat.data import load_dataset
    from gsat.training.build import build_model
    from gsat.training.engine import make_loader, set_seed

    ds = load_dataset("ba_2motifs", data_dir, seed=0)
    cfg = load_config(default_config_path(backbone, ds.config_name))
    set_seed(0)
    model = build_model(cfg, ds, method)
    batch = next(iter(make_loader(ds.train, cfg.train.batch_size, shuffle=True, seed=0)))
    return model, batch, cfg.train.lr


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


def count_flops():
    r"""A :class:`torch.utils.flop_counter.FlopCounterMode` that also counts the in-place
    ``aten.addmm_`` (as ``addmm``: :math:`2mnk`), which its own table misses (it counts 0
    for the extractor's backward products)."""
    from torch.utils.flop_counter import FlopCounterMode

    def addmm_flop(self_shape, a_shape, b_shape, out_shape=None, **kwargs) -> int:
        return 2 * a_shape[0] * a_shape[1] * b_shape[1]

    return FlopCounterMode(display=False, custom_mapping={torch.ops.aten.addmm_: addmm_flop})


def matmul_peak(size: int = 1024, seconds: float = 1.0) -> float:
    """GFLOP/s of a ``size`` x ``size`` float32 ``torch.mm`` loop on the current thread
    count, per CPU second of the process (as the step times), the best of several rounds."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)
    best, start = 0.0, time.process_time()
    while time.process_time() - start < seconds:
        t0 = time.process_time()
        for _ in range(4):
            torch.mm(a, b, out=out)
        best = max(best, 4 * 2 * size ** 3 / max(time.process_time() - t0, 1e-9) / 1e9)
    return best


def floor_ratio(gsat_gflop: float, erm_gflop: float, erm_seconds: float,
                peak_gflops: float) -> float:
    """The realistic floor of GSAT / ERM (module docstring)."""
    return 2.0 + max(gsat_gflop - 2.0 * erm_gflop, 0.0) / (peak_gflops * erm_seconds)


def one_case(num_edges: int, backbone: str, method: str, steps: int, hidden: int,
             data_dir: str = "data") -> Dict:
    """Time training steps of one model on one graph (run in a child process); 0 edges: a
    BA-2Motifs training batch of the shipped config."""
    from torch_geometric.data import Batch, Data

    from gsat.core.model import ERM, GSAT
    from gsat.nn import GIN, PNA, degree_histogram

    torch.manual_seed(0)
    if num_edges == 0:
        model, batch, _ = ba_2motifs_batch(backbone, method, data_dir)
        ei, n = batch.edge_index, batch.num_nodes
    else:
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
    counter = count_flops()
    with counter:
        out = model(batch)
        loss, _ = model.loss(out, batch.y, steps + 1)
        opt.zero_grad()
        loss.backward()
    return {"edges": int(ei.size(1)), "nodes": n, "backbone": backbone, "method": method,
            "step_seconds": min(times), "peak_gb": rss, "gflop": counter.get_total_flops() / 1e9,
            "peak_gflops": matmul_peak()}


def run_child(num_edges: int, backbone: str, method: str, steps: int, hidden: int,
              timeout: float, thp: bool = True, data_dir: str = "data") -> Dict:
    cmd = [sys.executable, __file__, "--child", str(num_edges), backbone, method,
           "--steps", str(steps), "--hidden", str(hidden), "--data-dir", data_dir]
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


def _floor(r: Dict, e: Dict) -> Optional[float]:
    if not (r.get("gflop") and e.get("gflop") and e.get("peak_gflops")):
        return None
    return floor_ratio(r["gflop"], e["gflop"], e["step_seconds"], e["peak_gflops"])


def markdown(rows: List[Dict], argv: List[str], threads: int) -> str:
    lines = []
    by = {(r["edges_asked"], r["backbone"], r["method"]): r for r in rows}
    per_edge = {}
    for (edges, bb, method), r in sorted(by.items()):
        if method != "gsat":
            continue
        e = by.get((edges, bb, "erm"), {})
        size = "BA-2Motifs batch" if edges == 0 else f"{edges:.0e}"
        if "error" in r or "error" in e:
            msg = r.get("error") or e.get("error")
            lines.append(f"| {bb} | {size} | {msg} | | | | | | | | | |")
            continue
        us = 1e6 * r["step_seconds"] / r["edges"]
        label = bb if r.get("thp") == 1 else f"{bb}, no huge pages"
        if edges == 0:
            label += ", BA-2Motifs batch"
        else:
            per_edge.setdefault(bb, []).append((us, 1e6 * e["step_seconds"] / e["edges"]))
        flops = (f"{r['gflop'] / e['gflop']:.2f}x" if r.get("gflop") and e.get("gflop")
                 else "n/a")
        ratio = r["step_seconds"] / e["step_seconds"]
        floor = _floor(r, e)
        floor_txt = (f"{floor:.2f}x | {ratio / floor:.2f}" if floor else "n/a | n/a")
        lines.append(f"| {label} | {r['edges']:,} | {r['step_seconds']:.3f} | {e['step_seconds']:.3f} "
                     f"| {ratio:.2f}x | {floor_txt} | {flops} | {us:.2f} | "
                     f"{1e6 * e['step_seconds'] / e['edges']:.2f} | "
                     f"{r['peak_gb']:.2f} | {e['peak_gb']:.2f} ({r['peak_gb'] / e['peak_gb']:.2f}x) |")
    spread = "; ".join(f"{bb}: GSAT us/edge {_span([g for g, _ in v])}, ERM's "
                       f"{_span([e for _, e in v])}" for bb, v in per_edge.items())
    peaks = [r["peak_gflops"] for r in rows if r.get("peak_gflops")]
    peak = (f"{min(peaks):.0f}-{max(peaks):.0f} GFLOP/s" if peaks else "not measured")
    return f"""# Scale: one training step on one large graph, GSAT vs. ERM

Command: `OMP_NUM_THREADS={threads} python benchmarks/scale.py {' '.join(argv)}`

Machine: {platform.machine()}, {threads} torch thread(s), CPU, torch {torch.__version__}; a
machine shared with other jobs. One Barabasi-Albert graph (2 links per new node, both
directions stored; "edges" counts directed edges), 8 random features, GIN (hidden 64, 2
layers) or PNA (hidden 64, 4 layers, mean/min/max/std/sum, no scalers), or one BA-2Motifs
training batch with the shipped config; one step = forward,
loss, backward, Adam; CPU seconds of the process (`time.process_time`, less disturbed by other
jobs than wall time), best of the timed steps after a warm-up; peak RSS of the process that
ran the case (its own process per case). GSAT symmetrises attention over both directions.
Large tensors use transparent huge pages (`THP_MEM_ALLOC_ENABLE=1`, as the `gsat` command
sets it) unless a row says otherwise. "matmul FLOPs" is the ratio of the matrix-product FLOPs
of one step (forward and backward, counted by `torch.utils.flop_counter.FlopCounterMode`
with the in-place `addmm_` counted too). "floor" is two backbone passes at ERM's time plus
the extractor's FLOPs (GSAT's less twice ERM's) at the matmul peak measured in the ERM
process (1024 x 1024 float32 `torch.mm`: {peak}); "/ floor" is the measured ratio over it
(target: at most 1.3).

| backbone | edges | GSAT step (s) | ERM step (s) | GSAT / ERM | floor | / floor | matmul FLOPs GSAT / ERM | GSAT us/edge | ERM us/edge | GSAT peak RSS (GB) | ERM peak RSS (GB) |
|---|---|---|---|---|---|---|---|---|---|---|---|
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
    p.add_argument("--ba-2motifs", action="store_true",
                   help="add a row for one BA-2Motifs training batch (needs --data-dir)")
    p.add_argument("--data-dir", default="data",
                   help="data root of --ba-2motifs (default: data)")
    p.add_argument("--out", default=None,
                   help="also write the table to this file (default: print it only; the "
                        "committed table is benchmarks/results/scale.md)")
    p.add_argument("--child", nargs=3, metavar=("EDGES", "BACKBONE", "METHOD"))
    p.add_argument("--from-log", metavar="FILE",
                   help="write the table from the JSON lines a previous run printed")
    p.add_argument("--run-args", default="",
                   help="with --from-log: the arguments of the run that printed the log")
    args = p.parse_args()
    if args.child:
        edges, bb, method = args.child
        print(json.dumps(one_case(int(float(edges)), bb, method, args.steps, args.hidden,
                                  args.data_dir)))
        return
    rows = []
    if args.from_log:
        for line in Path(args.from_log).read_text().splitlines():
            if line.startswith("{"):
                rows.append(json.loads(line))
        text = markdown(rows, args.run_args.split(), 1)
        if args.out:
            Path(args.out).write_text(text)
        print(text)
        return
    sizes = ([0.0] if args.ba_2motifs else []) + list(args.edges)
    for bb in args.backbones:
        for edges in sizes:
            for method in ("gsat", "erm"):
                r = run_child(int(edges), bb, method, args.steps, args.hidden, args.timeout,
                              args.thp == 1, args.data_dir)
                r["thp"] = args.thp
                r["edges_asked"] = edges
                print(json.dumps(r), flush=True)
                rows.append(r)
    text = markdown(rows, sys.argv[1:], torch.get_num_threads())
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
