"""The report of ``benchmarks/baselines.py``: written from the results kept in the archive
folder, and keeping the sections of an earlier report that has no result there."""
import functools
import importlib.util
import json
import shutil
from pathlib import Path

from gsat.benchmark import BenchmarkSpec, run_benchmark
from gsat.data import DATASETS
from gsat.data.ba_2motifs import load_ba_2motifs
from gsat.metrics.summary import markdown_sections, with_section

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("baselines_script",
                                                  ROOT / "benchmarks" / "baselines.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sections_are_replaced_in_place_by_title():
    text = with_section("# head\n", "## a (GIN, x)\n\nold\n")
    text = with_section(text, "## b (GIN, x)\n\nB\n")
    text = with_section(text, "## a (GIN, x)\n\nnew\n")
    assert text.startswith("# head\n\n## a (GIN, x)")
    assert list(markdown_sections(text)) == ["## a (GIN, x)", "## b (GIN, x)"]
    assert "new" in text and "old" not in text


EARLIER = """# Post-hoc explainers vs GSAT on the same backbone

intro

## Summary: GSAT against the best post-hoc row

| dataset | seeds | GSAT | best post-hoc row | its interp AUC | GSAT − best | x | y |
|---|---|---|---|---|---|---|---|
| ba_2motifs (GIN) | 0 | 1.00 | stale | 2.00 | -1.00 | – | 1x |
| mutag (GIN) | 0, 1, 2 | 90.00 ± 1.00 | graphmask+tuned | 91.00 ± 1.00 | -1.00 | 62.23 | 9x |

## ba_2motifs (GIN)

stale ba_2motifs section

## mutag (GIN)

kept mutag section, | graphmask+tuned | 91.00 |

## Notes

old notes
"""


def test_report_is_written_from_the_archive_and_keeps_sections_without_results(
        tmp_path, monkeypatch):
    monkeypatch.setitem(DATASETS, "ba_2motifs", functools.partial(load_ba_2motifs,
                                                                  num_graphs=40))
    mod = _script()
    runs, archive, report = tmp_path / "runs", tmp_path / "archive", tmp_path / "B.md"
    folder = mod.run_folder(runs, "ba_2motifs", "GIN")
    run_benchmark(BenchmarkSpec(dataset="ba_2motifs", explainers=["gsat", "saliency"],
                                seeds=[0], epochs=1, out=str(folder),
                                data_dir=str(tmp_path / "data"), max_graphs=3,
                                progress=False))
    (folder / "command.txt").write_text("python benchmarks/baselines.py --dataset ba_2motifs\n")
    report.write_text(EARLIER)

    written = mod.archive_runs(runs, archive)
    assert written == [archive / "ba_2motifs-GIN.json"]
    kept = json.loads(written[0].read_text())
    assert kept["command"] == "python benchmarks/baselines.py --dataset ba_2motifs"
    assert {r["method"] for r in kept["records"]} == {"gsat", "saliency"}

    mod.write_report(archive, report)
    text = report.read_text()
    sections = markdown_sections(text)
    assert list(sections)[:3] == ["## Summary: GSAT against the best post-hoc row",
                                  "## ba_2motifs (GIN)", "## mutag (GIN)"]
    # the section with a result is written from it, the other is kept word for word
    assert "stale" not in text and "| saliency |" in sections["## ba_2motifs (GIN)"]
    assert "--dataset ba_2motifs" in sections["## ba_2motifs (GIN)"]
    assert sections["## mutag (GIN)"] == "## mutag (GIN)\n\nkept mutag section, " \
                                         "| graphmask+tuned | 91.00 |\n"
    assert "old notes" not in text and "Kept as an earlier report wrote them, as their " \
                                       "results are not there: mutag (GIN)." in text
    rows = [line for line in sections["## Summary: GSAT against the best post-hoc row"]
            .splitlines() if line.startswith("| ") and not line.startswith("| dataset")]
    assert [r.split("|")[1].strip() for r in rows] == ["ba_2motifs (GIN)", "mutag (GIN)"]
    assert rows[1] == EARLIER.splitlines()[9]
    assert "A post-hoc row beats GSAT's mean:" in text and "graphmask+tuned on mutag (GIN)" in text

    # the archive alone writes the same report: the run folders are not needed
    shutil.rmtree(runs)
    mod.write_report(archive, report)
    assert report.read_text() == text
