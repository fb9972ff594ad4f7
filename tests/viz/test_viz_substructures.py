"""Which substructures carry the attention across molecules (gsat.viz.substructures)."""
import csv

import numpy as np
import pytest

Chem = pytest.importorskip("rdkit.Chem")

from gsat.viz.substructures import (fragment_patterns, ring_systems,  # noqa: E402
                                    substructure_table, write_substructure_summary)

NITRO = ["O=[N+]([O-])c1ccc(Cl)cc1", "O=[N+]([O-])c1ccc2ccccc2c1",
         "CC(=O)Nc1ccc([N+](=O)[O-])cc1", "O=[N+]([O-])CCCC(=O)O", "Cc1ccc([N+](=O)[O-])cc1N",
         "O=C(O)c1ccc([N+](=O)[O-])cc1", "O=[N+]([O-])c1cccnc1", "OCc1ccc([N+](=O)[O-])o1"]
OTHERS = ["c1ccccc1CCO", "Nc1ccccc1", "CC(=O)O", "c1ccncc1", "OC1CCCCC1", "CCOC(=O)C"]


def _nitro_attention(smiles, seed):
    """Attention high (0.90-0.95) exactly on the bonds of nitro groups (as RDKit's fr_nitro
    matches them: N, its oxygens and the atom it hangs from), 0.64-0.84 elsewhere."""
    mol = Chem.MolFromSmiles(smiles)
    patt = Chem.MolFromSmarts("[N+](=O)([O-])*")
    hits = {a for m in mol.GetSubstructMatches(patt) for a in m}
    rng = np.random.default_rng(seed)
    att = {b.GetIdx(): (0.90 + 0.05 * rng.random()
                        if b.GetBeginAtomIdx() in hits and b.GetEndAtomIdx() in hits
                        else 0.64 + 0.2 * rng.random()) for b in mol.GetBonds()}
    return mol, att


def test_nitro_attention_puts_nitro_groups_first():
    mols = [_nitro_attention(s, i) for i, s in enumerate(NITRO + OTHERS)]
    rows = substructure_table(mols, ids=[f"m{i}" for i in range(len(mols))], min_molecules=2)
    assert rows[0]["substructure"] == "nitro groups (fr_nitro)"
    assert rows[0]["molecules"] == rows[0]["occurrences"] == len(NITRO)
    # its bonds are the top bonds of every molecule (3 of 8 bonds: mean rank (5+6+7)/7/3)
    assert rows[0]["mean_rank"] > 0.85 and rows[0]["lift"] > 0.1
    assert rows[0]["mean_attention"] == pytest.approx(0.925, abs=0.03)
    ranks = [r["mean_rank"] for r in rows]
    assert ranks == sorted(ranks, reverse=True)
    # groups without nitro attention rank low
    benz = next(r for r in rows if r["substructure"].startswith("benzene rings"))
    assert benz["mean_rank"] < 0.6


def test_ring_systems_and_patterns():
    systems = ring_systems(Chem.MolFromSmiles("c1ccc2ccccc2c1CC1CC1"))
    assert sorted(len(a) for _, a in systems) == [3, 10]
    assert "c1ccc2ccccc2c1" in [s for s, _ in systems]
    names = [n for n, _, _ in fragment_patterns()]
    assert "fr_nitro" in names and "fr_halogen" in names and "fr_NH0" not in names


def test_summary_files_over_predicted_actives(tmp_path):
    items = [(*_nitro_attention(s, i), s in NITRO) for i, s in enumerate(NITRO + OTHERS)]
    written = write_substructure_summary(items, tmp_path, ids=[str(i) for i in
                                                                range(len(items))])
    assert [p.name for p in written] == ["substructures.csv", "substructures.md",
                                         "substructures.png", "substructures.svg"]
    with open(tmp_path / "substructures.csv") as f:
        table = list(csv.DictReader(f))
    assert table[0]["substructure"] == "nitro groups (fr_nitro)" and \
        table[0]["molecules"] == str(len(NITRO))
    md = (tmp_path / "substructures.md").read_text()
    assert f"over the {len(NITRO)} molecules predicted active" in md
    assert (tmp_path / "substructures.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (tmp_path / "substructures.svg").read_text()
    # no predicted active: the summary covers every molecule and says so
    none = [(m, a, False) for m, a, _ in items]
    write_substructure_summary(none, tmp_path / "all")
    assert f"all {len(items)} molecules (none is predicted active)" in \
        (tmp_path / "all" / "substructures.md").read_text()
