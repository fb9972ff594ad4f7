"""Own data: molecules from a CSV of SMILES (csv:PATH) and PyG graphs (pyg:PATH)."""
import csv
import logging
import math

import pytest
import torch
from torch_geometric.data import Data, InMemoryDataset

from gsat.data import load_dataset
from gsat.data.files import infer_task, read_graph_file
from gsat.data.molecules import murcko_scaffold, scaffold_split, smiles_to_graph
from gsat.errors import ConfigError, GraphInputError, UnknownNameError

pytest.importorskip("rdkit")
pytest.importorskip("ogb")

SMILES = ["CCO", "CCN", "c1ccccc1", "c1ccccc1N", "c1ccccc1O", "CC(=O)O", "CC(=O)N", "c1ccncc1",
          "C1CCCCC1", "C1CCCCC1N", "CCCC", "CCCN", "c1ccc2ccccc2c1", "Nc1ccc2ccccc2c1", "OCCO",
          "NCCN", "C1CCNCC1", "C1CCOCC1", "c1ccoc1", "c1cc[nH]c1"]


def write_csv(path, rows, header=("smiles", "active", "tox")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def mol_csv(tmp_path):
    rows = [[s, int("N" in s or "n" in s), "" if i % 4 == 0 else i % 2]
            for i, s in enumerate(SMILES)]
    rows.insert(5, ["C1CC(", 1, 0])          # unparseable
    rows.insert(9, ["", 0, 0])                # empty
    return write_csv(tmp_path / "mols.csv", rows)


def test_smiles_to_graph_is_ogb_featurisation():
    from ogb.utils import smiles2graph

    g = smiles_to_graph("c1ccccc1O")
    ref = smiles2graph("c1ccccc1O")
    assert g.x.tolist() == ref["node_feat"].tolist() and g.num_nodes == 7
    assert g.edge_index.size(1) == 14 and g.edge_attr.shape == (14, 3)
    assert g.node_type.tolist() == [5] * 6 + [7]  # C, O: atomic number - 1
    assert smiles_to_graph("C1CC(") is None and smiles_to_graph("") is None


def test_csv_molecules_binary_and_unparseable_listed(mol_csv, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        ds = load_dataset(f"csv:{mol_csv}", tmp_path / "data", label_cols=["active"])
    assert (ds.task, ds.num_outputs, ds.metric, ds.config_name) == ("binary", 1, "rocauc",
                                                                     "ogbg_mol")
    assert len(ds.train) + len(ds.valid) + len(ds.test) == len(SMILES)
    assert "2 of 22 SMILES could not be parsed" in caplog.text and "row 6: 'C1CC('" in caplog.text
    assert ds.train[0].y.shape == (1, 1) and ds.edge_dim == 3 and ds.num_features == 9
    caplog.clear()
    with caplog.at_level(logging.INFO):  # second load: from the cache, same graphs
        again = load_dataset(f"csv:{mol_csv}", tmp_path / "data", label_cols=["active"])
    assert "from the cache" in caplog.text
    assert [g.x.tolist() for g in again.train] == [g.x.tolist() for g in ds.train]


def test_csv_multilabel_missing_labels_and_scaffold_split(mol_csv, tmp_path):
    ds = load_dataset(f"csv:{mol_csv}", tmp_path / "data", label_cols=["active", "tox"])
    assert (ds.task, ds.num_outputs) == ("multilabel", 2)
    ys = torch.cat([g.y for g in ds.train + ds.valid + ds.test])
    assert ys.shape == (len(SMILES), 2) and int(torch.isnan(ys[:, 1]).sum()) == 5
    parts = scaffold_split(SMILES)
    seen = [{murcko_scaffold(SMILES[i]) for i in p} for p in parts]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sorted(sum(parts, [])) == list(range(len(SMILES)))
    rnd = load_dataset(f"csv:{mol_csv}", tmp_path / "data", label_cols=["active"],
                       split="random", seed=1)
    assert (len(rnd.train), len(rnd.valid), len(rnd.test)) == (16, 2, 2)


@pytest.mark.parametrize("kwargs,match", [
    (dict(label_cols=["nope"]), r"no column 'nope'; the header has: smiles, active, tox"),
    (dict(smiles_col="smi", label_cols=["active"]), r"no column 'smi'"),
    (dict(label_cols=["active"], split="cluster"), r"split must be 'scaffold' or 'random'"),
])
def test_csv_mistakes_are_one_line(mol_csv, tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match) as exc:
        load_dataset(f"csv:{mol_csv}", tmp_path / "data", **kwargs)
    assert "\n" not in str(exc.value)


def test_csv_labels_must_be_binary(tmp_path):
    path = write_csv(tmp_path / "m.csv", [["CCO", 2.5, 0]])
    with pytest.raises(ConfigError, match=r"row 1, column 'active': labels must be 0 or 1"):
        load_dataset(f"csv:{path}", tmp_path / "data", label_cols=["active"])


def graphs(n=20, y=lambda i: i % 2, feat=3):
    out = []
    for i in range(n):
        k = 4 + i % 3
        src = torch.arange(k)
        ei = torch.cat([torch.stack([src, (src + 1) % k]), torch.stack([(src + 1) % k, src])], 1)
        out.append(Data(x=torch.randn(k, feat), edge_index=ei, y=torch.tensor([y(i)]),
                        edge_label=(torch.arange(2 * k) % 2).float()))
    return out


def test_pyg_list_file_task_inferred_and_logged(tmp_path, caplog):
    torch.save(graphs(), tmp_path / "g.pt")
    with caplog.at_level(logging.INFO):
        ds = load_dataset(f"pyg:{tmp_path / 'g.pt'}", tmp_path)
    assert (ds.task, ds.num_outputs, ds.metric, ds.has_ground_truth, ds.undirected) == \
        ("binary", 1, "acc", True, True)
    assert "inferred task: binary with 1 output(s) from y" in caplog.text
    torch.save(graphs(y=lambda i: i % 3), tmp_path / "g3.pt")
    ds3 = load_dataset(f"pyg:{tmp_path / 'g3.pt'}", tmp_path)
    assert (ds3.task, ds3.num_outputs) == ("multiclass", 3) and ds3.train[0].y.dtype == torch.long


def test_infer_task_cases():
    assert infer_task([torch.tensor([0]), torch.tensor([1])]) == ("binary", 1)
    assert infer_task([torch.tensor([0]), torch.tensor([4])]) == ("multiclass", 5)
    assert infer_task([torch.tensor([[0., math.nan, 1.]])] * 2) == ("multilabel", 3)
    with pytest.raises(GraphInputError, match="regression is not supported"):
        infer_task([torch.tensor([0.3])])
    with pytest.raises(GraphInputError, match="different sizes"):
        infer_task([torch.tensor([0]), torch.tensor([0, 1])])


def test_in_memory_dataset_folder(tmp_path):
    gs = graphs(12)

    class Saved(InMemoryDataset):
        @property
        def processed_file_names(self):
            return ["data.pt"]

        def process(self):
            self.save(gs, self.processed_paths[0])

    Saved(str(tmp_path / "folder"))
    read = read_graph_file(tmp_path / "folder")
    assert len(read) == 12 and all(torch.equal(a.x, b.x) for a, b in zip(read, gs))
    assert torch.equal(read[5].edge_index, gs[5].edge_index)


class Payload:
    def __reduce__(self):
        return (open, ("/tmp/gsat-should-not-exist", "w"))


def test_unsafe_graph_file_is_refused_and_not_run(tmp_path):
    torch.save([graphs(1)[0], Payload()], tmp_path / "evil.pt")
    with pytest.raises(GraphInputError, match=r"refused to load .*arbitrary unpickling.*"
                                              r"Nothing in the file was executed"):
        read_graph_file(tmp_path / "evil.pt")
    import os
    assert not os.path.exists("/tmp/gsat-should-not-exist")
    torch.save({"a": 1}, tmp_path / "dict.pt")
    with pytest.raises(GraphInputError, match="expected a list of torch_geometric.data.Data"):
        read_graph_file(tmp_path / "dict.pt")


def test_unknown_name_lists_file_prefixes():
    with pytest.raises(UnknownNameError, match="csv:PATH.*pyg:PATH|pyg:PATH"):
        load_dataset("ba2motif")
