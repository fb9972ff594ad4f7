"""The benchmark's trained models (gsat.benchmark.models) and when they are reused."""
import torch
from benchmark_cases import small_ba_2motifs


def test_erm_model_explained_is_the_best_validation_epoch(tmp_path, monkeypatch):
    import csv
    from gsat.benchmark.models import trained_model
    from gsat.runs.layout import SeedFolder
    from gsat.io.checkpoint import load_checkpoint
    from gsat.data import load_dataset
    from gsat.training.driver import RunSpec, resolve_config

    small_ba_2motifs(monkeypatch)
    ds = load_dataset("ba_2motifs", str(tmp_path / "data"), seed=0)
    cfg = resolve_config(RunSpec(dataset="ba_2motifs", epochs=4), ds.config_name)
    cfg.train.min_select_epoch = 1
    out = tmp_path / "erm"
    model, rec, reused = trained_model(cfg, ds, 0, SeedFolder(out, 0), "erm", "cpu",
                                       progress=False)
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert len(rows) == 4
    # the paper's rule without r: epochs > min_select_epoch, best validation metric, then
    # lowest validation loss
    cands = [r for r in rows if int(r["epoch"]) > 1]
    best = max(cands, key=lambda r: (float(r["valid_metric"]), -float(r["valid_loss"])))
    assert rec["best_epoch"] == int(best["epoch"])
    saved = load_checkpoint(out / "best.pt", kind="best")
    assert saved["epoch"] == rec["best_epoch"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved["model"][k]), k
    assert not model.training


def test_a_config_key_added_later_keeps_older_models_usable():
    from gsat.core.config import Config
    from gsat.runs.store import stamp_differences

    def _same_config(saved, cfg):  # the comparison the benchmark's model reuse makes
        return not stamp_differences(saved, cfg.to_dict(), Config().to_dict())

    cfg = Config()
    old = cfg.to_dict()
    del old["train"]["keep_checkpoints_every"]  # written before the key existed
    assert _same_config(old, cfg)
    cfg.train.keep_checkpoints_every = 5  # ... but not when the key is set to another value
    assert not _same_config(old, cfg)
    cfg = Config()
    old["train"]["lr"] = 0.5
    assert not _same_config(old, cfg)
