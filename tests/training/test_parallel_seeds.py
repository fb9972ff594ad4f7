"""Seeds trained in parallel processes (``gsat train --seeds 0 1 --devices cpu cpu``) give the
results and weights of a sequential run. A module of its own, so that the test suite's
processes run it beside the torchrun launch of test_distributed.py."""
import json
from pathlib import Path

import pytest
import torch
import yaml

from gsat.app.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_seeds_in_parallel_processes_match_a_sequential_run(tmp_path):
    cfg = yaml.safe_load((ROOT / "gsat" / "configs" / "GIN-ba_2motifs.yml").read_text())
    cfg["model"]["hidden_size"] = 16
    cfg["train"].update(epochs=2, batch_size=8, num_viz=0)
    config = tmp_path / "tiny.yml"
    config.write_text(yaml.safe_dump(cfg))
    common = ["train", "--dataset", "ba_2motifs", "--config", str(config), "--seeds", "0", "1",
              "--data-dir", str(tmp_path / "data"), "--no-progress", "--dataset-option",
              "num_graphs=40"]
    old = torch.get_num_threads()
    try:
        for out, extra in (("seq", []), ("par", ["--devices", "cpu", "cpu"])):
            with pytest.raises(SystemExit) as exc:
                main([*common, "--out", str(tmp_path / out), *extra])
            assert exc.value.code == 0
    finally:
        torch.set_num_threads(old)
    seq = json.loads((tmp_path / "seq" / "results.json").read_text())
    par = json.loads((tmp_path / "par" / "results.json").read_text())
    assert par["devices"] == ["cpu", "cpu"] and [r["seed"] for r in par["runs"]] == [0, 1]

    def scores(res):
        return [{k: v for k, v in r.items() if k != "seconds_per_epoch"} for r in res["runs"]]

    assert scores(par) == scores(seq)
    for seed in (0, 1):
        a = torch.load(tmp_path / "seq" / f"seed{seed}" / "last.pt", weights_only=True)["model"]
        b = torch.load(tmp_path / "par" / f"seed{seed}" / "last.pt", weights_only=True)["model"]
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "par" / "run.json").read_text())["devices"] == ["cpu", "cpu"]
