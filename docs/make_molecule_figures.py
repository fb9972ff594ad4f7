r"""Regenerate the molecule pictures shown in the README, on a task whose answer is known.

Writes a CSV of small aromatic and aliphatic molecules (every combination of a few scaffolds
and substituents) labelled ``nitro`` = 1 exactly when the molecule has a nitro group, trains
GSAT on it with ``gsat train --dataset csv:...`` (GIN, the shipped ``ogbg_mol`` config), and
runs ``gsat explain --html`` on held-out molecules. From its output it copies

* ``docs/molecule_explanation.png``: one explained molecule (RDKit depiction, bonds coloured
  and widened by attention relative to the molecule, title ``P(nitro) = ...``);
* ``docs/molecule_substructures.png``: the substructure summary's picture grid;

and writes ``docs/molecule_figures.json`` with the command lines and the run's test scores.

Usage (from the repository root)::

    python docs/make_molecule_figures.py              # 30 epochs, seed 0
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

SCAFFOLDS = ["c1ccc({})cc1", "c1ccc2cc({})ccc2c1", "c1cc({})cnc1", "C1CCC({})CC1",
             "c1cc({})sc1", "CCC({})CC", "c1ccc(-c2ccccc2)c({})c1", "O=C(N)c1ccc({})cc1"]
SUBSTITUENTS = ["[N+](=O)[O-]", "N", "O", "Cl", "C(=O)O", "C", "OC", "C#N", "F", "C(F)(F)F",
                "S(=O)(=O)N", "NC(C)=O"]


def molecules():
    """(smiles, nitro) for every scaffold with one or two substituents."""
    from rdkit import Chem

    nitro = Chem.MolFromSmarts("[N+](=O)[O-]")
    seen = {}
    for scaffold in SCAFFOLDS:
        for a, b in itertools.combinations_with_replacement(SUBSTITUENTS, 2):
            for smi in (scaffold.format(a), scaffold.format(a) + b):
                mol = Chem.MolFromSmiles(smi)
                if mol is not None:
                    can = Chem.MolToSmiles(mol)
                    seen[can] = int(mol.HasSubstructMatch(nitro))
    return sorted(seen.items())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default: 30)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--out", default=str(HERE), help="output folder (default: docs/)")
    p.add_argument("--work", default=None, help="folder of the run (default: a temporary one)")
    args = p.parse_args()
    out = Path(args.out)
    work = Path(args.work or tempfile.mkdtemp(prefix="gsat-molecules-"))
    work.mkdir(parents=True, exist_ok=True)
    mols = molecules()
    held_out = mols[::10]
    train = [m for i, m in enumerate(mols) if i % 10]
    for name, rows in (("train.csv", train), ("new.csv", held_out)):
        with open(work / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "smiles", "nitro"])
            w.writerows([[f"m{i}", s, y] for i, (s, y) in enumerate(rows)])
    gsat = [sys.executable, "-m", "gsat"]
    train_cmd = gsat + ["train", "--dataset", f"csv:{work / 'train.csv'}", "--label-col",
                        "nitro", "--split", "random", "--epochs", str(args.epochs), "--seeds",
                        str(args.seed), "--out", str(work / "run"), "--data-dir",
                        str(work / "data"), "--no-progress"]
    explain_cmd = gsat + ["explain", str(work / "run"), "--input", str(work / "new.csv"),
                          "--out", str(work / "explained"), "--html", "--no-progress"]
    subprocess.run(train_cmd, check=True)
    subprocess.run(explain_cmd, check=True)
    results = json.loads((work / "run" / "results.json").read_text())
    lines = [json.loads(x) for x in (work / "explained" / "explanations.jsonl").open()]
    drawn = [r for r in lines if r.get("picture")]
    # the first held-out nitro molecule predicted as such, with a picture
    pick = next((r for r in drawn if r["label"] == 1 and r["prediction"] == 1), drawn[0])
    shutil.copy(work / "explained" / pick["picture"], out / "molecule_explanation.png")
    shutil.copy(work / "explained" / "substructures.png", out / "molecule_substructures.png")
    correct = sum(int(r["prediction"] == r["label"]) for r in lines)
    meta = {"command": f"python docs/make_molecule_figures.py --epochs {args.epochs} "
                       f"--seed {args.seed}",
            "molecules": len(mols), "train_csv": len(train), "held_out": len(held_out),
            "train": " ".join(train_cmd[1:]).replace(str(work), "WORK"),
            "explain": " ".join(explain_cmd[1:]).replace(str(work), "WORK"),
            "test_rocauc": results["runs"][0]["test_metric"],
            "held_out_accuracy": correct / len(lines), "picture_of": pick["id"],
            "picture_smiles": pick["smiles"]}
    (out / "molecule_figures.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
