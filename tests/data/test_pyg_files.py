"""Own data: PyG graphs from a file or an InMemoryDataset folder (pyg:PATH)."""
import logging
import math
import os

import pytest
import torch
from torch_geometric.data import Data, InMemoryDataset

from gsat.data import load_dataset
from gsat.data.files import infer_task, read_graph_file
from gsat.errors import GraphInputError, UnknownNameError


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
    assert not os.path.exists("/tmp/gsat-should-not-exist")
    torch.save({"a": 1}, tmp_path / "dict.pt")
    with pytest.raises(GraphInputError, match="expected a list of torch_geometric.data.Data"):
        read_graph_file(tmp_path / "dict.pt")


def test_unknown_name_lists_file_prefixes():
    with pytest.raises(UnknownNameError, match="csv:PATH.*pyg:PATH|pyg:PATH"):
        load_dataset("ba2motif")
