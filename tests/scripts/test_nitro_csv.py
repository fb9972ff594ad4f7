"""benchmarks/nitro_csv.py: the generated CSV of molecules behind
benchmarks/results/fidelity_csv_nitro.md."""
import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "nitro_csv.py"


def _script():
    spec = importlib.util.spec_from_file_location("nitro_csv_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_molecules_are_distinct_parse_and_are_active_exactly_with_a_nitro_group(tmp_path):
    Chem = pytest.importorskip("rdkit.Chem")
    mod = _script()
    rows = mod.molecules(60, seed=1)
    assert rows == mod.molecules(60, seed=1) and rows != mod.molecules(60, seed=2)
    assert len({s for s, _ in rows}) == 60 and 0 < sum(a for _, a in rows) < 60
    nitro = Chem.MolFromSmarts("[N+](=O)[O-]")
    for smiles, active in rows:
        mol = Chem.MolFromSmiles(smiles)
        assert mol is not None, smiles
        assert mol.HasSubstructMatch(nitro) == bool(active), smiles
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "m.csv"), "--molecules", "30"],
                   check=True, capture_output=True)
    with open(tmp_path / "m.csv") as f:
        table = list(csv.reader(f))
    assert table[0] == ["smiles", "active"] and len(table) == 31
