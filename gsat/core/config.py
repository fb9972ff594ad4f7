r"""Typed run configuration, loaded from YAML.

A config file has the sections ``model``, ``extractor``, ``gsat`` and ``train``; each maps to a
dataclass below. An unknown key, a wrong type or an impossible value raises
:class:`gsat.errors.ConfigError` naming the key and the file.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import reprlib
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Tuple, Union

import yaml

from gsat.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class ModelConfig:
    """The backbone."""

    backbone: Literal["GIN", "PNA"] = "GIN"
    hidden_size: int = 64
    n_layers: int = 2
    dropout_p: float = 0.3
    use_edge_attr: bool = True
    """Use edge features when the dataset has them."""
    aggregators: List[str] = field(
        default_factory=lambda: ["mean", "min", "max", "std", "sum"])
    """PNA only. The default is the released BA-2Motifs, Mutag, Spurious-Motif, MNIST-75sp and
    Graph-SST2 configs' (Graph-COM/GSAT ``src/configs/PNA-*.yml``); the OGB molecule config
    leaves out ``sum``."""
    scalers: bool = False
    """PNA only: degree scalers (identity, amplification, attenuation) instead of identity."""
    towers: Optional[int] = None
    """Deprecated and ignored (the PNA layer of GSAT has no towers); accepted so that older
    configs still load, with a warning."""
    atom_encoder: bool = False
    """Encode nodes/bonds with OGB's AtomEncoder/BondEncoder (molecular datasets)."""
    per_layer_edge_lin: bool = False
    """GIN with edge features only: every GINEConv maps the encoded edge features through
    its own linear layer (``GINEConv(edge_dim=hidden_size)``), as the released GIN does
    (25,859 parameters on Spurious-Motif instead of 17,539); false adds the one encoded edge
    vector in every layer."""
    readout: Literal["pool", "center", "node"] = "pool"
    """How node embeddings become the prediction: pooled over each graph (graph
    classification); for node classification either the embedding of each graph's centre
    node (every node classified through its computation subgraph, ``center``) or every
    node's own embedding on the whole graph (``node``)."""


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
    bn_stats: Literal["shared", "separate", "recomputed"] = "shared"
    """The batch-norm running statistics of the backbone's two passes (ungated, for the
    extractor; gated by the attention, for the prediction): ``shared``, one set updated by
    both passes, as in the paper's code; ``separate``, one set per pass; ``recomputed``, one
    set per pass re-estimated on the training graphs after every epoch, without dropout and
    with the evaluation-time attention (:meth:`gsat.GSAT.recompute_bn_stats`). See
    ``benchmarks/results/stable_eval.md``."""
    separate_bn_stats: bool = False
    """Deprecated spelling of ``bn_stats: separate`` (read as that when true)."""
    info_loss_on: Literal["sample", "probability"] = "sample"
    """The attention the KL term is computed on in training: the concrete ``sample`` (GSAT's
    paper and code) or the ``probability`` sigmoid(logits) without noise (GMT's released
    code, for every estimator)."""
    method: Literal["gsat", "gmt_lin", "gmt_sam"] = "gsat"
    """How the attention reaches the prediction: ``gsat`` (every layer gated by the sampled
    attention), or GMT's estimators (Chen et al., ICML 2024; :mod:`gsat.core.gmt`):
    ``gmt_lin`` (the first message-passing layer gated only) or ``gmt_sam`` (K hard
    subgraphs sampled per step, logits averaged; settings in the ``gmt`` section)."""


