"""OGB molecular datasets, offline: tiny datasets written in OGB's own on-disk format, read
with ogb's loader class, trained with GSAT / GSAT* and scored with ogb's Evaluator."""
import builtins
import gzip
import json
import math
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("ogb")
pytest.importorskip("rdkit")

from ogb.graphproppred import Evaluator  # noqa: E402
from ogb.utils import smiles2graph  # noqa: E402

import gsat.training.build as gbuild  # noqa: E402
import gsat.training.engine as gtrain  # noqa: E402
import gsat.training.seed as gseed  # noqa: E402
from gsat.app.cli import main  # noqa: E402
from gsat.core.config import load_config  # noqa: E402
from gsat.data import DATASETS, load_dataset  # noqa: E402
from gsat.data.names import OGB_MOL_DATASETS  # noqa: E402
from gsat.data.ogb import save_ogb_mol_dataset  # noqa: E402
from gsat.errors import ConfigError, DataMissingError  # noqa: E402
from gsat.core.model import GSAT  # noqa: E402
from gsat.metrics.prediction import OGBEvaluator  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SMILES = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "O=C=O", "CC(C)Cl", "c1ccncc1", "CCOC(=O)C",
          "CC(=O)Nc1ccc(O)cc1", "CS(=O)C", "CC(C)CC1=CC=C(C=C1)C(C)C(=O)O", "C1CCCCC1",
          "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "OC(=O)c1ccccc1O", "CCBr", "FC(F)(F)c1ccccc1",
          "NCCc1ccc(O)c(O)c1", "C#N", "CC(=O)OC1=CC=CC=C1C(=O)O", "c1ccc2ccccc2c1"]
SPLIT = {"train": list(range(12)), "valid": list(range(12, 16)), "test": list(range(16, 20))}


