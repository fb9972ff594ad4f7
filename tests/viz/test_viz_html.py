"""The self-contained HTML pages (gsat.viz.html): structure parsed with html.parser, and a
render in headless Chromium where one is installed."""
import base64
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gsat.viz.html import comparison_page, data_uri, explanation_page

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
SVG = "<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'><title>t</title></svg>"


class PageParser(HTMLParser):
    """Collects what the tests look at: tables, rows, cells, images, scripts, links."""

    def __init__(self):
        super().__init__()
        self.rows, self.headers, self.images, self.scripts = [], [], [], []
        self.external, self.legend, self._row, self._cell, self._in = None, False, None, None, []
        self.sortable = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._in.append(tag)
        for key in ("src", "href"):
            if key in a and not str(a[key]).startswith(("data:", "#")):
                self.external = a[key]
        if tag == "script":
            self.scripts.append(a)
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = {"tag": tag, "text": "", "value": a.get("data-value"), "img": None}
            if tag == "th" and "sortable" in a.get("class", ""):
                self.sortable.append(a.get("onclick"))
        if tag == "img":
            self.images.append(a["src"])
            if self._cell is not None:
                self._cell["img"] = a["src"]
        if tag == "div" and a.get("id") == "legend":
            self.legend = True

    def handle_endtag(self, tag):
        if self._in:
            self._in.pop()
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        if tag == "tr" and self._row is not None:
            (self.headers if self._row and self._row[0]["tag"] == "th" else self.rows).append(
                self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def parse(path: Path) -> PageParser:
    p = PageParser()
    p.feed(path.read_text())
    return p


def _rows():
    return [{"id": "aspirin", "input": "CC(=O)Oc1ccccc1C(=O)O", "prediction": "active",
             "prediction_value": 0.81, "probability": 0.81, "label": "active",
             "picture": SVG},
            {"id": "ethanol", "input": "CCO", "prediction": "not active",
             "prediction_value": 0.12, "probability": 0.88, "label": None, "picture": None},
            {"id": "benzene", "input": "c1ccccc1", "prediction": "not active",
             "prediction_value": 0.3, "probability": 0.7, "label": "not active",
             "picture": PNG}]


def test_explanation_page_structure(tmp_path):
    path = explanation_page(_rows(), tmp_path / "p.html", title="Explanations of x.csv",
                            molecules=True)
    p = parse(path)
    assert p.external is None  # nothing is fetched from elsewhere
    assert all(not s.get("src") for s in p.scripts) and len(p.scripts) == 1
    (header,) = p.headers
    assert [c["text"] for c in header] == ["id", "SMILES", "prediction", "probability",
                                           "true label", "picture"]
    assert p.sortable == ["gsatSort(this)"] * 5  # the sort control on every data column
    assert [r[0]["text"] for r in p.rows] == ["aspirin", "ethanol", "benzene"]
    assert [r[2]["value"] for r in p.rows] == ["0.81", "0.12", "0.3"]  # sorts by P(active)
    assert p.rows[0][5]["img"] == data_uri(SVG) and p.rows[2][5]["img"] == data_uri(PNG)
    assert p.rows[1][5]["img"] is None and "not drawn" in p.rows[1][5]["text"]
    assert base64.b64decode(p.images[0].split(",", 1)[1]).decode() == SVG
    assert p.legend and "relative scale" in path.read_text()
    assert "function gsatSort" in path.read_text()
    # without any true label there is no such column
    rows = [dict(r, label=None) for r in _rows()]
    p2 = parse(explanation_page(rows, tmp_path / "q.html", scale="absolute"))
    assert "true label" not in [c["text"] for c in p2.headers[0]]
    assert "absolute scale" in (tmp_path / "q.html").read_text()


def test_comparison_page_has_a_column_per_method(tmp_path):
    graphs = [{"id": "0", "input": "25 nodes", "label": "house",
               "pictures": {"gsat": PNG, "gnnexplainer": PNG}},
              {"id": "1", "input": "25 nodes", "label": "cycle", "pictures": {"gsat": PNG}}]
    p = parse(comparison_page(graphs, ["gsat", "gnnexplainer"], tmp_path / "c.html"))
    assert [c["text"] for c in p.headers[0]] == ["id", "input", "true label", "gsat",
                                                 "gnnexplainer"]
    assert len(p.rows) == 2 and len(p.images) == 3 and p.external is None
    assert p.rows[1][4]["img"] is None
    assert "Blue outline" in (tmp_path / "c.html").read_text()


def _chromium():
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome",
                                           "chrome") if shutil.which(n)), None)


@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH")
def test_page_renders_and_sorts_in_headless_chromium(tmp_path):
    path = explanation_page(_rows(), tmp_path / "p.html", molecules=True)
    # #sort=2 opens the page sorted by the third sortable column, the prediction
    dom = subprocess.run([_chromium(), "--headless", "--disable-gpu", "--no-sandbox",
                          "--dump-dom", path.resolve().as_uri() + "#sort=2"],
                         capture_output=True, text=True, timeout=120).stdout
    p = PageParser()
    p.feed(dom)
    assert [r[0]["text"] for r in p.rows] == ["ethanol", "benzene", "aspirin"]
    assert 'data-pictures-shown="1"' in dom  # the SVG decodes; the stub PNG does not
    shot = tmp_path / "shot.png"
    subprocess.run([_chromium(), "--headless", "--disable-gpu", "--no-sandbox",
                    f"--screenshot={shot}", "--window-size=1000,800", path.resolve().as_uri()],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 5000


#: a minimal stand-in for the browser's DOM: just what the page's script touches
_FAKE_DOM = r"""
function cell(v) { return { getAttribute: function () { return v; } }; }
var rows = ROWS.map(function (r) { return { id: r[0], cells: r.map(cell) }; });
var body = { rows: rows.slice(), appendChild: function (r) {
  this.rows.splice(this.rows.indexOf(r), 1); this.rows.push(r); } };
var table = { tBodies: [body] };
var heads = [], tr = { children: heads };
for (var i = 0; i < ROWS[0].length; i++) {
  heads.push({ attrs: {}, parentNode: tr, closest: function () { return table; },
               getAttribute: function (k) { return this.attrs[k] || null; },
               setAttribute: function (k, v) { this.attrs[k] = v; } });
}
var document = { addEventListener: function () {}, images: [],
                 querySelectorAll: function () { return heads; } };
var window = { addEventListener: function () {}, location: { hash: "" } };
SCRIPT
var out = [];
COLS.forEach(function (c) { gsatSort(heads[c]);
  out.push(body.rows.map(function (r) { return r.id; }).join(",")); });
console.log(out.join(" "));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="no node on PATH")
def test_sort_script_orders_numbers_as_numbers_and_reverses():
    import json

    from gsat.viz import html as page

    rows = [["a", "0.9"], ["b", "10"], ["c", "0.05"], ["d", "2"]]
    js = (_FAKE_DOM.replace("ROWS", json.dumps(rows)).replace("COLS", "[1, 1, 0]")
          .replace("SCRIPT", page._SCRIPT))
    out = subprocess.run(["node", "-e", js], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # ascending by number (not "10" < "2"), then descending, then by id
    assert out.stdout.split() == ["c,a,d,b", "b,d,a,c", "a,b,c,d"]
