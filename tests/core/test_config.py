import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gsat.core.config import Config, config_from_dict, load_config
from gsat.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "gsat" / "configs").glob("*.yml")))
def test_shipped_configs_load(name):
    cfg = load_config(ROOT / "gsat" / "configs" / name)
    assert cfg.model.backbone == name.split("-")[0]


def test_paper_values_ba_2motifs():
    gin = load_config(ROOT / "gsat" / "configs" / "GIN-ba_2motifs.yml")
    assert (gin.train.lr, gin.train.epochs, gin.train.batch_size) == (1e-3, 100, 128)
    assert (gin.gsat.init_r, gin.gsat.final_r, gin.gsat.decay_r, gin.gsat.decay_interval) == \
        (0.9, 0.5, 0.1, 10)
    assert (gin.model.hidden_size, gin.model.n_layers, gin.model.dropout_p) == (64, 2, 0.3)
    pna = load_config(ROOT / "gsat" / "configs" / "PNA-ba_2motifs.yml")
    assert (pna.train.epochs, pna.gsat.decay_interval, pna.train.weight_decay) == (50, 5, 3e-6)
    assert (pna.model.hidden_size, pna.model.n_layers) == (80, 4)


@pytest.mark.parametrize("raw,match", [
    ({"train": {"epochz": 3}}, r"train: unknown key\(s\) 'epochz'"),
    ({"bogus": {}}, r"unknown key\(s\) 'bogus'"),
    ({"train": {"epochs": "ten"}}, r"train\.epochs: expected an integer"),
    ({"train": {"epochs": 0}}, r"train\.epochs must be >= 1"),
    ({"train": {"batch_size": 0}}, r"train\.batch_size must be >= 1"),
    ({"gsat": {"final_r": 1.2}}, r"gsat\.final_r must lie in \(0, 1\)"),
    ({"gsat": {"init_r": 0.0}}, r"gsat\.init_r must lie in \(0, 1\)"),
    ({"model": {"backbone": "GAT"}}, r"model\.backbone: expected one of GIN, PNA"),
    ({"extractor": {"learn_edge_att": "yes"}}, r"extractor\.learn_edge_att: expected true"),
    ({"model": {"aggregators": "mean"}}, r"model\.aggregators: expected a list"),
])
def test_config_errors_name_key_and_file(raw, match):
    with pytest.raises(ConfigError, match=match) as exc:
        config_from_dict(raw, "my.yml")
    assert str(exc.value).startswith("my.yml")


def test_config_defaults_and_int_to_float():
    cfg = config_from_dict({"train": {"lr": 1}})
    assert isinstance(cfg.train.lr, float) and cfg == Config(train=cfg.train)


def test_missing_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "run_gsat.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_config_error_exit_code_2(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("train:\n  epochs: -1\n")
    res = _cli("--dataset", "ba_2motifs", "--config", str(bad), "--data-dir",
               str(tmp_path / "d"), cwd=tmp_path)
    assert res.returncode == 2
    assert "train.epochs must be >= 1" in res.stderr and str(bad) in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_unknown_dataset_lists_choices(tmp_path):
    res = _cli("--dataset", "ba2motif", cwd=tmp_path)
    assert res.returncode == 2
    assert "unknown dataset 'ba2motif' (did you mean 'ba_2motifs'?); choose one of: " in res.stderr
    assert "ba_2motifs" in res.stderr and "Traceback" not in res.stderr


def test_cli_unknown_backbone_lists_choices(tmp_path):
    res = _cli("--dataset", "ba_2motifs", "--backbone", "GAT", cwd=tmp_path)
    assert res.returncode == 2 and "GIN" in res.stderr and "PNA" in res.stderr


@pytest.mark.parametrize("text,line,key", [
    ("train:\n  lr: 1.0e-3\n  lr: 1.0e-2\n", 3, "lr"),
    ("train:\n  lr: 1.0e-3\ntrain:\n  epochs: 3\n", 3, "train"),
    ("model: {hidden_size: 8, hidden_size: 16}\n", 1, "hidden_size"),
])
def test_a_key_or_section_given_twice_is_refused(tmp_path, text, line, key):
    path = tmp_path / "dup.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"dup\.yml:{line}:\d+: invalid YAML: found the key "
                                          rf"'{key}' a second time"):
        load_config(path)


def test_a_merge_key_may_still_be_overridden():
    from gsat.core.config import load_yaml

    assert load_yaml("b: &b {lr: 1, epochs: 5}\ntrain:\n  <<: *b\n  lr: 2\n")["train"] == \
        {"lr": 2, "epochs": 5}


def test_a_shorter_run_scales_the_r_schedule_and_says_so(caplog):
    from gsat.core.config import (config_text, default_config_path, fit_schedule_to_epochs,
                                  selectable_epochs)

    full = load_config(default_config_path("GIN", "ba_2motifs"))
    assert selectable_epochs(full) == 60  # r final from epoch 40, selection after 10
    cfg = fit_schedule_to_epochs(load_config(default_config_path("GIN", "ba_2motifs")), 10)
    assert (cfg.train.epochs, cfg.gsat.decay_interval, cfg.train.min_select_epoch) == (10, 1, 1)
    assert selectable_epochs(cfg) == 6  # epochs 4..9 have r = 0.5
    text = config_text(cfg)
    assert text.startswith("# --epochs 10 (the config's train.epochs: 100) scaled the r "
                           "schedule by 10/100: gsat.decay_interval 10 -> 1")
    again = config_from_dict(yaml.safe_load(text))
    assert (again.gsat.decay_interval, again.train.min_select_epoch) == (1, 1)
    assert "no epoch can be selected" not in caplog.text
    # too short even when scaled: the warning names the epochs it takes
    fit_schedule_to_epochs(load_config(default_config_path("GIN", "ba_2motifs")), 3)
    assert "train at least 5 epochs (--epochs 5)" in caplog.text
    # more epochs than the config's, or a fixed r: the schedule is the config's
    longer = fit_schedule_to_epochs(load_config(default_config_path("GIN", "ba_2motifs")), 300)
    assert (longer.gsat.decay_interval, longer.train.min_select_epoch) == (10, 10)
    assert not config_text(longer).startswith("#")


def test_a_gin_config_file_holds_no_pna_keys():
    from gsat.core.config import PNA_ONLY_KEYS, config_text, default_config_path

    gin = yaml.safe_load(config_text(load_config(default_config_path("GIN", "ba_2motifs"))))
    assert not set(PNA_ONLY_KEYS) & set(gin["model"])
    pna_cfg = load_config(default_config_path("PNA", "ba_2motifs"))
    pna = yaml.safe_load(config_text(pna_cfg))
    assert {"aggregators", "scalers"} <= set(pna["model"]) and "towers" not in pna["model"]
    assert config_from_dict(pna) == pna_cfg