@pytest.fixture(autouse=True)
def _no_prompts(monkeypatch):
    """Any attempt to read from the terminal fails the test."""
    def fail(*_a, **_k):
        raise AssertionError("input() was called")
    monkeypatch.setattr(builtins, "input", fail)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Downloads fail at once (as on a machine without network)."""
    def fail(*_a, **_k):
        raise urllib.error.URLError("no network in tests")
    monkeypatch.setattr(urllib.request, "urlopen", fail)


def _binary_labels():
    return np.array([[i % 2] for i in range(len(SMILES))], dtype=np.float64)


def _multitask_labels(num_tasks=12):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(len(SMILES), num_tasks)).astype(np.float64)
    y[rng.random(y.shape) < 0.3] = np.nan
    for part in SPLIT.values():  # each task has both classes in every split
        y[part[0], :], y[part[1], :] = 0.0, 1.0
    return y


@pytest.fixture(scope="module")
def binary_meta(tmp_path_factory):
    return save_ogb_mol_dataset(SMILES, _binary_labels(), SPLIT,
                                tmp_path_factory.mktemp("bin"), name="ogbg-moltinyhiv")


@pytest.fixture(scope="module")
def multitask_meta(tmp_path_factory):
    return save_ogb_mol_dataset(SMILES, _multitask_labels(), SPLIT,
                                tmp_path_factory.mktemp("multi"), name="ogbg-moltinytox")


def _config(backbone, epochs=2, **train):
    cfg = load_config(ROOT / "gsat" / "configs" / f"{backbone}-ogbg_mol.yml")
    cfg.train.epochs = epochs
    cfg.train.batch_size = 8
    cfg.train.num_viz = 2
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def test_registry_and_configs():
    assert set(OGB_MOL_DATASETS) <= set(DATASETS)
    gin, pna = (load_config(ROOT / "gsat" / "configs" / f"{b}-ogbg_mol.yml")
                for b in ("GIN", "PNA"))
    for cfg in (gin, pna):
        assert cfg.model.atom_encoder and not cfg.model.use_edge_attr
        assert not cfg.extractor.learn_edge_att  # node attention lifted to edges
        assert (cfg.gsat.init_r, cfg.gsat.final_r, cfg.gsat.decay_r) == (0.9, 0.7, 0.1)
        assert cfg.train.from_scratch
    assert (gin.train.epochs, gin.gsat.decay_interval) == (200, 20)
    assert (pna.train.epochs, pna.model.aggregators) == (100, ["mean", "min", "max", "std"])


def test_load_binary_with_official_loader(binary_meta):
    ds = load_dataset("ogbg_molhiv", "unused", meta_dict=binary_meta)
    assert (ds.task, ds.metric, ds.num_outputs, ds.config_name) == \
        ("binary", "rocauc", 1, "ogbg_mol")
    assert not ds.has_ground_truth and isinstance(ds.evaluator, OGBEvaluator)
    assert [len(ds.train), len(ds.valid), len(ds.test)] == [12, 4, 4]
    assert (ds.num_features, ds.edge_dim) == (9, 3)
    # the split is the saved one: test graph j is molecule 16 + j
    for j, g in enumerate(ds.test):
        ref = smiles2graph(SMILES[16 + j])
        assert torch.equal(g.x, torch.from_numpy(ref["node_feat"]).long())
        assert g.x.dtype == torch.long and g.edge_attr.shape == (g.edge_index.size(1), 3)
        assert int(g.y.view(-1)[0]) == (16 + j) % 2
    # atoms are named by element: ethanol is C, C, O
    g0 = ds.train[0]
    assert [ds.node_names[int(t)] for t in g0.node_type] == ["C", "C", "O"]
    cl = ds.train[5]  # CC(C)Cl
    assert sorted(ds.node_names[int(t)] for t in cl.node_type) == ["C", "C", "C", "Cl"]


def test_load_multitask_keeps_missing_labels(multitask_meta):
    ds = load_dataset("ogbg_moltox21", "unused", meta_dict=multitask_meta)
    assert (ds.task, ds.num_outputs) == ("multilabel", 12)
    y = torch.cat([g.y for g in ds.train + ds.valid + ds.test])
    expected = torch.from_numpy(_multitask_labels()).float()
    assert y.shape == (20, 12) and torch.isnan(y).any()
    assert torch.equal(torch.isnan(y), torch.isnan(expected))
    assert torch.equal(y.nan_to_num(-1), expected.nan_to_num(-1))


def test_task_count_must_match_evaluator(binary_meta):
    with pytest.raises(ConfigError, match="1 task"):
        load_dataset("ogbg_moltox21", "unused", meta_dict=binary_meta)


def test_ogb_evaluator_is_ogbs_evaluator():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (40, 12), generator=g).float()
    y[torch.rand(40, 12, generator=g) < 0.3] = float("nan")
    logits = torch.randn(40, 12, generator=g)
    ref = Evaluator("ogbg-moltox21").eval({"y_true": y.numpy(), "y_pred": logits.numpy()})
    assert OGBEvaluator("ogbg-moltox21")(logits, y) == pytest.approx(ref["rocauc"])
    assert math.isnan(OGBEvaluator("ogbg-molhiv")(torch.randn(5, 1), torch.zeros(5, 1)))
    with pytest.raises(ConfigError, match="no evaluator"):
        OGBEvaluator("ogbg-nonexistent")


def _logits(model, graphs):
    from torch_geometric.loader import DataLoader

    model.eval()
    with torch.no_grad():
        out = [(model(b).logits, b.y) for b in DataLoader(graphs, batch_size=64)]
    return torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])


@pytest.mark.parametrize("meta,name,backbone", [("binary_meta", "ogbg_molhiv", "GIN"),
                                                ("binary_meta", "ogbg_molbace", "PNA"),
                                                ("multitask_meta", "ogbg_moltox21", "GIN")])
def test_train_gsat_two_epochs_scored_by_evaluator(request, tmp_path, meta, name, backbone):
    ds = load_dataset(name, "unused", meta_dict=request.getfixturevalue(meta))
    cfg = _config(backbone)
    rec = gseed.train_one_seed(cfg, ds, 0, tmp_path, progress=False)
    assert math.isfinite(rec["test_metric"]) and 0.0 <= rec["test_metric"] <= 1.0
    assert rec["test_interp_auc"] != rec["test_interp_auc"]  # NaN: no ground truth
    # the reported metrics are ogb's Evaluator on the selected model's logits
    model = gbuild.build_model(cfg, ds)
    model.load_state_dict(torch.load(tmp_path / "best.pt", weights_only=True)["model"])
    evaluator = Evaluator(name.replace("_", "-"))
    for split, key in ((ds.test, "test_metric"), (ds.valid, "valid_metric")):
        logits, y = _logits(model, split)
        ref = evaluator.eval({"y_true": y.view(len(split), -1).float().numpy(),
                              "y_pred": logits.numpy()})["rocauc"]
        assert rec[key] == pytest.approx(ref), key
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3 and all("nan" not in r.split(",")[2] for r in rows[1:])  # train_loss
    # pictures of explained molecules, without ground-truth marks
    assert len(list((tmp_path / "explanations").glob("*.png"))) == 2


def test_gsat_star_starts_from_pretrained_backbone(tmp_path, binary_meta, monkeypatch):
    ds = load_dataset("ogbg_molhiv", "unused", meta_dict=binary_meta)
    cfg = _config("GIN", from_scratch=False, pretrain_epochs=3, pretrain_lr=1e-2)
    cfg.gsat.separate_bn_stats = True  # check that the gated pass's statistics follow too
    seen = {}
    real = gtrain.train_epoch

    def spy(model, *args, **kwargs):
        kind = "gsat" if isinstance(model, GSAT) else "erm"
        if kind not in seen:
            seen[kind] = {k: v.clone() for k, v in model.backbone.state_dict().items()}
            if kind == "gsat":
                seen["gated"] = {k: v.clone() for k, v in model.gated_stats.state_dict().items()}
        return real(model, *args, **kwargs)

    monkeypatch.setattr(gtrain, "train_epoch", spy)
    rec = gseed.train_one_seed(cfg, ds, 0, tmp_path, progress=False)
    assert {"erm", "gsat"} <= set(seen)
    pre = torch.load(tmp_path / "pretrained.pt", weights_only=True)
    assert set(pre["backbone"]) == set(seen["gsat"])
    for k, v in pre["backbone"].items():
        assert torch.equal(v, seen["gsat"][k]), k  # GSAT starts from the pretrained weights
    changed = [k for k, v in pre["backbone"].items()
               if v.is_floating_point() and not torch.equal(v, seen["erm"][k])]
    assert changed  # pretraining moved the weights
    # the gated pass's batch-norm statistics start from the pretrained ones as well
    bn_mean = [v for k, v in pre["backbone"].items() if k.endswith("running_mean")]
    gated_mean = [v for k, v in seen["gated"].items() if k.startswith("running_mean")]
    assert bn_mean and all(torch.equal(a, b) for a, b in zip(bn_mean, gated_mean))
    assert rec["pretrain_best_epoch"] == pre["epoch"] and "pretrain_valid_metric" in rec


def test_gsat_star_released_recipe_last_epoch_and_plateau(tmp_path, binary_meta, monkeypatch):
    """train.pretrain_start: last starts GSAT from the last pretraining epoch (the released
    code's epoch_{pretrain_epochs - 1}); pretrain_plateau_patience lowers the pretraining
    learning rate as ReduceLROnPlateau does (threshold 1: no later epoch counts as better)."""
    ds = load_dataset("ogbg_molhiv", "unused", meta_dict=binary_meta)
    cfg = _config("GIN", epochs=1, num_viz=0, from_scratch=False, pretrain_epochs=4,
                  pretrain_lr=1e-2, pretrain_start="last", pretrain_plateau_patience=0,
                  pretrain_plateau_factor=0.5, pretrain_plateau_threshold=1.0)
    lrs, states = [], {}
    real = gtrain.train_epoch

    def spy(model, loader, optimizer, *args, **kwargs):
        if isinstance(model, GSAT):
            states.setdefault("gsat", {k: v.clone() for k, v in
                                       model.backbone.state_dict().items()})
            return real(model, loader, optimizer, *args, **kwargs)
        lrs.append(optimizer.param_groups[0]["lr"])
        out = real(model, loader, optimizer, *args, **kwargs)
        states["last"] = {k: v.clone() for k, v in model.backbone.state_dict().items()}
        return out

    monkeypatch.setattr(gtrain, "train_epoch", spy)
    rec = gseed.train_one_seed(cfg, ds, 0, tmp_path, progress=False)
    assert lrs == pytest.approx([1e-2, 1e-2, 5e-3, 2.5e-3])
    pre = torch.load(tmp_path / "pretrained.pt", weights_only=True)
    assert pre["epoch"] == rec["pretrain_start_epoch"] == 3
    for k, v in states["last"].items():
        assert torch.equal(v, states["gsat"][k]) and torch.equal(v, pre["backbone"][k]), k
    # the default starts from the best validation epoch (reported beside it)
    assert load_config(ROOT / "gsat" / "configs" / "GIN-ogbg_mol.yml").train.pretrain_start \
        == "best"


def test_from_scratch_does_not_pretrain(tmp_path, binary_meta, monkeypatch):
    ds = load_dataset("ogbg_molhiv", "unused", meta_dict=binary_meta)
    kinds = []
    real = gtrain.train_epoch
    monkeypatch.setattr(gtrain, "train_epoch",
                        lambda m, *a, **k: kinds.append(type(m).__name__) or real(m, *a, **k))
    rec = gseed.train_one_seed(_config("GIN", epochs=1, num_viz=0), ds, 0, tmp_path,
                                progress=False)
    assert kinds == ["GSAT"] and "pretrain_best_epoch" not in rec
    assert not (tmp_path / "pretrained.pt").exists()


def test_pretrain_config_is_validated(tmp_path):
    raw = yaml.safe_load((ROOT / "gsat" / "configs" / "GIN-ogbg_mol.yml").read_text())
    raw["train"]["pretrain_epochs"] = 0
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="train.pretrain_epochs"):
        load_config(path)


def _write_official_layout(folder: Path, smiles, labels, split):
    """A dataset folder as ogb's download of a molecule set unpacks (csv.gz, one direction
    per bond, ogb adds the reverse)."""
    raw = folder / "raw"
    raw.mkdir(parents=True)
    graphs = [smiles2graph(s) for s in smiles]
    cols = {"edge": [], "node-feat": [], "edge-feat": [], "num-node-list": [],
            "num-edge-list": [], "graph-label": []}
    for g, y in zip(graphs, labels):
        one_way = g["edge_index"][0] < g["edge_index"][1]
        cols["edge"] += [",".join(map(str, e)) for e in g["edge_index"][:, one_way].T]
        cols["edge-feat"] += [",".join(map(str, f)) for f in g["edge_feat"][one_way]]
        cols["node-feat"] += [",".join(map(str, f)) for f in g["node_feat"]]
        cols["num-node-list"].append(str(g["num_nodes"]))
        cols["num-edge-list"].append(str(int(one_way.sum())))
        cols["graph-label"].append(",".join("" if np.isnan(v) else str(int(v)) for v in y))
    for name, lines in cols.items():
        with gzip.open(raw / f"{name}.csv.gz", "wt") as f:
            f.write("\n".join(lines) + "\n")
    (folder / "split" / "scaffold").mkdir(parents=True)
    for part, idx in split.items():
        with gzip.open(folder / "split" / "scaffold" / f"{part}.csv.gz", "wt") as f:
            f.write("\n".join(map(str, idx)) + "\n")
    (folder / "RELEASE_v1.txt").write_text("v1\n")


def test_cli_reads_data_dir_in_ogb_layout_offline(tmp_path):
    data = tmp_path / "data"
    _write_official_layout(data / "ogbg_molhiv", SMILES, _binary_labels(), SPLIT)
    out = tmp_path / "run"
    cfg = yaml.safe_load((ROOT / "gsat" / "configs" / "GIN-ogbg_mol.yml").read_text())
    cfg["train"].update(epochs=1, batch_size=8, num_viz=1)
    cfg_path = tmp_path / "gin.yml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(SystemExit) as exc:
        main(["--dataset", "ogbg_molhiv", "--backbone", "GIN", "--data-dir", str(data),
              "--config", str(cfg_path), "--out", str(out), "--no-progress"])
    assert exc.value.code == 0
    res = json.loads((out / "results.json").read_text())
    assert (res["dataset"], res["metric_name"]) == ("ogbg_molhiv", "rocauc")
    assert 0.0 <= res["runs"][0]["test_metric"] <= 1.0
    ds = load_dataset("ogbg_molhiv", data)  # processed file read back with safe loading
    assert [len(ds.train), len(ds.valid), len(ds.test)] == [12, 4, 4]
    assert torch.equal(ds.test[0].x, torch.from_numpy(smiles2graph(SMILES[16])["node_feat"]))
    assert ds.test[0].edge_index.size(1) == smiles2graph(SMILES[16])["edge_index"].shape[1]


def test_missing_data_and_failed_download_explain_what_to_do(tmp_path):
    with pytest.raises(DataMissingError) as exc:
        load_dataset("ogbg_molhiv", tmp_path / "nowhere")
    msg = str(exc.value)
    assert str(tmp_path / "nowhere" / "ogbg_molhiv") in msg
    assert "hiv.zip" in msg and "no network in tests" in msg
    assert not (tmp_path / "nowhere" / "ogbg_molhiv").exists()  # nothing half-made left
    with pytest.raises(SystemExit) as cli:
        main(["--dataset", "ogbg_molbbbp", "--data-dir", str(tmp_path / "d"), "--no-progress",
              "--out", str(tmp_path / "r")])
    assert cli.value.code == 2


def test_stale_folder_never_prompts(tmp_path, binary_meta, caplog):
    # a folder without release note makes ogb ask whether to replace it; never asked here
    stale = tmp_path / "ogbg_molsider"
    (stale / "raw").mkdir(parents=True)
    with pytest.raises(DataMissingError, match="ogbg_molsider"):
        load_dataset("ogbg_molsider", tmp_path)
    assert stale.exists()  # a folder the user made is left alone
    # complete data without its release note loads as it is, with a warning
    folder = Path(binary_meta["dir_path"])
    note = folder / "RELEASE_v1.txt"
    text = note.read_text()
    note.unlink()
    try:
        ds = load_dataset("ogbg_molhiv", "unused", meta_dict=binary_meta)
    finally:
        note.write_text(text)
    assert len(ds.train) == 12 and "answering 'no'" in caplog.text


class _Opaque:
    """A class no safe loader allows."""


def test_unsafe_processed_file_is_rebuilt_not_unpickled(tmp_path, caplog):
    meta = save_ogb_mol_dataset(SMILES, _binary_labels(), SPLIT, tmp_path)
    processed = Path(meta["dir_path"]) / "processed" / "geometric_data_processed.pt"
    processed.parent.mkdir(parents=True, exist_ok=True)
    torch.save((_Opaque(), {}), processed)  # what an unsafe or foreign pickle looks like
    ds = load_dataset("ogbg_molhiv", "unused", meta_dict=meta)
    assert [len(ds.train), len(ds.valid), len(ds.test)] == [12, 4, 4]
    assert "rebuilding it from the raw files" in caplog.text
    data, _ = torch.load(processed, weights_only=False)
    assert not isinstance(data, _Opaque)


@pytest.fixture(scope="module")
def regression_meta(tmp_path_factory):
    values = np.linspace(-3.0, 2.0, len(SMILES)).reshape(-1, 1)  # e.g. log solubility
    return save_ogb_mol_dataset(SMILES, values, SPLIT, tmp_path_factory.mktemp("reg"),
                                name="ogbg-moltinyesol", regression=True)


@pytest.mark.parametrize("name", ["ogbg_molesol", "ogbg_molfreesolv", "ogbg_mollipo"])
def test_regression_sets_are_registered_with_ogbs_rmse(name):
    assert name in DATASETS
    evaluator = OGBEvaluator(name.replace("_", "-"))
    assert (evaluator.task, evaluator.metric, evaluator.higher_is_better) == \
        ("regression", "rmse", False)


def test_regression_trains_on_mse_and_selects_the_lowest_validation_rmse(regression_meta,
                                                                          tmp_path):
    ds = load_dataset("ogbg_molesol", "unused", meta_dict=regression_meta)
    assert (ds.task, ds.metric, ds.num_outputs) == ("regression", "rmse", 1)
    assert ds.train[0].y.dtype == torch.float32
    cfg = _config("GIN", epochs=4, min_select_epoch=0)
    cfg.gsat.decay_interval = 1  # r final (0.7) from epoch 2
    rec = gseed.train_one_seed(cfg, ds, 0, tmp_path, progress=False)
    rows = [r.split(",") for r in (tmp_path / "metrics.csv").read_text().splitlines()]
    col = rows[0].index("valid_metric")
    valid = {int(r[0]): float(r[col]) for r in rows[1:]}
    assert rec["valid_metric"] == pytest.approx(min(valid[e] for e in (2, 3)))  # lowest
    model = gbuild.build_model(cfg, ds)
    assert model.regression_loss == "mse"
    model.load_state_dict(torch.load(tmp_path / "best.pt", weights_only=True)["model"])
    logits, y = _logits(model, ds.test)
    ref = Evaluator("ogbg-molesol").eval({"y_true": y.view(-1, 1).numpy(),
                                          "y_pred": logits.numpy()})["rmse"]
    assert rec["test_metric"] == pytest.approx(ref) and rec["test_metric"] > 0