@dataclass
class GMTConfig:
    """Settings of ``gsat.method: gmt_sam`` (:class:`gsat.core.gmt.GMTEstimator`); the
    second stage's keys apply to every ``gsat.method``."""

    samples: int = 1
    """K: Bernoulli subgraphs drawn from the attention per step (and per evaluation); the
    cost of an epoch grows about linearly with K."""
    stage2_epochs: int = 0
    """The last this many of ``train.epochs`` are the second stage: backbone and extractor
    frozen, a fresh classifier trained on the attended graphs (0: no second stage). GMT-sam's
    second stage; with ``gsat`` or ``gmt_lin`` the same stage follows their own first
    stage."""
    stage2_input: Literal["soft", "top"] = "soft"
    """What the stage-2 classifier reads: every edge weighted by its attention (``soft``) or
    the top ``stage2_top_ratio`` of each graph's edges with their attention (``top``)."""
    stage2_top_ratio: float = 0.5
    """The share of each graph's edges ``top`` keeps."""
    stage2_init: Literal["fresh", "copy"] = "fresh"
    """The stage-2 classifier starts newly initialised (``fresh``) or as a copy of the
    trained backbone (``copy``)."""
    stage1_pick: Literal["last", "best"] = "last"
    """The first-stage weights the second stage freezes: the ``last`` first-stage epoch's,
    or the ``best`` first-stage epoch's by the selection rule of ``train`` (best validation
    metric once r is final), as GMT's released code does."""
    stage2_frozen_mode: Literal["eval", "train"] = "eval"
    """How the frozen backbone and extractor compute the attention while the second stage
    trains: ``eval`` (the first stage's batch-norm statistics, no dropout) or ``train``
    (training mode, as GMT's released code runs it: batch statistics and dropout, the
    backbone's running statistics re-estimated on the ungated pass; weights frozen)."""
    warmup_epochs: int = 0
    """The first this many epochs draw one subgraph per step instead of ``samples`` and weigh
    the information loss by ``warmup_info_factor``, as GMT's released code does for GIN on
    BA-2Motifs (``-mt 8``: while the epoch is below ``gsat.decay_interval``); 0: none."""
    warmup_info_factor: float = 2.0
    """The factor of ``gsat.info_loss_coef`` in the warm-up epochs."""


@dataclass
class TrainConfig:
    """Optimisation and model selection."""

    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 128
    min_select_epoch: int = 10
    """Model selection considers epochs > this (and with r at its final value)."""
    regression_loss: Literal["mse", "mae"] = "mse"
    """Regression tasks only: the prediction loss, mean squared (``mse``) or mean absolute
    (``mae``) error; model selection takes the lowest validation RMSE either way."""
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
    pretrain_start: Literal["best", "last"] = "best"
    """GSAT* only: the pretraining epoch whose backbone GSAT starts from: the best
    validation epoch (``best``), or the last epoch (``last``), as the released code does
    (Graph-COM/GSAT ``src/run_gsat.py`` loads ``epoch_{pretrain_epochs - 1}``)."""
    pretrain_plateau_patience: Optional[int] = None
    """GSAT* only: null keeps the pretraining learning rate constant; N lowers it by
    ``pretrain_plateau_factor`` when the validation metric has not improved by more than
    ``pretrain_plateau_threshold`` (relative) for N epochs (PyTorch's
    ``ReduceLROnPlateau``, stepped with the validation metric after every epoch), as the
    released PNA OGB config does (``pretrain_scheduler``: patience 20, factor 0.5,
    threshold 1e-4)."""
    pretrain_plateau_factor: float = 0.5
    """GSAT* only: the factor of ``pretrain_plateau_patience``."""
    pretrain_plateau_threshold: float = 1.0e-4
    """GSAT* only: the threshold of ``pretrain_plateau_patience``."""
    keep_checkpoints_every: Optional[int] = None
    """Keep the weights of every N-th epoch in ``seed<N>/checkpoints/`` (for training-graph
    influence, ``gsat influence``); off when null."""
    node_batches: int = 0
    """Node tasks on the whole graph (``model.readout: node``) only: 0 trains on the whole
    graph in one step per epoch; :math:`P > 0` cuts the nodes into :math:`P` random parts
    afresh every epoch and takes one step on the subgraph each part induces, its training
    nodes as targets (:class:`gsat.data.node.batches.NodeBatches`), for graphs too large for
    a full-graph step: a step holds :math:`1/P` of the nodes and about :math:`1/P^2` of the
    edges, and a node sees only its neighbours in its own part (about :math:`1/P` of them).
    ``batch_size`` does not apply. E.g. ``train: {node_batches: 10}``; measurements in
    ``benchmarks/results/node_scale.md``."""
    num_neighbors: List[int] = field(default_factory=list)
    """Node tasks on the whole graph only: empty trains on the whole graph (or in
    ``node_batches`` parts); one count per message-passing layer (e.g. ``[10, 10, 10]``,
    ``-1``: every neighbour) trains on neighbour-sampled mini-batches of ``batch_size``
    training nodes each (:class:`gsat.data.node.neighbors.NeighborBatches`: hop :math:`l`
    adds up to :math:`k_l` in-neighbours of every node added at hop :math:`l - 1`), PyG's
    ``NeighborLoader`` where ``pyg-lib`` or ``torch-sparse`` is installed, the same sampling
    in plain PyTorch otherwise. Not with ``node_batches``."""
    eval_node_batches: int = 0
    """Node tasks on the whole graph only: 0 evaluates every split (validation, test,
    explanations) on the whole graph in one pass without gradients; :math:`P > 0` evaluates
    it in :math:`P` random parts, the same every epoch, for graphs whose full-graph
    evaluation does not fit: scores then come from the parts' subgraphs (explanations from
    the edges of each explained node's computation subgraph inside its part). The pictures
    of ``num_viz`` still explain the whole graph; set it to 0 for such graphs."""


