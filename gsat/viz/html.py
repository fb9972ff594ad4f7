r"""One self-contained HTML page of explained graphs: every picture inline as a ``data:`` URI
(SVG for molecules, PNG otherwise), a small inline script that sorts the table by a column,
and the colour legend; nothing is fetched from elsewhere, so the page can be mailed or
opened offline.

* :func:`explanation_page`: a table of inputs (id, SMILES or size, prediction, probability,
  true label when known, picture), written by ``gsat explain ... --html``;
* :func:`comparison_page`: the same graphs explained by several methods, one column per
  method, written by ``gsat benchmark``.

Clicking a sortable column header sorts the rows (again: the other way); a link ending in
``#sort=2`` (``#sort=2-desc``) opens the page sorted by the third sortable column.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from gsat.viz.scale import DEFAULT_SCALE, GROUND_TRUTH_COLOUR, ColorScale, colour_at

__all__ = ["data_uri", "explanation_page", "comparison_page", "legend_html"]

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: middle; text-align: left; }
th.sortable { cursor: pointer; background: #f0f0f0; }
th.sortable:after { content: " \\2195"; color: #888; }
td.smiles { font-family: monospace; max-width: 22em; word-break: break-all; }
td.picture img { max-width: 420px; }
.legend { margin: 0.8em 0 1.2em 0; }
.legend svg { vertical-align: middle; }
"""

# sorts the rows of the table by the clicked column's data-value (numbers as numbers);
# clicking again reverses the order
_SCRIPT = r"""
function gsatSort(th) {
  var table = th.closest('table');
  var col = Array.prototype.indexOf.call(th.parentNode.children, th);
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var asc = th.getAttribute('data-order') !== 'asc';
  rows.sort(function (a, b) {
    var x = a.cells[col].getAttribute('data-value'), y = b.cells[col].getAttribute('data-value');
    var nx = parseFloat(x), ny = parseFloat(y);
    var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
    return asc ? c : -c;
  });
  rows.forEach(function (r) { body.appendChild(r); });
  th.setAttribute('data-order', asc ? 'asc' : 'desc');
}
// a link ending in #sort=N (or #sort=N-desc) opens the page sorted by the N-th sortable column
document.addEventListener('DOMContentLoaded', function () {
  var m = /sort=(\d+)(-desc)?/.exec(window.location.hash);
  if (!m) { return; }
  var th = document.querySelectorAll('th.sortable')[parseInt(m[1], 10)];
  if (th) { gsatSort(th); if (m[2]) { gsatSort(th); } }
});
// once loaded, the body says how many pictures the browser could decode (for checks)
window.addEventListener('load', function () {
  var ok = Array.prototype.filter.call(document.images, function (im) {
    return im.complete && im.naturalWidth > 0; }).length;
  document.body.setAttribute('data-pictures-shown', String(ok));
});
"""


def data_uri(picture: Union[bytes, str]) -> str:
    r"""A ``data:`` URI of a picture: SVG text (:class:`str`) as ``image/svg+xml``, PNG bytes
    as ``image/png``, both base64."""
    if isinstance(picture, str):
        return "data:image/svg+xml;base64," + base64.b64encode(picture.encode()).decode()
    return "data:image/png;base64," + base64.b64encode(bytes(picture)).decode()


def legend_html(scale: ColorScale = DEFAULT_SCALE, ground_truth: bool = False,
                molecules: bool = False) -> str:
    r"""The colour legend of the pictures as HTML: an inline SVG gradient of the attention
    colours and a sentence on what the scale means (and how ground truth is marked)."""
    stops = "".join(
        f'<stop offset="{i / 10:.1f}" stop-color="rgb({", ".join(str(int(255 * c)) for c in colour_at(i / 10))})"/>'
        for i in range(11))
    bar = ('<svg width="220" height="16" xmlns="http://www.w3.org/2000/svg">'
           f'<defs><linearGradient id="gsat-att">{stops}</linearGradient></defs>'
           '<rect width="220" height="16" fill="url(#gsat-att)"/></svg>')
    what = "molecule" if molecules else "graph"
    meaning = {
        "relative": f"from the {what}'s lowest attention (pale) to its highest (dark); the "
                    "colour bar of each picture gives both values",
        "rank": f"by the rank of the attention within the {what}, lowest (pale) to highest "
                "(dark)",
        "absolute": "attention 0 (pale) to 1 (dark), the same scale for every picture"}[scale]
    text = html.escape(f"Colour ({scale} scale): {meaning}. Wider lines: higher attention."
                       + (" Atoms take the highest attention of their bonds." if molecules
                          else ""))
    if ground_truth:
        text += (f' <span style="color:{GROUND_TRUTH_COLOUR}; font-weight:bold">Blue outline'
                 "</span>: ground-truth (motif) edges and nodes.")
    return f'<div class="legend" id="legend">low {bar} high<br>{text}</div>'


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
            f"<script>{_SCRIPT}</script></head><body>\n<h1>{html.escape(title)}</h1>\n"
            f"{body}\n</body></html>\n")


