r"""Where the time of one GSAT (or ERM) training step goes: a ``torch.profiler`` table of the
operators by self CPU time.

One training step is the forward pass, the loss, the backward pass and the Adam step, on a
BA-2Motifs batch of the shipped config's batch size (``--edges 0``, the default) or on one
Barabasi-Albert graph of about ``--edges`` directed edges (the graph of
``benchmarks/scale.py``). The steps are profiled after ``--warmup`` unprofiled ones; the
table gives each operator's share of the self CPU time of all profiled steps.

    OMP_NUM_THREADS=1 python benchmarks/profile_step.py --backbone GIN --steps 20
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py --edges 1e5 --steps 3
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # as the gsat command sets it

import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def ba_graph_batch(num_edges: int, backbone: str, method: str):
    """A model of ``benchmarks/scale.py`` and its one graph."""
    from torch_geometric.data import Batch, Data

    from gsat.core.model import ERM, GSAT
    from gsat.nn import GIN, PNA, degree_histogram
    from scale import ba_edge_index

    torch.manual_seed(0)
    ei = ba_edge_index(num_edges)
    n = int(ei.max()) + 1
    data = Data(x=torch.rand(n, 8), edge_index=ei, y=torch.tensor([[1.0]]))
    if backbone == "GIN":
        bb = GIN(8, 1, hidden_channels=64, num_layers=2)
    else:
        bb = PNA(8, 1, hidden_channels=64, num_layers=4, deg=degree_histogram([data]),
                 aggregators=["mean", "min", "max", "std", "sum"], scalers=["identity"])
    model = GSAT(bb, symmetrize=True) if method == "gsat" else ERM(bb)
    return model, Batch.from_data_list([data]), 1e-3


def profile(model, batch, lr: float, steps: int, warmup: int, rows: int) -> str:
    from torch.profiler import ProfilerActivity, profile as torch_profile

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()

    def step(i: int) -> None:
        out = model(batch)
        loss, _ = model.loss(out, batch.y, i)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(i)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(steps):
            step(warmup + i)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    lines = [f"self CPU time of {steps} steps: {total / 1e6:.3f} s "
             f"({total / 1e3 / steps:.2f} ms a step)", "",
             "| operator | self CPU % | self CPU ms a step | calls a step |", "|---|---|---|---|"]
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:rows]:
        lines.append(f"| `{e.key}` | {100 * e.self_cpu_time_total / total:.1f} | "
                     f"{e.self_cpu_time_total / 1e3 / steps:.2f} | {e.count / steps:g} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="GIN", choices=["GIN", "PNA"])
    p.add_argument("--method", default="gsat", choices=["gsat", "erm"])
    p.add_argument("--edges", type=float, default=0,
                   help="0: a BA-2Motifs batch (default); else one BA graph of about this "
                        "many directed edges")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rows", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", default="data")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.edges:
        model, batch, lr = ba_graph_batch(int(args.edges), args.backbone, args.method)
    else:
        from scale import ba_2motifs_batch

        model, batch, lr = ba_2motifs_batch(args.backbone, args.method, args.data_dir)
    print(profile(model, batch, lr, args.steps, args.warmup, args.rows))


if __name__ == "__main__":
    main()
