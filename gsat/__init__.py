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
    "Config": "gsat.core.config", "load_config": "gsat.core.config",
    "GraphDataset": "gsat.data.base", "load_dataset": "gsat.data",
    "ConfigError": "gsat.errors", "DataMissingError": "gsat.errors",
    "GraphInputError": "gsat.errors", "GSATError": "gsat.errors",
    "UnknownNameError": "gsat.errors", "CheckpointError": "gsat.errors",
    "DiskWriteError": "gsat.errors", "RunInUseError": "gsat.errors",
    "TrainingDivergedError": "gsat.errors",
    "interp_auc": "gsat.metrics.interpretation", "precision_at_k": "gsat.metrics.interpretation",
    "evaluate": "gsat.training.fit", "fit": "gsat.training.fit",
    "LoadedRun": "gsat.training.reader", "load_run": "gsat.training.reader",
    "ERM": "gsat.core.model", "GSAT": "gsat.core.model", "GSATOutput": "gsat.core.model",
    "check_graph": "gsat.core.validation", "edge_mask": "gsat.core.model",
    "GIN": "gsat.nn", "PNA": "gsat.nn", "Extractor": "gsat.nn", "GraphClassifier": "gsat.nn",
}
#: documented submodule -> the module it is, so that ``import gsat`` then ``gsat.viz.draw_explanation``
#: works (each is imported on first use)
_SUBMODULES = {
    # the packages, along the way data flows
    "core": "gsat.core", "nn": "gsat.nn", "data": "gsat.data", "metrics": "gsat.metrics",
    "runs": "gsat.runs", "training": "gsat.training", "explain": "gsat.explain",
    "benchmark": "gsat.benchmark", "app": "gsat.app", "viz": "gsat.viz",
    "errors": "gsat.errors",
    # short names of modules users reach often
    "functional": "gsat.core.functional", "validation": "gsat.core.validation",
    "inference": "gsat.app.inference", "influence": "gsat.app.influence",
}

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])


__getattr__ = lazy_getattr(__name__, globals(), {
    **_EXPORTS, **{name: f"{module}:module" for name, module in _SUBMODULES.items()}})


def __dir__() -> list:
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])
