"""Packaging: the shipped configs live inside the package and are in the wheel, so an
install outside the source tree can train; ``gsat --version`` and the help examples."""
import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gsat
from gsat.app.cli import build_parser
from gsat.core.config import configs_dir, default_config_path, load_config

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.name for p in (ROOT / "gsat" / "configs").glob("*.yml"))


def test_configs_resolve_inside_the_package():
    package = Path(gsat.__file__).resolve().parent
    assert configs_dir() == package / "configs"
    assert len(SHIPPED) >= 8
    for stem in ("ba_2motifs", "mutag", "spmotif", "ogbg_mol", "mnist_75sp", "graph_sst2"):
        for backbone in ("GIN", "PNA"):
            path = default_config_path(backbone, stem)
            assert path.is_file() and path.parent == package / "configs"
            assert load_config(path).model.backbone == backbone


def test_default_config_ignores_a_configs_folder_in_the_working_directory(tmp_path,
                                                                         monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "GIN-ba_2motifs.yml").write_text("train: {epochs: 1}\n")
    monkeypatch.chdir(tmp_path)
    assert default_config_path("GIN", "ba_2motifs") == configs_dir() / "GIN-ba_2motifs.yml"


def test_wheel_holds_every_config(tmp_path):
    isolation = [] if importlib.util.find_spec("setuptools") else ["--use-pep517"]
    flags = ["--no-build-isolation"] if not isolation else []
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *flags,
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("gsat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"gsat/configs/{n}" for n in SHIPPED} <= names
    assert "gsat/__main__.py" in names and "gsat/app/cli.py" in names


def test_version_and_help_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"gsat {gsat.__version__}"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "gsat train --dataset ba_2motifs --epochs 2" in out
    assert (ROOT / "gsat" / "__main__.py").read_text().count("main()") == 1


def test_the_notebook_extra_installs_jupyter_and_nbconvert():
    """``pip install .[notebook]`` gives what opens and runs the notebooks: a Jupyter front
    end, nbconvert for a headless run, and the kernel."""
    import configparser
    import re

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    extra = {re.split(r"[<>=!~\[ ]", line.strip())[0].lower()
             for line in cfg["options.extras_require"]["notebook"].splitlines() if line.strip()}
    assert {"nbconvert", "ipykernel"} <= extra
    assert extra & {"jupyterlab", "notebook"}