def _cell(value: Any, text: Optional[str] = None, cls: str = "") -> str:
    shown = "" if value is None else (text if text is not None else str(value))
    sort = "" if value is None else str(value)
    klass = f' class="{cls}"' if cls else ""
    return f'<td{klass} data-value="{html.escape(sort)}">{html.escape(shown)}</td>'


def _picture_cell(picture: Optional[Union[bytes, str]], alt: str) -> str:
    if picture is None:
        return '<td class="picture" data-value="">(not drawn)</td>'
    return (f'<td class="picture" data-value=""><img alt="{html.escape(alt)}" '
            f'src="{data_uri(picture)}"></td>')


def explanation_page(rows: Sequence[Mapping[str, Any]], path: Union[str, Path],
                     title: str = "Explanations", scale: ColorScale = DEFAULT_SCALE,
                     ground_truth: bool = False, molecules: bool = False,
                     intro: str = "") -> Path:
    r"""Write the page of an explanation run to :obj:`path`: the legend, then a table with
    one row per explained graph. Columns ``id``, ``input`` (the SMILES, or the size of a
    graph), ``prediction``, ``probability``, ``true label`` (only when some row has one) and
    ``picture``; the headers of the first five sort the rows when clicked.

    Args:
        rows (list of dict): per graph :obj:`id`, :obj:`input` (text), :obj:`prediction`
            (text), :obj:`prediction_value` (number to sort by), :obj:`probability` (float or
            :obj:`None`), optionally :obj:`label` (text) and :obj:`picture` (PNG bytes or SVG
            text; :obj:`None`: not drawn).
        path (str or Path): output ``.html`` file.
        title (str, optional): page title.
        scale (str, optional): colour scale of the pictures, for the legend.
        ground_truth (bool, optional): the pictures mark ground truth (legend).
        molecules (bool, optional): the graphs are molecules (legend, SMILES column).
        intro (str, optional): a sentence under the title.
    """
    has_label = any(r.get("label") is not None for r in rows)
    heads = ["id", "SMILES" if molecules else "input", "prediction", "probability"]
    heads += ["true label"] if has_label else []
    header = "".join(f'<th class="sortable" onclick="gsatSort(this)">{h}</th>' for h in heads)
    header += "<th>picture</th>"
    body_rows: List[str] = []
    for r in rows:
        p = r.get("probability")
        cells = [_cell(r["id"]), _cell(r.get("input", ""), cls="smiles" if molecules else ""),
                 _cell(r.get("prediction_value", r.get("prediction")), str(r.get("prediction"))),
                 _cell(None if p is None else round(float(p), 6),
                       None if p is None else f"{float(p):.3f}")]
        if has_label:
            cells.append(_cell(r.get("label")))
        cells.append(_picture_cell(r.get("picture"), f"explanation of {r['id']}"))
        body_rows.append("<tr>" + "".join(cells) + "</tr>")
    table = (f'<table id="explanations"><thead><tr>{header}</tr></thead><tbody>\n'
             + "\n".join(body_rows) + "\n</tbody></table>")
    body = (f"<p>{html.escape(intro)}</p>\n" if intro else "") + \
        legend_html(scale, ground_truth, molecules) + "\n" + table
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(title, body), encoding="utf-8")
    return path


def comparison_page(graphs: Sequence[Mapping[str, Any]], methods: Sequence[str],
                    path: Union[str, Path], title: str = "Explanations by method",
                    scale: ColorScale = DEFAULT_SCALE, ground_truth: bool = True,
                    intro: str = "") -> Path:
    r"""Write a page with the same graphs explained by every method side by side: one row
    per graph (its id, size and true label, sortable), one picture column per method.

    Args:
        graphs (list of dict): per graph :obj:`id`, :obj:`input` (text), optionally
            :obj:`label` (text), and :obj:`pictures` (method -> PNG bytes or SVG text).
        methods (list of str): the methods, in column order.
        path (str or Path): output ``.html`` file.
        title (str, optional): page title.
        scale (str, optional): colour scale of the pictures, for the legend.
        ground_truth (bool, optional): the pictures mark ground truth (legend).
        intro (str, optional): a sentence under the title.
    """
    heads = "".join(f'<th class="sortable" onclick="gsatSort(this)">{h}</th>'
                    for h in ("id", "input", "true label"))
    heads += "".join(f"<th>{html.escape(m)}</th>" for m in methods)
    rows: List[str] = []
    for g in graphs:
        pics: Dict[str, Any] = dict(g.get("pictures", {}))
        cells = [_cell(g["id"]), _cell(g.get("input", "")), _cell(g.get("label"))]
        cells += [_picture_cell(pics.get(m), f"{m} on {g['id']}") for m in methods]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    table = (f'<table id="comparison"><thead><tr>{heads}</tr></thead><tbody>\n'
             + "\n".join(rows) + "\n</tbody></table>")
    body = (f"<p>{html.escape(intro)}</p>\n" if intro else "") + \
        legend_html(scale, ground_truth) + "\n" + table
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(title, body), encoding="utf-8")
    return path
