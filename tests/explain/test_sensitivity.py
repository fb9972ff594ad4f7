import functools
import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import MessagePassing, global_add_pool

from gsat.benchmark import BenchmarkSpec, run_benchmark
from gsat.data import DATASETS
from gsat.data.ba_2motifs import load_ba_2motifs
from gsat.errors import ConfigError, DataMissingError
from gsat.explain.sensitivity import edge_removal_effect, mask_level_response


class _Sum(MessagePassing):
    def __init__(self):
        super().__init__(aggr="add")

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)


class _Counter(nn.Module):
    r"""Binary logit :math:`\sum_e m_e x_{src(e)} - 3`: the masked messages of the edges
    leaving nodes with :math:`x = 1`, minus a threshold."""

    def __init__(self):
        super().__init__()
        self.conv = _Sum()

    def forward(self, data):
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(data.num_nodes, dtype=torch.long)
        return global_add_pool(self.conv(data.x, data.edge_index), batch) - 3.0


def _graph(ones: int) -> Data:
    r"""A cycle over the first :obj:`ones` nodes (features 1, the ground truth) and two
    edges between two more nodes (features 0)."""
    n = ones + 2
    cyc = [(i, (i + 1) % ones) for i in range(ones)]
    edges = cyc + [(ones, ones + 1), (ones + 1, ones)]
    x = torch.tensor([[1.0]] * ones + [[0.0]] * 2)
    label = torch.tensor([1] * len(cyc) + [0, 0])
    return Data(x=x, edge_index=torch.tensor(edges).t(), edge_label=label, num_nodes=n,
                y=torch.tensor([0]))


def test_mask_levels_give_the_known_answer_of_a_counting_model():
    model = _Counter()
    # 4 ground-truth edges: logit 4m - 3 is class 1 at m = 1 and 0.9, class 0 from 0.73;
    # 2 ground-truth edges: 2m - 3 is class 0 at every level
    a, b = _graph(4), _graph(2)
    out = mask_level_response(model, [a, b], "binary", levels=(1.0, 0.9, 0.73, 0.5))
    one, zero = out["by_class"]["1"], out["by_class"]["0"]
    assert one["graphs"] == 1 and zero["graphs"] == 1
    assert one["1.0"]["p_class"] == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert one["0.5"]["p_class"] == pytest.approx(1 / (1 + math.exp(1.0)))
    assert [one[str(v)]["same_prediction"] for v in (1.0, 0.9, 0.73, 0.5)] == [1, 1, 0, 0]
    assert [zero[str(v)]["same_prediction"] for v in (1.0, 0.9, 0.73, 0.5)] == [1, 1, 1, 1]
    # more message on a ground-truth edge raises the logit: up for class 1, down for class 0
    assert all(one[str(v)]["truth_grad_positive"] == 1.0 for v in (1.0, 0.5))
    assert all(zero[str(v)]["truth_grad_positive"] == 0.0 for v in (1.0, 0.5))
    # edges leaving x = 0 nodes carry nothing: zero gradient, never positive
    assert one["1.0"]["other_grad_positive"] == 0.0
    assert model.conv._edge_mask is None and not model.conv.explain  # the caller's model


def test_edge_removal_flags_the_edges_the_model_counts():
    out = edge_removal_effect(_Counter(), [_graph(4), _graph(2)], "binary")
    assert out["by_class"]["1"] == {"graphs": 1, "changed_without_truth": 1.0,
                                    "changed_without_others": 0.0}
    assert out["by_class"]["0"]["changed_without_truth"] == 0.0


def test_bad_inputs_are_refused():
    g = _graph(4)
    with pytest.raises(ConfigError, match="single-label"):
        mask_level_response(_Counter(), [g], "multilabel")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        mask_level_response(_Counter(), [g], "binary", levels=(1.0, 0.0))
    bare = Data(x=g.x, edge_index=g.edge_index)
    with pytest.raises(ValueError, match="edge_label"):
        edge_removal_effect(_Counter(), [bare], "binary")
    with pytest.raises(ValueError, match="no graphs"):
        mask_level_response(_Counter(), [], "binary")
    with pytest.raises(ValueError, match="no message-passing layer"):
        mask_level_response(nn.Linear(1, 1), [g], "binary")
    # a graph without edges has no masks: no gradient, nothing counted as positive
    lone = Data(x=torch.ones(3, 1), edge_index=torch.zeros(2, 0, dtype=torch.long),
                edge_label=torch.zeros(0, dtype=torch.long), num_nodes=3)
    out = mask_level_response(_Counter(), [lone], "binary", levels=(1.0,))
    assert out["by_class"]["0"]["1.0"]["truth_grad_positive"] is None


def _script():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "mask_sensitivity.py"
    spec = importlib.util.spec_from_file_location("mask_sensitivity", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_script_reads_the_benchmark_models_and_writes_its_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(DATASETS, "ba_2motifs", functools.partial(load_ba_2motifs,
                                                                  num_graphs=40))
    runs, data = tmp_path / "runs", str(tmp_path / "data")
    run_benchmark(BenchmarkSpec(dataset="ba_2motifs", explainers=["saliency"], seeds=[0],
                                epochs=1, out=str(runs / "benchmark-ba_2motifs-GIN"),
                                data_dir=data, max_graphs=3, progress=False))
    ckpt = runs / "benchmark-ba_2motifs-GIN" / "erm" / "seed0" / "best.pt"
    before = ckpt.read_bytes()
    report = tmp_path / "MASK.md"
    args = ["--dataset", "ba_2motifs", "--seeds", "0", "--max-graphs", "3", "--levels", "1",
            "0.5", "--explainers", "saliency", "--runs", str(runs), "--data-dir", data,
            "--report", str(report)]
    assert _script().main(args) == 0
    res = json.loads((runs / "benchmark-ba_2motifs-GIN" / "mask_sensitivity.json").read_text())
    seed = res["seeds"][0]
    assert seed["num_graphs"] == 3
    classes = seed["mask_levels"]["by_class"]
    assert sum(c["graphs"] for c in classes.values()) == 3
    assert all(0.0 <= c["1.0"]["p_class"] <= 1.0 and c["1.0"]["same_prediction"] == 1.0
               for c in classes.values())
    assert 0.0 <= seed["auc_by_class"]["saliency"]["all"] <= 100.0
    text = report.read_text()
    assert "## ba_2motifs (GIN" in text and "| saliency |" in text
    assert ckpt.read_bytes() == before  # read, never trained again
    with pytest.raises(DataMissingError, match="baselines.py"):
        _script().main(args[:2] + ["--seeds", "1"] + args[4:])
