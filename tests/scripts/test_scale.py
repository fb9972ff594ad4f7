"""benchmarks/scale.py: FLOPs counted with the in-place addmm_, the realistic floor of GSAT /
ERM, --out only when given; benchmarks/original_gsat.py: the stand-ins for the original
code's optional imports."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
from torch_geometric.utils import scatter

ROOT = Path(__file__).resolve().parents[2]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_flops_count_in_place_addmm():
    scale = _load("scale")
    a, b, c = torch.zeros(5, 7), torch.rand(5, 3), torch.rand(3, 7)
    counter = scale.count_flops()
    with counter:
        a.addmm_(b, c)
        torch.addmm(a, b, c)
    assert counter.get_total_flops() == 2 * (2 * 5 * 3 * 7)


def test_floor_ratio():
    scale = _load("scale")
    # 10 GFLOP GSAT, 2 GFLOP ERM in 0.1 s at 100 GFLOP/s: 2 + 6 / 10
    assert abs(scale.floor_ratio(10.0, 2.0, 0.1, 100.0) - 2.6) < 1e-12
    assert scale.floor_ratio(3.0, 2.0, 0.1, 100.0) == 2.0


def _row(method, seconds, gflop):
    return {"edges": 1000, "nodes": 300, "backbone": "GIN", "method": method,
            "step_seconds": seconds, "peak_gb": 0.5, "gflop": gflop, "peak_gflops": 100.0,
            "thp": 1, "edges_asked": 1000.0}


def test_table_prints_floor_and_writes_only_with_out(tmp_path, monkeypatch, capsys):
    scale = _load("scale")
    log = tmp_path / "log.txt"
    log.write_text("\n".join(json.dumps(r) for r in (_row("gsat", 0.52, 10.0),
                                                       _row("erm", 0.1, 2.0))))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["scale.py", "--from-log", str(log)])
    scale.main()
    # ratio 5.2, floor 2.6, measured over floor 2.0
    assert "| 5.20x | 2.60x | 2.00 | 5.00x |" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == [log]
    out = tmp_path / "table.md"
    monkeypatch.setattr(sys, "argv", ["scale.py", "--from-log", str(log), "--out", str(out)])
    scale.main()
    assert "| 5.20x | 2.60x | 2.00 |" in out.read_text()
    monkeypatch.setattr(sys, "argv", ["scale.py", "--help"])
    with pytest.raises(SystemExit):
        scale.main()
    assert "print it only" in " ".join(capsys.readouterr().out.split())


def test_original_code_stand_ins(monkeypatch):
    original = _load("original_gsat")
    for name in ("torch_scatter", "torch_sparse", "torch.utils.tensorboard",
                 "torch.utils.tensorboard.summary"):
        if name in sys.modules:
            monkeypatch.setitem(sys.modules, name, sys.modules[name])
    replaced = original.install_shims()
    try:
        if "torch_scatter" in replaced:
            ts = sys.modules["torch_scatter"]
            src, idx = torch.rand(6, 3), torch.tensor([0, 2, 2, 1, 0, 2])
            for reduce in ("sum", "mean", "min", "max"):
                assert torch.equal(ts.scatter(src, idx, 0, None, 4, reduce=reduce),
                                   scatter(src, idx, 0, 4, reduce))
        if "torch_sparse" in replaced:
            index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
            value = torch.tensor([1.0, 2.0, 3.0, 4.0])
            ti, tv = sys.modules["torch_sparse"].transpose(index, value, None, None,
                                                           coalesced=False)
            assert torch.equal(ti, index.flip(0)) and torch.equal(tv, value)
            ti, tv = sys.modules["torch_sparse"].transpose(index, value, 3, 3)
            assert ti.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]] and tv.tolist() == [2.0, 1.0,
                                                                                  4.0, 3.0]
    finally:
        for name in replaced:
            sys.modules.pop(name, None)
        if "tensorboard" in replaced:
            sys.modules.pop("torch.utils.tensorboard", None)
            sys.modules.pop("torch.utils.tensorboard.summary", None)
