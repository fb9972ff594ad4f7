r"""Which substructures of molecules a model relies on: GSAT's bond attention aggregated
over chemical substructures across the molecules predicted active.

Two kinds of substructure are matched in every molecule:

* **functional groups**: the SMARTS patterns behind :mod:`rdkit.Chem.Fragments` (RDKit's
  ``FragmentDescriptors.csv``: nitro groups, amides, halogens, ...);
* **ring systems**: rings sharing atoms merged into one system, named by the canonical
  SMILES of its atoms (e.g. ``c1ccc2ccccc2c1``).

For each occurrence the attention of its bonds (the bonds between its atoms and their
terminal non-carbon neighbours, e.g. the oxygens of a nitro group; for a one-atom pattern
such as a halogen, the bonds of that atom) is compared with the rest of its
molecule. Because attention within a molecule often spans a narrow band, the main number is
the bonds' **rank** within their molecule (0 its lowest bond, 1 its highest,
:func:`gsat.viz.scale.scaled_attention`); the mean attention and its difference from the
molecule's mean (``lift``) are given too, with the number of molecules and occurrences.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from gsat.viz.scale import scaled_attention

__all__ = ["fragment_patterns", "ring_systems", "substructure_table",
           "write_substructure_summary", "draw_substructure_grid"]

#: columns of ``substructures.csv``
COLUMNS = ("substructure", "kind", "molecules", "occurrences", "mean_rank", "mean_attention",
           "lift", "example")

#: fragment patterns left out: ``fr_NH0`` matches every nitrogen without a hydrogen (nitro,
#: amide, aromatic and tertiary amine nitrogens alike), so it would take the credit of the
#: specific group around such a nitrogen
SKIPPED_PATTERNS = ("fr_NH0",)

_PATTERNS: Optional[List[Tuple[str, str, Any]]] = None


def fragment_patterns() -> List[Tuple[str, str, Any]]:
    r"""The functional groups of :mod:`rdkit.Chem.Fragments` as :obj:`(name, description,
    pattern)`: read from RDKit's own ``FragmentDescriptors.csv`` (name, description, SMARTS
    per line), e.g. :obj:`("fr_nitro", "nitro groups", <Mol>)`, except
    :data:`SKIPPED_PATTERNS`."""
    global _PATTERNS
    if _PATTERNS is None:
        from rdkit import Chem, RDConfig

        found = []
        with open(Path(RDConfig.RDDataDir) / "FragmentDescriptors.csv") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if not line.strip() or line.startswith("#") or len(parts) < 3:
                    continue
                patt = Chem.MolFromSmarts(parts[2])
                if patt is None or patt.GetNumAtoms() == 0:
                    continue
                text = parts[1].replace('"', "").strip()
                for prefix in ("Number of ", "number of "):
                    if text.startswith(prefix):
                        text = text[len(prefix):]
                name = parts[0].replace("=", "_").replace("-", "_")
                if name not in SKIPPED_PATTERNS:
                    found.append((name, text, patt))
        _PATTERNS = found
    return _PATTERNS


def ring_systems(mol: Any) -> List[Tuple[str, frozenset]]:
    r"""The ring systems of :obj:`mol` (rings that share an atom merged) as
    :obj:`(canonical SMILES of the system's atoms, atom indices)`."""
    from rdkit import Chem

    systems: List[set] = []
    for ring in mol.GetRingInfo().AtomRings():
        ring = set(ring)
        merged = [s for s in systems if s & ring]
        for s in merged:
            ring |= s
            systems.remove(s)
        systems.append(ring)
    return [(Chem.MolFragmentToSmiles(mol, atomsToUse=sorted(s), canonical=True), frozenset(s))
            for s in systems]


def _occurrences(mol: Any) -> List[Tuple[str, str, frozenset]]:
    """Every (name, kind, atoms) of a functional group or ring system in :obj:`mol`."""
    found = []
    for name, text, patt in fragment_patterns():
        for match in mol.GetSubstructMatches(patt, uniquify=True):
            found.append((f"{text} ({name})", "functional group", _with_terminals(mol, match)))
    for smiles, atoms in ring_systems(mol):
        found.append((smiles, "ring system", atoms))
    return found


def _with_terminals(mol: Any, match: Sequence[int]) -> frozenset:
    """The matched atoms and their terminal non-carbon neighbours (an atom of one bond, e.g.
    the oxygens of a nitro group whose pattern matches only N and its carbon through a
    recursive SMARTS)."""
    atoms = set(int(a) for a in match)
    for a in list(atoms):
        for nb in mol.GetAtomWithIdx(a).GetNeighbors():
            if nb.GetDegree() == 1 and nb.GetAtomicNum() != 6:
                atoms.add(nb.GetIdx())
    return frozenset(atoms)


def _bonds_of(mol: Any, atoms: frozenset) -> List[int]:
    inside = [b.GetIdx() for b in mol.GetBonds()
              if b.GetBeginAtomIdx() in atoms and b.GetEndAtomIdx() in atoms]
    if inside:
        return inside
    return sorted({b.GetIdx() for a in atoms for b in mol.GetAtomWithIdx(int(a)).GetBonds()})


def substructure_table(molecules: Sequence[Tuple[Any, Mapping[int, float]]],
                       ids: Optional[Sequence[str]] = None,
                       min_molecules: int = 1) -> List[Dict[str, Any]]:
    r"""Aggregate bond attention over the substructures of :obj:`molecules` (see the module
    docstring), one row per substructure found in at least :obj:`min_molecules` molecules,
    sorted by mean rank (highest first).

    Args:
        molecules (list of tuple): :obj:`(mol, bond_att)` per molecule, :obj:`bond_att` an
            RDKit bond index -> attention dict.
        ids (list of str, optional): an id per molecule, for the :obj:`example` column.
        min_molecules (int, optional): leave out substructures found in fewer molecules.
            (default: :obj:`1`)

    Returns:
        list of dict: the columns :data:`COLUMNS`: :obj:`molecules` (how many contain it),
        :obj:`occurrences`, :obj:`mean_rank` (mean over occurrences of the mean rank of its
        bonds within their molecule, :math:`[0, 1]`), :obj:`mean_attention`, :obj:`lift`
        (mean attention minus the mean of the molecule's bonds), :obj:`example` (the id of
        the molecule where it ranks highest); also :obj:`_example` (index of that molecule)
        and :obj:`_atoms` (its atoms there) for pictures.
    """
    acc: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for k, (mol, bond_att) in enumerate(molecules):
        bonds = sorted(int(b) for b in bond_att)
        if not bonds:
            continue
        values = np.array([float(bond_att[b]) for b in bonds])
        rank = dict(zip(bonds, scaled_attention(values, "rank")))
        att = dict(zip(bonds, values))
        mean_mol = float(values.mean())
        for name, kind, atoms in _occurrences(mol):
            inside = [b for b in _bonds_of(mol, atoms) if b in att]
            if not inside:
                continue
            r = float(np.mean([rank[b] for b in inside]))
            a = float(np.mean([att[b] for b in inside]))
            row = acc.setdefault((name, kind), {"ranks": [], "atts": [], "lifts": [],
                                                "mols": set(), "best": (-1.0, k, atoms)})
            row["ranks"].append(r)
            row["atts"].append(a)
            row["lifts"].append(a - mean_mol)
            row["mols"].add(k)
            if r > row["best"][0]:
                row["best"] = (r, k, atoms)
    rows = []
    for (name, kind), row in acc.items():
        if len(row["mols"]) < min_molecules:
            continue
        k = row["best"][1]
        rows.append({"substructure": name, "kind": kind, "molecules": len(row["mols"]),
                     "occurrences": len(row["ranks"]),
                     "mean_rank": float(np.mean(row["ranks"])),
                     "mean_attention": float(np.mean(row["atts"])),
                     "lift": float(np.mean(row["lifts"])),
                     "example": str(ids[k]) if ids is not None else str(k),
                     "_example": k, "_atoms": sorted(int(a) for a in row["best"][2])})
    rows.sort(key=lambda r: (-r["mean_rank"], -r["molecules"], r["substructure"]))
    return rows


def draw_substructure_grid(rows: Sequence[Mapping[str, Any]],
                           molecules: Sequence[Tuple[Any, Mapping[int, float]]],
                           fmt: str = "png", top: int = 12, per_row: int = 4,
                           size: Tuple[int, int] = (260, 220)) -> Union[bytes, str]:
    r"""A grid of the :obj:`top` substructures of :func:`substructure_table`: each drawn in
    the molecule where it ranks highest, its atoms and bonds highlighted, with its name,
    the number of molecules and its mean rank underneath. PNG bytes or SVG text."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    from gsat.viz.molecules import depiction

    chosen = list(rows)[:top]
    mols, atoms, bonds, legends = [], [], [], []
    for r in chosen:
        mol = depiction(molecules[int(r["_example"])][0])
        keep = set(r["_atoms"])
        mols.append(mol)
        atoms.append(sorted(keep))
        bonds.append([b.GetIdx() for b in mol.GetBonds()
                      if b.GetBeginAtomIdx() in keep and b.GetEndAtomIdx() in keep])
        name = str(r["substructure"])
        name = name if len(name) <= 30 else name[:28] + "..."
        plural = "s" if r["molecules"] != 1 else ""
        legends.append(f"{name}\nin {r['molecules']} molecule{plural}, rank "
                       f"{r['mean_rank']:.2f}")
    if not mols:
        mols, atoms, bonds, legends = [Chem.Mol()], [[]], [[]], ["no substructure found"]
    from rdkit.Chem.Draw import rdMolDraw2D

    opts = rdMolDraw2D.MolDrawOptions()
    opts.legendFontSize = 15
    opts.legendFraction = 0.16
    img = Draw.MolsToGridImage(mols, molsPerRow=min(per_row, len(mols)), subImgSize=size,
                               legends=legends, highlightAtomLists=atoms,
                               highlightBondLists=bonds, useSVG=(fmt == "svg"),
                               drawOptions=opts)
    if fmt == "svg":
        return str(img)
    if hasattr(img, "data"):  # an IPython image object around the PNG bytes
        return bytes(img.data)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_substructure_summary(items: Sequence[Tuple[Any, Mapping[int, float], bool]],
                               out_dir: Union[str, Path], ids: Optional[Sequence[str]] = None,
                               positive: str = "active", top: int = 12) -> List[Path]:
    r"""Write ``substructures.csv`` (every row of :func:`substructure_table`),
    ``substructures.md`` (the first 25 rows found in at least two molecules, when there are
    ten or more, and how to read them) and
    ``substructures.png`` / ``substructures.svg`` (:func:`draw_substructure_grid`) into
    :obj:`out_dir`, over the molecules predicted :obj:`positive` (all molecules when none
    is).

    Args:
        items (list of tuple): :obj:`(mol, bond_att, predicted_active)` per molecule.
        out_dir (str or Path): output folder.
        ids (list of str, optional): an id per molecule.
        positive (str, optional): the name of the predicted class summarised.
        top (int, optional): substructures drawn. (default: :obj:`12`)

    Returns:
        list of Path: the files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    picked = [i for i, it in enumerate(items) if it[2]]
    over = f"the {len(picked)} molecules predicted {positive}"
    if not picked:
        picked = list(range(len(items)))
        over = f"all {len(picked)} molecules (none is predicted {positive})"
    mols = [(items[i][0], items[i][1]) for i in picked]
    names = [str(ids[i]) if ids is not None else str(i) for i in picked]
    rows = substructure_table(mols, names)
    # a substructure seen in one molecule of many says little: the table and the grid show
    # those found at least twice (the CSV keeps every row)
    shown = [r for r in rows if r["molecules"] >= (2 if len(mols) >= 10 else 1)]
    with open(out / "substructures.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r[c] if not isinstance(r[c], float) else f"{r[c]:.4f}"
                        for c in COLUMNS])
    lines = [f"# Substructures by attention, over {over}", "",
             "mean rank: the mean rank of the substructure's bonds within their molecule "
             "(0 = the molecule's lowest attention, 1 = its highest); lift: mean attention "
             "of its bonds minus the molecule's mean; molecules / occurrences: how often it "
             "was found. Functional groups are RDKit's fragment patterns "
             "(rdkit.Chem.Fragments), ring systems fused rings by canonical SMILES.", "",
             "| substructure | kind | molecules | occurrences | mean rank | mean attention | "
             "lift | example |", "|---|---|---|---|---|---|---|---|"]
    for r in shown[:25]:
        lines.append(f"| {r['substructure']} | {r['kind']} | {r['molecules']} | "
                     f"{r['occurrences']} | {r['mean_rank']:.2f} | {r['mean_attention']:.3f} | "
                     f"{r['lift']:+.3f} | {r['example']} |")
    if len(rows) > len(shown[:25]):
        lines.append(f"\n{len(rows) - len(shown[:25])} more rows (rarer or lower) in "
                     "substructures.csv")
    (out / "substructures.md").write_text("\n".join(lines) + "\n")
    (out / "substructures.png").write_bytes(
        draw_substructure_grid(shown, mols, "png", top))  # type: ignore[arg-type]
    (out / "substructures.svg").write_text(
        draw_substructure_grid(shown, mols, "svg", top))  # type: ignore[arg-type]
    return [out / n for n in ("substructures.csv", "substructures.md", "substructures.png",
                              "substructures.svg")]
