r"""Models from a config: the backbone (:class:`~gsat.nn.GIN` or :class:`~gsat.nn.PNA`) sized
for a dataset, wrapped in :class:`~gsat.GSAT` or :class:`~gsat.core.model.ERM`."""
from __future__ import annotations

from typing import Any, Literal

from torch import nn

from gsat.core.config import Config
from gsat.data.base import GraphDataset
from gsat.errors import ConfigError
from gsat.core.model import ERM, GSAT
from gsat.nn import GIN, PNA, degree_histogram

Method = Literal["gsat", "erm", "gmt_lin", "gmt_sam"]
"""What a run trains: ``erm`` the backbone alone; ``gsat`` a :class:`~gsat.GSAT` model with
the config's estimator (``gsat.method``); ``gmt_lin`` / ``gmt_sam`` the same model with that
estimator (:mod:`gsat.core.gmt`), whatever the config says."""


def task_dataset(ds: Any, cfg: Config) -> GraphDataset:
    r"""The graph dataset a model of :obj:`cfg` trains on: :obj:`ds` itself for graph
    classification. A node dataset (:class:`~gsat.data.node.base.NodeDataset`) becomes, by
    :obj:`cfg.model.readout`, the computation subgraphs of its nodes, read out at their
    centre (``center``, :func:`gsat.data.node.subgraphs.subgraph_dataset`), or the whole
    graph with one prediction per node (``node``,
    :func:`gsat.data.node.whole.whole_graph_dataset`); :obj:`cfg.model.n_layers` hops.

    Raises:
        gsat.errors.ConfigError: a node dataset with a config that pools over graphs, a
            graph dataset with a node readout, or :obj:`train.node_batches` /
            :obj:`train.eval_node_batches` without :obj:`model.readout: node`.
    """
    node = getattr(ds, "level", "graph") == "node"
    readout = cfg.model.readout
    if node and readout == "pool":
        raise ConfigError(f"dataset {ds.name!r} is a node classification dataset, but the config "
                          "pools over graphs (model.readout: pool); use a node config "
                          "(model.readout: node or center), e.g. the shipped GIN-ba_shapes.yml")
    if not node and readout != "pool":
        raise ConfigError(f"dataset {ds.name!r} is a graph classification dataset, but the "
                          f"config reads nodes (model.readout: {readout}, for node datasets); "
                          "use model.readout: pool")
    parts = [k for k in ("node_batches", "eval_node_batches", "num_neighbors")
             if getattr(cfg.train, k)]
    if parts and readout != "node":
        raise ConfigError(f"train.{parts[0]} cuts the whole graph of a node task into parts, "
                          f"but the config has model.readout: {readout}; use model.readout: "
                          f"node or leave train.{parts[0]} unset")
    if not node:
        return ds
    if readout == "center":
        from gsat.data.node.subgraphs import subgraph_dataset

        return subgraph_dataset(ds, cfg.model.n_layers)
    from gsat.data.node.whole import whole_graph_dataset

    return whole_graph_dataset(ds, cfg.model.n_layers)


def build_backbone(cfg: Config, ds: GraphDataset) -> nn.Module:
    r"""The backbone of :obj:`cfg.model` sized for :obj:`ds`."""
    m = cfg.model
    edge_dim = ds.edge_dim if m.use_edge_attr else None
    node_enc = edge_enc = None
    if m.atom_encoder:
        try:
            from ogb.graphproppred.mol_encoder import AtomEncoder, BondEncoder
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ConfigError("model.atom_encoder needs the 'ogb' extra: "
                              "pip install -e \".[ogb]\"") from exc
        node_enc = AtomEncoder(m.hidden_size)
        edge_enc = BondEncoder(m.hidden_size) if edge_dim else None
    common = dict(in_channels=ds.num_features, out_channels=ds.num_outputs,
                  hidden_channels=m.hidden_size, num_layers=m.n_layers, dropout=m.dropout_p,
                  edge_dim=edge_dim, node_encoder=node_enc, edge_encoder=edge_enc,
                  readout=m.readout)
    if m.backbone == "GIN":
        return GIN(**common, per_layer_edge_lin=m.per_layer_edge_lin)
    scalers = ["identity", "amplification", "attenuation"] if m.scalers else ["identity"]
    return PNA(deg=degree_histogram(ds.train), aggregators=m.aggregators, scalers=scalers,
               **common)


def estimator_of(cfg: Config, method: str) -> str:
    """The estimator a model of :obj:`method` uses: the config's ``gsat.method`` for
    ``gsat``, else the method itself (``gmt_lin``, ``gmt_sam``; ``erm`` has none)."""
    return cfg.gsat.method if method == "gsat" else method


def build_model(cfg: Config, ds: GraphDataset, method: Method = "gsat") -> nn.Module:
    r"""A :class:`~gsat.GSAT` (or :class:`~gsat.core.model.ERM`) model for :obj:`ds` from
    :obj:`cfg`, with the estimator of :func:`estimator_of` (GMT-sam's second stage covers
    the last :obj:`gmt.stage2_epochs` of :obj:`train.epochs`)."""
    model = _build_model(cfg, ds, method)
    if method != "erm":
        from gsat.core.gmt import use_estimator

        est, x = estimator_of(cfg, method), cfg.gmt
        stage2 = cfg.train.epochs - x.stage2_epochs if x.stage2_epochs else None
        use_estimator(model, est, x.samples, stage2, x.stage2_input, x.stage2_top_ratio,
                      x.stage2_init, x.stage1_pick, x.warmup_epochs, x.warmup_info_factor,
                      x.stage2_frozen_mode)
    if ds.task == "regression":  # MSE or MAE (train.regression_loss)
        model.regression_loss = cfg.train.regression_loss
    return model


def _build_model(cfg: Config, ds: GraphDataset, method: Method) -> nn.Module:
    backbone = build_backbone(cfg, ds)
    if method == "erm":
        return ERM(backbone, task=ds.task)
    g = cfg.gsat
    return GSAT(backbone, task=ds.task, learn_edge_att=cfg.extractor.learn_edge_att,
                info_loss_coef=g.info_loss_coef, pred_loss_coef=g.pred_loss_coef,
                temperature=g.temperature, init_r=g.init_r, final_r=g.final_r,
                decay_r=g.decay_r, decay_interval=g.decay_interval, fixed_r=g.fixed_r,
                symmetrize=True if ds.undirected else False,
                extractor_dropout=cfg.extractor.dropout_p,
                bn_stats=g.bn_stats, separate_bn_stats=g.separate_bn_stats,
                info_loss_on=g.info_loss_on)
