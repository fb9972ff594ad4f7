"""The explainer registry: names, errors, tuning grids, and the one default list that
``gsat benchmark`` and :class:`~gsat.benchmark.BenchmarkSpec` read."""
import pytest

from explainer_cases import make_graphs, make_model
from gsat.errors import ConfigError, UnknownNameError
from gsat.explain.registry import make_explainer


def test_registry_errors_and_pgexplainer_needs_fit():
    with pytest.raises(UnknownNameError, match="gnnexplainer"):
        make_explainer("gnnexplaner")
    with pytest.raises(ConfigError, match="ig"):
        make_explainer("ig", epochs=3)
    graphs = make_graphs()
    with pytest.raises(RuntimeError, match="fit"):
        make_explainer("pgexplainer").explain(make_model("GIN", "erm", graphs), graphs,
                                              "binary")
    with pytest.raises(ConfigError, match="multilabel"):
        make_explainer("gnnexplainer", epochs=1).explain(make_model("GIN", "erm", graphs),
                                                         graphs, "multilabel")


def test_every_tuning_grid_holds_the_default_setting():
    # tuning must be able to keep the default: a tuned row can then only fall below the
    # default row through the gap between validation and test graphs
    from gsat.explain.registry import TUNING_GRIDS
    for name, grid in TUNING_GRIDS.items():
        default = make_explainer(name).settings
        tried = [make_explainer(name, **g).settings for g in grid]
        assert default in tried, name



def test_an_unknown_name_fails_listing_the_registered_names():
    from gsat.explain.registry import explainer_entry, explainer_names, tuning_grid

    for ask in (make_explainer, tuning_grid, explainer_entry):
        with pytest.raises(UnknownNameError) as exc:
            ask("shap")
        assert exc.value.kind == "explainer" and exc.value.name == "shap"
        assert exc.value.choices == sorted(explainer_names())
        assert all(name in str(exc.value) for name in explainer_names())


def test_every_built_in_explainer_declares_its_entry():
    from gsat.explain.registry import (TUNING_BUDGET, TUNING_GRIDS, explainer_entry,
                                       explainer_names, optimised_names, tuning_grid)

    names = explainer_names()
    assert names == ["gsat", "gnnexplainer", "graphmask", "ig", "saliency", "pgexplainer"]
    for name in names:
        entry = explainer_entry(name)
        assert entry.name == name
        assert entry.help and "\n" not in entry.help
        exp = make_explainer(name)
        assert exp.name == name and exp.settings == entry.defaults
        # --explainer-epochs sets `epochs`: only explainers that have it are optimised
        assert entry.optimised == ("epochs" in entry.defaults)
        assert 1 <= len(tuning_grid(name)) <= TUNING_BUDGET
    assert optimised_names() == ["gnnexplainer", "graphmask", "pgexplainer"]
    assert sorted(TUNING_GRIDS) == sorted(set(names) - {"gsat"})
    for name, grid in TUNING_GRIDS.items():
        assert tuning_grid(name) == [dict(g) for g in grid]
    with pytest.raises(TypeError):
        TUNING_GRIDS["gsat"] = [{}]  # read-only: the entries declare the grids


@pytest.fixture
def dummy():
    """A registered explainer that GSAT's benchmark would not know of, removed afterwards."""
    from gsat.explain.base import EdgeExplainer, ExplainerEntry
    from gsat.explain.registry import EXPLAINERS, register_explainer

    class Dummy(EdgeExplainer):
        def __init__(self, epochs=7, scale=1.0):
            super().__init__(epochs=epochs, scale=scale)

    entry = ExplainerEntry(name="dummy", factory=Dummy, help="a test explainer",
                           tuning_grid=[{"scale": 1.0}, {"scale": 2.0}], optimised=True)
    register_explainer(entry)
    yield entry
    del EXPLAINERS["dummy"]


def test_a_registered_explainer_is_made_tuned_and_run_by_default(dummy, tmp_path,
                                                                 monkeypatch):
    from gsat.app.cli import main
    import gsat.benchmark
    from gsat.benchmark import BenchmarkSpec
    from gsat.explain.registry import (default_explainers, explainer_names, optimised_names,
                                       tuning_grid)

    exp = make_explainer("dummy", scale=3.0)
    assert exp.name == "dummy" and exp.settings == {"epochs": 7, "scale": 3.0}
    assert tuning_grid("dummy") == [{"scale": 1.0}, {"scale": 2.0}]
    assert "dummy" in optimised_names()
    assert explainer_names()[-1] == "dummy" and "dummy" in default_explainers()

    # the benchmark's default and the command line's are both the registry's
    assert BenchmarkSpec(dataset="ba_2motifs").explainers == default_explainers()
    specs = []

    def fake_run(spec):
        specs.append(spec)
        (tmp_path / "benchmark.md").write_text("table\n")
        return {"out_dir": str(tmp_path)}

    monkeypatch.setattr(gsat.benchmark, "run_benchmark", fake_run)
    for extra in ([], ["--explainers", "dummy", "saliency"]):
        with pytest.raises(SystemExit) as exc:
            main(["benchmark", "--dataset", "ba_2motifs", "--out", str(tmp_path), *extra])
        assert exc.value.code == 0
    assert specs[0].explainers == default_explainers()
    assert "dummy" in specs[0].explainers and "saliency" in specs[0].explainers
    assert specs[1].explainers == ["dummy", "saliency"]


def test_the_command_line_reads_the_registry_only_when_it_runs_a_benchmark():
    # the registry imports PyTorch Geometric; gsat --help and gsat benchmark --help do not
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys\n"
            "from gsat.app.cli import build_parser\n"
            "for argv in (['--help'], ['benchmark', '--help']):\n"
            "    try:\n"
            "        build_parser().parse_args(argv)\n"
            "    except SystemExit:\n"
            "        pass\n"
            "assert 'torch_geometric' not in sys.modules, 'PyG imported'\n")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--explainers" in proc.stdout
