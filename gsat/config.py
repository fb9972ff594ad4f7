r"""Typed run configuration, loaded from YAML.

A config file has the sections ``model``, ``extractor``, ``gsat`` and ``train``; each maps to a
dataclass below. An unknown key, a wrong type or an impossible value raises
:class:`gsat.errors.ConfigError` naming the key and the file.
"""
from __future__ import annotations

import dataclasses
import logging
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Union

import yaml

from gsat.errors import ConfigError


@dataclass
class ModelConfig:
    """The backbone."""

    backbone: Literal["GIN", "PNA"] = "GIN"
    hidden_size: int = 64
    n_layers: int = 2
    dropout_p: float = 0.3
    use_edge_attr: bool = True
    """Use edge features when the dataset has them."""
    aggregators: List[str] = field(default_factory=lambda: ["mean", "min", "max", "std"])
    """PNA only."""
    scalers: bool = False
    """PNA only: degree scalers (identity, amplification, attenuation) instead of identity."""
    towers: Optional[int] = None
    """Deprecated and ignored (the PNA layer of GSAT has no towers); accepted so that older
    configs still load, with a warning."""
    atom_encoder: bool = False
    """Encode nodes/bonds with OGB's AtomEncoder/BondEncoder (molecular datasets)."""


@dataclass
class ExtractorConfig:
    """The attention extractor."""

    learn_edge_att: bool = True
    """Edge-level attention; node-level attention lifted to edges otherwise."""
    dropout_p: float = 0.5


@dataclass
class GSATConfig:
    """The stochastic attention and its information-bottleneck loss."""

    info_loss_coef: float = 1.0
    pred_loss_coef: float = 1.0
    temperature: float = 1.0
    init_r: float = 0.9
    final_r: float = 0.5
    decay_r: float = 0.1
    decay_interval: int = 10
    fixed_r: Optional[float] = None
    separate_bn_stats: bool = False
    """Separate batch-norm running statistics for the ungated and the gated backbone pass
    (false: one shared set, as in the paper's code, which explains BA-2Motifs far better)."""


@dataclass
class TrainConfig:
    """Optimisation and model selection."""

    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 128
    min_select_epoch: int = 10
    """Model selection considers epochs > this (and with r at its final value)."""
    num_viz: int = 6
    """Test graphs drawn as PNG at the end of a run."""
    from_scratch: bool = True
    """false: GSAT* -- first train the backbone alone (ERM) for pretrain_epochs, then train
    GSAT starting from those weights."""
    pretrain_epochs: int = 100
    """GSAT* only: epochs of backbone pretraining."""
    pretrain_lr: float = 1e-3
    """GSAT* only: learning rate of backbone pretraining."""
    pretrain_weight_decay: float = 0.0
    """GSAT* only: weight decay of backbone pretraining."""


@dataclass
class Config:
    """A whole run configuration."""

    model: ModelConfig = field(default_factory=ModelConfig)
    extractor: ExtractorConfig = field(default_factory=ExtractorConfig)
    gsat: GSATConfig = field(default_factory=GSATConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _check_type(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is Union:
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _check_type(value, inner, where)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{where}: expected one of {', '.join(map(str, choices))}, "
                              f"got {value!r}")
        return value
    if origin in (list, List):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        (inner,) = typing.get_args(tp)
        return [_check_type(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp} at {where}")  # programming error


def _build(cls: type, raw: Any, where: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: "
                          f"{', '.join(sorted(names))}")
    kwargs = {}
    for key, value in raw.items():
        tp = hints[key]
        sub = f"{where}.{key}" if where else key
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, sub)
        else:
            kwargs[key] = _check_type(value, tp, sub)
    return cls(**kwargs)


def validate(cfg: Config, source: str = "config") -> Config:
    r"""Check value ranges; raises :class:`~gsat.errors.ConfigError` naming key and source."""
    def bad(key: str, msg: str) -> ConfigError:
        return ConfigError(f"{source}: {key} {msg}")

    g, t, m = cfg.gsat, cfg.train, cfg.model
    for key in ("init_r", "final_r"):
        if not 0.0 < getattr(g, key) < 1.0:
            raise bad(f"gsat.{key}", f"must lie in (0, 1), got {getattr(g, key)}")
    if g.fixed_r is not None and not 0.0 < g.fixed_r < 1.0:
        raise bad("gsat.fixed_r", f"must lie in (0, 1), got {g.fixed_r}")
    if g.final_r > g.init_r:
        raise bad("gsat.final_r", f"({g.final_r}) must not exceed gsat.init_r ({g.init_r})")
    if g.decay_r < 0:
        raise bad("gsat.decay_r", f"must be >= 0, got {g.decay_r}")
    if g.decay_interval < 1:
        raise bad("gsat.decay_interval", f"must be >= 1, got {g.decay_interval}")
    if g.temperature <= 0:
        raise bad("gsat.temperature", f"must be > 0, got {g.temperature}")
    if g.info_loss_coef < 0 or g.pred_loss_coef < 0:
        raise bad("gsat.info_loss_coef/pred_loss_coef", "must be >= 0")
    for key, value, bound, strict in (  # strict: value > bound, else value >= bound
            ("epochs", t.epochs, 1, False), ("batch_size", t.batch_size, 1, False),
            ("lr", t.lr, 0, True), ("weight_decay", t.weight_decay, 0, False),
            ("num_viz", t.num_viz, 0, False), ("pretrain_epochs", t.pretrain_epochs, 1, False),
            ("pretrain_lr", t.pretrain_lr, 0, True),
            ("pretrain_weight_decay", t.pretrain_weight_decay, 0, False)):
        if value < bound or (strict and value == bound):
            raise bad(f"train.{key}", f"must be {'>' if strict else '>='} {bound}, got {value}")
    if m.hidden_size < 1 or m.n_layers < 1:
        raise bad("model.hidden_size/n_layers", "must be >= 1")
    if not 0.0 <= m.dropout_p < 1.0:
        raise bad("model.dropout_p", f"must lie in [0, 1), got {m.dropout_p}")
    if not 0.0 <= cfg.extractor.dropout_p < 1.0:
        raise bad("extractor.dropout_p", f"must lie in [0, 1), got {cfg.extractor.dropout_p}")
    if m.towers is not None:
        logging.getLogger(__name__).warning(
            "%s: model.towers is deprecated and ignored (the PNA layer has no towers); "
            "remove it from the config", source)
    return cfg


def config_from_dict(raw: Dict[str, Any], source: str = "config") -> Config:
    """Build and validate a :class:`Config` from a nested dict."""
    try:
        cfg = _build(Config, raw, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return validate(cfg, source)


def load_config(path: Union[str, Path]) -> Config:
    r"""Load a YAML config file into a validated :class:`Config`.

    Raises:
        gsat.errors.ConfigError: missing file, invalid YAML, unknown key, wrong type or
            impossible value; the message names the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    return config_from_dict(raw or {}, str(path))


def save_config(cfg: Config, path: Union[str, Path]) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def configs_dir() -> Path:
    """The folder of the shipped YAML configs (``configs/`` of the source tree)."""
    return Path(__file__).resolve().parent.parent / "configs"


def default_config_path(backbone: str, config_name: str) -> Path:
    """``configs/<BACKBONE>-<config_name>.yml``: in the working directory if present, else in
    the source tree of this package."""
    name = f"{backbone}-{config_name}.yml"
    local = Path("configs") / name
    return local if local.is_file() else configs_dir() / name
