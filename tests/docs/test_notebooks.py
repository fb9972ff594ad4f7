"""Execute the notebooks with a small setting; any failing cell fails the test."""
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]

SMALL = {"GSAT_NB_EPOCHS": "2", "GSAT_NB_NUM_GRAPHS": "120", "GSAT_NB_EXPLAINER_EPOCHS": "10",
         "GSAT_NB_NUM_COMPARE": "2"}


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    for key, val in SMALL.items():
        monkeypatch.setenv(key, val)
    monkeypatch.setenv("GSAT_NB_DATA_DIR", str(tmp_path / "data"))
    # the kernel imports gsat from this checkout
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT / "notebooks")}})
    client.execute()  # raises CellExecutionError if any cell fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "test interpretation ROC AUC" in text and "GNNExplainer: interpretation" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # training curves, histogram, explained graphs
