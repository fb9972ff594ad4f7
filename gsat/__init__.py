r"""gsat: graph neural networks that are interpretable by construction.

An implementation of Graph Stochastic Attention (GSAT) from `"Interpretable and Generalizable
Graph Learning via Stochastic Attention Mechanism" <https://arxiv.org/abs/2201.12987>`_
(Miao, Liu & Li, ICML 2022) on PyTorch Geometric.
"""
from gsat import functional, validation
from gsat.config import Config, load_config
from gsat.data import GraphDataset, load_dataset
from gsat.errors import ConfigError, DataMissingError, GraphInputError, GSATError, UnknownNameError
from gsat.errors import CheckpointError, DiskWriteError, RunInUseError, TrainingDivergedError
from gsat.explain.metrics import interp_auc, precision_at_k
from gsat.fitting import evaluate, fit
from gsat.inference import LoadedRun, load_run
from gsat.model import ERM, GSAT, GSATOutput, check_graph, edge_mask
from gsat.nn import GIN, PNA, Extractor, GraphClassifier

__version__ = "0.1.0"

__all__ = [
    "GSAT", "ERM", "GSATOutput", "Extractor", "GIN", "PNA", "GraphClassifier", "Config",
    "load_config", "GraphDataset", "load_dataset", "interp_auc", "precision_at_k",
    "check_graph", "edge_mask", "functional", "validation", "GSATError", "ConfigError",
    "UnknownNameError", "DataMissingError", "GraphInputError", "__version__",
    "fit", "evaluate", "load_run", "LoadedRun",
]
__all__ += ["CheckpointError", "TrainingDivergedError", "DiskWriteError", "RunInUseError"]
