r"""gsat: graph neural networks that are interpretable by construction.

An implementation of Graph Stochastic Attention (GSAT) from `"Interpretable and Generalizable
Graph Learning via Stochastic Attention Mechanism" <https://arxiv.org/abs/2201.12987>`_
(Miao, Liu & Li, ICML 2022) on PyTorch Geometric.

The public names below are imported on first use, so that ``import gsat`` and ``gsat --help``
do not wait for PyTorch Geometric, scikit-learn or RDKit until a name that needs them is used.
"""
from __future__ import annotations

from gsat._lazy import lazy_getattr

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "Config": "gsat.config", "load_config": "gsat.config",
    "GraphDataset": "gsat.data", "load_dataset": "gsat.data",
    "ConfigError": "gsat.errors", "DataMissingError": "gsat.errors",
    "GraphInputError": "gsat.errors", "GSATError": "gsat.errors",
    "UnknownNameError": "gsat.errors", "CheckpointError": "gsat.errors",
    "DiskWriteError": "gsat.errors", "RunInUseError": "gsat.errors",
    "TrainingDivergedError": "gsat.errors",
    "interp_auc": "gsat.explain.metrics", "precision_at_k": "gsat.explain.metrics",
    "evaluate": "gsat.fitting", "fit": "gsat.fitting",
    "LoadedRun": "gsat.inference", "load_run": "gsat.inference",
    "ERM": "gsat.model", "GSAT": "gsat.model", "GSATOutput": "gsat.model",
    "check_graph": "gsat.model", "edge_mask": "gsat.model",
    "GIN": "gsat.nn", "PNA": "gsat.nn", "Extractor": "gsat.nn", "GraphClassifier": "gsat.nn",
}
_SUBMODULES = ("functional", "validation")

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])


__getattr__ = lazy_getattr(__name__, globals(), {
    **_EXPORTS, **{m: f"gsat.{m}:module" for m in _SUBMODULES}})


def __dir__() -> list:
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])
