r"""Datasets by name: :func:`load_dataset` and the registry behind it."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Dict, List

from gsat.data.names import OGB_MOL_DATASETS
from gsat.errors import UnknownNameError


class _LazyBuilder:
    """A registry builder that imports its dataset module on first call (so that listing
    the names, e.g. for ``gsat --help``, imports nothing heavy). :obj:`bound` arguments come
    first, as with :func:`functools.partial`."""

    def __init__(self, module: str, function: str, *bound: Any):
        self.module, self.function, self.bound = module, function, bound

    def __call__(self, *args: Any, **kwargs: Any) -> "GraphDataset":
        fn = getattr(importlib.import_module(self.module), self.function)
        return fn(*self.bound, *args, **kwargs)

    def __repr__(self) -> str:
        bound = "".join(f", {b!r}" for b in self.bound)
        return f"<dataset builder {self.module}.{self.function}{bound}>"


#: name -> builder(data_dir, seed, **options) -> GraphDataset
DATASETS: Dict[str, Callable[..., "GraphDataset"]] = {
    "ba_2motifs": _LazyBuilder("gsat.data.ba_2motifs", "load_ba_2motifs"),
    "mutag": _LazyBuilder("gsat.data.mutag", "load_mutag"),
    **{f"spmotif_{b}": _LazyBuilder("gsat.data.spmotif", "load_spmotif", b)
       for b in (0.5, 0.7, 0.9)},
    # ogbg_molhiv, ogbg_moltox21, ogbg_molbace, ogbg_molbbbp, ...
    **{reg: _LazyBuilder("gsat.data.ogb", "load_ogbg_mol", ogb_name)
       for reg, ogb_name in OGB_MOL_DATASETS.items()},
}

#: public name -> module that defines it (imported on first use)
_EXPORTS = {
    "generate_ba_2motifs": "gsat.data.ba_2motifs", "load_ba_2motifs": "gsat.data.ba_2motifs",
    "GraphDataset": "gsat.data.base", "load_graphs": "gsat.data.base",
    "random_split": "gsat.data.base", "save_graphs": "gsat.data.base",
    "check_dataset": "gsat.data.base", "check_graphs": "gsat.data.base",
    "load_mutag": "gsat.data.mutag", "read_mutagenicity": "gsat.data.mutag",
    "generate_spmotif": "gsat.data.spmotif", "load_spmotif": "gsat.data.spmotif",
    "spmotif_builder": "gsat.data.spmotif",
    "infer_task": "gsat.data.custom", "load_csv_molecules": "gsat.data.custom",
    "load_pyg_graphs": "gsat.data.custom", "read_graph_file": "gsat.data.custom",
    "smiles_to_graph": "gsat.data.custom", "split_file_dataset": "gsat.data.custom",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gsat.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def register_dataset(name: str, builder: Callable[..., "GraphDataset"]) -> None:
    """Make :obj:`builder` available as :obj:`load_dataset(name, ...)` and on the command line."""
    DATASETS[name] = builder


def dataset_names() -> List[str]:
    return sorted(DATASETS)


def load_dataset(name: str, data_dir: str | Path = "data", seed: int = 0,
                 **options: object) -> "GraphDataset":
    r"""Build (or read from the cache in :obj:`data_dir`) the dataset :obj:`name` with the
    split of :obj:`seed`.

    Besides the registered names, :obj:`"csv:PATH"` reads molecules from a CSV file
    (:func:`~gsat.data.custom.load_csv_molecules`; options :obj:`smiles_col`,
    :obj:`label_cols`, :obj:`split`) and :obj:`"pyg:PATH"` graphs saved with PyG
    (:func:`~gsat.data.custom.load_pyg_graphs`).

    Raises:
        gsat.errors.UnknownNameError: :obj:`name` is not registered; the message lists the
            valid names.
        gsat.errors.GraphInputError: a graph of the dataset is malformed
            (:func:`~gsat.data.base.check_dataset`).
    """
    from gsat.data.base import check_dataset
    from gsat.data.custom import FILE_PREFIXES, split_file_dataset

    file_dataset = split_file_dataset(name)
    if file_dataset is not None:
        prefix, path = file_dataset
        return check_dataset(FILE_PREFIXES[prefix](path, data_dir=data_dir, seed=seed,
                                                   **options))
    if name not in DATASETS:
        raise UnknownNameError("dataset", name, [*DATASETS, "csv:PATH", "pyg:PATH"])
    return check_dataset(DATASETS[name](data_dir=data_dir, seed=seed, **options))


__all__ = ["DATASETS", "GraphDataset", "check_dataset", "check_graphs", "dataset_names",
           "generate_ba_2motifs", "load_dataset", "generate_spmotif", "load_mutag",
           "load_spmotif", "read_mutagenicity",
           "load_graphs", "random_split", "register_dataset", "save_graphs",
           "infer_task", "load_csv_molecules", "load_pyg_graphs", "read_graph_file",
           "smiles_to_graph"]
