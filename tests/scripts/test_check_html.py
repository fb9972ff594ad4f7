"""benchmarks/check_html.py: the Chromium check of the HTML pages that CI runs."""
import importlib.util
import stat
import sys
from pathlib import Path

import pytest

from gsat.viz.html import explanation_page

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("check_html",
                                                  ROOT / "benchmarks" / "check_html.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_browser(folder: Path, shown: str, reverse: bool) -> str:
    """A stand-in for chromium: --dump-dom prints the page with the load-time attribute set
    and, for #sort=N, the rows sorted by prediction as the page's script does (with
    :obj:`reverse`, the wrong way round); --screenshot writes a file."""
    exe = folder / "chromium"
    exe.write_text(f"""#!{sys.executable}
import sys, re
from pathlib import Path
from urllib.parse import urlparse, unquote
args = sys.argv[1:]
url = args[-1]
shot = [a for a in args if a.startswith('--screenshot=')]
if shot:
    Path(shot[0].split('=', 1)[1]).write_bytes(b'x' * 6000)
    sys.exit(0)
page = Path(unquote(urlparse(url.split('#')[0]).path)).read_text()
page = page.replace('<body>', '<body data-pictures-shown="{shown}">')
if '#sort=' in url:
    head, rest = page.split('<tbody>', 1)
    body, tail = rest.split('</tbody>', 1)
    rows = [r for r in body.split('\\n') if r.startswith('<tr>')]
    rows.sort(key=lambda r: float(re.findall(r'data-value="([0-9.]+)"', r)[1]),
              reverse={reverse!r})
    page = head + '<tbody>' + '\\n'.join(rows) + '</tbody>' + tail
print(page)
""")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(exe)


def _page(tmp_path: Path) -> Path:
    rows = [{"id": f"g{i}", "input": "x", "prediction": "p", "prediction_value": v,
             "probability": v, "picture": PNG} for i, v in enumerate((0.5, 0.1, 0.9))]
    return explanation_page(rows, tmp_path / "p.html")


def test_check_passes_a_good_render_and_names_each_problem(check, tmp_path):
    page = _page(tmp_path)
    assert check.check_page(_fake_browser(tmp_path, "3", False), page) == []
    problems = check.check_page(_fake_browser(tmp_path, "1", True), page)
    assert any("2 of 3 pictures did not decode" in p for p in problems)
    assert any("did not sort the rows" in p for p in problems)


def test_exit_codes(check, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(check, "browser", lambda: None)
    assert check.main([]) == 0 and "skipped: no chromium" in capsys.readouterr().out
    assert check.main(["--require"]) == 1
    assert check.main([str(tmp_path / "missing.html")]) == 2
    monkeypatch.setattr(check, "browser", lambda: _fake_browser(tmp_path, "3", False))
    assert check.main([str(_page(tmp_path))]) == 0
    assert "ok: 1 page(s)" in capsys.readouterr().out
