r"""Render gsat's HTML pages in headless Chromium and check what a reader would see.

For each page (``explanations.html`` of ``gsat explain --html``, ``benchmark.html`` of
``gsat benchmark``; with no page given, a sample page of three molecules is made first):

* the page loads from the file alone and every picture decodes (the page's script writes
  the count into ``data-pictures-shown`` once loaded; Chromium's ``--dump-dom``);
* opened as ``PAGE#sort=N`` the rows come back sorted by that column (numbers as numbers);
* a screenshot (``--screenshot``) is written next to the page as ``<page>.png``.

Usage (from the repository root)::

    python benchmarks/check_html.py                       # a sample page
    python benchmarks/check_html.py runs/x/explain-new/explanations.html
    python benchmarks/check_html.py --require ...          # fail if Chromium is absent

Exit status: 0 when every check passed (or Chromium is absent without ``--require``: the
script then says it skipped), 1 when a check failed, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import List, Optional

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


class _Table(HTMLParser):
    """Rows (cell data-values), sortable headers and pictures of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: List[List[Optional[str]]] = []
        self.sortable: List[int] = []
        self.images = 0
        self.shown: Optional[int] = None
        self._col = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body" and a.get("data-pictures-shown") is not None:
            self.shown = int(a["data-pictures-shown"])
        if tag == "tr":
            self.rows.append([])
            self._col = 0
        if tag == "th":
            if "sortable" in (a.get("class") or ""):
                self.sortable.append(self._col)
            self._col += 1
        if tag == "td":
            self.rows[-1].append(a.get("data-value"))
        if tag == "img":
            self.images += 1


def browser() -> Optional[str]:
    return next((shutil.which(n) for n in BROWSERS if shutil.which(n)), None)


def _dump(exe: str, url: str) -> str:
    out = subprocess.run([exe, "--headless", "--disable-gpu", "--no-sandbox",
                          "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=180)
    return out.stdout


def _key(v: Optional[str]):
    try:
        return (0, float(v or ""), "")
    except ValueError:
        return (1, 0.0, v or "")


def check_page(exe: str, page: Path) -> List[str]:
    r"""The problems Chromium shows on :obj:`page` (an empty list: none)."""
    problems = []
    url = page.resolve().as_uri()
    t = _Table()
    t.feed(_dump(exe, url))
    data = [r for r in t.rows if r]
    if not data:
        problems.append(f"{page}: no table rows rendered")
    if t.shown is None:
        problems.append(f"{page}: the page's script did not run (no data-pictures-shown)")
    elif t.shown != t.images:
        problems.append(f"{page}: {t.images - t.shown} of {t.images} pictures did not decode")
    if len(data) > 1 and t.sortable:
        col = 2 if len(t.sortable) > 2 else t.sortable[-1]
        s = _Table()
        s.feed(_dump(exe, url + f"#sort={t.sortable.index(col)}"))
        values = [r[col] for r in s.rows if r]
        if values != sorted(values, key=_key):
            problems.append(f"{page}: #sort={col} did not sort the rows: {values}")
    shot = page.with_suffix(page.suffix + ".png")
    subprocess.run([exe, "--headless", "--disable-gpu", "--no-sandbox",
                    "--window-size=1200,900", f"--screenshot={shot}", url],
                   capture_output=True, timeout=180)
    if not shot.is_file() or shot.stat().st_size < 5000:
        problems.append(f"{page}: no screenshot")
    return problems


def sample_page(folder: Path) -> Path:
    """A page of three explained molecules drawn by gsat (needs RDKit)."""
    from rdkit import Chem

    from gsat.viz.html import explanation_page
    from gsat.viz.molecules import molecule_picture

    rows = []
    for i, (smi, p) in enumerate((("O=[N+]([O-])c1ccc(Cl)cc1", 0.91), ("CCO", 0.08),
                                  ("c1ccc2ccccc2c1", 0.42))):
        mol = Chem.MolFromSmiles(smi)
        att = {b.GetIdx(): 0.6 + 0.3 * ((b.GetIdx() * 7) % 5) / 4 for b in mol.GetBonds()}
        rows.append({"id": f"m{i}", "input": smi, "prediction": "active" if p > 0.5 else
                     "not active", "prediction_value": p, "probability": p,
                     "picture": molecule_picture(mol, att, fmt="svg",
                                                 title=f"m{i}: P(active) = {p:.2f}")})
    return explanation_page(rows, folder / "sample.html", molecules=True)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="*", type=Path, help="HTML pages (default: a sample page)")
    ap.add_argument("--require", action="store_true",
                    help="fail when no Chromium is installed instead of skipping")
    args = ap.parse_args(argv)
    missing = [p for p in args.pages if not p.is_file()]
    if missing:
        print(f"no such page: {missing[0]}", file=sys.stderr)
        return 2
    exe = browser()
    if exe is None:
        print("skipped: no chromium on PATH (" + ", ".join(BROWSERS) + ")")
        return 1 if args.require else 0
    with tempfile.TemporaryDirectory() as tmp:
        pages = args.pages or [sample_page(Path(tmp))]
        problems = [p for page in pages for p in check_page(exe, page)]
        for p in problems:
            print("FAIL", p)
        if not problems:
            print(f"ok: {len(pages)} page(s) rendered in {exe}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