@dataclass
class Config:
    """A whole run configuration."""

    model: ModelConfig = field(default_factory=ModelConfig)
    extractor: ExtractorConfig = field(default_factory=ExtractorConfig)
    gsat: GSATConfig = field(default_factory=GSATConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    gmt: GMTConfig = field(default_factory=GMTConfig)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


PNA_ONLY_MODEL_KEYS = ("aggregators", "scalers", "towers")


def model_relevant(config: Any) -> Any:
    r"""A config dict (:meth:`Config.to_dict`) without the keys its backbone ignores (PNA's
    ``model.aggregators``, ``model.scalers`` and ``model.towers`` when the backbone is not
    PNA), so that a stamp comparison does not refuse a GIN checkpoint because a PNA default
    changed since it was written. Anything else is returned unchanged."""
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        return config
    model = config["model"]
    if model.get("backbone", ModelConfig.backbone) == "PNA":
        return config
    return {**config, "model": {k: v for k, v in model.items() if k not in PNA_ONLY_MODEL_KEYS}}


def _short(value: Any) -> str:
    """A repr of :obj:`value` short enough for a one-line message (depth and length bounded)."""
    return reprlib.repr(value)


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
                              f"got {_short(value)}")
        return value
    if origin in (list, List):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} "
                              f"{_short(value)}")
        (inner,) = typing.get_args(tp)
        return [_check_type(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {_short(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_short(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {_short(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            allowed = f" that must {_range_text(*RANGES[where])}" if where in RANGES else ""
            raise ConfigError(f"{where}: expected a finite number{allowed}, got "
                              f"{_short(value)}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_short(value)}")
        return value
    raise TypeError(f"unsupported config type {tp} at {where}")  # programming error


def _build(cls: type, raw: Any, where: str) -> Any:
    if raw is None:
        raw = {}
    label = where or "top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{label}: expected a mapping of keys, got {_short(raw)}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - names, key=str)
    if unknown:
        raise ConfigError(f"{label}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: "
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


#: Aggregators a PNA backbone may use (PyG aggregation names).
PNA_AGGREGATORS = ("sum", "mean", "min", "max", "var", "std")

#: the range of every number of epochs (:func:`check_epochs`)
EPOCHS_RANGE = (1, True, 100_000, True)

#: Allowed range of every numeric config value: ``key: (low, low_inclusive, high,
#: high_inclusive)``. Upper bounds keep a typo from exhausting the machine (memory, time).
RANGES: Dict[str, tuple] = {
    "model.hidden_size": (1, True, 4096, True),
    "model.n_layers": (1, True, 64, True),
    "model.dropout_p": (0.0, True, 1.0, False),
    "model.towers": (1, True, 4096, True),
    "extractor.dropout_p": (0.0, True, 1.0, False),
    "gsat.info_loss_coef": (0.0, True, 1e6, True),
    "gsat.pred_loss_coef": (0.0, True, 1e6, True),
    "gsat.temperature": (0.0, False, 100.0, True),
    "gsat.init_r": (0.0, False, 1.0, False),  # every r: checked by check_r_schedule
    "gsat.final_r": (0.0, False, 1.0, False),
    "gsat.decay_r": (0.0, True, 1.0, True),
    "gsat.decay_interval": (1, True, 100_000, True),
    "gsat.fixed_r": (0.0, False, 1.0, False),
    "train.epochs": EPOCHS_RANGE,
    "train.lr": (0.0, False, 10.0, True),
    "train.weight_decay": (0.0, True, 10.0, True),
    "train.batch_size": (1, True, 1_000_000, True),
    "train.min_select_epoch": (0, True, 100_000, True),
    "train.num_viz": (0, True, 1000, True),
    "train.pretrain_epochs": EPOCHS_RANGE,
    "train.pretrain_lr": (0.0, False, 10.0, True),
    "train.pretrain_weight_decay": (0.0, True, 10.0, True),
    "train.pretrain_plateau_patience": (0, True, 100_000, True),
    "train.pretrain_plateau_factor": (0.0, False, 1.0, False),
    "train.pretrain_plateau_threshold": (0.0, True, 1.0, True),
    "train.keep_checkpoints_every": (1, True, 100_000, True),
    "train.node_batches": (0, True, 1_000_000, True),
    "train.eval_node_batches": (0, True, 1_000_000, True),
    "gmt.samples": (1, True, 10_000, True),
    "gmt.stage2_epochs": (0, True, 100_000, True),
    "gmt.stage2_top_ratio": (0.0, False, 1.0, True),
}


#: the config keys that are a keep probability :math:`r`: :data:`RANGES` states their range
#: (for messages), :func:`gsat.core.functional.check_r_schedule` checks them (imported where
#: used: this module is read by the command line's flags before PyTorch loads)
def _r_config_keys() -> tuple:
    from gsat.core.schedule import R_KEYS

    return tuple(f"gsat.{key}" for key in R_KEYS)


def _range_text(lo: float, lo_in: bool, hi: float, hi_in: bool) -> str:
    if (lo, hi, lo_in, hi_in) == (0.0, 1.0, False, False):
        return "lie in (0, 1)"
    return f"be {'>=' if lo_in else '>'} {lo} and {'<=' if hi_in else '<'} {hi}"


def validate(cfg: Config, source: str = "config") -> Config:
    r"""Check value ranges (:data:`RANGES`; every :math:`r` with
    :func:`gsat.core.functional.check_r_schedule`), the choices of list values and the
    relations between values; raises :class:`~gsat.errors.ConfigError` naming the source,
    the key, the value and what is allowed."""
    from gsat.core.schedule import check_r_schedule

    def bad(key: str, msg: str) -> ConfigError:
        return ConfigError(f"{source}: {key} {msg}")

    r_keys = _r_config_keys()

    for key, (lo, lo_in, hi, hi_in) in RANGES.items():
        section, name = key.split(".")
        sec = getattr(cfg, section)
        if not hasattr(sec, name):  # a value this version does not have
            continue
        value = getattr(sec, name)
        if value is None or key in r_keys:
            continue
        inside = (math.isfinite(value) and (lo <= value if lo_in else lo < value)
                  and (value <= hi if hi_in else value < hi))
        if not inside:
            raise bad(key, f"must {_range_text(lo, lo_in, hi, hi_in)}, got {value}")
    g, m = cfg.gsat, cfg.model
    try:
        check_r_schedule(vars(g), f"{source}: gsat.{{}}")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if g.final_r > g.init_r:
        raise bad("gsat.final_r", f"({g.final_r}) must not exceed gsat.init_r ({g.init_r})")
    if not m.aggregators:
        raise bad("model.aggregators", f"must name at least one of {', '.join(PNA_AGGREGATORS)}"
                                       ", got []")
    for agg in m.aggregators:
        if agg not in PNA_AGGREGATORS:
            raise bad("model.aggregators", f"holds {agg!r}; choose from "
                                           f"{', '.join(PNA_AGGREGATORS)}")
    if len(set(m.aggregators)) != len(m.aggregators):
        raise bad("model.aggregators", f"lists an aggregator twice: {m.aggregators}")
    t = cfg.train
    if t.num_neighbors:
        if len(t.num_neighbors) != m.n_layers:
            raise bad("train.num_neighbors", f"must list one count per message-passing layer "
                                             f"(model.n_layers = {m.n_layers}), got "
                                             f"{t.num_neighbors}")
        if any(k == 0 or k < -1 for k in t.num_neighbors):
            raise bad("train.num_neighbors", f"counts must be >= 1 or -1 (every neighbour), "
                                             f"got {t.num_neighbors}")
        if t.node_batches:
            raise bad("train.num_neighbors", "and train.node_batches are two ways to cut the "
                                             "training graph; set one of them")
    if g.separate_bn_stats:
        if g.bn_stats == "recomputed":
            raise bad("gsat.separate_bn_stats", "is the deprecated spelling of bn_stats: "
                                                "separate and contradicts bn_stats: recomputed; "
                                                "remove it")
        g.bn_stats = "separate"
    check_gmt(cfg, source)
    if m.towers is not None:
        logging.getLogger(__name__).warning(
            "%s: model.towers is deprecated and ignored (the PNA layer has no towers); "
            "remove it from the config", source)
    return cfg


def check_gmt(cfg: Config, source: str = "config") -> None:
    r"""The relations of ``gsat.method`` and the ``gmt`` section: samples and a warm-up only
    with ``gmt_sam``, ``stage1_pick`` and ``stage2_frozen_mode`` only with a second stage
    (which any estimator may have), and a second stage shorter than ``train.epochs``;
    raises :class:`~gsat.errors.ConfigError` naming the keys."""
    method, x, epochs = cfg.gsat.method, cfg.gmt, cfg.train.epochs
    if method != "gmt_sam":
        for key, default in (("samples", 1), ("warmup_epochs", 0)):
            if getattr(x, key) != default:
                raise ConfigError(f"{source}: gmt.{key} ({getattr(x, key)}) applies to "
                                  f"gsat.method gmt_sam only, but gsat.method is {method}; "
                                  f"set gsat.method: gmt_sam (--method gmt_sam) or remove "
                                  f"gmt.{key}")
    for key, default, what in (
            ("stage2_frozen_mode", "eval", "sets how the frozen parts run in a second stage"),
            ("stage1_pick", "last", "chooses the first-stage weights a second stage freezes")):
        if getattr(x, key) != default and not x.stage2_epochs:
            raise ConfigError(f"{source}: gmt.{key} ({getattr(x, key)}) {what}, but "
                              f"gmt.stage2_epochs is 0; set gmt.stage2_epochs or remove "
                              f"gmt.{key}")
    if x.stage2_epochs and x.stage2_epochs >= epochs:
        raise ConfigError(f"{source}: gmt.stage2_epochs ({x.stage2_epochs}) must be fewer than "
                          f"train.epochs ({epochs}), which counts both stages; e.g. "
                          f"train.epochs: {epochs + x.stage2_epochs} for {epochs} epochs of "
                          "the first stage")


#: the backbones a config (``model.backbone``) and the command line (``--backbone``) name
BACKBONES = typing.get_args(typing.get_type_hints(ModelConfig)["backbone"])


def check_epochs(value: Any, what: str = "train.epochs") -> int:
    r"""The one rule for a number of epochs, wherever it comes from (``train.epochs`` and
    ``train.pretrain_epochs`` of a config, ``--epochs``, ``--explainer-epochs``, the
    ``epochs`` of a resumed run's ``run.json``): a whole number within the range of
    :data:`EPOCHS_RANGE`; raises :class:`~gsat.errors.ConfigError` naming
    :obj:`what` otherwise."""
    lo, lo_in, hi, hi_in = EPOCHS_RANGE
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} must be a whole number, got {_short(value)}")
    if not ((lo <= value if lo_in else lo < value) and (value <= hi if hi_in else value < hi)):
        raise ConfigError(f"{what} must {_range_text(lo, lo_in, hi, hi_in)}, got "
                          f"{_short(value)}")
    return value


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key given twice in one mapping (YAML 1.2 requires
    keys to be unique; PyYAML would keep the last one silently)."""


def _unique_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: Dict[Any, Any] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *base' may be overridden
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.setdefault(key, key_node.start_mark)
        except TypeError:  # an unhashable key: construct_mapping names it
            continue
        if first is not key_node.start_mark:
            raise yaml.constructor.ConstructorError(
                f"while reading a mapping (first {key!r} at line {first.line + 1})",
                node.start_mark, f"found the key {key!r} a second time",
                key_node.start_mark)
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_yaml(text: str) -> Any:
    r"""Parse YAML text as :func:`yaml.safe_load` does, but refuse a key given twice in one
    mapping (a repeated key or a repeated section of a config) with a
    :class:`yaml.MarkedYAMLError` pointing at the second one."""
    return yaml.load(text, Loader=_StrictLoader)


def config_from_dict(raw: Dict[str, Any], source: str = "config") -> Config:
    """Build and validate a :class:`Config` from a nested dict."""
    try:
        cfg = _build(Config, raw, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return validate(cfg, source)


#: Config files larger than this are refused (a config is a few hundred bytes).
MAX_CONFIG_BYTES = 1_000_000


def load_config(path: Union[str, Path]) -> Config:
    r"""Load a YAML config file into a validated :class:`Config`.

    Raises:
        gsat.errors.ConfigError: one line for every way a file can be wrong: missing, a
            folder, unreadable, empty, too large, not UTF-8 text, invalid YAML (with
            ``file:line:column``; a key or section given twice is one), nested too deeply, not a mapping of sections, an unknown
            key, a wrong type or an out-of-range value; the message names the file (and key).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_dir():
        raise ConfigError(f"config file {path} is a folder; give the path of a YAML file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES} bytes; a "
                          "config is a short YAML file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {data[exc.start]:#04x} at "
                          f"offset {exc.start}); give a YAML file") from None
    try:
        raw = load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"{where}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid config: YAML nested too deeply") from None
    if raw is None:
        raise ConfigError(f"config file {path} is empty; give at least one section (model, "
                          "extractor, gsat, train), e.g. 'train: {epochs: 10}'")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (model, extractor, gsat, "
                          f"train), got {type(raw).__name__} {_short(raw)}")
    return config_from_dict(raw, str(path))


#: keys of :class:`ModelConfig` that only a PNA backbone reads
PNA_ONLY_KEYS = ("aggregators", "scalers", "towers")


def config_text(cfg: Config) -> str:
    """:obj:`cfg` as YAML, as ``config.yml`` holds it (:func:`load_config` reads it back).
    A GIN config leaves out the keys only PNA reads (:data:`PNA_ONLY_KEYS`; reading the file
    back gives their defaults), and the deprecated ``towers`` appears only when set. The
    notes of :func:`fit_schedule_to_epochs` (``cfg.notes``) head the file as comments."""
    data = cfg.to_dict()
    model = data["model"]
    for key in PNA_ONLY_KEYS:
        if model.get("backbone") != "PNA" or (key == "towers" and model.get(key) is None):
            model.pop(key, None)
    head = "".join(f"# {line}\n" for line in getattr(cfg, "notes", []))
    return head + yaml.safe_dump(data, sort_keys=False)


def first_final_epoch(g: GSATConfig, epochs: int) -> Optional[int]:
    r"""The first (0-based) epoch below :obj:`epochs` whose :math:`r`
    (:func:`gsat.core.functional.r_schedule` of the section :obj:`g`) is its final value,
    :obj:`None` when the schedule does not get there within :obj:`epochs` epochs."""
    from gsat.core.schedule import final_prior, r_schedule

    final = final_prior(g.final_r, g.fixed_r)
    kwargs = {k: getattr(g, k) for k in ("init_r", "final_r", "decay_r", "decay_interval",
                                         "fixed_r")}
    return next((e for e in range(epochs) if abs(r_schedule(e, **kwargs) - final) < 1e-9),
                None)


def selectable_epochs(cfg: Config) -> int:
    r"""How many epochs of a run of :obj:`cfg` qualify for model selection
    (:class:`gsat.core.selection.Selector`: after :obj:`train.min_select_epoch`, with
    :math:`r` at its final value)."""
    t = cfg.train
    first = first_final_epoch(cfg.gsat, t.epochs)
    if first is None:
        return 0
    return max(0, t.epochs - max(first, t.min_select_epoch + 1))


def schedule_advice(cfg: Config) -> str:
    r"""What to do about a run of :obj:`cfg` in which no epoch qualifies for model selection:
    the number of epochs that would give the schedule room, or a fixed :math:`r`."""
    g, t = cfg.gsat, cfg.train
    first = first_final_epoch(g, 10 * max(t.epochs, 1) + 100_000)
    need = max(first if first is not None else 0, t.min_select_epoch + 1) + 1
    return (f"the r schedule reaches its final value {g.final_r} at epoch {first} (r decays "
            f"by {g.decay_r} every {g.decay_interval} epochs from {g.init_r}) and model "
            f"selection starts after epoch {t.min_select_epoch}: train at least {need} epochs "
            f"(--epochs {need}), or set gsat.decay_interval / train.min_select_epoch lower or "
            "gsat.fixed_r in a config (--config FILE)")


def fit_schedule_to_epochs(cfg: Config, epochs: int, flag: str = "--epochs") -> Config:
    r"""Set :obj:`train.epochs` of :obj:`cfg` to :obj:`epochs` (a command-line override of
    the config's own number) and, when that is fewer epochs than the config's, scale the
    :math:`r` schedule with it: :obj:`gsat.decay_interval` and
    :obj:`train.min_select_epoch` shrink by the same factor (at least 1 and 0), so that
    :math:`r` still reaches its final value part-way through the run and model selection
    (:class:`gsat.core.selection.Selector`) has epochs to choose from, as in the full
    schedule. A fixed :math:`r` is left alone. What changed is kept in :obj:`cfg.notes`,
    which :func:`config_text` writes at the head of ``config.yml``; when even the scaled
    schedule leaves no epoch to select, a warning says what to do
    (:func:`schedule_advice`). Returns :obj:`cfg`."""
    old = cfg.train.epochs
    cfg.train.epochs = check_epochs(epochs, flag)
    g, t = cfg.gsat, cfg.train
    notes: List[str] = []

    def scale(what: str, changes: List[Tuple[str, str, int]]) -> None:
        # set each "section.key" to its scaled value and note what changed
        now = [(f"{sec}.{key}", getattr(getattr(cfg, sec), key), new)
               for sec, key, new in changes]
        if any(before != new for _, before, new in now):
            notes.append(f"{flag} {epochs} (the config's train.epochs: {old}) scaled {what} "
                         f"by {epochs}/{old}: " + ", ".join(
                             f"{name} {before} -> {new}" for name, before, new in now))
            for sec, key, new in changes:
                setattr(getattr(cfg, sec), key, new)

    if epochs < old and g.fixed_r is None:
        factor = epochs / old
        scale("the r schedule",
              [("gsat", "decay_interval", max(1, int(g.decay_interval * factor))),
               ("train", "min_select_epoch", max(0, int(t.min_select_epoch * factor)))])
    x = getattr(cfg, "gmt", None)
    if x is not None and x.warmup_epochs and epochs < old:
        scale("the warm-up", [("gmt", "warmup_epochs",
                               max(1, int(x.warmup_epochs * epochs / old)))])
    if x is not None and x.stage2_epochs and epochs < old:
        scale("the second stage", [("gmt", "stage2_epochs", max(
            1, round(x.stage2_epochs * epochs / old)) if epochs > 1 else 0)])
    cfg.notes = list(getattr(cfg, "notes", [])) + notes  # type: ignore[attr-defined]
    for note in notes:
        log.info("%s", note)
    if selectable_epochs(cfg) == 0:
        log.warning("with %d epochs no epoch can be selected under the paper's rule: %s; "
                    "the best validation epoch over all epochs will be reported", epochs,
                    schedule_advice(cfg))
    return cfg


def configs_dir() -> Path:
    r"""The folder of the shipped YAML configs, ``gsat/configs/`` inside the installed package
    (package data, so it is present in a wheel install too)."""
    return Path(__file__).resolve().parent.parent / "configs"


def default_config_path(backbone: str, config_name: str) -> Path:
    r"""The shipped config ``<BACKBONE>-<config_name>.yml`` of :func:`configs_dir`.

    Args:
        backbone (str): :obj:`"GIN"` or :obj:`"PNA"`.
        config_name (str): the dataset's :obj:`config_name` (e.g. :obj:`"ba_2motifs"`).
    """
    return configs_dir() / f"{backbone}-{config_name}.yml"
