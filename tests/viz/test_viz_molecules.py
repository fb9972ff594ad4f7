"""Molecules drawn by RDKit with attention on bonds and atoms (gsat.viz.molecules)."""
import itertools
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

Chem = pytest.importorskip("rdkit.Chem")

from gsat.viz import draw_graph_explanation  # noqa: E402
from gsat.viz.molecules import (atom_draw_coords, bond_attention, draw_molecule_explanation,  # noqa: E402
                                mol_from_graph, molecule_picture)
from gsat.viz.scale import colour_at  # noqa: E402

#: 61 bonds in two fragments: the size of the largest molecules of a real HIV sample
LARGE = ("CC1=C(C(=O)Nc2ccc(Cl)cc2)C(c2ccc(OCc3ccccc3)c(OC)c2)C(C(=O)OCC(C)C)=C(C)N1."
         "CCN(CC)CCNC(=O)c1ccc([N+](=O)[O-])cc1")
#: shapes that crowd a naive layout: macrocycle, spiro, bridged, fused, long chains
CROWDED = ["C1CCCCCCCCCCCCCCCCC1", "C1CCC2(CC1)CCCCC2", "C1CC2CCC1C2", "c1ccc2cc3ccccc3cc2c1",
           "CC(C)(C)C(C)(C)C(C)(C)C(C)(C)C", LARGE, "O=C(O)C1=CN2C3C(CC2=C1)OC1=CC=CC=C13"]


def _has_colour(svg: str, rgb) -> bool:
    """Whether a fill or stroke of the drawing has colour :obj:`rgb`, give or take RDKit's
    rounding."""
    import re

    body = svg
    want = np.array(rgb) * 255
    found = [np.array([int(h[i:i + 2], 16) for i in (0, 2, 4)])
             for h in re.findall(r"#([0-9A-Fa-f]{6})", body)]
    return any(np.abs(f - want).max() <= 1.5 for f in found)


def test_large_molecule_fills_its_canvas():
    mol = Chem.MolFromSmiles(LARGE)
    assert mol.GetNumBonds() >= 58
    xy = atom_draw_coords(mol, size=(520, 440))
    width, height = xy.max(0) - xy.min(0)
    assert width > 0.75 * 520 or height > 0.75 * (440 - 30 - 44)


@pytest.mark.parametrize("smiles", CROWDED)
def test_atoms_do_not_overlap(smiles):
    mol = Chem.MolFromSmiles(smiles)
    xy = atom_draw_coords(mol)
    bond = np.median([np.linalg.norm(xy[b.GetBeginAtomIdx()] - xy[b.GetEndAtomIdx()])
                      for b in mol.GetBonds()])
    closest = min(np.linalg.norm(xy[i] - xy[j])
                  for i, j in itertools.combinations(range(mol.GetNumAtoms()), 2))
    assert closest > 0.45 * bond


def test_bond_colours_follow_the_scale_and_top_k():
    mol = Chem.MolFromSmiles("O=[N+]([O-])c1ccc(Cl)cc1")
    rng = np.random.default_rng(0)
    att = {b.GetIdx(): 0.64 + 0.3 * rng.random() for b in mol.GetBonds()}
    svg = molecule_picture(mol, att, fmt="svg", title="m1: P(active) = 0.01", atoms=False)
    root = ET.fromstring(svg)  # well-formed SVG, its title readable as text
    assert root.find("{http://www.w3.org/2000/svg}title").text == "m1: P(active) = 0.01"
    # relative scale: both ends of the colour map appear on the bonds
    nobar = molecule_picture(mol, att, fmt="svg", atoms=False, legend=False)
    assert _has_colour(nobar, colour_at(1.0)) and _has_colour(nobar, colour_at(0.0))
    # absolute scale: 0.64-0.94 never reaches the darkest colour
    svg_abs = molecule_picture(mol, att, fmt="svg", scale="absolute", atoms=False,
                               legend=False)
    assert not _has_colour(svg_abs, colour_at(1.0))
    # top-k: the other bonds are pale grey
    svg_top = molecule_picture(mol, att, fmt="svg", top_k=2, atoms=False)
    assert _has_colour(svg_top, (0.9, 0.9, 0.9)) and not _has_colour(svg, (0.9, 0.9, 0.9))
    png = molecule_picture(mol, att, fmt="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_bond_width_grows_with_attention():
    mol = Chem.MolFromSmiles("CCCC")
    low = {0: 0.1, 1: 0.1, 2: 0.1}
    high = {0: 0.1, 1: 0.1, 2: 0.9}
    # the coloured area (non-white pixels) grows when one bond's attention rises, on the
    # absolute scale where the colours of the other bonds stay the same
    import io

    import matplotlib.image
    areas = []
    for att in (low, high):
        img = matplotlib.image.imread(io.BytesIO(molecule_picture(
            mol, att, scale="absolute", atoms=False, legend=False)), format="png")
        areas.append(int((img[..., :3].sum(-1) < 2.9).sum()))
    assert areas[1] > areas[0] * 1.1


def test_molecule_from_ogb_features_round_trips():
    pytest.importorskip("ogb")
    from gsat.data.molecules import smiles_to_graph

    for smi in ("CC(=O)Oc1ccccc1C(=O)O", "O=[N+]([O-])c1ccc2ccccc2c1", "C#CC[NH3+]",
                "c1cc[nH]c1", "C[S](=O)(=O)N", "[O-]C(=O)c1ccncc1"):
        g = smiles_to_graph(smi)
        mol = mol_from_graph(g)
        assert mol is not None, smi
        assert Chem.MolToSmiles(mol) == Chem.MolToSmiles(Chem.MolFromSmiles(smi))
    assert mol_from_graph(smiles_to_graph("CCO").update({"x": torch.rand(3, 9)})) is None


def test_bond_attention_and_the_molecule_dispatch(tmp_path, monkeypatch):
    pytest.importorskip("ogb")
    import gsat.viz as viz
    from gsat.data.molecules import smiles_to_graph

    g = smiles_to_graph("CCO")  # bonds 0 (C-C), 1 (C-O); edges in both directions
    att = torch.tensor([0.2, 0.4, 0.9, 0.1])
    mol = mol_from_graph(g)
    expected = {}
    for (u, v), a in zip(g.edge_index.t().tolist(), att.tolist()):
        b = mol.GetBondBetweenAtoms(u, v).GetIdx()
        expected[b] = max(expected.get(b, 0.0), a)
    assert bond_attention(mol, g.edge_index, att) == pytest.approx(expected)
    seen = {}
    monkeypatch.setattr(viz, "draw_molecule_explanation",
                        lambda m, b, path, **kw: seen.update(bonds=b, **kw) or path)
    viz.draw_graph_explanation(g, att, tmp_path / "m.png", title="t", molecule=True)
    assert seen["bonds"] == pytest.approx(expected) and seen["title"] == "t"
    monkeypatch.undo()
    path = draw_molecule_explanation(mol, expected, tmp_path / "m.svg", title="t")
    assert path.read_text().lstrip().startswith("<?xml")
    png = draw_graph_explanation(g, att, tmp_path / "n.png", title="t", molecule=True)
    import matplotlib.image
    assert matplotlib.image.imread(png).shape[:2] == (440, 520)  # RDKit's canvas
