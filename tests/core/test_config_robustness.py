"""Config values and files: every bad value or file is one ConfigError line naming the file,
the key, the value and what is allowed; never another exception."""
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gsat.core.config import (RANGES, Config, ExtractorConfig, GSATConfig, ModelConfig, TrainConfig,
                         config_from_dict, load_config)
from gsat.errors import ConfigError


@pytest.mark.parametrize("raw,match", [
    ({"gsat": {"decay_r": math.nan}}, r"gsat\.decay_r: expected a finite number that must be "
                                      r">= 0.0 and <= 1.0, got nan"),
    ({"gsat": {"temperature": math.inf}}, r"gsat\.temperature: expected a finite number .*inf"),
    ({"train": {"lr": math.nan}}, r"train\.lr: expected a finite number .*got nan"),
    ({"train": {"lr": -math.inf}}, r"train\.lr: expected a finite number .*got -inf"),
    ({"train": {"lr": 10 ** 400}}, r"train\.lr: expected a finite number"),
    ({"train": {"lr": 11}}, r"train\.lr must be > 0.0 and <= 10.0, got 11.0"),
    ({"train": {"lr": 0}}, r"train\.lr must be > 0.0 and <= 10.0, got 0.0"),
    ({"model": {"hidden_size": 1099511627776}}, r"model\.hidden_size must be >= 1 and <= 4096, "
                                                r"got 1099511627776"),
    ({"model": {"n_layers": 100000000}}, r"model\.n_layers must be >= 1 and <= 64"),
    ({"model": {"backbone": "PNA", "towers": 0}}, r"model\.towers must be >= 1"),
    ({"model": {"aggregators": []}}, r"model\.aggregators must name at least one of sum, mean"),
    ({"model": {"aggregators": ["mean", "avg"]}}, r"model\.aggregators holds 'avg'; choose"),
    ({"model": {"aggregators": ["mean", "mean"]}}, r"lists an aggregator twice"),
    ({"model": {"dropout_p": 1.0}}, r"model\.dropout_p must be >= 0.0 and < 1.0, got 1.0"),
    ({"gsat": {"decay_interval": 0}}, r"gsat\.decay_interval must be >= 1 and <= 100000"),
    ({"gsat": {"decay_r": 2.0}}, r"gsat\.decay_r must be >= 0.0 and <= 1.0"),
    ({"gsat": {"fixed_r": 1.0}}, r"gsat\.fixed_r must lie in \(0, 1\), got 1.0"),
    ({"gsat": {"temperature": 0}}, r"gsat\.temperature must be > 0.0 and <= 100.0"),
    ({"train": {"epochs": 10 ** 9}}, r"train\.epochs must be >= 1 and <= 100000"),
    ({"train": {"batch_size": 10 ** 12}}, r"train\.batch_size must be >= 1 and <= 1000000"),
    ({"train": {"num_viz": -1}}, r"train\.num_viz must be >= 0"),
    ({1: {}}, r"top level: unknown key\(s\) 1"),
    ([1, 2], r"top level: expected a mapping of keys"),
])
def test_out_of_range_and_non_finite_values(raw, match):
    with pytest.raises(ConfigError, match=match) as exc:
        config_from_dict(raw, "my.yml")
    assert str(exc.value).startswith("my.yml: ") and "\n" not in str(exc.value)


def test_every_numeric_field_has_a_range():
    numeric = {f"{sec}.{f}" for sec, cls in (("model", ModelConfig), ("extractor", ExtractorConfig),
                                              ("gsat", GSATConfig), ("train", TrainConfig))
               for f, tp in cls.__annotations__.items()
               if tp in ("int", "float", "Optional[float]")}
    assert numeric and numeric <= set(RANGES), numeric - set(RANGES)
    assert all(math.isfinite(hi) for _, _, hi, _ in RANGES.values())


def _write(tmp_path, name, content):
    p = tmp_path / name
    (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    return p


@pytest.mark.parametrize("name,content,match", [
    ("random.yml", os.urandom(256) + b"\xff", r"random.yml is not UTF-8 text \(byte 0x"),
    ("deep.yml", "a: " + "[" * 3000 + "]" * 3000 + "\n", r"deep.yml: invalid config: YAML nested"),
    ("deepmap.yml", "a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", r"nested too deeply"),
    ("syntax.yml", "train:\n  epochs: 3\n  lr: [1, 2\n", r"syntax.yml:4:1: invalid YAML: expected"),
    ("tab.yml", "train:\n\tepochs: 3\n", r"tab.yml:2:1: invalid YAML: found character"),
    ("empty.yml", "", r"empty.yml is empty"),
    ("comments.yml", "# only a comment\n", r"comments.yml is empty"),
    ("list.yml", "- 1\n- 2\n", r"list.yml: expected a mapping of sections .* got list \[1, 2\]"),
    ("scalar.yml", "hello\n", r"expected a mapping of sections .* got str 'hello'"),
    ("nan.yml", "gsat:\n  decay_r: .nan\n", r"nan.yml: gsat.decay_r: expected a finite number"),
    ("inf.yml", "gsat:\n  temperature: .inf\n", r"gsat.temperature: expected a finite number"),
    ("dup.yml", "train:\n  x: 1\n  ? [a, b]\n  : 1\n", r"dup.yml:\d+:\d+: invalid YAML"),
    ("huge.yml", "# " + "x" * 1_100_000 + "\n", r"larger than 1000000 bytes"),
])
def test_malformed_config_files_give_one_line(tmp_path, name, content, match):
    path = _write(tmp_path, name, content)
    with pytest.raises(ConfigError, match=match) as exc:
        load_config(path)
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 400


def test_special_paths(tmp_path):
    with pytest.raises(ConfigError, match="config file /dev/null is empty"):
        load_config("/dev/null")
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.yml")
    if os.geteuid() != 0:
        p = _write(tmp_path, "locked.yml", "train: {epochs: 2}\n")
        p.chmod(0)
        with pytest.raises(ConfigError, match="cannot be read"):
            load_config(p)


_KEYS = ["model", "extractor", "gsat", "train", "bogus"] + [
    f for cls in (ModelConfig, ExtractorConfig, GSATConfig, TrainConfig)
    for f in cls.__annotations__]
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
    st.text(max_size=8), st.sampled_from(["GIN", "PNA", "mean", "max", "std", "sum"]),
    st.integers(0, 200), st.floats(0, 1.5))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=5), _VALUES))
def test_random_config_dicts_load_or_raise_config_error(raw):
    try:
        cfg = config_from_dict(raw, "random.yml")
    except ConfigError as exc:
        assert str(exc).startswith("random.yml: ") and "\n" not in str(exc)
        return
    assert isinstance(cfg, Config)
    for key, (lo, lo_in, hi, hi_in) in RANGES.items():
        sec, name = key.split(".")
        v = getattr(getattr(cfg, sec), name, None)
        if v is not None:
            assert math.isfinite(v) and lo <= v <= hi, (key, v)
