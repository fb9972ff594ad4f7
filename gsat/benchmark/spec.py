r"""What ``gsat benchmark`` runs (:class:`BenchmarkSpec`) and what each of its pieces depends
on: the explainers' settings, their tuning grids and the key under which a finished
(method, seed) record is reused."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

import torch

from gsat.core.config import BACKBONES, check_epochs
from gsat.core.validation import check_choice, check_device, check_path, check_seeds
from gsat.errors import ConfigError
from gsat.explain.registry import (TUNING_BUDGET, default_explainers, make_explainer,
                                   optimised_names, tuning_grid)
from gsat.io.files import json_safe

__all__ = ["TUNED", "BenchmarkSpec", "base_method", "check_spec", "explainer_settings",
           "tuning_grids", "piece_key", "torch_threads"]

#: suffix of the method name of a tuned explainer's records (``gnnexplainer+tuned``)
TUNED = "+tuned"


@dataclass
class BenchmarkSpec:
    """What ``gsat benchmark`` runs: everything the command line can set."""

    dataset: str
    backbone: str = "GIN"
    explainers: List[str] = field(default_factory=default_explainers)
    seeds: List[int] = field(default_factory=lambda: [0])
    out: Optional[str] = None
    epochs: Optional[int] = None
    data_dir: str = "data"
    device: str = "cpu"
    config: Optional[str] = None
    explainer_epochs: Optional[int] = None
    """Overrides the optimisation epochs of GNNExplainer, GraphMask and PGExplainer."""
    max_graphs: Optional[int] = None
    """Explain only the first N test graphs."""
    threads: Optional[int] = None
    """torch threads while the benchmark runs (torch's default if None)."""
    progress: bool = True
    dataset_options: Dict[str, Any] = field(default_factory=dict)
    tune: bool = False
    """Also tune every post-hoc explainer: try each setting of its grid
    (:func:`gsat.explain.registry.tuning_grid`), keep the one with the best interpretation
    ROC AUC on the validation graphs, and report it on the test graphs as
    ``<name>+tuned`` beside the default-settings row."""
    tune_graphs: Optional[int] = None
    """Validation graphs (with ground-truth edges) explained per setting when tuning
    (all if None)."""
    tuning_grids: Optional[Dict[str, List[Dict[str, Any]]]] = None
    """Grids replacing those of :func:`gsat.explain.registry.tuning_grid` (library use,
    tests)."""
    method: str = "gsat"
    """The estimator the attention model trains with: ``gsat`` (the config's
    ``gsat.method``), ``gmt_lin`` or ``gmt_sam`` (:mod:`gsat.core.gmt`); post-hoc explainers
    always explain the ERM backbone."""


def base_method(method: str) -> str:
    """The explainer of a method name: ``gnnexplainer+tuned`` -> ``gnnexplainer``."""
    return method[: -len(TUNED)] if method.endswith(TUNED) else method


def attention_row_name(name: str, gsat_method: str = "gsat") -> str:
    """:obj:`name` with ``gsat`` replaced by the estimator the benchmark trained
    (``gsat``, ``gmt_lin`` or ``gmt_sam``): how reports name the attention row, what its
    ``explains`` column says, and whose published value sits beside it; any other name
    (``erm``, a post-hoc explainer) is returned unchanged."""
    return gsat_method if name == "gsat" else name


def check_spec(spec: BenchmarkSpec) -> None:
    """Refuse a spec that cannot run, before anything is trained: unknown explainers or
    backbone, bad seeds or device, empty paths, epochs outside the one rule of
    :func:`gsat.core.config.check_epochs`, graph counts below 1."""
    if spec.explainer_epochs is not None:  # refused even where no explainer optimises
        check_epochs(spec.explainer_epochs, "--explainer-epochs")
    for name in spec.explainers:
        make_explainer(name, **explainer_settings(name, spec))  # unknown names fail early
    check_seeds(spec.seeds)
    check_device(spec.device)
    check_choice(spec.backbone, BACKBONES, "backbone")
    check_choice(spec.method, ("gsat", "gmt_lin", "gmt_sam"), "method")
    check_path(spec.data_dir, "--data-dir")
    if spec.out is not None:
        check_path(spec.out, "--out")
    if spec.epochs is not None:
        check_epochs(spec.epochs, "--epochs")
    if spec.max_graphs is not None and spec.max_graphs < 1:
        raise ConfigError(f"--max-graphs must be >= 1, got {spec.max_graphs}")
    if spec.tune_graphs is not None and spec.tune_graphs < 1:
        raise ConfigError(f"--tune-graphs must be >= 1, got {spec.tune_graphs}")


@contextlib.contextmanager
def torch_threads(n: Optional[int]) -> Iterator[None]:
    """torch's thread count set to :obj:`n` within the block (unchanged if :obj:`None`)."""
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def explainer_settings(name: str, spec: BenchmarkSpec) -> Dict[str, Any]:
    """The settings :obj:`spec` gives explainer :obj:`name` (``--explainer-epochs`` for the
    explainers that optimise)."""
    return {"epochs": spec.explainer_epochs} if (
        spec.explainer_epochs is not None and name in optimised_names()) else {}


def tuning_grids(spec: BenchmarkSpec) -> Dict[str, List[Dict[str, Any]]]:
    """The grid of every post-hoc explainer of :obj:`spec` (its own, or the registry's),
    each of 1 to :data:`TUNING_BUDGET` settings."""
    grids = {}
    for name in spec.explainers:
        if name == "gsat":
            continue
        grid = (spec.tuning_grids or {}).get(name)
        grid = tuning_grid(name) if grid is None else [dict(g) for g in grid]
        if not grid or len(grid) > TUNING_BUDGET:
            raise ConfigError(f"the tuning grid of {name} must hold 1 to {TUNING_BUDGET} "
                              f"settings, got {len(grid)}")
        grids[name] = grid
    return grids


def piece_key(spec: BenchmarkSpec, name: str, tuned: bool,
              grids: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    """What a finished (method, seed) record depends on besides the trained model: a record
    with the same key in an earlier ``benchmark.json`` of the folder is reused."""
    key = {"explainer": name, "tuned": tuned, "max_graphs": spec.max_graphs,
           "settings": explainer_settings(name, spec), "device": spec.device,
           "threads": spec.threads}
    version = make_explainer(name, **explainer_settings(name, spec)).score_version
    if version > 1:
        key["score_version"] = version
    if tuned:
        key.update(grid=grids[name], tune_graphs=spec.tune_graphs)
    return json_safe(key)
