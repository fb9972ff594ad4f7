import shutil
import zipfile
from collections import Counter

import pytest
import torch
from torch_geometric.utils import is_undirected

from gsat.data import load_dataset
from gsat.data.mutag import ATOMS, URL, load_mutag, read_mutagenicity, required_files
from gsat.errors import DataMissingError
from gsat.training.driver import RunSpec, run

N, O, H = ATOMS.index("N"), ATOMS.index("O"), ATOMS.index("H")


@pytest.fixture
def mutag_dir(shared_data, tmp_path):
    """A data root whose mutag/raw/ holds a copy of the shared Mutagenicity.zip."""
    zip_path = shared_data / "Mutagenicity.zip"
    if not zip_path.is_file():
        pytest.skip(f"{zip_path} not present")
    (tmp_path / "mutag" / "raw").mkdir(parents=True)
    shutil.copy(zip_path, tmp_path / "mutag" / "raw")
    return tmp_path


@pytest.mark.data
def test_loader_on_the_shared_zip(mutag_dir):
    mutag = load_dataset("mutag", mutag_dir, seed=0)
    _check_counts_and_labels(mutag)
    _check_ground_truth(mutag)
    _check_split(mutag)
    other = load_dataset("mutag", mutag_dir, seed=1)  # from the cache, another split
    assert len(other.train) == len(mutag.train) and len(other.test) == len(mutag.test)
    assert [g.num_nodes for g in other.train] != [g.num_nodes for g in mutag.train]
    assert (mutag_dir / "mutag" / "processed" / "graphs.pt").is_file()


def _check_counts_and_labels(mutag):
    c = mutag.extra
    assert c["num_read"] == 4337
    assert (c["num_mutagen"], c["num_nonmutagen"]) == (2401, 1936)
    graphs = mutag.train + mutag.valid
    assert len(graphs) == c["num_kept"] == 4337 - c["num_dropped"]
    labels = Counter(int(g.y) for g in graphs)
    assert labels[1] == 1936  # no nonmutagen graph is dropped
    assert labels[0] == 2401 - c["num_dropped"] and c["num_dropped"] > 0
    assert (c["num_dropped"], c["num_kept"]) == (1386, 2951)  # GSAT paper: 2,951 graphs


def _check_ground_truth(mutag):
    for g in mutag.train + mutag.valid:
        assert g.x.shape == (g.num_nodes, 14) and torch.equal(g.x.sum(1), torch.ones(g.num_nodes))
        assert torch.equal(g.x.argmax(1), g.node_type)
        assert is_undirected(g.edge_index, num_nodes=g.num_nodes)
        gt = g.edge_label.bool()
        if int(g.y) == 1:
            assert not gt.any()
            continue
        assert gt.any()  # mutagens without NO2/NH2 were dropped
        a, b = g.node_type[g.edge_index[:, gt]]
        pairs = set(zip(a.tolist(), b.tolist()))
        assert pairs <= {(N, O), (O, N), (N, H), (H, N)}, pairs
        assert torch.equal(g.node_label.bool().nonzero().view(-1),
                           g.edge_index[:, gt].unique())


def _check_split(mutag):
    n = len(mutag.train) + len(mutag.valid)
    assert len(mutag.train) == round(0.8 * n)
    assert mutag.interp_test is mutag.test
    assert len(mutag.test) == mutag.extra["num_kept"] - 1936
    assert all(int(g.y) == 0 and g.edge_label.sum() > 0 for g in mutag.test)
    assert (mutag.task, mutag.num_outputs, mutag.num_features) == ("binary", 1, 14)
    assert mutag.node_names[:5] == ["C", "O", "Cl", "H", "N"] and mutag.config_name == "mutag"


@pytest.mark.data
def test_extracted_files_read_the_same(mutag_dir):
    raw = mutag_dir / "extracted"
    with zipfile.ZipFile(mutag_dir / "mutag" / "raw" / "Mutagenicity.zip") as zf:
        zf.extractall(raw)
    graphs, counts = read_mutagenicity(raw)
    assert counts["num_read"] == 4337 and len(graphs) == counts["num_kept"] == 2951


def test_missing_files_error_names_files_and_folder(tmp_path):
    with pytest.raises(DataMissingError) as exc:
        load_mutag(tmp_path, download=False)
    msg = str(exc.value)
    assert str(tmp_path / "mutag" / "raw") in msg
    assert all(f in msg for f in required_files()) and "Mutagenicity.zip" in msg


def test_failed_download_gives_the_clear_error(tmp_path, monkeypatch):
    import torch_geometric.data

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch_geometric.data, "download_url", offline)
    with pytest.raises(DataMissingError) as exc:
        load_dataset("mutag", tmp_path)
    msg = str(exc.value)
    assert URL in msg and "network is unreachable" in msg
    assert str(tmp_path / "mutag" / "raw") in msg and "Mutagenicity_A.txt" in msg


@pytest.mark.data
def test_training_smoke(mutag_dir):
    tmp_path = mutag_dir
    res = run(RunSpec(dataset="mutag", epochs=1, out=str(tmp_path / "r"),
                      data_dir=str(mutag_dir), progress=False,
                      dataset_options={"max_graphs": 80}))
    (r,) = res["runs"]
    assert 0.0 <= r["test_interp_auc"] <= 1.0 and 0.0 <= r["test_metric"] <= 1.0
    cfg = (tmp_path / "r" / "config.yml").read_text()
    assert "learn_edge_att: false" in cfg
    pngs = list((tmp_path / "r" / "seed0" / "explanations").glob("*.png"))
    assert pngs
