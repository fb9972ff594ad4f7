"""The run folder's file names are spelled in one module, and its paths follow them."""
import re
from pathlib import Path

from gsat.runs.layout import RunFolder, SeedFolder

PACKAGE = Path(__file__).resolve().parents[2] / "gsat"
#: file and folder names of a run folder as a string literal in code
NAMES = re.compile(r"""["'](best\.pt|last\.pt|pretrained\.pt|config\.yml|run\.json|"""
                   r"""results\.json|dataset\.json|metrics\.csv|record\.json|benchmark\.json|"""
                   r"""benchmark\.md|\.lock)["']|f["']seed\{|f["'](tuning|fitted)-\{|"""
                   r"""epoch\{epoch:04d\}""")


def test_only_the_layout_module_spells_run_folder_names():
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "layout.py" and path.parent.name == "runs":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if NAMES.search(line.split("#", 1)[0]):
                found.append(f"{path.relative_to(PACKAGE)}:{i}: {line.strip()}")
    assert not found, "\n".join(found)
    # ... and the pattern does find them where they are
    layout = (PACKAGE / "runs" / "layout.py").read_text()
    assert len(NAMES.findall(layout)) >= 12


def test_paths_of_a_run_and_a_benchmark(tmp_path):
    run = RunFolder(tmp_path)
    assert run.run_json == tmp_path / "run.json" and run.results == tmp_path / "results.json"
    seed = run.seed(3)
    assert seed.best == tmp_path / "seed3" / "best.pt" and seed.seed == 3
    assert run.model("erm", 1).record == tmp_path / "erm" / "seed1" / "record.json"
    assert seed.kept_checkpoint(9) == tmp_path / "seed3" / "checkpoints" / "epoch0009.pt"


def test_seeds_with_a_model_and_kept_checkpoints_in_order(tmp_path):
    run = RunFolder(tmp_path)
    for s in (10, 2):
        run.seed(s).path.mkdir(parents=True)
        run.seed(s).best.write_bytes(b"x")
    run.seed(5).path.mkdir()  # no best.pt: no model yet
    (tmp_path / "seedling").mkdir()
    assert list(run.seeds_with_model()) == [2, 10]
    folder = SeedFolder(tmp_path / "s", 0)
    assert folder.kept_checkpoints() == []
    folder.checkpoints.mkdir(parents=True)
    for e in (19, 9, 100):
        folder.kept_checkpoint(e).write_bytes(b"x")
    (folder.checkpoints / "notes.txt").write_text("")
    assert [p.name for p in folder.kept_checkpoints()] == ["epoch0009.pt", "epoch0019.pt",
                                                           "epoch0100.pt"]
