r"""Molecules drawn as chemists draw them, with GSAT's attention on their bonds and atoms.

One drawer serves ``gsat explain`` on SMILES and the pictures of training runs on molecule
datasets (``csv:`` files and OGB): RDKit's 2-D coordinates (CoordGen, so that rings, chains
and substituents do not overlap), bond orders and aromatic rings in Kekulé form, element
symbols coloured as usual, and the drawing scaled to fill its canvas whatever the molecule's
size. Each bond is highlighted in the colour of its attention (:mod:`gsat.viz.scale`: by
default relative to the molecule's own lowest and highest attention) and as wide as its
attention is high; each atom gets the colour of the attention lifted to it (the largest of
its bonds: a disc under a carbon, a ring around a labelled atom so that its label stays
readable); a colour bar under the drawing gives the attention at both ends of the scale.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from gsat.viz.scale import (DEFAULT_SCALE, ColorScale, attention_colours, check_scale,
                            colour_at, scale_bounds, scaled_attention, top_k_mask)

#: width of the attention band under a bond of the lowest and of the highest attention, as a
#: fraction of the bond's drawn length
BOND_WIDTH = (0.10, 0.42)
#: the longest a bond is drawn, in pixels (larger molecules are scaled down to fit)
MAX_BOND_PIXELS = 48
#: how far a bond's attention band stops short of a labelled atom, in bond lengths
LABEL_GAP = 0.28
#: pixels above the drawing (title) and below it (colour bar)
_TOP, _BOTTOM = 30, 44
#: colour of a bond or atom left out by top-k / threshold highlighting
_MUTED = (0.90, 0.90, 0.90)


def depiction(mol: Any) -> Any:
    r"""A copy of :obj:`mol` with fresh 2-D coordinates from RDKit's CoordGen
    (:func:`rdkit.Chem.rdDepictor.Compute2DCoords` preferring CoordGen; the global preference
    is restored afterwards), ready to draw."""
    from rdkit import Chem
    from rdkit.Chem import rdDepictor

    m = Chem.Mol(mol)
    m.RemoveAllConformers()
    before = rdDepictor.GetPreferCoordGen()
    rdDepictor.SetPreferCoordGen(True)
    try:
        rdDepictor.Compute2DCoords(m)
    finally:
        rdDepictor.SetPreferCoordGen(before)
    return m


def mol_from_graph(g: Any) -> Optional[Any]:
    r"""The RDKit molecule of a graph featurised as OGB's molecules
    (:func:`ogb.utils.smiles2graph`: :obj:`x[:, 0]` the atomic number - 1, :obj:`x[:, 3]` the
    formal charge + 5, :obj:`x[:, 4]` the hydrogen count, :obj:`x[:, 7]` aromaticity;
    :obj:`edge_attr[:, 0]` the bond type: single, double, triple, aromatic), atoms numbered
    as the graph's nodes. Returns :obj:`None` when the graph does not carry these features or
    RDKit cannot sanitise the result (the picture then falls back to nodes and edges)."""
    from rdkit import Chem

    x, ei, ea = getattr(g, "x", None), getattr(g, "edge_index", None), getattr(g, "edge_attr",
                                                                                None)
    if x is None or ei is None or ea is None or x.dim() != 2 or x.size(1) != 9 or \
            ea.dim() != 2 or ea.size(1) != 3 or x.dtype.is_floating_point:
        return None
    bond_types = (Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE,
                  Chem.BondType.AROMATIC)
    rw = Chem.RWMol()
    xs = x.detach().cpu().long().tolist()
    for row in xs:
        atom = Chem.Atom(int(row[0]) + 1)
        atom.SetFormalCharge(int(row[3]) - 5)
        atom.SetNumExplicitHs(int(row[4]))
        atom.SetNoImplicit(True)
        atom.SetIsAromatic(bool(row[7]))
        rw.AddAtom(atom)
    seen = set()
    for (u, v), attr in zip(ei.detach().cpu().t().tolist(), ea.detach().cpu().long().tolist()):
        key = (min(u, v), max(u, v))
        if u == v or key in seen:
            continue
        seen.add(key)
        kind = int(attr[0])
        if not 0 <= kind < len(bond_types):
            return None
        rw.AddBond(int(u), int(v), bond_types[kind])
        if kind == 3:
            rw.GetBondBetweenAtoms(int(u), int(v)).SetIsAromatic(True)
    mol = rw.GetMol()
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # noqa: BLE001 - RDKit raises several kinds for impossible valences
        return None
    return mol


def bond_attention(mol: Any, edge_index: Any, edge_att: Any) -> Dict[int, float]:
    r"""The attention of each bond of :obj:`mol`: the largest attention of the graph's edges
    between its two atoms (both directions of an undirected edge), keyed by RDKit's bond
    index; edges that are no bond are left out."""
    ei = np.asarray(edge_index.detach().cpu() if hasattr(edge_index, "detach") else edge_index)
    att = np.asarray(edge_att.detach().cpu().double() if hasattr(edge_att, "detach")
                     else edge_att, dtype=np.float64).reshape(-1)
    out: Dict[int, float] = {}
    for e in range(ei.shape[1]):
        bond = mol.GetBondBetweenAtoms(int(ei[0, e]), int(ei[1, e]))
        if bond is not None:
            b = bond.GetIdx()
            out[b] = max(out.get(b, -np.inf), float(att[e]))
    return out


def atom_attention(mol: Any, bond_att: Mapping[int, float]) -> Dict[int, float]:
    r"""Bond attention lifted to atoms: each atom gets the largest attention of its bonds
    (as :func:`gsat.viz.node_attention` lifts edge attention to nodes); atoms without a
    bond in :obj:`bond_att` are left out."""
    out: Dict[int, float] = {}
    for b, a in bond_att.items():
        bond = mol.GetBondWithIdx(int(b))
        for i in (bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()):
            out[i] = max(out.get(i, -np.inf), float(a))
    return out


def molecule_picture(mol: Any, bond_att: Mapping[int, float], fmt: str = "png",
                     title: Optional[str] = None, scale: ColorScale = DEFAULT_SCALE,
                     top_k: Optional[int] = None, threshold: Optional[float] = None,
                     size: Tuple[int, int] = (520, 440), atoms: bool = True,
                     legend: bool = True) -> Union[bytes, str]:
    r"""Draw :obj:`mol` with its bonds coloured and widened by attention (see the module
    docstring) and return the picture: PNG bytes or SVG text.

    Args:
        mol (rdkit.Chem.Mol): the molecule; bond indices as in :obj:`bond_att`.
        bond_att (dict): RDKit bond index -> attention.
        fmt (str, optional): :obj:`"png"` or :obj:`"svg"`. (default: :obj:`"png"`)
        title (str, optional): drawn above the molecule, e.g. ``P(active) = 0.01``.
        scale (str, optional): colour scale, :obj:`"relative"`, :obj:`"rank"` or
            :obj:`"absolute"` (:func:`gsat.viz.scale.scaled_attention`).
            (default: :obj:`"relative"`)
        top_k (int, optional): colour only the :obj:`top_k` bonds of highest attention
            (the others pale grey). (default: all)
        threshold (float, optional): colour only bonds of attention :math:`\geq`
            :obj:`threshold` (with :obj:`top_k`: either). (default: all)
        size (tuple, optional): width and height in pixels. (default: :obj:`(520, 440)`)
        atoms (bool, optional): colour atoms by the attention lifted to them.
            (default: :obj:`True`)
        legend (bool, optional): draw the colour bar. (default: :obj:`True`)
    """
    from rdkit.Chem.Draw import rdMolDraw2D
    from rdkit.Geometry import Point2D

    check_scale(scale)
    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt must be 'png' or 'svg', got {fmt!r}")
    m = depiction(mol)
    width, height = size
    top = _TOP if title else 6
    bottom = _BOTTOM if legend else 6
    panel = (width, height - top - bottom)
    drawer = (rdMolDraw2D.MolDraw2DCairo(width, height, *panel) if fmt == "png"
              else rdMolDraw2D.MolDraw2DSVG(width, height, *panel))
    opts = drawer.drawOptions()
    opts.fillHighlights = True
    opts.padding = 0.06
    opts.fixedBondLength = MAX_BOND_PIXELS  # small molecules are not blown up
    opts.clearBackground = True
    bonds = sorted(int(b) for b in bond_att)
    values = np.array([float(bond_att[b]) for b in bonds])
    shown = top_k_mask(values, top_k, threshold)
    colours = attention_colours(values, scale)
    fractions = scaled_attention(values, scale)
    bond_colour = {b: colours[i] if shown[i] else _MUTED for i, b in enumerate(bonds)}
    atom_map: Dict[int, tuple] = {}
    radii: Dict[int, float] = {}
    if atoms and bonds:
        lifted = atom_attention(m, bond_att)
        chosen = {b for i, b in enumerate(bonds) if shown[i]}
        # an atom's colour on the bonds' scale: its value placed among the bond values
        lo, hi = float(values.min()), float(values.max())
        for i, a in lifted.items():
            on = any(bd.GetIdx() in chosen for bd in m.GetAtomWithIdx(i).GetBonds())
            atom_map[i] = _atom_colour(a, values, scale, lo, hi) if on else _MUTED
            radii[i] = 0.2
    # RDKit's bond highlights have one width per drawing: the attention is drawn underneath
    # the molecule instead, bond by bond as a line as wide as its attention, atom by atom as
    # a disc, at the places RDKit puts the atoms (a first, invisible drawing)
    xy = _atom_pixels(m, width, height, panel, top)
    lengths = [np.hypot(*(xy[b.GetBeginAtomIdx()] - xy[b.GetEndAtomIdx()]))
               for b in m.GetBonds()]
    bond_px = float(np.median(lengths)) if lengths else float(MAX_BOND_PIXELS)
    drawer.ClearDrawing()
    drawer.SetFillPolys(True)
    for i, b in enumerate(bonds):
        bond = m.GetBondWithIdx(b)
        u, v = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        drawer.SetColour(bond_colour[b])
        frac = BOND_WIDTH[0] + (BOND_WIDTH[1] - BOND_WIDTH[0]) * (fractions[i] if shown[i]
                                                                   else 0.0)
        drawer.SetLineWidth(max(1, int(round(bond_px * frac))))
        ends = [np.array(xy[u], dtype=float), np.array(xy[v], dtype=float)]
        span = ends[1] - ends[0]
        length = float(np.hypot(*span)) or 1.0
        for k, atom in enumerate((u, v)):  # stop short of a label
            if _labelled(m.GetAtomWithIdx(atom)):
                step = min(LABEL_GAP * bond_px, 0.45 * length) / length
                ends[k] = ends[k] + (span if k == 0 else -span) * step
        drawer.DrawLine(Point2D(*ends[0]), Point2D(*ends[1]), True)
    for i, colour in atom_map.items():
        drawer.SetColour(colour)
        # an atom drawn with a label (not a plain carbon) gets a ring, so the label stays
        # readable; a plain carbon a disc
        labelled = _labelled(m.GetAtomWithIdx(i))
        r = bond_px * (radii[i] + (0.1 if labelled else 0.0))
        drawer.SetFillPolys(not labelled)
        drawer.SetLineWidth(max(2, int(round(0.09 * bond_px))))
        drawer.DrawEllipse(Point2D(xy[i][0] - r, xy[i][1] - r),
                           Point2D(xy[i][0] + r, xy[i][1] + r), True)
    drawer.SetFillPolys(True)
    drawer.SetLineWidth(2)
    opts.clearBackground = False
    drawer.SetOffset(0, top)
    drawer.DrawMolecule(m)
    drawer.SetOffset(0, 0)
    if title:
        drawer.SetFontSize(16)
        drawer.SetColour((0.1, 0.1, 0.1))
        _string(drawer, title, width / 2, top / 2 + 1, 0)
    if legend:
        _colour_bar(drawer, values, scale, width, height)
    drawer.FinishDrawing()
    text = drawer.GetDrawingText()
    if fmt == "svg" and title:  # RDKit draws text as paths: the title also as <title>
        from xml.sax.saxutils import escape

        start = text.index(">", text.index("<svg")) + 1
        text = text[:start] + f"\n<title>{escape(title)}</title>" + text[start:]
    return text


def _labelled(atom: Any) -> bool:
    """Whether RDKit draws :obj:`atom` with a label (anything but a neutral carbon)."""
    return atom.GetAtomicNum() != 6 or atom.GetFormalCharge() != 0 or atom.GetIsotope() != 0


def _atom_pixels(m: Any, width: int, height: int, panel: Tuple[int, int],
                 top: int) -> np.ndarray:
    """Canvas pixel coordinates of every atom where :func:`molecule_picture` draws it: a
    drawing of :obj:`m` alone on an equal canvas (highlights, drawn by hand, do not change
    RDKit's scale)."""
    from rdkit.Chem.Draw import rdMolDraw2D

    dry = rdMolDraw2D.MolDraw2DCairo(width, height, *panel)
    dry.drawOptions().padding = 0.06
    dry.drawOptions().fixedBondLength = MAX_BOND_PIXELS
    dry.SetOffset(0, top)
    dry.DrawMolecule(m)
    dry.FinishDrawing()
    return np.array([[dry.GetDrawCoords(i).x, dry.GetDrawCoords(i).y]
                     for i in range(m.GetNumAtoms())]).reshape(-1, 2)


def _atom_colour(a: float, values: np.ndarray, scale: ColorScale, lo: float,
                 hi: float) -> Tuple[float, float, float]:
    if scale == "absolute":
        return colour_at(min(max(a, 0.0), 1.0))
    if scale == "relative":
        return colour_at(0.5 if hi - lo <= 1e-12 else (a - lo) / (hi - lo))
    return colour_at(float(scaled_attention(np.append(values, a), "rank")[-1]))


def _string(drawer: Any, text: str, x: float, y: float, align: int) -> None:
    from rdkit.Geometry import Point2D

    drawer.DrawString(text, Point2D(x, y), align, True)


def _colour_bar(drawer: Any, values: np.ndarray, scale: ColorScale, width: int,
                height: int) -> None:
    from rdkit.Geometry import Point2D

    lo, hi = scale_bounds(values, scale)
    left, right = int(width * 0.25), int(width * 0.75)
    y0, y1 = height - 34, height - 20
    steps = 40
    step = (right - left) / steps
    drawer.SetFillPolys(True)
    for i in range(steps):
        drawer.SetColour(colour_at((i + 0.5) / steps))
        drawer.DrawRect(Point2D(left + i * step, y0), Point2D(left + (i + 1) * step + 0.6, y1),
                        True)
    drawer.SetColour((0.1, 0.1, 0.1))
    drawer.SetFontSize(13)
    _string(drawer, f"{lo:.2f}", left - 20, (y0 + y1) / 2, 0)
    _string(drawer, f"{hi:.2f}", right + 20, (y0 + y1) / 2, 0)
    what = {"relative": "attention (this molecule's range)",
            "rank": "attention rank (lowest to highest)",
            "absolute": "attention"}[scale]
    drawer.SetFontSize(11)
    _string(drawer, what, width / 2, height - 9, 0)


def draw_molecule_explanation(mol: Any, bond_att: Mapping[int, float],
                              path: Union[str, Path], title: Optional[str] = None,
                              size: Tuple[int, int] = (520, 440),
                              scale: ColorScale = DEFAULT_SCALE, top_k: Optional[int] = None,
                              threshold: Optional[float] = None) -> Path:
    r"""Draw a molecule with its attention (:func:`molecule_picture`) to :obj:`path`, a PNG
    or, by its suffix ``.svg``, an SVG file.

    Args:
        mol (rdkit.Chem.Mol): the molecule; atoms and bonds are numbered as in it.
        bond_att (dict): RDKit bond index -> attention.
        path (str or Path): output file (``.png`` or ``.svg``).
        title (str, optional): title above the drawing.
        size (tuple, optional): width and height in pixels. (default: :obj:`(520, 440)`)
        scale (str, optional): colour scale (:mod:`gsat.viz.scale`).
            (default: :obj:`"relative"`)
        top_k (int, optional): colour only the top-k bonds. (default: all)
        threshold (float, optional): colour only bonds at or above it. (default: all)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "svg" if path.suffix.lower() == ".svg" else "png"
    data = molecule_picture(mol, bond_att, fmt=fmt, title=title, size=size, scale=scale,
                            top_k=top_k, threshold=threshold)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def atom_draw_coords(mol: Any, size: Tuple[int, int] = (520, 440),
                     title: bool = True, legend: bool = True) -> np.ndarray:
    r"""Pixel coordinates of every atom as :func:`molecule_picture` places them (the same
    depiction and canvas), shape :obj:`[num_atoms, 2]`; used to check that atoms do not
    overlap and that the drawing fills its canvas."""
    m = depiction(mol)
    width, height = size
    top, bottom = (_TOP if title else 6), (_BOTTOM if legend else 6)
    return _atom_pixels(m, width, height, (width, height - top - bottom), top)
