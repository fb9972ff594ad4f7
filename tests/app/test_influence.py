import functools
import json

import pytest
import torch
from torch_geometric.data import Data

from gsat.core.config import Config, config_text, validate
from gsat.data import DATASETS
from gsat.data.ba_2motifs import load_ba_2motifs
from gsat.errors import ConfigError
from gsat.app.influence import checkpoint_files, tracin_influence
from gsat.core.model import ERM
from gsat.metrics.prediction import Evaluator
from gsat.nn import GIN
from gsat.training.engine import Engine, make_loader
from gsat.runs.layout import SeedFolder
from gsat.training.hooks import KeepCheckpointsHook


def _tree(i):
    """A random tree with 3 random features per node, labelled by the sign of the sum of
    the first feature."""
    g = torch.Generator().manual_seed(i)
    n = int(torch.randint(5, 10, (1,), generator=g))
    parent = torch.tensor([int(torch.randint(0, k, (1,), generator=g)) for k in range(1, n)])
    ei = torch.stack([torch.arange(1, n), parent])
    x = torch.randn(n, 3, generator=g)
    return Data(x=x, edge_index=torch.cat([ei, ei.flip(0)], 1),
                y=torch.tensor([[float(x[:, 0].sum() > 0)]]))


def test_a_duplicated_training_graph_is_the_top_proponent_of_its_copy(tmp_path):
    torch.manual_seed(0)
    train = [_tree(i) for i in range(30)]
    # the duplicated graph stands out (features x3) and goes against the labelling rule: its
    # loss gradient stays large and is shared by no other graph. (An ordinary graph's copy
    # need not be its own top proponent: TracIn is a dot product of gradients, and graphs
    # with larger gradients can outscore the duplicate.)
    odd = train[0]
    odd.x = odd.x * 3
    odd.y = torch.tensor([[float(odd.x[:, 0].sum() <= 0)]])
    model = ERM(GIN(3, 1, hidden_channels=16, num_layers=2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    folder = SeedFolder(tmp_path, 0)
    Engine(model, opt, make_loader(train, 8, shuffle=True, seed=0),
           evaluator=Evaluator("binary", "acc"), hooks=[KeepCheckpointsHook(folder, 2)],
           progress=False).run(4)
    ckpts = checkpoint_files(folder)
    assert [p.name for p in ckpts] == ["epoch0001.pt", "epoch0003.pt"]  # every 2nd epoch
    test_copy = odd.clone()
    res = tracin_influence(model, train, test_copy, ckpts, "binary", top=3)
    assert len(res["scores"]) == len(train)
    assert res["proponents"][0]["index"] == 0
    assert res["proponents"][0]["score"] > 0
    pro = [e["score"] for e in res["proponents"]]
    opp = [e["score"] for e in res["opponents"]]
    assert pro == sorted(pro, reverse=True) and opp == sorted(opp)
    assert opp[0] == min(res["scores"]) < 0  # graphs that pull the other way exist
    assert res["target"] == test_copy.y.reshape(-1).tolist()


def test_keep_checkpoints_every_is_checked():
    cfg = Config()
    assert cfg.train.keep_checkpoints_every is None  # off by default
    cfg.train.keep_checkpoints_every = 0
    with pytest.raises(ConfigError, match="keep_checkpoints_every"):
        validate(cfg)


def test_influence_command_writes_json_and_picture(tmp_path, monkeypatch, capsys):
    from gsat.app.cli import main
    from gsat.training.driver import RunSpec, resolve_config

    monkeypatch.setitem(DATASETS, "ba_2motifs", functools.partial(load_ba_2motifs,
                                                                  num_graphs=40))
    data = str(tmp_path / "data")
    cfg = resolve_config(RunSpec(dataset="ba_2motifs", epochs=2), "ba_2motifs")
    cfg.train.keep_checkpoints_every = 1
    cfg.train.num_viz = 0
    (tmp_path / "keep.yml").write_text(config_text(cfg))
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "ba_2motifs", "--config", str(tmp_path / "keep.yml"),
              "--method", "erm", "--out", str(run), "--data-dir", data, "--no-progress"])
    assert exc.value.code == 0
    assert len(list((run / "seed0" / "checkpoints").glob("epoch*.pt"))) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["influence", str(run), "--graph", "1", "--top", "3"])
    assert exc.value.code == 0
    assert "proponents: #" in capsys.readouterr().out
    rec = json.loads((run / "seed0" / "influence-test1.json").read_text())
    assert (run / "seed0" / "influence-test1.png").stat().st_size > 1000
    assert len(rec["proponents"]) == len(rec["opponents"]) == 3
    assert rec["checkpoints"] == ["epoch0000.pt", "epoch0001.pt"]
    assert all(0 <= e["index"] < 32 for e in rec["proponents"] + rec["opponents"])
    with pytest.raises(SystemExit) as exc:
        main(["influence", str(run), "--graph", "2", "--graph-split", "valid", "--top", "2"])
    assert exc.value.code == 0
    assert json.loads((run / "seed0" / "influence-valid2.json").read_text())["split"] == "valid"
    capsys.readouterr()

    # mistakes a user can fix: one line, exit code 2
    for argv, msg in ((["influence", str(run), "--graph", "99"], "0 to 3"),
                      (["influence", str(tmp_path / "nope"), "--graph", "0"], "no such run"),
                      (["influence", str(run), "--graph", "0", "--split", "valid"],
                       "unrecognized arguments: --split")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert msg in capsys.readouterr().err
    (run / "seed0" / "checkpoints" / "epoch0000.pt").unlink()
    (run / "seed0" / "checkpoints" / "epoch0001.pt").unlink()
    with pytest.raises(SystemExit) as exc:
        main(["influence", str(run), "--graph", "0"])
    assert exc.value.code == 2
    assert "keep_checkpoints_every" in capsys.readouterr().err
