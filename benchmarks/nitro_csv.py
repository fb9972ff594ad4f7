"""Write a small CSV of generated molecules whose label is known to depend on a few bonds,
for comparing explainers by fidelity on a ``csv:`` dataset (no ground-truth edges reach
the benchmark): substituted benzenes, pyridines and cyclohexanes with two to three
substituents drawn at random; a molecule is active (1) when one substituent is a nitro
group.

    python benchmarks/nitro_csv.py OUT.csv [--molecules 400] [--seed 0]
    gsat benchmark --dataset csv:OUT.csv --label-col active --split random ...
"""
from __future__ import annotations

import argparse
import csv
import random

#: ring templates with three attachment points {0}, {1}, {2}
RINGS = ["c1c({0})cc({1})cc1{2}", "c1c({0})nc({1})cc1{2}", "C1C({0})CC({1})CC1{2}",
         "c1c({0})c({1})ccc1{2}"]
#: substituents without the nitro group
OTHERS = ["C", "O", "N", "Cl", "F", "Br", "C(=O)O", "C#N", "OC", "C(F)(F)F", "CC", "S",
          "C(=O)N", "NC(=O)C"]
NITRO = "[N+](=O)[O-]"


def molecules(n: int, seed: int) -> list:
    rng = random.Random(seed)
    rows, seen = [], set()
    while len(rows) < n:
        active = rng.random() < 0.5
        subs = [rng.choice(OTHERS) for _ in range(3)]
        if active:
            subs[rng.randrange(3)] = NITRO
        if rng.random() < 0.3:  # two substituents only: the third place is hydrogen
            i = rng.randrange(3)
            if subs[i] != NITRO:
                subs[i] = "[H]"
        smiles = rng.choice(RINGS).format(*subs)
        if smiles not in seen:
            seen.add(smiles)
            rows.append((smiles, int(active)))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--molecules", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rows = molecules(args.molecules, args.seed)
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["smiles", "active"])
        w.writerows(rows)
    print(f"{len(rows)} molecules ({sum(a for _, a in rows)} active) in {args.out}")


if __name__ == "__main__":
    main()
